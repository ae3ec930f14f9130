"""Kill switch and pause through the real stack: TradingEngine and the KrakenExchange adapter
in this process (assembled as the runtime assembles them), a standalone sandbox process on
the other side of real sockets, and the sandbox's REST API as the judge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from e2e_support import (
    StrategySpec,
    flood_bids,
    market_maker,
    rest_open_orders,
    sandbox_open_txids,
    sandbox_orders,
    standalone_sandbox,
    write_config,
)

from kraken_tui.domain import OrderStatus, OrderType, Side, TradingState
from kraken_tui.engine.api import ManualOrder
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.exchange_setup import build_exchange, exchange_target
from kraken_tui.sandbox.process import SandboxProcess
from kraken_tui.settings import load_settings
from kraken_tui.store import Store

D = Decimal
RESTING = 4
"""Manual bids placed below the market so they rest."""


@asynccontextmanager
async def running_engine(
    box: SandboxProcess,
    workdir: Path,
    strategies: Sequence[StrategySpec],
    **config_options: Any,
) -> AsyncIterator[TradingEngine]:
    config = write_config(workdir, strategies, **config_options)
    urls = {"rest_url": box.rest_url, "ws_url": box.ws_url, "ws_auth_url": box.ws_auth_url}
    settings = load_settings(config, overrides={"exchange": urls})
    store = await Store.open(settings.storage.db_path)
    try:
        async with exchange_target(settings) as target:
            exchange = build_exchange(settings, target)
            engine = TradingEngine(exchange, store, EngineConfig.from_settings(settings))
            await engine.start()
            try:
                yield engine
            finally:
                await engine.stop(cancel_open_orders=True)
                await exchange.close()
    finally:
        await store.close()


async def resting_bid(engine: TradingEngine, symbol: str = "BTC/USD") -> ManualOrder:
    deadline = time.monotonic() + 10
    while (book := engine.snapshot().books.get(symbol)) is None or (mid := book.mid) is None:
        assert time.monotonic() < deadline, f"no {symbol} book"
        await asyncio.sleep(0.1)
    price = (mid * D("0.98")).quantize(D("0.1"))
    return ManualOrder(symbol, Side.BUY, OrderType.LIMIT, D("0.001"), price=price)


async def open_on_sandbox(box: SandboxProcess) -> dict[str, object]:
    return await asyncio.to_thread(rest_open_orders, box)


async def test_kill_switch_leaves_no_open_order_after_1s_and_denies_until_reset(
    tmp_path: Path,
) -> None:
    state = tmp_path / "sandbox.sqlite3"
    with standalone_sandbox(tmp_path, time_scale=1.0) as box:
        async with running_engine(box, tmp_path, [market_maker(half_spread_bps=40)]) as engine:
            bid = await resting_bid(engine)
            for _ in range(RESTING):
                assert (await engine.submit_manual_order(bid)).ok
            deadline = time.monotonic() + 10
            while (
                len(sandbox_open_txids(state, box.api_key)) < RESTING + 2
            ):  # + the maker's two quotes
                assert time.monotonic() < deadline, "orders never rested"
                await asyncio.sleep(0.1)

            fired_at = time.monotonic()
            result = await engine.kill_switch("e2e test")
            await asyncio.sleep(max(0.0, fired_at + 1.0 - time.monotonic()))
            assert result.ok, result.message
            assert await open_on_sandbox(box) == {}
            assert engine.snapshot().risk.trading_state is TradingState.HALTED

            orders_before = len(sandbox_orders(state, box.api_key))
            denied = await engine.submit_manual_order(bid)
            assert not denied.ok and "HALTED" in denied.message.upper()
            await asyncio.sleep(1.0)  # the halted, paused market maker sends nothing either
            assert await open_on_sandbox(box) == {}
            after = sandbox_orders(state, box.api_key)
            assert len(after) == orders_before

            assert (await engine.reset_kill_switch()).ok
            accepted = await engine.submit_manual_order(bid)
            assert accepted.ok, accepted.message
            assert accepted.detail["order_id"] in await open_on_sandbox(box)


async def test_paused_strategy_sends_nothing_while_paused(tmp_path: Path) -> None:
    with standalone_sandbox(tmp_path, time_scale=1.0) as box:
        state = tmp_path / "sandbox.sqlite3"
        async with running_engine(box, tmp_path, [market_maker(half_spread_bps=1)]) as engine:
            deadline = time.monotonic() + 10
            while len(sandbox_orders(state, box.api_key)) < 4:
                assert time.monotonic() < deadline, "the market maker never quoted"
                await asyncio.sleep(0.2)
            assert (await engine.pause("mm_eth")).ok
            await asyncio.sleep(0.3)  # a request already in flight when pause returned
            sent_before = {o.txid for o in sandbox_orders(state, box.api_key)}
            await asyncio.sleep(3.0)
            assert {o.txid for o in sandbox_orders(state, box.api_key)} == sent_before

            assert (await engine.resume("mm_eth")).ok
            deadline = time.monotonic() + 10
            while {o.txid for o in sandbox_orders(state, box.api_key)} == sent_before:
                assert time.monotonic() < deadline, "resumed strategy never quoted again"
                await asyncio.sleep(0.2)


FLOOD_LIMITS = {
    "max_open_orders": 0,
    "max_orders_per_minute": 0,
    "max_position_per_symbol": 0,
    "max_position_per_strategy": 0,
}
"""Risk lets the whole flood through: what is measured is the path after risk."""


async def test_kill_switch_stops_a_flood_already_queued_behind_the_rate_limiter(
    tmp_path: Path,
) -> None:
    """A strategy asks for 150 resting bids at once; the client's starter-tier limiter lets
    about 58 out, the rest queue in the process. Within 2 s of the kill switch the account
    has no open order, nothing is opened afterwards, and every queued request ends rejected
    with the reason, none left pending_new."""
    state = tmp_path / "sandbox.sqlite3"
    with standalone_sandbox(tmp_path, time_scale=1.0) as box:
        async with running_engine(
            box, tmp_path, [flood_bids()], api_tier="starter", risk=FLOOD_LIMITS
        ) as engine:
            deadline = time.monotonic() + 15
            while not sandbox_open_txids(state, box.api_key):
                assert time.monotonic() < deadline, "the flood never reached the sandbox"
                await asyncio.sleep(0.1)
            await asyncio.sleep(3.0)
            assert engine.orders.open_orders, "nothing was queued when the switch fired"

            fired_at = time.monotonic()
            result = await engine.kill_switch("flood test")
            while sandbox_open_txids(state, box.api_key):
                assert time.monotonic() - fired_at < 2.0, (
                    f"{len(sandbox_open_txids(state, box.api_key))} orders still open 2 s "
                    "after the kill switch"
                )
                await asyncio.sleep(0.05)
            assert result.ok, result.message
            accepted = len(sandbox_orders(state, box.api_key))

            await asyncio.sleep(3.0)
            assert len(sandbox_orders(state, box.api_key)) == accepted, "opened after the kill"
            assert not sandbox_open_txids(state, box.api_key)
            assert await open_on_sandbox(box) == {}
            await engine.orders.wait_sent()
            statuses = [o.status for o in engine.orders.open_orders]
            assert OrderStatus.PENDING_NEW not in statuses, statuses
            stored = await engine.store.orders.recent(limit=1000)
            assert len(stored) == 150
            unsent = [o for o in stored if o.order_id is None]
            assert unsent, "every request left the process: the flood was not queued"
            assert all(o.status is OrderStatus.REJECTED for o in unsent)
            assert all("flood test" in (o.reason or "") for o in unsent)
