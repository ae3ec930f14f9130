"""Synthetic market: a seedable price process and the order flow that makes a live-looking book.

Each pair has a hidden fair price following geometric Brownian motion with occasional
jumps. Synthetic liquidity quotes around it (levels spread out from the touch, sized
lognormally) and churns — new levels, cancels, resizes, market trades — at a message rate
the server chooses. When the fair price moves through resting orders, informed flow trades
through them, so price moves show up as trades and users' orders are filled the way a real
market fills them. Nothing here knows about time or asyncio: the caller says what time it
is (`step(now)`) and the simulator produces the events owed since the last call. The same
seed and the same sequence of `step` times produce the same stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from random import Random

from sortedcontainers import SortedList

from kraken_tui.domain.enums import Side
from kraken_tui.domain.money import quantize_down, quantize_nearest
from kraken_tui.sandbox.events import BookLevelChanged, VenueEvent
from kraken_tui.sandbox.pairs import PairInfo
from kraken_tui.sandbox.tape import HistoryBar
from kraken_tui.sandbox.venue import SandboxVenue

_SECONDS_PER_YEAR = 365.0 * 86_400.0
HISTORY_MINUTES = 720
"""Synthetic history a fresh sandbox starts with: as much as Kraken's OHLC endpoint returns."""
_SECONDS_PER_DAY = 86_400.0
_MAX_CATCH_UP_S = 5.0
"""A stalled caller is not paid back more than this many seconds of flow at once."""
_MARKET_TRADE_SHARE = 0.015
_RESIZE_SHARE = 0.1
_ADD_CANCEL_SHARE = 1.0 - _MARKET_TRADE_SHARE - _RESIZE_SHARE
"""Shares of the churn actions: market trades are rare next to quote updates, as on Kraken."""


@dataclass(frozen=True, slots=True)
class PairDynamics:
    """How one pair's synthetic market behaves. Volatility is annualized (0.6 = 60 %);
    `level_gap_ticks` is the mean distance between neighbouring synthetic levels;
    `weight` is the pair's share of the message budget."""

    symbol: str
    start_price: Decimal
    annual_volatility: float
    jumps_per_day: float
    jump_std: float
    levels_per_side: int
    level_gap_ticks: float
    half_spread_ticks: int
    level_qty: Decimal
    weight: float


DEFAULT_DYNAMICS: tuple[PairDynamics, ...] = (
    PairDynamics(
        symbol="BTC/USD",
        start_price=Decimal("95000.0"),
        annual_volatility=0.55,
        jumps_per_day=6.0,
        jump_std=0.004,
        levels_per_side=160,
        level_gap_ticks=4.0,
        half_spread_ticks=1,
        level_qty=Decimal("0.15"),
        weight=0.4,
    ),
    PairDynamics(
        symbol="ETH/USD",
        start_price=Decimal("3500.00"),
        annual_volatility=0.7,
        jumps_per_day=6.0,
        jump_std=0.005,
        levels_per_side=140,
        level_gap_ticks=3.0,
        half_spread_ticks=1,
        level_qty=Decimal("2.5"),
        weight=0.3,
    ),
    PairDynamics(
        symbol="SOL/USD",
        start_price=Decimal("150.00"),
        annual_volatility=0.95,
        jumps_per_day=8.0,
        jump_std=0.007,
        levels_per_side=120,
        level_gap_ticks=1.5,
        half_spread_ticks=1,
        level_qty=Decimal("40"),
        weight=0.2,
    ),
    PairDynamics(
        symbol="ETH/BTC",
        start_price=Decimal("0.03684"),
        annual_volatility=0.5,
        jumps_per_day=4.0,
        jump_std=0.004,
        levels_per_side=80,
        level_gap_ticks=1.2,
        half_spread_ticks=1,
        level_qty=Decimal("3"),
        weight=0.1,
    ),
)


class _PairMarket:
    """One pair's hidden price and the synthetic orders quoting it (prices in whole ticks)."""

    def __init__(self, info: PairInfo, dynamics: PairDynamics) -> None:
        self.info = info
        self.dynamics = dynamics
        self.tick = info.tick_size
        self.tick_f = float(info.tick_size)
        self.log_fair = math.log(float(dynamics.start_price))
        self.follows_external_price = False
        self.quotes: dict[Side, SortedList] = {Side.BUY: SortedList(), Side.SELL: SortedList()}
        self.price_of: dict[str, tuple[Side, int]] = {}
        self.sigma_per_sqrt_s = dynamics.annual_volatility / math.sqrt(_SECONDS_PER_YEAR)

    @property
    def fair_ticks(self) -> int:
        return round(math.exp(self.log_fair) / self.tick_f)

    def price(self, ticks: int) -> Decimal:
        return self.tick * ticks

    def forget(self, order_id: str) -> None:
        side, ticks = self.price_of.pop(order_id)
        self.quotes[side].remove((ticks, order_id))


class MarketSimulator:
    def __init__(
        self,
        venue: SandboxVenue,
        *,
        seed: int = 0,
        rate: float = 1_000.0,
        dynamics: Sequence[PairDynamics] = DEFAULT_DYNAMICS,
        time_scale: float = 1.0,
    ) -> None:
        """`rate` is the target number of book level updates per second across all pairs;
        `time_scale` speeds up the price process (2.0 = two seconds of volatility per
        second) without changing the message rate. Pairs without dynamics stay empty."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._venue = venue
        self._rng = Random(seed)
        self._seed = seed
        self.rate = rate
        self.time_scale = time_scale
        self._markets: dict[str, _PairMarket] = {}
        for spec in dynamics:
            info = venue.pairs.resolve(spec.symbol)
            self._markets[info.symbol] = _PairMarket(info, spec)
        self._symbols = tuple(self._markets)
        self._weights = tuple(m.dynamics.weight for m in self._markets.values())
        self._last_now: float | None = None
        self._owed = 0.0
        self._book_events = 0
        venue.subscribe(self._count)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def book_events(self) -> int:
        """Book level updates the venue has published since this simulator started."""
        return self._book_events

    def fair_value(self, symbol: str) -> Decimal:
        market = self._market(symbol)
        return market.price(market.fair_ticks)

    def follow_external_price(self, symbol: str) -> None:
        """Stop the random walk for `symbol`: its fair value only moves by `set_fair_value`
        (a replay or a mirrored live feed drives it)."""
        self._market(symbol).follows_external_price = True

    def set_fair_value(self, symbol: str, price: Decimal, *, trade_through: bool = True) -> int:
        """Move the fair value and requote; returns the book events it caused."""
        market = self._market(symbol)
        market.log_fair = math.log(float(price))
        before = self._book_events
        self._requote(market, trade_through=trade_through)
        return self._book_events - before

    def seed_books(self) -> int:
        """Fill every pair's book to its target depth; returns the book events produced."""
        before = self._book_events
        for market in self._markets.values():
            self._replenish(market, market.dynamics.levels_per_side * 2)
        return self._book_events - before

    def seed_history(self, minutes: int = HISTORY_MINUTES) -> None:
        """Give each pair `minutes` of 1-minute candles leading up to now, drawn from the
        pair's own volatility and ending at today's price, so clients (chart, strategy
        warm-up) see a market with a past. Seeded by the simulator's seed and the pair, so
        it is reproducible and leaves the live order flow's random stream untouched."""
        now_minute = int(self._venue.now()) // 60 * 60
        for symbol, market in self._markets.items():
            rng = Random(f"{self._seed}:{symbol}:history")
            sigma = market.dynamics.annual_volatility / math.sqrt(_SECONDS_PER_YEAR / 60)
            close = math.exp(market.log_fair)
            bars: list[HistoryBar] = []
            for index in range(1, minutes + 1):
                open_ = close * math.exp(-rng.gauss(0.0, sigma))
                wick = abs(rng.gauss(0.0, sigma / 2))
                high, low = max(open_, close) * (1 + wick), min(open_, close) * (1 - wick)
                qty = market.dynamics.level_qty * Decimal(rng.randint(2, 40))
                bars.append(
                    HistoryBar(
                        begin=now_minute - index * 60,
                        open=market.price(round(open_ / market.tick_f)),
                        high=market.price(round(high / market.tick_f)),
                        low=market.price(round(low / market.tick_f)),
                        close=market.price(round(close / market.tick_f)),
                        volume=qty,
                        trades=rng.randint(3, 30),
                    )
                )
                close = open_
            self._venue.seed_history(symbol, bars[::-1])

    def step(self, now: float) -> int:
        """Advance to `now` (seconds, any epoch): move prices, requote, and churn the books
        until the events owed at `rate` since the last step are produced. The first call
        only seeds the books. Returns the number of book events produced."""
        if self._last_now is None:
            self._last_now = now
            self.seed_history()
            return self.seed_books()
        dt = min(max(now - self._last_now, 0.0), _MAX_CATCH_UP_S)
        self._last_now = now
        return self.advance(dt)

    def advance(self, dt: float) -> int:
        """Run `dt` seconds of market: price moves, requotes and `rate x dt` book events."""
        before = self._book_events
        if self._last_now is None:
            self._last_now = 0.0
            self.seed_books()
        for market in self._markets.values():
            if not market.follows_external_price:
                self._evolve(market, dt * self.time_scale)
            self._requote(market, trade_through=not market.follows_external_price)
        self._owed += self.rate * dt
        target = before + int(self._owed)
        self._owed -= int(self._owed)
        attempts = 4 * (target - self._book_events) + 100
        while self._book_events < target and attempts > 0:
            attempts -= 1
            market = self._markets[self._rng.choices(self._symbols, self._weights)[0]]
            self._churn(market)
        self._owed -= max(self._book_events - target, 0)
        return self._book_events - before

    def print_trade(self, symbol: str, side: Side, price: Decimal, qty: Decimal) -> Decimal:
        """Print a trade of `qty` at `price` with `side` as the aggressor (replay): moves
        the fair value there, makes sure liquidity rests at that price and takes it.
        Users' orders at better prices trade first, as they would on the exchange."""
        market = self._market(symbol)
        price = quantize_nearest(price, market.tick)
        qty = quantize_down(qty, market.info.lot_step)
        if price <= 0 or qty <= 0:
            return Decimal(0)
        self.set_fair_value(symbol, price, trade_through=False)
        order_id = self._venue.place_synthetic(symbol, side.opposite, price, qty)
        if order_id is not None:
            self._track(market, order_id, side.opposite, round(price / market.tick))
        filled = self._venue.take_synthetic(symbol, side, qty, price)
        if order_id is not None and self._venue.synthetic_remaining(order_id) == 0:
            market.forget(order_id)
        return filled

    # ---- internals ----------------------------------------------------------------------

    def _count(self, event: VenueEvent) -> None:
        if isinstance(event, BookLevelChanged):
            self._book_events += 1

    def _market(self, symbol: str) -> _PairMarket:
        info = self._venue.pairs.resolve(symbol)
        market = self._markets.get(info.symbol)
        if market is None:
            raise KeyError(f"no synthetic market for {symbol}")
        return market

    def _evolve(self, market: _PairMarket, dt: float) -> None:
        if dt <= 0:
            return
        sigma = market.sigma_per_sqrt_s
        shock = sigma * math.sqrt(dt) * self._rng.gauss(0.0, 1.0) - 0.5 * sigma * sigma * dt
        jump_probability = market.dynamics.jumps_per_day * dt / _SECONDS_PER_DAY
        if self._rng.random() < jump_probability:
            shock += self._rng.gauss(0.0, market.dynamics.jump_std)
        market.log_fair += shock

    def _requote(self, market: _PairMarket, *, trade_through: bool) -> None:
        """Bring the book in line with the fair value: informed flow trades through what is
        now mispriced (users' orders included), stale synthetic quotes are withdrawn."""
        fair = market.fair_ticks
        half = market.dynamics.half_spread_ticks
        highest_bid, lowest_ask = fair - half, fair + half
        symbol = market.info.symbol
        best_ask = self._venue.best_price(symbol, Side.SELL)
        if best_ask is not None and best_ask < market.price(lowest_ask):
            self._sweep(market, Side.BUY, market.price(lowest_ask - 1), trade_through)
        best_bid = self._venue.best_price(symbol, Side.BUY)
        if best_bid is not None and best_bid > market.price(highest_bid):
            self._sweep(market, Side.SELL, market.price(highest_bid + 1), trade_through)
        minimum = market.dynamics.levels_per_side // 2
        for side in (Side.BUY, Side.SELL):
            if len(market.quotes[side]) < minimum:
                self._replenish_side(market, side, minimum - len(market.quotes[side]))

    def _sweep(self, market: _PairMarket, side: Side, limit: Decimal, trade_through: bool) -> None:
        """Clear the opposite side up to `limit`: optionally trade a realistic clip through
        it first, withdraw stale synthetic quotes, then fill users' orders left there."""
        symbol = market.info.symbol
        if trade_through:
            clip = market.dynamics.level_qty * Decimal(str(round(self._rng.uniform(1, 4), 2)))
            self._venue.take_synthetic(symbol, side, clip.quantize(market.info.lot_step), limit)
        stale_side = side.opposite
        quotes = market.quotes[stale_side]
        limit_ticks = round(limit / market.tick)
        if stale_side is Side.SELL:
            stale = list(quotes.irange(maximum=(limit_ticks, "\uffff")))
        else:
            stale = list(quotes.irange(minimum=(limit_ticks, "")))
        for _, order_id in stale:
            self._venue.cancel_synthetic(order_id)
            market.forget(order_id)
        self._venue.take_synthetic(symbol, side, _EVERYTHING, limit)

    def _replenish(self, market: _PairMarket, count: int) -> None:
        for side in (Side.BUY, Side.SELL):
            self._replenish_side(market, side, count // 2)

    def _replenish_side(self, market: _PairMarket, side: Side, count: int) -> None:
        for _ in range(count):
            self._add_quote(market, side)

    def _churn(self, market: _PairMarket) -> None:
        """One random book action, biased to keep each side near its target depth."""
        side = Side.BUY if self._rng.random() < 0.5 else Side.SELL
        target = market.dynamics.levels_per_side * 1.3
        fill = len(market.quotes[side]) / target
        roll = self._rng.random()
        if roll < _MARKET_TRADE_SHARE:
            if not market.follows_external_price:
                self._market_trade(market)
        elif roll < _MARKET_TRADE_SHARE + _RESIZE_SHARE:
            self._resize_quote(market, side)
        elif roll < _MARKET_TRADE_SHARE + _RESIZE_SHARE + _ADD_CANCEL_SHARE * min(
            max(1.0 - fill * 0.5, 0.1), 0.9
        ):
            self._add_quote(market, side)
        else:
            self._cancel_quote(market, side)

    def _add_quote(self, market: _PairMarket, side: Side) -> None:
        spec = market.dynamics
        distance = spec.half_spread_ticks + int(
            self._rng.expovariate(1.0 / (spec.level_gap_ticks * spec.levels_per_side * 0.5))
        )
        ticks = market.fair_ticks - distance if side is Side.BUY else market.fair_ticks + distance
        if ticks <= 0:
            return
        qty = self._random_qty(market)
        order_id = self._venue.place_synthetic(market.info.symbol, side, market.price(ticks), qty)
        if order_id is not None:
            self._track(market, order_id, side, ticks)

    def _track(self, market: _PairMarket, order_id: str, side: Side, ticks: int) -> None:
        market.price_of[order_id] = (side, ticks)
        market.quotes[side].add((ticks, order_id))

    def _random_quote(self, market: _PairMarket, side: Side) -> str | None:
        quotes = market.quotes[side]
        while quotes:
            _, order_id = quotes[self._rng.randrange(len(quotes))]
            if self._venue.synthetic_remaining(order_id) > 0:
                return order_id
            market.forget(order_id)
        return None

    def _cancel_quote(self, market: _PairMarket, side: Side) -> None:
        order_id = self._random_quote(market, side)
        if order_id is not None:
            self._venue.cancel_synthetic(order_id)
            market.forget(order_id)

    def _resize_quote(self, market: _PairMarket, side: Side) -> None:
        order_id = self._random_quote(market, side)
        if order_id is not None:
            self._venue.resize_synthetic(order_id, self._random_qty(market))

    def _market_trade(self, market: _PairMarket) -> None:
        side = Side.BUY if self._rng.random() < 0.5 else Side.SELL
        qty = (self._random_qty(market) * Decimal("0.5")).quantize(market.info.lot_step)
        if qty > 0:
            self._venue.take_synthetic(market.info.symbol, side, qty)
        for quote_side in (Side.BUY, Side.SELL):
            self._drop_consumed_top(market, quote_side)

    def _drop_consumed_top(self, market: _PairMarket, side: Side) -> None:
        quotes = market.quotes[side]
        while quotes:
            _, order_id = quotes[-1] if side is Side.BUY else quotes[0]
            if self._venue.synthetic_remaining(order_id) > 0:
                return
            market.forget(order_id)

    def _random_qty(self, market: _PairMarket) -> Decimal:
        factor = math.exp(self._rng.gauss(0.0, 0.8))
        qty = market.dynamics.level_qty * Decimal(str(round(factor, 4)))
        return max(qty.quantize(market.info.lot_step), market.info.ordermin)


_EVERYTHING = Decimal(10) ** 9
"""Quantity large enough to clear any resting depth up to a limit price."""
