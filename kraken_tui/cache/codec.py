"""Exact JSON encoding of engine snapshot parts, log lines and command results for Redis.

Exact means a decoded value compares equal to the original: Decimals travel as strings (their
exponent kept, so ``0.10000000`` stays eight places), datetimes as ISO 8601 with their offset,
enums by value, tuples and mappings rebuilt with the types the dataclass annotations name.
Decoding is driven by those annotations, so a new field in a domain dataclass needs no codec
change; a field the reader does not know is ignored and a field the writer did not send takes
its default, which keeps a console and an engine one minor version apart compatible.
``CODEC_VERSION`` changes only when an encoding changes meaning; readers refuse other versions.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import orjson

from kraken_tui.domain import BookSnapshot, Candle, Ticker
from kraken_tui.engine.api import EngineSnapshot

CODEC_VERSION = 1

T = TypeVar("T")
Decoder = Callable[[Any], Any]


class CodecError(ValueError):
    """A payload that does not decode into the expected type (corrupt, or another version)."""


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        # orjson encodes exact `datetime` itself; subclasses (loguru's record times) land here.
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(value: object) -> bytes:
    """JSON bytes of a dataclass, tuple, mapping or scalar (orjson does the walking in C)."""
    return orjson.dumps(value, default=_default)


def decode(payload: bytes | str, kind: Any) -> Any:
    """The value of type `kind` (a class or an annotation such as ``tuple[Order, ...]``)."""
    try:
        return decoder_for(kind)(orjson.loads(payload))
    except (orjson.JSONDecodeError, TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise CodecError(f"cannot decode {kind}: {exc}") from exc


_decoders: dict[Any, Decoder] = {}


def decoder_for(kind: Any) -> Decoder:
    """A function turning parsed JSON into `kind`; built once per type and cached."""
    cached = _decoders.get(kind)
    if cached is None:
        cached = _build_decoder(kind)
        _decoders[kind] = cached
    return cached


def _identity(value: Any) -> Any:
    return value


def _to_float(value: Any) -> float:
    return float(value)


def _build_decoder(kind: Any) -> Decoder:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return _union_decoder(typing.get_args(kind))
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            item = decoder_for(args[0])
            return lambda value: tuple(item(v) for v in value)
        items = [decoder_for(arg) for arg in args]
        return lambda value: tuple(d(v) for d, v in zip(items, value, strict=True))
    if origin in (dict, Mapping, typing.Mapping):
        key_kind, value_kind = typing.get_args(kind)
        key, item = decoder_for(key_kind), decoder_for(value_kind)
        return lambda value: {key(k): item(v) for k, v in value.items()}
    if origin is list:
        item = decoder_for(typing.get_args(kind)[0])
        return lambda value: [item(v) for v in value]
    if kind is Decimal:
        return Decimal
    if kind is datetime:
        return datetime.fromisoformat
    if kind is float:
        return _to_float
    if kind in (str, int, bool, Any):
        return _identity
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass_decoder(kind)
    raise TypeError(f"no decoder for {kind!r}")


def _union_decoder(args: tuple[Any, ...]) -> Decoder:
    concrete = [arg for arg in args if arg is not type(None)]
    if all(arg in (str, int, bool) for arg in concrete):
        return _identity
    if len(concrete) != 1:
        raise TypeError(f"ambiguous union {args!r}")
    inner = decoder_for(concrete[0])
    return lambda value: None if value is None else inner(value)


def _dataclass_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, decoder_for(hints[f.name])) for f in dataclasses.fields(cls) if f.init]

    def decode_instance(value: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"{cls.__name__} expects an object, got {type(value).__name__}")
        return cls(**{name: dec(value[name]) for name, dec in fields if name in value})

    return decode_instance


# -- snapshot parts -----------------------------------------------------------------------------

BOOK_PREFIX = "book:"
TICKER_PREFIX = "ticker:"
CANDLES_PREFIX = "candles:"
_PER_SYMBOL: dict[str, tuple[str, Any]] = {
    "books": (BOOK_PREFIX, BookSnapshot),
    "tickers": (TICKER_PREFIX, Ticker),
    "candles": (CANDLES_PREFIX, tuple[Candle, ...]),
}
_SNAPSHOT_HINTS = typing.get_type_hints(EngineSnapshot)
SCALAR_PARTS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(EngineSnapshot) if f.name not in _PER_SYMBOL
)
"""Snapshot fields published whole, one hash field each (``mode``, ``positions``, ``risk`` …)."""


def snapshot_parts(snapshot: EngineSnapshot) -> dict[str, object]:
    """The snapshot as flat named parts, each an immutable object the engine replaces on
    change: books, tickers and candles are split per symbol so one symbol's update does not
    resend the others."""
    parts: dict[str, object] = {name: getattr(snapshot, name) for name in SCALAR_PARTS}
    for attribute, (prefix, _) in _PER_SYMBOL.items():
        for symbol, value in getattr(snapshot, attribute).items():
            parts[prefix + symbol] = value
    return parts


def part_kind(name: str) -> Any:
    """The type a part decodes into, from its name."""
    for prefix, kind in _PER_SYMBOL.values():
        if name.startswith(prefix):
            return kind
    try:
        return _SNAPSHOT_HINTS[name]
    except KeyError:
        raise CodecError(f"unknown snapshot part {name!r}") from None


def decode_part(name: str, payload: bytes | str) -> object:
    return decode(payload, part_kind(name))


def snapshot_from_parts(parts: Mapping[str, object]) -> EngineSnapshot:
    """Rebuild a whole snapshot from decoded parts (the inverse of `snapshot_parts`)."""
    values: dict[str, object] = {n: parts[n] for n in SCALAR_PARTS if n in parts}
    for attribute, (prefix, _) in _PER_SYMBOL.items():
        values[attribute] = {
            name[len(prefix) :]: value for name, value in parts.items() if name.startswith(prefix)
        }
    return EngineSnapshot(**values)  # type: ignore[arg-type]  # parts were decoded to their types


def snapshot_from_state_hash(state: Mapping[bytes, bytes]) -> EngineSnapshot:
    """The snapshot held in an engine's state hash (fields starting with ``_`` are the
    publisher's bookkeeping); raises `CodecError` if it was written by another codec version."""
    version = state.get(b"_v")
    if version != str(CODEC_VERSION).encode():
        raise CodecError(f"state written with codec version {version!r}, not {CODEC_VERSION}")
    try:
        return snapshot_from_parts(
            {
                name.decode(): decode_part(name.decode(), value)
                for name, value in state.items()
                if not name.startswith(b"_")
            }
        )
    except TypeError as exc:
        raise CodecError(f"state hash incomplete: {exc}") from exc


def with_parts(
    snapshot: EngineSnapshot, changed: Mapping[str, object], removed: frozenset[str]
) -> EngineSnapshot:
    """`snapshot` with some parts replaced or removed; every untouched part keeps its identity,
    so a console redraws only what changed."""
    updates: dict[str, object] = {}
    for attribute, (prefix, _) in _PER_SYMBOL.items():
        touched = {n[len(prefix) :]: v for n, v in changed.items() if n.startswith(prefix)}
        gone = {n[len(prefix) :] for n in removed if n.startswith(prefix)}
        if touched or gone:
            current = getattr(snapshot, attribute)
            merged = {s: v for s, v in current.items() if s not in gone}
            merged.update(touched)
            updates[attribute] = merged
    for name in SCALAR_PARTS:
        if name in changed:
            updates[name] = changed[name]
    return dataclasses.replace(snapshot, **updates)  # type: ignore[arg-type]  # parts were decoded to their types
