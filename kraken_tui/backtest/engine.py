"""`Backtester`: bars replayed on virtual time through a strategy class, the RiskManager and
the sandbox's matching engine.

The strategy is the very class the live engine runs, driven through its normal handlers and
judged by its intents: each `PlaceOrder` and `AmendOrder` passes `RiskManager.check` at the
moment it is made, then travels to a `SandboxVenue` (via `VenueBroker`) with the fill model's
latency. The venue decides fills, fees, amends and rejections with the same code the sandbox
server uses.

No look-ahead, by construction: bar i is handed to `on_candle` only once the clock stands at
its close, and nothing the strategy sends can reach the venue before the next bar opens. The
order of work inside bar i is:

1. the clock moves to bar i's open; requests due by then reach the venue and meet liquidity
   seeded from bar i's open price;
2. the clock moves to bar i's close; resting orders are swept along bar i's path; fills and
   order changes go to `on_fill` / `on_order_update`;
3. the strategy sees the book at bar i's close (`on_book`, only if it overrides it), then the
   closed candle (`on_candle`), then its timer (`on_timer`, if it has one);
4. equity is marked at bar i's close.

Speed: a bar with nothing pending costs a candle object, one handler call and a float multiply;
the venue, Decimal arithmetic and risk checks run only when an order or fill exists.

Given a `TradeTape` instead of bars, the replay steps print by print: the clock stands at each
trade, requests meet the first print after their arrival, prints fill the resting orders they
trade through, the strategy gets `on_trade` for each print and closed candles built from them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from loguru import logger

from kraken_tui.backtest.broker import VenueBroker
from kraken_tui.backtest.candle import BarCandle
from kraken_tui.backtest.clock import UNIX_EPOCH, ReplayClock, to_epoch_us
from kraken_tui.backtest.data import Bars
from kraken_tui.backtest.fill_model import FillModel
from kraken_tui.backtest.round_trips import RoundTrip
from kraken_tui.backtest.trade_tape import TradeTape, tick_rule_sides
from kraken_tui.domain import (
    BookLevel,
    BookSnapshot,
    Execution,
    Instrument,
    Order,
    OrderStatus,
    Position,
    Trade,
    TradingState,
)
from kraken_tui.domain.money import ZERO
from kraken_tui.engine.risk import ProposedOrder, RiskContext, RiskLimits, RiskManager
from kraken_tui.engine.strategy_loader import StrategyLoadError, resolve_strategy_class
from kraken_tui.exchange.candles import BarBuilder, TradeBar
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.pairs import PairInfo, PairRegistry
from kraken_tui.sandbox.venue import SandboxVenue
from kraken_tui.strategies import (
    AmendOrder,
    BaseStrategy,
    CancelOrder,
    PlaceOrder,
    StrategyConfigError,
    StrategyContext,
    as_intents,
)

DEFAULT_CASH = Decimal(10_000)
DEFAULT_STRATEGY_DIR = Path("strategies")
_MICROS_PER_MINUTE = 60_000_000
_MICROS_PER_DAY = 86_400_000_000


def decimals_of(column: pl.Series) -> list[Decimal]:
    """`Decimal(repr(x))` of each float, in bulk: polars writes the same shortest round-trip
    digits as `repr` (in Rust, about a third of `repr`'s cost per value here), so only the
    text parse remains per value."""
    return list(map(Decimal, column.cast(pl.String).to_list()))


class BacktestSetupError(ValueError):
    """The backtest cannot start: unknown strategy or symbol, or unusable parameters. The
    message names what to fix; the CLI reports it with exit code 2."""


class StrategyFailedError(RuntimeError):
    """The strategy raised during the replay; the message says at which bar."""


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    strategy: str
    """A registry name (`sma_cross`), `file.py:Class` in `strategy_dir`, or `module:Class`."""
    symbol: str
    """Any spelling Kraken accepts (`XBT/USD`, `BTC/USD`, `XBTUSD`)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    cash: Decimal = DEFAULT_CASH
    """Starting balance in the quote currency; the base currency starts at zero."""
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    fill: FillModel = field(default_factory=FillModel)
    risk: RiskLimits = field(default_factory=RiskLimits)
    strategy_dir: Path = DEFAULT_STRATEGY_DIR

    def describe(self) -> dict[str, Any]:
        """Everything that shaped a run, JSON-friendly: stored with it for comparison."""
        return {
            "strategy": self.strategy,
            "params": dict(self.params),
            "cash": str(self.cash),
            "fees": {"maker": str(self.fees.maker), "taker": str(self.fees.taker)},
            "fill": self.fill.describe(),
            "risk": {f.name: str(getattr(self.risk, f.name)) for f in fields(self.risk)},
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    config: BacktestConfig
    instrument: Instrument
    params: dict[str, Any]
    """The strategy's validated parameters (defaults included)."""
    interval: int
    equity: pl.DataFrame
    """`ts` (bar close time) and `equity` (quote currency, marked at the close) per bar."""
    initial_equity: float
    fills: tuple[Execution, ...]
    trips: tuple[RoundTrip, ...]
    """Closed round trips, oldest first."""
    open_trip: RoundTrip | None
    final_position: Position
    final_cash: Decimal
    final_base: Decimal
    fees_paid: Decimal
    orders_sent: int
    orders_rejected: int
    risk_denials: int
    exposure_bars: int
    """Bars that closed with a non-zero position."""
    unsent_requests: int
    """Requests still travelling when the data ended (never reached the venue)."""
    elapsed_s: float
    orders_amended: int = 0
    """Amends the venue carried out (refused ones go to the strategy, not here)."""

    @property
    def bars(self) -> int:
        return self.equity.height

    @property
    def start(self) -> datetime | None:
        """Open time of the first bar."""
        if not self.bars:
            return None
        first: datetime = self.equity["ts"][0]
        return first - timedelta(minutes=self.interval)

    @property
    def end(self) -> datetime | None:
        """Close time of the last bar."""
        return self.equity["ts"][-1] if self.bars else None

    @property
    def final_equity(self) -> float:
        return float(self.equity["equity"][-1]) if self.bars else self.initial_equity


def resolve_pair(symbol: str, pairs: PairRegistry) -> PairInfo:
    pair = pairs.find(symbol)
    if pair is None:
        known = ", ".join(p.wsname for p in pairs)
        raise BacktestSetupError(f"unknown symbol {symbol!r}; the sandbox knows {known}")
    return pair


def strategy_class(spec: str, strategy_dir: Path = DEFAULT_STRATEGY_DIR) -> type[BaseStrategy]:
    try:
        return resolve_strategy_class(spec, strategy_dir)
    except StrategyLoadError as error:
        raise BacktestSetupError(str(error)) from error


def validated_params(
    cls: type[BaseStrategy], raw: Mapping[str, Any], interval: int, name: str
) -> dict[str, Any]:
    """The strategy's parameters as it will see them; a strategy that trades one candle
    interval gets the data's interval unless told otherwise."""
    given = dict(raw)
    if "interval" in cls.Params.model_fields and "interval" not in given:
        given["interval"] = interval
    try:
        model = cls.parse_params(given, name)
    except StrategyConfigError as error:
        raise BacktestSetupError(str(error)) from error
    return model.model_dump(mode="json")


class Backtester:
    def __init__(
        self, config: BacktestConfig, data: Bars | TradeTape, *, pairs: PairRegistry | None = None
    ) -> None:
        """`data`: bars, or a tape of trades replayed one by one (candles built from them)."""
        if not len(data):
            what = "bars" if isinstance(data, Bars) else "trades"
            raise BacktestSetupError(f"no {what} to replay (is the date range inside the data?)")
        self.config = config
        self._data = data
        self._pair = resolve_pair(config.symbol, pairs or PairRegistry())
        # The fee the strategy leaves room for (all in) is the one this run charges.
        self.instrument = replace(self._pair.to_instrument(), taker_fee=config.fees.taker)
        self._cls = strategy_class(config.strategy, config.strategy_dir)
        self.params = validated_params(
            self._cls, config.params, data.interval, self._cls.strategy_name or config.strategy
        )
        first_us = to_epoch_us(data.frame["ts"][0])
        start_us = first_us - first_us % (data.interval * _MICROS_PER_MINUTE)
        self.clock = ReplayClock(start_us)
        self._venue = SandboxVenue(
            PairRegistry([self._pair]),
            fees=config.fees,
            clock=self.clock.seconds,
            id_seed=0,
        )
        name = self._cls.strategy_name or self._cls.__name__
        self.broker = VenueBroker(
            self._venue, self._pair, self.clock, config.fill, strategy=name, cash=config.cash
        )
        self.risk = RiskManager(config.risk, self.clock)
        self.context = ReplayContext(instrument=self.instrument, clock=self.clock, book=self._book)
        self.context.position = self.broker.position
        self.context.available_quote = config.cash
        self.strategy = self._cls(
            name, self.instrument.symbol, self._cls.Params.model_validate(self.params), self.context
        )
        self._name = name
        self._book_close: Decimal | None = None
        self._book_cache: tuple[Decimal, BookSnapshot] | None = None
        self._orders_sent = 0
        self._denials = 0
        self._order_seq = 0
        self._halted = False
        self._ran = False
        timer_s = self._cls.timer_interval_s
        self._next_timer_us = start_us + int((timer_s or 0) * 1_000_000)
        limits = config.risk
        self._watch_losses_enabled = limits.daily_loss_limit > 0 or limits.max_drawdown_pct > 0
        self._loss_day = -1
        self._peak = self._last_value = self._day_open_value = float(config.cash)

    # -- the replay -----------------------------------------------------------------------------

    def run(self) -> BacktestResult:
        """Replay the data once (a Backtester runs once: the strategy keeps its state)."""
        if self._ran:
            raise RuntimeError("this Backtester has already run; build a new one")
        self._ran = True
        started = time.perf_counter()
        data = self._data
        if isinstance(data, TradeTape):
            replay = self._replay_trades(data)
        else:
            replay = self._replay_bars(data)
        return self._result(replay, started)

    def _replay_bars(self, bars: Bars) -> _Replay:
        """The fast path: the loop below is written out for speed (locals, no helper calls on a
        bar where nothing happens)."""
        frame = bars.frame
        n = frame.height
        interval = bars.interval
        step_us = interval * _MICROS_PER_MINUTE
        opens_us: list[int] = frame["ts"].dt.epoch("us").to_list()
        opens: list[float] = frame["open"].to_list()
        highs: list[float] = frame["high"].to_list()
        lows: list[float] = frame["low"].to_list()
        closes: list[float] = frame["close"].to_list()
        volumes: list[float] = frame["volume"].to_list()
        trade_counts: list[int] = frame["trades"].to_list()
        close_decimals = decimals_of(frame["close"])

        strategy = self.strategy
        cls = type(strategy)
        wants_book = cls.on_book is not BaseStrategy.on_book
        timer_us = None if not cls.timer_interval_s else int(cls.timer_interval_s * 1_000_000)
        limits = self.config.risk
        watch_losses = limits.daily_loss_limit > 0 or limits.max_drawdown_pct > 0
        next_timer_us = opens_us[0] + (timer_us or 0)
        on_candle = strategy.on_candle
        broker = self.broker
        clock = self.clock
        symbol = self.instrument.symbol
        equity = [0.0] * n
        exposure = 0
        value = peak = day_open_value = float(self.config.cash)
        day = -1
        # Bar open times as datetimes: one addition per bar while bars are contiguous (much
        # cheaper than converting the whole column), a conversion after each gap.
        step = timedelta(minutes=interval)
        previous_us = opens_us[0] - step_us
        ts = UNIX_EPOCH + timedelta(microseconds=previous_us)
        where = "in on_start"
        try:
            self._dispatch(strategy.on_start())
            where = "bars"
            for i in range(n):
                bar_open_us = opens_us[i]
                if bar_open_us - previous_us == step_us:
                    ts += step
                else:
                    ts = UNIX_EPOCH + timedelta(microseconds=bar_open_us)
                previous_us = bar_open_us
                if broker.next_arrival_us <= bar_open_us:
                    clock.advance_to(bar_open_us)
                    broker.arrive(bar_open_us, Decimal(repr(opens[i])), volumes[i])
                    self._after_venue()
                bar_close_us = bar_open_us + step_us
                clock.epoch_us = bar_close_us
                if broker.resting:
                    broker.sweep(bar_open_us, opens[i], highs[i], lows[i], closes[i], volumes[i])
                    self._after_venue()
                self._book_close = close_decimals[i]
                if wants_book:
                    self._dispatch(strategy.on_book(self._book()))
                result = on_candle(
                    BarCandle(
                        symbol,
                        interval,
                        ts,
                        close_decimals[i],
                        opens[i],
                        highs[i],
                        lows[i],
                        volumes[i],
                        trade_counts[i],
                    )
                )
                if result is not None:
                    self._dispatch(result)
                if timer_us is not None and bar_close_us >= next_timer_us:
                    next_timer_us = bar_close_us + timer_us
                    self._dispatch(strategy.on_timer(clock.now()))
                if watch_losses and bar_close_us // _MICROS_PER_DAY != day:
                    day, day_open_value = bar_close_us // _MICROS_PER_DAY, value
                base = broker.base
                if base:
                    exposure += 1
                    value = broker.cash + base * closes[i]
                else:
                    value = broker.cash
                equity[i] = value
                if watch_losses:
                    peak = max(peak, value)
                    self._watch_losses(value - day_open_value, peak, value)
            where = "in on_stop"
            # Intents from on_stop could only reach the venue after the data ends: not sent.
            strategy.on_stop()
        except (StrategyFailedError, BacktestSetupError):
            raise
        except Exception as error:
            moment = f"at the bar opening {ts:%Y-%m-%d %H:%M} UTC" if where == "bars" else where
            raise self._failure(moment, error) from error
        return _Replay(frame["ts"] + step, equity, exposure, close_decimals[-1])

    def _replay_trades(self, tape: TradeTape) -> _Replay:
        frame = tape.frame
        n = frame.height
        interval = tape.interval
        step_us = interval * _MICROS_PER_MINUTE
        times_us: list[int] = frame["ts"].dt.epoch("us").to_list()
        prices: list[float] = frame["price"].to_list()
        volumes: list[float] = frame["volume"].to_list()
        strategy = self.strategy
        cls = type(strategy)
        wants_trades = cls.on_trade is not BaseStrategy.on_trade
        wants_book = cls.on_book is not BaseStrategy.on_book
        sides = tick_rule_sides(prices) if wants_trades else []
        broker = self.broker
        clock = self.clock
        bars: BarBuilder[float] = BarBuilder(step_us)
        candles = _CandleCloses(self, interval)
        where = "in on_start"
        try:
            self._dispatch(strategy.on_start())
            where = "at the trade"
            for k in range(n):
                now_us = times_us[k]
                price = prices[k]
                volume = volumes[k]
                if bars.add(now_us, price, volume) and bars.closed is not None:
                    candles.close(bars.closed)
                clock.advance_to(now_us)
                if broker.next_arrival_us <= now_us:
                    broker.arrive(now_us, Decimal(repr(price)), volume)
                    self._after_venue()
                if broker.resting:
                    broker.print_trade(now_us, price, volume)
                    self._after_venue()
                self._book_close = Decimal(repr(price))
                if wants_trades:
                    trade = Trade(
                        symbol=self.instrument.symbol,
                        side=sides[k],
                        price=self._book_close,
                        qty=Decimal(repr(volume)),
                        ts=clock.now(),
                    )
                    self._dispatch(strategy.on_trade(trade))
                if wants_book:
                    self._dispatch(strategy.on_book(self._book()))
                self._on_timer_due()
            where = "at the last candle"
            if bars.forming is not None:
                candles.close(bars.forming)
            where = "in on_stop"
            strategy.on_stop()
        except (StrategyFailedError, BacktestSetupError):
            raise
        except Exception as error:
            if where == "at the trade":
                where = f"at the trade of {clock.now():%Y-%m-%d %H:%M:%S.%f} UTC"
            raise self._failure(where, error) from error
        return _Replay(
            pl.Series("ts", candles.close_times, dtype=pl.Datetime("us", "UTC")),
            candles.equity,
            candles.exposure,
            candles.last_close,
        )

    def _failure(self, moment: str, error: Exception) -> StrategyFailedError:
        return StrategyFailedError(
            f"strategy {self._name!r} failed {moment}: {type(error).__name__}: {error}"
        )

    def _on_timer_due(self) -> None:
        timer_s = type(self.strategy).timer_interval_s
        if not timer_s:
            return
        now_us = self.clock.epoch_us
        if now_us >= self._next_timer_us:
            self._next_timer_us = now_us + int(timer_s * 1_000_000)
            self._dispatch(self.strategy.on_timer(self.clock.now()))

    def _mark(self, value: float) -> None:
        """Daily-loss and drawdown checks on equity marked at a candle close."""
        if not self._watch_losses_enabled:
            return
        day = self.clock.epoch_us // _MICROS_PER_DAY
        if day != self._loss_day:
            self._loss_day, self._day_open_value = day, self._last_value
        self._peak = max(self._peak, value)
        self._last_value = value
        self._watch_losses(value - self._day_open_value, self._peak, value)

    # -- intents --------------------------------------------------------------------------------

    def _dispatch(self, result: object) -> None:
        for intent in as_intents(result):
            if isinstance(intent, PlaceOrder):
                self._place(intent)
            elif isinstance(intent, AmendOrder):
                self._amend(intent)
            elif isinstance(intent, CancelOrder):
                self.broker.cancel(intent.cl_ord_id, self.clock.epoch_us)
            else:
                self.broker.cancel_all(self.clock.epoch_us)

    def _place(self, intent: PlaceOrder) -> None:
        context = self.context
        proposed = ProposedOrder(
            symbol=self.instrument.symbol,
            side=intent.side,
            order_type=intent.order_type,
            volume=intent.volume,
            price=intent.price,
            trigger_price=intent.trigger_price,
            strategy=self._name,
            quote_volume=intent.quote_volume,
        )
        decision = self.risk.check(
            proposed,
            RiskContext(
                instrument=self.instrument,
                book=self._book(),
                symbol_position=context.position,
                strategy_position=context.position,
                open_orders=context.open_orders,
            ),
        )
        if not decision.allowed:
            self._denials += 1
            return
        self._order_seq += 1
        now = self.clock.now()
        order = Order(
            cl_ord_id=f"bt-{self._order_seq}",
            symbol=self.instrument.symbol,
            side=intent.side,
            order_type=intent.order_type,
            volume=intent.volume,
            status=OrderStatus.PENDING_NEW,
            price=intent.price,
            trigger_price=intent.trigger_price,
            time_in_force=intent.tif,
            post_only=intent.post_only,
            strategy=self._name,
            created_at=now,
            updated_at=now,
            quote_volume=intent.quote_volume,
        )
        self._orders_sent += 1
        self.broker.submit(order, self.clock.epoch_us)
        context.open_orders = tuple(self.broker.open_orders.values())

    def _amend(self, intent: AmendOrder) -> None:
        """As the live engine does: only an open order of the strategy's, judged by risk as
        the order it makes, in place of the open one."""
        context = self.context
        order = self.broker.open_orders.get(intent.cl_ord_id)
        if order is None:
            logger.debug("backtest: {} is not an open order to amend", intent.cl_ord_id)
            return
        proposed = ProposedOrder(
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            volume=order.volume if intent.volume is None else intent.volume,
            price=order.price if intent.price is None else intent.price,
            trigger_price=order.trigger_price,
            strategy=self._name,
            filled=order.filled,
        )
        others = tuple(o for o in context.open_orders if o.cl_ord_id != order.cl_ord_id)
        decision = self.risk.check(
            proposed,
            RiskContext(
                instrument=self.instrument,
                book=self._book(),
                symbol_position=context.position,
                strategy_position=context.position,
                open_orders=others,
            ),
        )
        if not decision.allowed:
            self._denials += 1
            return
        self.broker.amend(intent.cl_ord_id, intent.price, intent.volume, self.clock.epoch_us)

    def _after_venue(self) -> None:
        """Publish what the venue did to the strategy's view, then let it react."""
        broker = self.broker
        context = self.context
        context.position = broker.position
        context.open_orders = tuple(broker.open_orders.values())
        context.available_quote = broker.available_quote()
        while broker.has_updates:
            fills, orders, refused = broker.take_updates()
            for fill in fills:
                self._dispatch(self.strategy.on_fill(fill))
            for order in orders:
                self._dispatch(self.strategy.on_order_update(order))
            for order, reason in refused:
                self._dispatch(self.strategy.on_amend_rejected(order, reason))
            context.open_orders = tuple(broker.open_orders.values())

    def _book(self) -> BookSnapshot:
        """The book strategies and risk see between bars: the fill model's reference quotes
        around the last close (its depth is not modelled, so quantities are 0). Before the
        first close it is the first bar's open, the price the first order would meet."""
        close = self._book_close
        if close is None:
            first = self._data.frame
            close = Decimal(repr(first["open" if isinstance(self._data, Bars) else "price"][0]))
        cached = self._book_cache
        if cached is not None and cached[0] is close:
            return cached[1]
        bid, ask = self.config.fill.reference_quotes(close, self.instrument.tick_size)
        book = BookSnapshot(
            symbol=self.instrument.symbol,
            bids=(BookLevel(bid, ZERO),),
            asks=(BookLevel(ask, ZERO),),
            ts=self.clock.now(),
        )
        self._book_cache = (close, book)
        return book

    def _watch_losses(self, daily_pnl: float, peak: float, value: float) -> None:
        """The live engine's kill switch on the daily-loss and drawdown limits: halt trading
        and cancel every order once either is breached."""
        drawdown_pct = (peak - value) / peak * 100 if peak > 0 else 0.0
        breach = self.risk.update_pnl(
            Decimal(repr(round(daily_pnl, 8))), Decimal(repr(round(drawdown_pct, 6)))
        )
        if breach is not None and not self._halted:
            self._halted = True
            self.risk.set_trading_state(TradingState.HALTED, f"{breach.rule}: {breach.reason}")
            self.broker.cancel_all(self.clock.epoch_us)

    # -- the result -----------------------------------------------------------------------------

    def _result(self, replay: _Replay, started: float) -> BacktestResult:
        broker = self.broker
        balances = broker.balances()
        curve = pl.DataFrame(
            {
                "ts": replay.close_times.alias("ts"),
                "equity": pl.Series(replay.equity, dtype=pl.Float64),
            }
        )
        elapsed = time.perf_counter() - started
        count = len(self._data)
        logger.debug(
            "backtest {}: {} events in {:.2f} s ({:,.0f}/s)",
            self._name,
            count,
            elapsed,
            count / elapsed if elapsed else math.inf,
        )
        return BacktestResult(
            config=self.config,
            instrument=self.instrument,
            params=self.params,
            interval=self._data.interval,
            equity=curve,
            initial_equity=float(self.config.cash),
            fills=tuple(broker.fills),
            trips=tuple(broker.trips.closed),
            open_trip=broker.trips.open_trip(broker.position, replay.last_close),
            final_position=broker.position,
            final_cash=balances.get(self._pair.quote.code, ZERO),
            final_base=balances.get(self._pair.base.code, ZERO),
            fees_paid=broker.fees_paid,
            orders_sent=self._orders_sent,
            orders_rejected=broker.rejected,
            orders_amended=broker.amended,
            risk_denials=self._denials,
            exposure_bars=replay.exposure,
            unsent_requests=broker.pending_requests(),
            elapsed_s=elapsed,
        )


@dataclass(frozen=True, slots=True)
class _Replay:
    close_times: pl.Series
    equity: list[float]
    exposure: int
    last_close: Decimal


class _CandleCloses:
    """What each candle built from the trades leaves behind when it closes: the strategy's
    reaction, equity marks, exposure, close times."""

    def __init__(self, backtester: Backtester, interval: int) -> None:
        self._bt = backtester
        self._interval = interval
        self._step_us = interval * _MICROS_PER_MINUTE
        self.close_times: list[datetime] = []
        self.equity: list[float] = []
        self.exposure = 0
        self.last_close = ZERO

    def close(self, bar: TradeBar[float]) -> None:
        """At the candle's close time: hand it to the strategy, then mark equity."""
        bt = self._bt
        close_us = bar.begin + self._step_us
        bt.clock.advance_to(close_us)
        close = Decimal(repr(bar.close))
        bt._book_close = close
        candle = BarCandle(
            bt.instrument.symbol,
            self._interval,
            UNIX_EPOCH + timedelta(microseconds=bar.begin),
            close,
            bar.open,
            bar.high,
            bar.low,
            bar.volume,
            bar.trades,
        )
        bt._dispatch(bt.strategy.on_candle(candle))
        bt._on_timer_due()
        broker = bt.broker
        value = broker.cash + broker.base * bar.close
        if broker.base:
            self.exposure += 1
        self.equity.append(value)
        self.close_times.append(UNIX_EPOCH + timedelta(microseconds=close_us))
        self.last_close = close
        bt._mark(value)


class ReplayContext(StrategyContext):
    """A `StrategyContext` whose book is built when read: strategies that never look at the
    book (most bar strategies) cost nothing for it, the others see the last closed bar's."""

    def __init__(
        self, *, instrument: Instrument, clock: ReplayClock, book: Callable[[], BookSnapshot]
    ) -> None:
        self._book_source = book
        self._pinned_book: BookSnapshot | None = None
        super().__init__(instrument=instrument, clock=clock)

    @property
    def book(self) -> BookSnapshot | None:
        return self._pinned_book or self._book_source()

    @book.setter
    def book(self, value: BookSnapshot | None) -> None:
        """A book set explicitly (as the live engine does) wins over the replayed one."""
        self._pinned_book = value
