"""Alerts that reach a person: what the engine raises (`alert`, `board`, importable by the
engine and the console alike) and how it leaves the process (`delivery` through Apprise, wired
in by the runtime). Only `delivery`, `service` and `cli_alert` import Apprise, so the engine
never does."""
