"""market_maker with its default parameters against the sandbox's own venue and synthetic
market (no network, virtual time): the default configuration must show fills within a minute,
without breaking its own limits or churning orders, and requote by amending its quotes in
place. What each request costs on Kraken's trading counter is charged as the client's model
(`trade_cost`, by the order's age) charges it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import (
    BookLevel,
    BookSnapshot,
    Order,
    OrderStatus,
    OrderType,
    Position,
)
from kraken_tui.exchange.ratelimit import TradeAction, trade_cost
from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.market import MarketSimulator
from kraken_tui.sandbox.venue import SandboxVenue
from kraken_tui.strategies import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Intents,
    PlaceOrder,
    StrategyContext,
)
from kraken_tui.strategies.market_maker import MarketMaker

KEY = "mm-test-account"
SYMBOL = "ETH/USD"
STEP_S = 0.05
"""How often the strategy sees a fresh book: the engine coalesces book updates about so."""


class SandboxLoop:
    """The engine's part, reduced to what a quoting strategy needs: books in, intents placed
    on the venue, fills folded into the position, open orders handed back."""

    def __init__(self, seed: int, params: dict[str, object] | None = None) -> None:
        self.t = 1_767_225_600.0
        self.venue = SandboxVenue(clock=lambda: self.t, id_seed=seed)
        self.venue.open_account(KEY)
        self.market = MarketSimulator(self.venue, seed=seed, rate=500.0)
        self.market.step(self.t)
        self.clock = VirtualClock(datetime.fromtimestamp(self.t, UTC))
        instrument = self.venue.pairs.resolve(SYMBOL).to_instrument()
        context = StrategyContext(instrument=instrument, clock=self.clock)
        strategy = MarketMaker.from_config("mm", SYMBOL, params or {}, context)
        assert isinstance(strategy, MarketMaker)
        self.strategy = strategy
        self.context = context
        self.position = Position(SYMBOL, strategy="mm")
        self.fills_seen = 0
        self.placed = self.cancelled = self.rejected = 0
        self.amended = self.amends_refused = 0
        self.amended_txids: dict[str, set[Decimal]] = {}
        """txid -> the prices it was amended to."""
        self.counter_cost = 0.0
        """What the requests cost on the trading counter, as `trade_cost` charges them."""
        self._placed_at: dict[str, float] = {}
        self.max_open_per_side = 0
        self.max_abs_position = Decimal(0)

    def run(self, seconds: float) -> None:
        for step in range(round(seconds / STEP_S)):
            self.t += STEP_S
            self.clock.advance(STEP_S)
            self.market.step(self.t)
            self.venue.tick(self.t)
            self._sync()
            self._apply(self.strategy.on_book(self._book()))
            if step % round(1 / STEP_S) == 0:
                self._apply(self.strategy.on_timer(self.clock.now()))

    @property
    def fills(self) -> list[object]:
        return list(self.venue.recent_fills(KEY, 10_000))

    def _sync(self) -> None:
        fills = self.venue.recent_fills(KEY, 10_000)
        for fill in fills[self.fills_seen :]:
            assert fill.maker, "a post-only quote must never take liquidity"
            self.position = self.position.apply(
                fill.side, fill.vol, fill.price, fill.fee, self.clock.now()
            )
        self.fills_seen = len(fills)
        self.max_abs_position = max(self.max_abs_position, abs(self.position.qty))
        open_orders = tuple(
            Order(
                cl_ord_id=view.cl_ord_id or view.txid,
                symbol=SYMBOL,
                side=view.side,
                order_type=OrderType.LIMIT,
                volume=view.volume,
                status=OrderStatus.NEW,
                price=view.price,
                post_only=view.post_only,
                order_id=view.txid,
                filled=view.vol_exec,
                strategy="mm",
            )
            for view in self.venue.open_orders(KEY)
        )
        for side in ("buy", "sell"):
            count = sum(1 for order in open_orders if order.side == side)
            self.max_open_per_side = max(self.max_open_per_side, count)
        self.context.position = self.position
        self.context.open_orders = open_orders

    def _book(self) -> BookSnapshot:
        levels = self.venue.book(SYMBOL, 10)
        snapshot = BookSnapshot(
            symbol=SYMBOL,
            bids=tuple(BookLevel(price, qty) for price, qty in levels.bids),
            asks=tuple(BookLevel(price, qty) for price, qty in levels.asks),
            ts=self.clock.now(),
        )
        self.context.book = snapshot
        return snapshot

    def _age(self, cl_ord_id: str) -> float:
        return self.t - self._placed_at[cl_ord_id]

    def _apply(self, intents: Intents) -> None:
        for intent in intents or ():
            if isinstance(intent, PlaceOrder):
                self.placed += 1
                self.counter_cost += trade_cost(TradeAction.ADD)
                cl_ord_id = str(uuid.uuid4())
                self._placed_at[cl_ord_id] = self.t
                try:
                    self.venue.add_order(
                        KEY,
                        pair=SYMBOL,
                        side=intent.side,
                        order_type="limit",
                        volume=intent.volume,
                        price=intent.price,
                        post_only=intent.post_only,
                        cl_ord_id=cl_ord_id,
                    )
                except VenueError:
                    self.rejected += 1
            elif isinstance(intent, AmendOrder):
                self._amend(intent)
            elif isinstance(intent, CancelOrder):
                self.cancelled += 1
                self.counter_cost += trade_cost(TradeAction.CANCEL, self._age(intent.cl_ord_id))
                self.venue.cancel_order(KEY, cl_ord_id=intent.cl_ord_id)
            elif isinstance(intent, CancelAll):
                self.venue.cancel_all(KEY)
        self._sync()

    def _amend(self, intent: AmendOrder) -> None:
        """As the engine does: the venue's AmendOrder, and on a refusal the strategy's
        `on_amend_rejected` with the order as it still is."""
        self.counter_cost += trade_cost(TradeAction.AMEND, self._age(intent.cl_ord_id))
        try:
            amended = self.venue.amend_order(
                KEY, cl_ord_id=intent.cl_ord_id, limit_price=intent.price, order_qty=intent.volume
            )
        except VenueError as error:
            self.amends_refused += 1
            self._sync()
            [order] = [o for o in self.context.open_orders if o.cl_ord_id == intent.cl_ord_id]
            self._apply(self.strategy.on_amend_rejected(order, error.error))
            return
        self.amended += 1
        assert intent.price is not None
        self.amended_txids.setdefault(amended.txid, set()).add(intent.price)


def test_default_quotes_are_filled_by_the_synthetic_flow_within_a_minute() -> None:
    for seed in (1, 2, 3):
        loop = SandboxLoop(seed)
        loop.run(60.0)
        assert loop.fills, f"seed {seed}: no fill in the first minute"


def test_over_ten_minutes_it_keeps_one_quote_a_side_within_max_inventory_without_churn() -> None:
    loop = SandboxLoop(seed=5)
    loop.run(600.0)
    sides = {fill.side for fill in loop.venue.recent_fills(KEY, 10_000)}
    assert len(sides) == 2, "both quotes get filled over ten minutes"
    assert loop.max_open_per_side == 1
    assert loop.max_abs_position <= Decimal("1")
    # at most one placement or amend per side per min_requote_interval_s (10 s)
    assert loop.placed + loop.amended <= 2 * 600 / 10
    assert loop.rejected == 0


def test_requotes_amend_the_resting_quote_in_place_and_spend_less_of_the_trading_counter() -> None:
    loop = SandboxLoop(seed=5)
    loop.run(300.0)
    assert loop.amended >= 10, "the market moves the threshold several times in five minutes"
    assert loop.cancelled == 0 and loop.amends_refused == 0
    for txid, prices in loop.amended_txids.items():
        trail = loop.venue.order_amends(KEY, txid)
        assert {amend.limit_price for amend in trail[1:]} == prices, "same txid, new prices"
    # cancel and replace would have cost a cancel (6 for an order under 10 s old, 5 under 15)
    # plus a new order (1) per requote; an amend costs 1 plus 2 or 1 at those ages
    assert loop.counter_cost <= loop.placed + 3 * loop.amended


def test_an_amend_the_venue_refuses_falls_back_to_cancel_and_replace() -> None:
    loop = SandboxLoop(seed=5, params={"min_requote_interval_s": 0})
    loop.run(2.0)
    [ask] = [o for o in loop.context.open_orders if o.side == "sell"]
    venue_book = loop._book()
    # The strategy sees the market 1 % lower than the venue holds it (a book that lags a
    # rally): its new ask would cross the venue's bids, which a post-only amend may not.
    shift = venue_book.asks[0].price / 100
    lagging = BookSnapshot(
        symbol=SYMBOL,
        bids=tuple(BookLevel(level.price - shift, level.qty) for level in venue_book.bids),
        asks=tuple(BookLevel(level.price - shift, level.qty) for level in venue_book.asks),
        ts=loop.clock.now(),
    )
    loop.context.book = lagging
    loop._apply(loop.strategy.on_book(lagging))
    assert loop.amends_refused == 1
    assert loop.cancelled == 1, "the quote the venue would not amend is cancelled"
    assert ask.cl_ord_id not in {o.cl_ord_id for o in loop.context.open_orders}
    assert loop.placed == 3, "and a new ask placed in its stead"
