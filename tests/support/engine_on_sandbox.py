"""A real `TradingEngine` trading on a real sandbox process, assembled as the runtime assembles
them (settings → `exchange_target` → `build_exchange` → engine on a SQLite store), for tests
that drive the engine from outside: the console's keys, the `StaticEngine` contract.

The sandbox's own REST API is the judge of what is on the exchange: a test reads it with the
SDK's client and the same key the engine trades with.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from kraken.exceptions import KrakenApiLimitExceededError
from kraken.spot import User

from kraken_tui.domain import OrderType, Side
from kraken_tui.engine.api import EngineSnapshot, ManualOrder
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.exchange_setup import build_exchange, exchange_target
from kraken_tui.sandbox.process import SandboxProcess
from kraken_tui.sandbox.ratelimits import Tier
from kraken_tui.settings import load_settings
from kraken_tui.store import Store

QUIET_SMA = {
    "name": "sma_btc",
    "class": "sma_cross",
    "symbol": "BTC/USD",
    "params": {"fast": 1000, "slow": 2000},
}
"""A strategy that never trades in a test: its slow average needs 2,000 closed minutes, and
the exchange's history (720) plus a test's few minutes never add up to that."""
WIDE_MAKER = {
    "name": "mm_eth",
    "class": "market_maker",
    "symbol": "ETH/USD",
    "params": {"half_spread_bps": "40", "quote_size": "0.1", "max_inventory": "1"},
}
"""A market maker quoting far from the mid: its two quotes rest on the book."""


@dataclass(frozen=True)
class EngineOnSandbox:
    engine: TradingEngine
    box: SandboxProcess

    async def open_on_sandbox(self) -> set[str]:
        """The txids of the account's open orders, as the sandbox's REST OpenOrders says."""
        user = User(key=self.box.api_key, secret=self.box.api_secret, url=self.box.rest_url)
        return set(await asyncio.to_thread(_open_orders_within_rate_limit, user))

    async def resting_bid(self, symbol: str = "BTC/USD", within_s: float = 10.0) -> ManualOrder:
        """`resting_bid` on this engine's market, once its book has arrived."""
        deadline = time.monotonic() + within_s
        while (book := self.engine.snapshot().books.get(symbol)) is None or book.mid is None:
            assert time.monotonic() < deadline, f"no {symbol} book after {within_s} s"
            await asyncio.sleep(0.05)
        return resting_bid(self.engine.snapshot(), symbol)


def resting_bid(snapshot: EngineSnapshot, symbol: str = "BTC/USD") -> ManualOrder:
    """A small limit buy 2 % below the mid: it rests on the book."""
    book = snapshot.books[symbol]
    assert book.mid is not None, f"{symbol} has an empty book"
    price = (book.mid * Decimal("0.98")).quantize(snapshot.instruments[symbol].tick_size)
    return ManualOrder(symbol, Side.BUY, OrderType.LIMIT, Decimal("0.001"), price=price)


def _open_orders_within_rate_limit(user: User, timeout: float = 30.0) -> dict[str, Any]:
    """The test shares the engine's API key, so the REST counter may be full right after the
    engine's start-up reconciliation: wait for it to decay, as any Kraken client must."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return dict(user.get_open_orders()["open"])
        except KrakenApiLimitExceededError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@asynccontextmanager
async def engine_on_sandbox(
    workdir: Path,
    strategies: Sequence[Mapping[str, Any]] = (QUIET_SMA,),
    risk: Mapping[str, Any] | None = None,
) -> AsyncIterator[EngineOnSandbox]:
    """A started engine on its own sandbox process (pro tier, as `kraken-tui sandbox` runs),
    stopped with its orders cancelled, and the sandbox shut down, whatever the test did. The
    market is slow (20 book messages/s): a test types keys, it does not measure load, and on
    two shared cores a busy market would make every key press wait for redraws."""
    box = SandboxProcess(
        seed=5,
        rate=20.0,
        state_path=workdir / "sandbox.sqlite3",
        tier=Tier.PRO,
        log_path=workdir / "sandbox.log",
    )
    config = workdir / "kraken_tui.toml"
    config.write_text("")
    async with box:
        overrides = {
            "symbols": ["BTC/USD", "ETH/USD"],
            "strategies": [dict(s) for s in strategies],
            "strategy_dir": str(workdir / "strategies"),
            "exchange": {
                "rest_url": box.rest_url,
                "ws_url": box.ws_url,
                "ws_auth_url": box.ws_auth_url,
                "api_tier": "pro",
                "dead_man_switch_timeout_s": 0,
            },
            "storage": {"db_path": str(workdir / "data" / "engine.sqlite3")},
            "logging": {"dir": str(workdir / "logs")},
            "risk": dict(risk or {}),
        }
        settings = load_settings(config, overrides=overrides)
        store = await Store.open(settings.storage.db_path)
        try:
            async with exchange_target(settings) as target:
                exchange = build_exchange(settings, target)
                engine = TradingEngine(exchange, store, EngineConfig.from_settings(settings))
                await engine.start()
                try:
                    yield EngineOnSandbox(engine, box)
                finally:
                    await engine.stop(cancel_open_orders=True)
                    await exchange.close()
        finally:
            await store.close()
