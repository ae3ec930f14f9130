"""HMAC-SHA256 signatures binding what travels through Redis to one engine and one purpose.

Anyone who can write to the Redis could otherwise steer an engine or show a console a forged
state. Each signature covers a context — what the bytes are for (a command, a reply, the
state hash, a change entry, a log entry, the heartbeat), the key prefix and the engine id —
and then the bytes themselves. So a command signed for one engine or one deployment sharing
the Redis is refused by every other, and a signature made for one purpose (a log line) is
never valid for another (a change entry). The key is ``redis.command_secret``: whoever may
steer an engine may also vouch for what it publishes.

Two shapes are signed: JSON objects (commands, replies, heartbeat) as sorted-key JSON of every
field but ``sig``, and Redis field maps (the state hash, stream entries) as the sorted SHA-256
of each field's value, which lets the publisher keep one digest per hash field instead of
re-reading the whole state to sign it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson

from kraken_tui.cache.keys import EngineKeys

OBJECT_SIGNATURE = "sig"
FIELDS_SIGNATURE = "_sig"


class Purpose(StrEnum):
    COMMAND = "command"
    REPLY = "reply"
    STATE = "state"
    CHANGE = "change"
    LOG = "log"
    HEARTBEAT = "heartbeat"


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The exact bytes signed for a JSON object: sorted-key JSON of every field but ``sig``."""
    return orjson.dumps(
        {k: v for k, v in fields.items() if k != OBJECT_SIGNATURE}, option=orjson.OPT_SORT_KEYS
    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def field_digests(fields: Mapping[str, str | bytes] | Mapping[bytes, bytes]) -> dict[str, str]:
    """SHA-256 of each field's value by field name, the signature field left out; names and
    values may be str (as written) or bytes (as Redis returns them)."""
    digests: dict[str, str] = {}
    for name, value in fields.items():
        key = _text(name)
        if key != FIELDS_SIGNATURE:
            digests[key] = hashlib.sha256(_bytes(value)).hexdigest()
    return digests


def manifest(digests: Mapping[str, str]) -> bytes:
    """The exact bytes signed for a field map, from its `field_digests`."""
    return orjson.dumps(dict(digests), option=orjson.OPT_SORT_KEYS)


class Signer:
    """Signs and verifies on behalf of one engine (key prefix and engine id)."""

    def __init__(self, secret: str, keys: EngineKeys) -> None:
        self._key = secret.encode()
        self.keys = keys

    def sign(self, purpose: Purpose, payload: bytes) -> str:
        context = orjson.dumps([purpose.value, self.keys.key_prefix, self.keys.engine_id])
        # JSON text never holds a raw newline, so the context cannot run into the payload.
        return hmac.new(self._key, context + b"\n" + payload, hashlib.sha256).hexdigest()

    def valid(self, purpose: Purpose, payload: bytes, claimed: object) -> bool:
        if isinstance(claimed, bytes):
            claimed = claimed.decode(errors="replace")
        return isinstance(claimed, str) and hmac.compare_digest(
            claimed, self.sign(purpose, payload)
        )

    def sign_object(self, purpose: Purpose, fields: Mapping[str, Any]) -> str:
        return self.sign(purpose, canonical(fields))

    def object_valid(self, purpose: Purpose, fields: Mapping[str, Any]) -> bool:
        return self.valid(purpose, canonical(fields), fields.get(OBJECT_SIGNATURE))

    def sign_fields(
        self, purpose: Purpose, fields: Mapping[str, str | bytes] | Mapping[bytes, bytes]
    ) -> str:
        return self.sign(purpose, manifest(field_digests(fields)))

    def fields_valid(self, purpose: Purpose, fields: Mapping[bytes, bytes]) -> bool:
        """For a field map as Redis returns it, with its ``_sig`` field."""
        claimed = fields.get(FIELDS_SIGNATURE.encode())
        return self.valid(purpose, manifest(field_digests(fields)), claimed)
