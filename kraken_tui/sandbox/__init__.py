"""Kraken-protocol sandbox exchange: a synchronous venue core (pairs, accounts, matching,
synthetic or replayed market, SQLite state) served over Kraken's REST and WS v2 by the server
modules. Import submodules directly (`kraken_tui.sandbox.venue`); this package stays light."""
