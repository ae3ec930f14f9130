"""`StaticEngine`: an `EngineApi` over a fixed, seeded market, for what a real engine cannot
produce on demand: layout snapshots from seeded data with a fixed clock, the Redis layer's
tests, and console states the engine only reaches by itself (a lost feed, a failing command).

Its commands change the snapshot the way `TradingEngine` does, and
`tests/ui/test_ui_static_engine_contract.py` holds it to that: pause and resume refuse a
strategy not in the state they change, nothing resumes while HALTED; the kill switch halts
trading, pauses every strategy and cancels every order; a cancel-all leaves the orders
pending_cancel until the exchange's confirmations arrive (here: on the event loop's next turn).
Fields are always *replaced*, never mutated, so the UI's identity-based redraw is exercised
exactly as with the real engine. Nothing here depends on wall-clock time or unseeded randomness.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kraken_tui.domain import (
    BookLevel,
    BookSnapshot,
    Candle,
    ComponentState,
    ConnectionState,
    Execution,
    Instrument,
    Liquidity,
    Mode,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StrategyState,
    Ticker,
    TradingState,
)
from kraken_tui.domain.orders import check_size
from kraken_tui.engine.api import (
    CommandResult,
    EngineSnapshot,
    LogLine,
    ManualOrder,
    PortfolioSnapshot,
    RiskDecision,
    RiskSnapshot,
    StrategySnapshot,
)
from kraken_tui.exchange.protocol import ConnectionStatus, RateLimitStatus

FIXED_NOW = datetime(2026, 1, 15, 14, 30, 0, tzinfo=UTC)
"""The instant every fixture timestamp is relative to; snapshot tests use it as their clock."""

MAX_ORDER_NOTIONAL = Decimal(25_000)
"""The fixture's one pre-trade limit, so the ticket can show a risk denial."""

BOOK_DEPTH = 25
CANDLE_COUNT = 120

INSTRUMENTS: dict[str, Instrument] = {
    "BTC/USD": Instrument(
        symbol="BTC/USD",
        base="BTC",
        quote="USD",
        price_decimals=1,
        lot_decimals=8,
        tick_size=Decimal("0.1"),
        ordermin=Decimal("0.00005"),
        costmin=Decimal("0.5"),
        rest_name="XXBTZUSD",
        altname="XBTUSD",
    ),
    "ETH/USD": Instrument(
        symbol="ETH/USD",
        base="ETH",
        quote="USD",
        price_decimals=2,
        lot_decimals=8,
        tick_size=Decimal("0.01"),
        ordermin=Decimal("0.002"),
        costmin=Decimal("0.5"),
        rest_name="XETHZUSD",
        altname="ETHUSD",
    ),
}

_MIDS = {"BTC/USD": Decimal("64250.0"), "ETH/USD": Decimal("3412.50")}


def _book(rng: random.Random, instrument: Instrument, mid: Decimal) -> BookSnapshot:
    tick = instrument.tick_size
    half_spread = tick * 5
    bids = []
    asks = []
    for level in range(BOOK_DEPTH):
        step = tick * (level * rng.randint(3, 9))
        bids.append(
            BookLevel(mid - half_spread - step, Decimal(rng.randint(1, 4000)) / Decimal(1000))
        )
        asks.append(
            BookLevel(mid + half_spread + step, Decimal(rng.randint(1, 4000)) / Decimal(1000))
        )
    bids = sorted({lvl.price: lvl for lvl in bids}.values(), key=lambda lvl: -lvl.price)
    asks = sorted({lvl.price: lvl for lvl in asks}.values(), key=lambda lvl: lvl.price)
    return BookSnapshot(instrument.symbol, tuple(bids), tuple(asks), ts=FIXED_NOW, sequence=1)


def _candles(rng: random.Random, instrument: Instrument, last_close: Decimal) -> tuple[Candle, ...]:
    """A random walk backwards from the current mid, in whole ticks, so prices stay on the grid."""
    tick = instrument.tick_size
    scale = int(last_close / tick / 2000)
    closes = [last_close]
    for _ in range(CANDLE_COUNT - 1):
        closes.append(closes[-1] - tick * rng.randint(-scale, scale))
    closes.reverse()
    candles = []
    start = FIXED_NOW - timedelta(minutes=CANDLE_COUNT)
    previous = closes[0]
    for index, close in enumerate(closes):
        open_ = previous
        high = max(open_, close) + tick * rng.randint(0, scale // 2)
        low = min(open_, close) - tick * rng.randint(0, scale // 2)
        candles.append(
            Candle(
                symbol=instrument.symbol,
                interval=1,
                ts=start + timedelta(minutes=index),
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=Decimal(rng.randint(100, 9000)) / Decimal(100),
                trades=rng.randint(5, 200),
                closed=index < CANDLE_COUNT - 1,
            )
        )
        previous = close
    return tuple(candles)


def _ticker(book: BookSnapshot, candles: tuple[Candle, ...]) -> Ticker:
    assert book.best_bid is not None and book.best_ask is not None
    return Ticker(
        symbol=book.symbol,
        bid=book.best_bid.price,
        ask=book.best_ask.price,
        last=candles[-1].close,
        volume=sum((c.volume for c in candles), Decimal(0)),
        high=max(c.high for c in candles),
        low=min(c.low for c in candles),
        ts=FIXED_NOW,
    )


def _open_orders() -> tuple[Order, ...]:
    def order(cl_ord_id: str, symbol: str, side: Side, price: str, volume: str) -> Order:
        return Order(
            cl_ord_id=cl_ord_id,
            symbol=symbol,
            side=side,
            order_type=OrderType.LIMIT,
            volume=Decimal(volume),
            status=OrderStatus.NEW,
            price=Decimal(price),
            order_id=f"O{cl_ord_id[-4:].upper()}-FIXT",
            created_at=FIXED_NOW - timedelta(minutes=12),
            updated_at=FIXED_NOW - timedelta(minutes=12),
        )

    sma = order("sma-0001", "BTC/USD", Side.BUY, "64190.0", "0.10000000")
    grid = order("grid-0007", "BTC/USD", Side.SELL, "64335.0", "0.05000000")
    manual = order("manual-0003", "ETH/USD", Side.BUY, "3401.25", "2.00000000")
    return (
        replace(sma, strategy="sma_cross"),
        replace(
            grid,
            strategy="grid_btc",
            filled=Decimal("0.01000000"),
            status=OrderStatus.PARTIALLY_FILLED,
        ),
        manual,
    )


def _fills(candles: dict[str, tuple[Candle, ...]]) -> tuple[Execution, ...]:
    """Five fills, each at the close of the candle it happened in, so the chart can mark them."""
    rows = [
        ("T1005", "sma-0000", "BTC/USD", Side.BUY, "0.15000000", 3),
        ("T1004", "grid-0007", "BTC/USD", Side.SELL, "0.01000000", 9),
        ("T1003", "grid-0005", "BTC/USD", Side.BUY, "0.10000000", 31),
        ("T1002", "rsi-0002", "ETH/USD", Side.BUY, "1.50000000", 54),
        ("T1001", "grid-0004", "BTC/USD", Side.SELL, "0.05000000", 88),
    ]
    fills = []
    for exec_id, cl_ord_id, symbol, side, qty, minutes_ago in rows:
        px, q = candles[symbol][-1 - minutes_ago].close, Decimal(qty)
        fills.append(
            Execution(
                exec_id=exec_id,
                order_id=f"O{exec_id}",
                symbol=symbol,
                side=side,
                price=px,
                qty=q,
                fee=(px * q * Decimal("0.0025")).quantize(Decimal("0.0001")),
                fee_ccy="USD",
                liquidity=Liquidity.MAKER if side is Side.SELL else Liquidity.TAKER,
                ts=FIXED_NOW - timedelta(minutes=minutes_ago),
                cl_ord_id=cl_ord_id,
            )
        )
    return tuple(fills)


def _log_lines() -> list[LogLine]:
    entries = [
        ("INFO", "engine", "engine starting in sandbox mode"),
        ("INFO", "exchange", "websocket connected to ws.sandbox (book, ticker, ohlc)"),
        ("DEBUG", "exchange", "book BTC/USD snapshot received: 25 levels, checksum ok"),
        ("DEBUG", "exchange", "book ETH/USD snapshot received: 25 levels, checksum ok"),
        ("INFO", "strategy", "sma_cross started on BTC/USD (fast=9, slow=21)"),
        ("INFO", "strategy", "rsi_revert started on ETH/USD (period=14)"),
        ("INFO", "strategy", "grid_btc started on BTC/USD (levels=8, step=0.5%)"),
        ("INFO", "execution", "order sma-0000 filled 0.15 BTC/USD"),
        ("WARNING", "risk", "grid_btc: order rate 4/min is close to the limit of 5/min"),
        ("INFO", "strategy", "rsi_revert paused by user"),
        ("INFO", "execution", "order sma-0001 accepted: buy 0.1 BTC/USD @ 64,190.0"),
        ("INFO", "execution", "order grid-0007 partially filled 0.01 BTC/USD"),
        ("ERROR", "exchange", "REST AddOrder timed out; resolved by cl_ord_id: not placed"),
        ("INFO", "execution", "order manual-0003 accepted: buy 2 ETH/USD @ 3,401.25"),
    ]
    return [
        LogLine(
            seq=index + 1,
            ts=FIXED_NOW - timedelta(seconds=(len(entries) - index) * 17),
            level=level,
            source=source,
            message=message,
        )
        for index, (level, source, message) in enumerate(entries)
    ]


def build_snapshot(mode: Mode = Mode.SANDBOX, seed: int = 7) -> EngineSnapshot:
    """The fixture market: two symbols, 25-level books, 120 one-minute candles, two positions,
    three open orders, five fills, three strategies of which one is paused."""
    rng = random.Random(seed)
    books = {s: _book(rng, INSTRUMENTS[s], _MIDS[s]) for s in INSTRUMENTS}
    candles = {s: _candles(rng, INSTRUMENTS[s], _MIDS[s]) for s in INSTRUMENTS}
    tickers = {s: _ticker(books[s], candles[s]) for s in INSTRUMENTS}
    btc_mark = books["BTC/USD"].mid
    eth_mark = books["ETH/USD"].mid
    positions = (
        Position(
            "BTC/USD",
            qty=Decimal("0.25000000"),
            avg_price=Decimal("63100.0"),
            realized_pnl=Decimal("184.20"),
            mark=btc_mark,
            opened_at=FIXED_NOW - timedelta(hours=3),
        ),
        Position(
            "ETH/USD",
            qty=Decimal("1.50000000"),
            avg_price=Decimal("3455.10"),
            realized_pnl=Decimal("-12.95"),
            mark=eth_mark,
            opened_at=FIXED_NOW - timedelta(minutes=54),
        ),
        # The engine also reports each strategy's share of a symbol, as it does here.
        Position(
            "BTC/USD",
            qty=Decimal("0.15000000"),
            avg_price=Decimal("63020.0"),
            mark=btc_mark,
            strategy="sma_cross",
            opened_at=FIXED_NOW - timedelta(hours=3),
        ),
    )
    strategies = (
        StrategySnapshot(
            "sma_cross",
            "BTC/USD",
            "SmaCross",
            StrategyState.RUNNING,
            "buy",
            Decimal("0.15"),
            Decimal("60.00"),
            4,
        ),
        StrategySnapshot(
            "rsi_revert",
            "ETH/USD",
            "RsiRevert",
            StrategyState.PAUSED,
            "hold",
            Decimal("1.5"),
            Decimal("-64.65"),
            2,
        ),
        StrategySnapshot(
            "grid_btc",
            "BTC/USD",
            "Grid",
            StrategyState.RUNNING,
            "sell",
            Decimal("0.10"),
            Decimal("123.50"),
            11,
        ),
    )
    return EngineSnapshot(
        mode=mode,
        state=ComponentState.RUNNING,
        ts=FIXED_NOW,
        symbols=tuple(INSTRUMENTS),
        instruments=dict(INSTRUMENTS),
        books=books,
        tickers=tickers,
        candles=candles,
        positions=positions,
        open_orders=_open_orders(),
        recent_fills=_fills(candles),
        strategies=strategies,
        risk=RiskSnapshot(
            TradingState.ACTIVE, daily_pnl=Decimal("118.85"), drawdown_pct=Decimal("0.42")
        ),
        portfolio=PortfolioSnapshot(
            quote_ccy="USD",
            equity=Decimal("100482.37"),
            peak_equity=Decimal("100905.10"),
            drawdown_pct=Decimal("0.42"),
            daily_pnl=Decimal("118.85"),
            balances={"USD": Decimal("84215.37"), "BTC": Decimal("0.25"), "ETH": Decimal("1.5")},
        ),
        connection=ConnectionStatus(ConnectionState.CONNECTED, latency_ms=42.0, since=FIXED_NOW),
        rate_limits=RateLimitStatus(rest_counter=3.0, rest_max=20.0, trade_max=125.0),
    )


class StaticEngine:
    """An `EngineApi` whose state changes only through its commands (and the `set_*` helpers
    tests use to put it into a state the engine would reach by itself, such as a lost feed)."""

    def __init__(self, mode: Mode = Mode.SANDBOX, seed: int = 7) -> None:
        self._snapshot = build_snapshot(mode, seed)
        self._log: list[LogLine] = _log_lines()
        self._manual_orders = 0
        self.commands: list[str] = []
        """Every command received, in order: what pilot tests assert on besides the snapshot."""

    def snapshot(self) -> EngineSnapshot:
        return self._snapshot

    def log_lines_since(self, seq: int, limit: int = 500) -> list[LogLine]:
        return [line for line in self._log if line.seq > seq][:limit]

    def preview_order(self, order: ManualOrder) -> RiskDecision:
        snap = self._snapshot
        if snap.risk.trading_state is TradingState.HALTED:
            return RiskDecision.deny("trading_state", "trading is HALTED: only cancels allowed")
        try:
            check_size(order.side, order.order_type, order.volume, order.quote_volume)
        except ValueError as exc:
            return RiskDecision.deny("order_size", str(exc))
        if order.quote_volume is not None:
            return self._notional_decision(order.quote_volume)
        reference = order.price if order.price is not None else self._reference_price(order)
        return self._notional_decision(None if reference is None else reference * order.volume)

    def preview_amend(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> RiskDecision:
        """As the engine judges an amend: the order as it would be, in place of itself."""
        if self._snapshot.risk.trading_state is TradingState.HALTED:
            return RiskDecision.deny("trading_state", "trading is HALTED: only cancels allowed")
        order = self._open_order(cl_ord_id)
        if order is None:
            return RiskDecision.deny("unknown_order", f"no open order {cl_ord_id}")
        if price is None and volume is None:
            return RiskDecision.deny("amend", "nothing to amend: give a new price or volume")
        if price is not None and order.order_type is not OrderType.LIMIT:
            return RiskDecision.deny(
                "amend", f"a {order.order_type} order has no limit price to amend"
            )
        if volume is not None and volume <= order.filled:
            return RiskDecision.deny(
                "amend", f"volume {volume} is not above the {order.filled} already filled"
            )
        new_price = order.price if price is None else price
        new_volume = order.volume if volume is None else volume
        instrument = self._snapshot.instruments[order.symbol]
        error = instrument.check_order(new_price, new_volume)
        if error is not None:
            return RiskDecision.deny("instrument_minimum", error)
        return self._notional_decision(None if new_price is None else new_price * new_volume)

    def _notional_decision(self, notional: Decimal | None) -> RiskDecision:
        if notional is not None and notional > MAX_ORDER_NOTIONAL:
            return RiskDecision.deny(
                "max_order_notional",
                f"notional {notional:,.2f} exceeds max_order_notional {MAX_ORDER_NOTIONAL:,}",
            )
        return RiskDecision.allow()

    async def pause(self, strategy: str) -> CommandResult:
        return self._set_strategy_state(strategy, StrategyState.PAUSED)

    async def resume(self, strategy: str) -> CommandResult:
        if self._snapshot.risk.trading_state is TradingState.HALTED:
            self.commands.append(f"resume:{strategy}")
            return CommandResult(False, "trading is HALTED: reset the kill switch first")
        return self._set_strategy_state(strategy, StrategyState.RUNNING)

    async def pause_all(self) -> CommandResult:
        self.commands.append("pause_all")
        self._replace_all_strategy_states(StrategyState.RUNNING, StrategyState.PAUSED)
        return CommandResult(True, "all strategies paused")

    async def resume_all(self) -> CommandResult:
        self.commands.append("resume_all")
        if self._snapshot.risk.trading_state is TradingState.HALTED:
            return CommandResult(False, "trading is HALTED: reset the kill switch first")
        self._replace_all_strategy_states(StrategyState.PAUSED, StrategyState.RUNNING)
        return CommandResult(True, "all strategies resumed")

    async def kill_switch(self, reason: str = "manual") -> CommandResult:
        self.commands.append("kill_switch")
        risk = replace(
            self._snapshot.risk, trading_state=TradingState.HALTED, reason=f"kill switch: {reason}"
        )
        self._snapshot = replace(self._snapshot, risk=risk)
        canceled = self._cancel_every_order()
        paused = sum(s.state is StrategyState.RUNNING for s in self._snapshot.strategies)
        self._replace_all_strategy_states(StrategyState.RUNNING, StrategyState.PAUSED)
        self._append_log("WARNING", "risk", f"kill switch fired ({reason}); canceled {canceled}")
        return CommandResult(
            True, f"trading HALTED, {canceled} orders canceled, {paused} strategies paused"
        )

    async def reset_kill_switch(self) -> CommandResult:
        self.commands.append("reset_kill_switch")
        if self._snapshot.risk.trading_state is not TradingState.HALTED:
            return CommandResult(False, "kill switch is not engaged")
        risk = replace(self._snapshot.risk, trading_state=TradingState.ACTIVE, reason="")
        self._snapshot = replace(self._snapshot, risk=risk)
        self._append_log("INFO", "risk", "kill switch reset; trading ACTIVE")
        return CommandResult(True, "trading ACTIVE")

    async def submit_manual_order(self, order: ManualOrder) -> CommandResult:
        size = order.volume if order.quote_volume is None else f"{order.quote_volume}quote"
        self.commands.append(f"submit:{order.symbol}:{order.side}:{size}")
        decision = self.preview_order(order)
        if not decision.allowed:
            return CommandResult(
                False,
                f"denied by {decision.rule}: {decision.reason}",
                {"rule": decision.rule or ""},
            )
        instrument = self._snapshot.instruments.get(order.symbol)
        if instrument is None:
            return CommandResult(False, f"EQuery:Unknown asset pair {order.symbol}")
        if order.quote_volume is not None:
            error = instrument.check_quote_order(order.quote_volume, self._reference_price(order))
        else:
            error = instrument.check_order(order.price or order.trigger_price, order.volume)
        if error is not None:
            return CommandResult(False, error)
        self._manual_orders += 1
        cl_ord_id = f"manual-{self._manual_orders + 100:04d}"
        placed = Order(
            cl_ord_id=cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            volume=order.volume,
            status=OrderStatus.NEW,
            price=order.price,
            trigger_price=order.trigger_price,
            time_in_force=order.time_in_force,
            post_only=order.post_only,
            quote_volume=order.quote_volume,
            order_id=f"O{self._manual_orders:04d}-MANU",
            created_at=self._snapshot.ts,
            updated_at=self._snapshot.ts,
        )
        self._snapshot = replace(self._snapshot, open_orders=(*self._snapshot.open_orders, placed))
        self._append_log("INFO", "execution", f"order {cl_ord_id} accepted")
        return CommandResult(
            True,
            f"order {cl_ord_id} accepted",
            {"cl_ord_id": cl_ord_id, "order_id": placed.order_id or ""},
        )

    async def amend_order(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> CommandResult:
        self.commands.append(f"amend:{cl_ord_id}:{price}:{volume}")
        decision = self.preview_amend(cl_ord_id, price, volume)
        if not decision.allowed:
            return CommandResult(
                False,
                f"denied by {decision.rule}: {decision.reason}",
                {"rule": decision.rule or ""},
            )
        changes: dict[str, object] = {"updated_at": self._snapshot.ts}
        if price is not None:
            changes["price"] = price
        if volume is not None:
            changes["volume"] = volume
        self._snapshot = replace(
            self._snapshot,
            open_orders=tuple(
                o.with_changes(**changes) if o.cl_ord_id == cl_ord_id else o
                for o in self._snapshot.open_orders
            ),
        )
        self._append_log("INFO", "execution", f"order {cl_ord_id} amended")
        return CommandResult(True, f"order {cl_ord_id} amended")

    async def cancel_order(self, cl_ord_id: str) -> CommandResult:
        self.commands.append(f"cancel:{cl_ord_id}")
        remaining = tuple(o for o in self._snapshot.open_orders if o.cl_ord_id != cl_ord_id)
        if len(remaining) == len(self._snapshot.open_orders):
            return CommandResult(False, f"EOrder:Unknown order {cl_ord_id}")
        self._snapshot = replace(self._snapshot, open_orders=remaining)
        self._append_log("INFO", "execution", f"order {cl_ord_id} canceled")
        return CommandResult(True, f"order {cl_ord_id} canceled")

    async def cancel_all(self) -> CommandResult:
        self.commands.append("cancel_all")
        count = self._cancel_every_order()
        self._append_log("INFO", "execution", f"cancel all: {count} orders canceled")
        return CommandResult(True, f"{count} orders canceled")

    def set_connection(self, status: ConnectionStatus) -> None:
        """Put the feed into a state (e.g. RECONNECTING) the real engine reaches on its own."""
        books = {
            s: replace(b, stale=status.state is not ConnectionState.CONNECTED)
            for s, b in self._snapshot.books.items()
        }
        self._snapshot = replace(self._snapshot, connection=status, books=books)

    def set_trading_state(self, state: TradingState, reason: str = "") -> None:
        self._snapshot = replace(
            self._snapshot, risk=replace(self._snapshot.risk, trading_state=state, reason=reason)
        )

    def _cancel_every_order(self) -> int:
        """Every open order pending_cancel at once, gone when the exchange confirms: the
        engine's orders stay on screen until the exchange's execution reports arrive."""
        open_orders = self._snapshot.open_orders
        pending = tuple(replace(o, status=OrderStatus.PENDING_CANCEL) for o in open_orders)
        self._snapshot = replace(self._snapshot, open_orders=pending)
        asyncio.get_running_loop().call_soon(self._confirm_cancellations)
        return len(open_orders)

    def _confirm_cancellations(self) -> None:
        open_orders = self._snapshot.open_orders
        self._snapshot = replace(
            self._snapshot,
            open_orders=tuple(o for o in open_orders if o.status is not OrderStatus.PENDING_CANCEL),
        )

    def _open_order(self, cl_ord_id: str) -> Order | None:
        return next((o for o in self._snapshot.open_orders if o.cl_ord_id == cl_ord_id), None)

    def _reference_price(self, order: ManualOrder) -> Decimal | None:
        book = self._snapshot.books.get(order.symbol)
        if book is None:
            return None
        level = book.best_ask if order.side is Side.BUY else book.best_bid
        return None if level is None else level.price

    def _set_strategy_state(self, name: str, state: StrategyState) -> CommandResult:
        self.commands.append(f"{'pause' if state is StrategyState.PAUSED else 'resume'}:{name}")
        strategies = self._snapshot.strategies
        current = next((s.state for s in strategies if s.name == name), None)
        if current is None:
            return CommandResult(False, f"no strategy named {name!r}")
        wanted = StrategyState.RUNNING if state is StrategyState.PAUSED else StrategyState.PAUSED
        if current is not wanted:
            return CommandResult(False, f"{name} is {current.value}, not {wanted.value}")
        self._snapshot = replace(
            self._snapshot,
            strategies=tuple(replace(s, state=state) if s.name == name else s for s in strategies),
        )
        self._append_log("INFO", "strategy", f"{name} {state.value}")
        return CommandResult(True, f"{name} {state.value}")

    def _replace_all_strategy_states(self, old: StrategyState, new: StrategyState) -> None:
        self._snapshot = replace(
            self._snapshot,
            strategies=tuple(
                replace(s, state=new) if s.state is old else s for s in self._snapshot.strategies
            ),
        )
        self._append_log("INFO", "strategy", f"all {old.value} strategies now {new.value}")

    def _append_log(self, level: str, source: str, message: str) -> None:
        self._log.append(LogLine(len(self._log) + 1, self._snapshot.ts, level, source, message))
