"""Optional Redis layer: the engine's hot state published for other processes, signed remote
commands, and `RemoteEngine`, the `EngineApi` a console uses to attach over Redis.

Never imports Textual (the console is imported lazily by `cli_remote.attach`)."""
