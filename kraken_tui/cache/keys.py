"""Names of every Redis key and channel one engine uses, in one place.

Everything lives under ``{key_prefix}:{engine_id}:`` so several engines (and several
deployments, by prefix) can share a Redis and an ACL can grant a user exactly one engine's
keys (``~kraken_tui:prod:*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENGINE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_engine_id(engine_id: str) -> str:
    """Engine ids become key segments; a ``:`` or ``*`` would let one engine's keys (or an
    ACL pattern) reach into another's."""
    if not _ENGINE_ID.match(engine_id):
        raise ValueError(f"engine id {engine_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return engine_id


@dataclass(frozen=True, slots=True)
class EngineKeys:
    key_prefix: str
    engine_id: str

    def __post_init__(self) -> None:
        check_engine_id(self.engine_id)

    @property
    def base(self) -> str:
        return f"{self.key_prefix}:{self.engine_id}"

    @property
    def state(self) -> str:
        """Hash: one field per snapshot part, the latest value (JSON)."""
        return f"{self.base}:state"

    @property
    def changes(self) -> str:
        """Stream: one entry per publish, holding the parts that changed."""
        return f"{self.base}:changes"

    @property
    def log(self) -> str:
        """Stream: recent log lines."""
        return f"{self.base}:log"

    @property
    def heartbeat(self) -> str:
        """String with a TTL: present only while the engine is alive."""
        return f"{self.base}:heartbeat"

    @property
    def commands(self) -> str:
        """Pub/sub channel the engine's command server listens on."""
        return f"{self.base}:commands"

    def reply(self, reply_id: str) -> str:
        """Pub/sub channel one client listens on for acknowledgements and results."""
        return f"{self.base}:reply:{reply_id}"

    def nonce(self, nonce: str) -> str:
        """Marker of a command already executed (replay protection across engine restarts)."""
        return f"{self.base}:nonce:{nonce}"


def heartbeat_pattern(key_prefix: str) -> str:
    return f"{key_prefix}:*:heartbeat"
