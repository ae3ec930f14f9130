"""The codec is exact: whatever the engine publishes decodes into an equal value."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from static_engine import build_snapshot

from kraken_tui.cache.codec import (
    CodecError,
    decode,
    decode_part,
    encode,
    snapshot_from_parts,
    snapshot_from_state_hash,
    snapshot_parts,
    with_parts,
)
from kraken_tui.domain import (
    ConnectionState,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StrategyState,
    TimeInForce,
)
from kraken_tui.engine.api import CommandResult, LogLine, ManualOrder, StrategySnapshot
from kraken_tui.exchange.protocol import ConnectionStatus, RateLimitStatus


def round_trip_parts(snapshot):  # type: ignore[no-untyped-def]
    return {
        name: decode_part(name, encode(value)) for name, value in snapshot_parts(snapshot).items()
    }


def test_a_whole_engine_snapshot_decodes_equal_to_the_original() -> None:
    snapshot = build_snapshot()
    decoded = snapshot_from_parts(round_trip_parts(snapshot))
    assert decoded == snapshot
    assert decoded.books["BTC/USD"].bids == snapshot.books["BTC/USD"].bids
    assert decoded.candles["ETH/USD"] == snapshot.candles["ETH/USD"]


def test_books_tickers_and_candles_are_published_per_symbol() -> None:
    names = set(snapshot_parts(build_snapshot()))
    assert {"book:BTC/USD", "book:ETH/USD", "ticker:BTC/USD", "candles:ETH/USD"} <= names
    assert {"strategies", "risk", "portfolio", "connection", "rate_limits", "mode", "ts"} <= names
    assert "books" not in names


def test_decimals_keep_their_exponent_and_sign() -> None:
    for text in ("0.10000000", "-12.95", "1E+3", "0E-8", "64250.0"):
        decoded = decode(encode(Decimal(text)), Decimal)
        assert str(decoded) == text


def test_datetimes_keep_microseconds_and_offset() -> None:
    moment = datetime(2026, 1, 15, 14, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    decoded = decode(encode(moment), datetime)
    assert decoded == moment and decoded.utcoffset() == timedelta(hours=-5)
    assert decode(encode(moment.astimezone(UTC)), datetime).tzinfo is not None


def test_optional_fields_enums_and_floats_round_trip() -> None:
    status = ConnectionStatus(ConnectionState.RECONNECTING, "ws closed", 12.375, None)
    assert decode(encode(status), ConnectionStatus) == status
    limits = RateLimitStatus(3.25, 20.0, {"BTC/USD": 7.5}, 125.0)
    assert decode(encode(limits), RateLimitStatus) == limits
    order = ManualOrder(
        "ETH/USD",
        Side.SELL,
        OrderType.STOP_LOSS,
        Decimal("2"),
        None,
        Decimal("3300.5"),
        TimeInForce.IOC,
    )
    assert decode(encode(order), ManualOrder) == order


def test_command_results_and_log_lines_round_trip() -> None:
    result = CommandResult(True, "order accepted", {"cl_ord_id": "m-1", "order_id": "OABC"})
    assert decode(encode(result), CommandResult) == result
    line = LogLine(42, datetime(2026, 1, 15, tzinfo=UTC), "WARNING", "risk", "near limit: 4/5")
    assert decode(encode(line), LogLine) == line


def test_with_parts_replaces_only_the_changed_parts() -> None:
    snapshot = build_snapshot()
    strategies = tuple(replace(s, state=StrategyState.PAUSED) for s in snapshot.strategies)
    new_book = replace(snapshot.books["BTC/USD"], sequence=2)
    updated = with_parts(
        snapshot,
        {"strategies": strategies, "book:BTC/USD": new_book},
        frozenset({"ticker:ETH/USD"}),
    )
    assert updated.strategies is strategies
    assert updated.books["BTC/USD"] is new_book
    assert updated.books["ETH/USD"] is snapshot.books["ETH/USD"]
    assert updated.positions is snapshot.positions
    assert updated.candles is snapshot.candles
    assert "ETH/USD" not in updated.tickers and "BTC/USD" in updated.tickers


def test_a_field_the_writer_did_not_send_takes_its_default() -> None:
    decoded = decode(
        b'{"name":"x","symbol":"BTC/USD","class_name":"X","state":"paused"}', StrategySnapshot
    )
    assert decoded == StrategySnapshot("x", "BTC/USD", "X", StrategyState.PAUSED)


def test_corrupt_payloads_and_unknown_parts_raise_codec_error() -> None:
    with pytest.raises(CodecError):
        decode_part("positions", b"{not json")
    with pytest.raises(CodecError):
        decode_part("risk", b'{"trading_state":"SIDEWAYS"}')
    with pytest.raises(CodecError):
        decode_part("weather", b"{}")


decimals = st.decimals(
    allow_nan=False,
    allow_infinity=False,
    places=8,
    min_value=Decimal("0.00000001"),
    max_value=Decimal("1e9"),
)
moments = st.datetimes(timezones=st.just(UTC))


@given(
    volume=decimals,
    price=st.none() | decimals,
    filled=decimals,
    status=st.sampled_from(OrderStatus),
    side=st.sampled_from(Side),
    created=st.none() | moments,
)
def test_any_order_round_trips_exactly(volume, price, filled, status, side, created) -> None:  # type: ignore[no-untyped-def]
    order = Order(
        "c-1",
        "BTC/USD",
        side,
        OrderType.LIMIT,
        volume,
        status,
        price=price,
        filled=filled,
        created_at=created,
    )
    decoded = decode(encode(order), Order)
    assert decoded == order
    assert str(decoded.volume) == str(volume)


@given(qty=decimals, avg=decimals, pnl=decimals, mark=st.none() | decimals)
def test_any_position_tuple_round_trips_exactly(qty, avg, pnl, mark) -> None:  # type: ignore[no-untyped-def]
    positions = (Position("BTC/USD", qty, avg, -pnl, Decimal(0), mark), Position("ETH/USD"))
    assert decode(encode(positions), tuple[Position, ...]) == positions


def test_a_state_hash_of_another_codec_version_is_refused() -> None:
    state = {name.encode(): encode(v) for name, v in snapshot_parts(build_snapshot()).items()}
    assert snapshot_from_state_hash({**state, b"_v": b"1", b"_seq": b"3"}) == build_snapshot()
    with pytest.raises(CodecError, match="codec version"):
        snapshot_from_state_hash({**state, b"_v": b"2"})
    with pytest.raises(CodecError, match="incomplete"):
        snapshot_from_state_hash({b"_v": b"1", b"risk": state[b"risk"]})


def test_log_lines_stamped_by_loguru_round_trip() -> None:
    """Loguru stamps records with its own datetime subclass, which orjson refuses natively;
    the engine's log lines carry those stamps straight to the publisher."""
    from loguru._datetime import aware_now

    line = LogLine(7, aware_now(), "INFO", "engine", "started")
    assert decode(encode(line), LogLine) == line
