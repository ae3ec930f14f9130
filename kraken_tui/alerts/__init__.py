"""What an alert is and where the engine raises it: `alert` (the values), `board` (grouping,
recent alerts, counters), and what the configuration needs to know of an Apprise URL
(`url_secrets`, `url_check`). Delivery lives in `kraken_tui.notify`, which the runtime wires
in; the engine imports only `alert` and `board`, never Apprise."""
