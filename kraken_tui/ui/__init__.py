"""The Textual console. It sees the engine only through `kraken_tui.engine.api.EngineApi`."""
