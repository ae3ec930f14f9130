"""Repositories: exact Decimal round trips and the write-ahead / idempotence guarantees."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kraken_tui.domain import (
    Execution,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StrategyState,
    TimeInForce,
)
from kraken_tui.store import (
    BacktestRun,
    DuplicateOrderError,
    EquitySnapshot,
    LoggedEvent,
    ReconciliationEntry,
    Store,
    StoreError,
    UnknownOrderError,
)

T0 = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
# Values a binary float would mangle, a tiny satoshi amount, a trailing zero and a huge number.
AWKWARD = [
    Decimal("0.1"),
    Decimal("0.00000001"),
    Decimal("1.10"),
    Decimal("12345678901234567890.123456789012345678"),
]


def _order(cl_ord_id: str = "cl-1", **changes: object) -> Order:
    order = Order(
        cl_ord_id=cl_ord_id,
        symbol="BTC/USD",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        volume=Decimal("0.00012345"),
        status=OrderStatus.PENDING_NEW,
        price=Decimal("64999.9"),
        time_in_force=TimeInForce.GTC,
        post_only=True,
        strategy="sma_cross",
        created_at=T0,
        updated_at=T0,
    )
    return order.with_changes(**changes)


def _execution(exec_id: str = "T-1", **changes: object) -> Execution:
    fields: dict[str, object] = {
        "exec_id": exec_id,
        "order_id": "OABC-1",
        "symbol": "BTC/USD",
        "side": Side.SELL,
        "price": Decimal("0.1"),
        "qty": Decimal("0.00000001"),
        "fee": Decimal("0.0000000026"),
        "fee_ccy": "USD",
        "liquidity": Liquidity.MAKER,
        "ts": T0,
        "cl_ord_id": "cl-1",
    }
    fields.update(changes)
    return Execution(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", AWKWARD)
async def test_order_round_trips_with_exact_decimals(store: Store, value: Decimal) -> None:
    order = _order(volume=value, price=value, trigger_price=value)

    await store.orders.insert_pending(order)
    loaded = await store.orders.by_cl_ord_id("cl-1")

    assert loaded == order
    assert loaded is not None and loaded.volume.as_tuple() == value.as_tuple()  # scale kept too


async def test_money_is_stored_as_exact_text(store: Store) -> None:
    await store.orders.insert_pending(_order(volume=Decimal("0.1")))

    row = await store.database.fetch_one(
        "SELECT volume, typeof(volume) AS kind, created_at FROM orders"
    )

    assert row is not None
    assert (row["volume"], row["kind"]) == ("0.1", "text")
    assert row["created_at"] == "2026-11-25T12:00:00.123456+00:00"


async def test_insert_pending_is_committed_when_it_returns(store: Store) -> None:
    await store.orders.insert_pending(_order())

    # A second, independent connection sees the row: it is on disk before the order is sent.
    with sqlite3.connect(store.path) as other:
        rows = other.execute("SELECT cl_ord_id, status FROM orders").fetchall()
    assert rows == [("cl-1", "pending_new")]


async def test_second_order_with_the_same_cl_ord_id_is_refused(store: Store) -> None:
    await store.orders.insert_pending(_order())

    with pytest.raises(DuplicateOrderError, match="cl-1"):
        await store.orders.insert_pending(_order(volume=Decimal(2)))


async def test_write_ahead_row_must_be_pending_new(store: Store) -> None:
    with pytest.raises(StoreError, match="must be pending_new"):
        await store.orders.insert_pending(_order(status=OrderStatus.NEW))


async def test_update_records_exchange_state_and_finds_order_by_txid(store: Store) -> None:
    await store.orders.insert_pending(_order())
    acked = _order(
        order_id="OABC-1",
        status=OrderStatus.PARTIALLY_FILLED,
        filled=Decimal("0.0001"),
        avg_price=Decimal("64999.85"),
        fees=Decimal("0.0162"),
        updated_at=T0 + timedelta(seconds=1),
    )

    await store.orders.update(acked)

    assert await store.orders.by_order_id("OABC-1") == acked
    assert await store.orders.by_order_id("nope") is None


async def test_update_of_an_unknown_order_is_an_error(store: Store) -> None:
    with pytest.raises(UnknownOrderError):
        await store.orders.update(_order("ghost"))


async def test_non_final_lists_only_orders_whose_outcome_is_unknown(store: Store) -> None:
    for index, status in enumerate(OrderStatus):
        cl_ord_id = f"cl-{index}"
        await store.orders.insert_pending(_order(cl_ord_id))
        await store.orders.update(_order(cl_ord_id, status=status))

    non_final = await store.orders.non_final()

    assert {order.status for order in non_final} == {
        OrderStatus.PENDING_NEW,
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
    }


async def test_queued_order_update_is_visible_after_flush(store: Store) -> None:
    await store.orders.insert_pending(_order())

    store.orders.queue_update(_order(status=OrderStatus.NEW, order_id="OABC-1"))
    await store.writer.flush()

    loaded = await store.orders.by_cl_ord_id("cl-1")
    assert loaded is not None and loaded.status is OrderStatus.NEW


async def test_adopted_order_is_marked_external(store: Store) -> None:
    await store.orders.adopt(_order("ext-OXYZ", status=OrderStatus.NEW, order_id="OXYZ"))

    adopted = await store.orders.by_order_id("OXYZ")

    assert adopted is not None and adopted.external


def _quote_buy(cl_ord_id: str = "cl-q", **changes: object) -> Order:
    return _order(
        cl_ord_id,
        order_type=OrderType.MARKET,
        volume=Decimal(0),
        price=None,
        post_only=False,
        quote_volume=Decimal("1000.00"),
    ).with_changes(**changes)


async def test_quote_sized_order_keeps_its_amount_exactly_through_insert_and_update(
    store: Store,
) -> None:
    await store.orders.insert_pending(_quote_buy())
    loaded = await store.orders.by_cl_ord_id("cl-q")
    assert loaded == _quote_buy()
    assert loaded is not None and str(loaded.quote_volume) == "1000.00"

    filled = _quote_buy(
        order_id="OQ-1",
        status=OrderStatus.FILLED,
        filled=Decimal("0.01999600"),
        avg_price=Decimal("50010"),
        updated_at=T0 + timedelta(seconds=1),
    )
    await store.orders.update(filled)

    assert await store.orders.by_order_id("OQ-1") == filled


async def test_order_sized_in_base_has_no_stored_quote_amount(store: Store) -> None:
    await store.orders.insert_pending(_order())

    row = await store.database.fetch_one("SELECT quote_volume FROM orders")
    loaded = await store.orders.by_cl_ord_id("cl-1")

    assert row is not None and row["quote_volume"] is None
    assert loaded is not None and loaded.quote_volume is None


async def test_update_records_a_quote_amount_learnt_from_the_exchange(store: Store) -> None:
    await store.orders.adopt(
        _order("ext-OQ", status=OrderStatus.NEW, order_id="OQ").with_changes(
            order_type=OrderType.MARKET, volume=Decimal(0), price=None, post_only=False
        )
    )

    await store.orders.update(
        _quote_buy("ext-OQ", status=OrderStatus.NEW, order_id="OQ", external=True)
    )

    loaded = await store.orders.by_order_id("OQ")
    assert loaded is not None and loaded.quote_volume == Decimal("1000.00")


async def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.orders.insert_pending(_order(created_at=datetime(2026, 1, 1)))


@pytest.mark.parametrize("value", AWKWARD)
async def test_execution_round_trips_with_exact_decimals(store: Store, value: Decimal) -> None:
    execution = _execution(price=value, qty=value, fee=value)

    assert await store.executions.insert_if_new(execution)

    assert await store.executions.by_exec_id("T-1") == execution
    assert await store.executions.for_order("OABC-1") == [execution]


async def test_the_same_fill_recovered_twice_is_stored_once(store: Store) -> None:
    first = _execution()
    again = _execution(price=Decimal("999"))

    assert await store.executions.insert_if_new(first) is True
    assert await store.executions.insert_if_new(again) is False

    assert await store.executions.since() == [first]


async def test_executions_since_are_in_time_order(store: Store) -> None:
    later = _execution("T-2", ts=T0 + timedelta(minutes=1))
    earlier = _execution("T-1", ts=T0)
    await store.executions.insert_if_new(later)
    await store.executions.insert_if_new(earlier)

    assert await store.executions.since() == [earlier, later]
    assert await store.executions.since(T0 + timedelta(seconds=30)) == [later]
    assert await store.executions.recent(1) == [later]


async def test_strategy_state_survives_reregistration(store: Store) -> None:
    params = {"fast": 10, "threshold": Decimal("0.0025")}
    strategy_id = await store.strategies.register(
        "sma_cross", "SmaCross", params, StrategyState.RUNNING, T0
    )
    await store.strategies.save_state_json("sma_cross", {"last_signal": "buy"}, T0)

    again = await store.strategies.register(
        "sma_cross", "SmaCross", {"fast": 12}, StrategyState.PAUSED, T0 + timedelta(hours=1)
    )
    record = await store.strategies.get("sma_cross")

    assert again == strategy_id
    assert record is not None
    assert record.params == {"fast": 12}
    assert record.state is StrategyState.PAUSED
    assert record.state_json == {"last_signal": "buy"}
    assert record.created_at == T0 and record.updated_at == T0 + timedelta(hours=1)


async def test_strategy_params_keep_decimals_exact_as_strings(store: Store) -> None:
    await store.strategies.register(
        "mm", "MarketMaker", {"spread": Decimal("0.10")}, StrategyState.RUNNING, T0
    )
    await store.strategies.set_state("mm", StrategyState.ERROR, T0)

    [record] = await store.strategies.all()

    assert record.params == {"spread": "0.10"}
    assert record.state is StrategyState.ERROR


async def test_position_upsert_keeps_one_row_per_symbol_and_strategy(store: Store) -> None:
    portfolio = await store.positions.ensure_portfolio("main", "USD", T0)
    assert await store.positions.ensure_portfolio("main", "USD", T0) == portfolio
    opened = Position(
        symbol="BTC/USD",
        qty=Decimal("0.00000001"),
        avg_price=Decimal("64999.9"),
        realized_pnl=Decimal("-0.0000000026"),
        fees=Decimal("0.0000000026"),
        strategy="sma_cross",
        opened_at=T0,
    )
    net = Position(symbol="BTC/USD", qty=Decimal("1.10"), avg_price=Decimal("0.1"))

    await store.positions.upsert(portfolio, opened, T0)
    await store.positions.upsert(portfolio, net, T0)
    flat = Position(symbol="BTC/USD", realized_pnl=Decimal("1.5"), strategy="sma_cross")
    store.positions.queue_upsert(portfolio, flat, T0 + timedelta(seconds=5))
    await store.writer.flush()

    assert await store.positions.for_portfolio(portfolio) == [net, flat]
    closed = await store.database.fetch_one(
        "SELECT closed_at FROM positions WHERE strategy = 'sma_cross'"
    )
    assert closed is not None and closed["closed_at"] == "2026-11-25T12:00:05.123456+00:00"


async def test_equity_snapshots_round_trip_through_the_writer(store: Store) -> None:
    first = EquitySnapshot(T0, Decimal("10000.01"), Decimal("10000.01"), Decimal("0"))
    second = EquitySnapshot(
        T0 + timedelta(seconds=1), Decimal("9999.9"), Decimal("10000.01"), Decimal("0.0000110")
    )
    store.equity.queue(first)
    store.equity.queue(second)
    await store.writer.flush()

    assert await store.equity.latest() == second
    assert await store.equity.since(T0) == [first, second]


async def test_event_log_and_reconciliation_log_keep_entries_newest_first(store: Store) -> None:
    store.events.queue(LoggedEvent(T0, "INFO", "risk", "order denied: max notional"))
    store.events.queue(LoggedEvent(T0 + timedelta(seconds=1), "CRITICAL", "engine", "kill switch"))
    await store.writer.flush()
    entry = ReconciliationEntry(T0, "adopted", cl_ord_id="ext-1", order_id="O-1", detail="open")
    await store.reconciliation.record(entry)

    events = await store.events.recent()

    assert [event.message for event in events] == ["kill switch", "order denied: max notional"]
    assert await store.reconciliation.recent() == [entry]


async def test_kv_holds_json_values_committed_or_queued(store: Store) -> None:
    await store.kv.set("kill_switch", {"halted": True, "reason": "drawdown"}, T0)
    store.kv.queue_set("last_exec_id", "T-42", T0)
    await store.writer.flush()

    assert await store.kv.get("kill_switch") == {"halted": True, "reason": "drawdown"}
    assert await store.kv.get("last_exec_id") == "T-42"
    await store.kv.delete("kill_switch")
    assert await store.kv.get("kill_switch", default="absent") == "absent"


async def test_backtest_run_round_trips(store: Store) -> None:
    run = BacktestRun(
        created_at=T0,
        strategy="sma_cross",
        symbol="BTC/USD",
        data_path="data/XBTUSD_1.csv",
        params={"fast": 10},
        metrics={"sharpe": 1.25, "pnl": "123.45"},
        range_start=T0 - timedelta(days=30),
        range_end=T0,
    )

    run_id = await store.backtests.insert(run)

    assert await store.backtests.get(run_id) == replace(run, id=run_id)
    assert [r.id for r in await store.backtests.recent(strategy="sma_cross")] == [run_id]
