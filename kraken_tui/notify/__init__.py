"""Alerts leaving the process: Apprise delivery off the engine's loop (`delivery`), the
service the runtime puts beside an engine (`service`), the daily summary and
`kraken-tui alert test` (`cli_alert`). The alerts themselves are `kraken_tui.alerts`."""
