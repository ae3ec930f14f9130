"""Pre-trade risk: every order, from a strategy or a person, passes `RiskManager.check` first.

Trading states follow NautilusTrader: ACTIVE allows everything the limits allow, REDUCING only
orders that shrink a position, HALTED nothing but cancels (cancels never come through here).
Every denial names its rule and carries the numbers that broke it, so the log line, the UI and
the order ticket can show it as is.

A limit of 0 disables that rule (the settings' `ge=0` fields); there is no other "off" switch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from loguru import logger

from kraken_tui.clock import Clock
from kraken_tui.domain import (
    BookSnapshot,
    Instrument,
    Order,
    OrderType,
    Position,
    Side,
    TradingState,
)
from kraken_tui.engine.api import RiskDecision, RiskSnapshot
from kraken_tui.settings import RiskSettings

ZERO = Decimal(0)
HUNDRED = Decimal(100)
RATE_WINDOW_S = 60.0
SOFT_LIMIT = "soft limit: "
"""Reason prefix of a REDUCING state the risk manager set itself (and may lift again)."""


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_order_notional: Decimal = ZERO
    max_position_per_symbol: Decimal = ZERO
    max_position_per_strategy: Decimal = ZERO
    max_open_orders: int = 0
    price_band_pct: Decimal = ZERO
    daily_loss_limit: Decimal = ZERO
    max_drawdown_pct: Decimal = ZERO
    max_orders_per_minute: int = 0
    reduce_at_pct: Decimal = ZERO

    @classmethod
    def from_settings(cls, risk: RiskSettings) -> RiskLimits:
        """`Settings.risk` field by field (same names, same units)."""
        return cls(
            max_order_notional=risk.max_order_notional,
            max_position_per_symbol=risk.max_position_per_symbol,
            max_position_per_strategy=risk.max_position_per_strategy,
            max_open_orders=risk.max_open_orders,
            price_band_pct=risk.price_band_pct,
            daily_loss_limit=risk.daily_loss_limit,
            max_drawdown_pct=risk.max_drawdown_pct,
            max_orders_per_minute=risk.max_orders_per_minute,
            reduce_at_pct=risk.reduce_at_pct,
        )


@dataclass(frozen=True, slots=True)
class ProposedOrder:
    """An order before it has a `cl_ord_id`: what risk judges. `strategy` is None for manual."""

    symbol: str
    side: Side
    order_type: OrderType
    volume: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    strategy: str | None = None
    quote_volume: Decimal | None = None
    """A market buy sized in quote (Kraken's `viqc`); `volume` is then zero."""
    filled: Decimal = ZERO
    """For an open order judged as it would be after an amend: the part already filled. The
    position holds it, so only `volume - filled` can still move the position."""

    @property
    def unfilled(self) -> Decimal:
        return self.volume - self.filled


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the engine knows right now that the decision depends on."""

    instrument: Instrument
    book: BookSnapshot | None
    symbol_position: Position
    strategy_position: Position | None
    open_orders: Sequence[Order]


def _fmt(value: Decimal) -> str:
    """Plain digits for messages: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def is_reducing(order: ProposedOrder, position: Position, pending: Decimal) -> bool:
    """True when the order can only shrink the position, never flip or grow it, even if every
    open order already working against the position (`pending`) fills first: ten sells of a
    whole long are not all reducing, only the part of the position nobody is selling yet."""
    if position.qty == 0 or order.side.sign * position.qty > 0:
        return False
    return order.unfilled <= abs(position.qty) - pending


class RiskManager:
    def __init__(self, limits: RiskLimits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._sent: deque[float] = deque()
        self._snapshot = RiskSnapshot()

    @property
    def snapshot(self) -> RiskSnapshot:
        """Immutable; replaced on every change."""
        return self._snapshot

    @property
    def trading_state(self) -> TradingState:
        return self._snapshot.trading_state

    def set_trading_state(self, state: TradingState, reason: str) -> None:
        if state is self._snapshot.trading_state and reason == self._snapshot.reason:
            return
        level = "CRITICAL" if state is TradingState.HALTED else "WARNING"
        if state is TradingState.ACTIVE:
            level = "INFO"
        logger.log(level, "risk: trading state {} ({})", state, reason)
        self._snapshot = replace(self._snapshot, trading_state=state, reason=reason)

    def update_pnl(self, daily_pnl: Decimal, drawdown_pct: Decimal) -> RiskDecision | None:
        """Record the portfolio's latest figures. Returns the denial of the breached rule when
        the daily loss or drawdown limit is hit, so the engine can fire the kill switch."""
        if daily_pnl != self._snapshot.daily_pnl or drawdown_pct != self._snapshot.drawdown_pct:
            self._snapshot = replace(self._snapshot, daily_pnl=daily_pnl, drawdown_pct=drawdown_pct)
        breach = self._loss_breach()
        if breach is None:
            self._apply_soft_limit()
        return breach

    def _apply_soft_limit(self) -> None:
        """Near a loss limit trading turns REDUCING, and back to ACTIVE once clear of it; a
        REDUCING set by someone else, and HALTED, are left alone."""
        state = self._snapshot.trading_state
        soft = self._soft_breach()
        if soft is not None and state is TradingState.ACTIVE:
            self.set_trading_state(TradingState.REDUCING, SOFT_LIMIT + soft)
        elif (
            soft is None
            and state is TradingState.REDUCING
            and self._snapshot.reason.startswith(SOFT_LIMIT)
        ):
            self.set_trading_state(TradingState.ACTIVE, "clear of the loss limits again")

    def _soft_breach(self) -> str | None:
        limits, snap = self.limits, self._snapshot
        share = limits.reduce_at_pct / HUNDRED
        if share <= 0:
            return None
        if limits.daily_loss_limit > 0 and snap.daily_pnl <= -limits.daily_loss_limit * share:
            return (
                f"daily PnL {_fmt(snap.daily_pnl)} is past {_fmt(limits.reduce_at_pct)}% of "
                f"the loss limit of {_fmt(limits.daily_loss_limit)}"
            )
        if limits.max_drawdown_pct > 0 and snap.drawdown_pct >= limits.max_drawdown_pct * share:
            return (
                f"drawdown {_fmt(snap.drawdown_pct.quantize(Decimal('0.01')))}% is past "
                f"{_fmt(limits.reduce_at_pct)}% of the {_fmt(limits.max_drawdown_pct)}% limit"
            )
        return None

    def evaluate(self, order: ProposedOrder, context: RiskContext) -> RiskDecision:
        """The decision, with no side effects: what `preview_order` shows.

        A market buy sized in quote (`viqc`) is judged as the base volume its amount buys at
        the best ask (the mid without one); its own minimums are Kraken's quote checks, and
        its value for `max_order_notional` is the amount itself. Without a price to estimate
        that volume it cannot be shown to reduce a position, and is denied for want of one."""
        if (malformed := _market_price_rule(order)) is not None:
            return malformed
        sized = _sized_in_base(order, context)
        position = context.symbol_position
        pending = _pending_reduction(order.symbol, context)
        reducing = sized is not None and is_reducing(sized, position, pending)
        state = self._snapshot.trading_state
        if state is TradingState.HALTED:
            return RiskDecision.deny(
                "trading_state", f"trading is HALTED ({self._snapshot.reason}); only cancels"
            )
        if state is TradingState.REDUCING and not reducing:
            reason = (
                f"trading is REDUCING: {_size(sized or order, context.instrument)} would not "
                f"reduce the {order.symbol} position of {_fmt(position.qty)}"
            )
            if pending > 0:
                left = max(abs(position.qty) - pending, ZERO)
                reason += (
                    f": open {order.side} orders already take {_fmt(pending)} off it, "
                    f"leaving {_fmt(left)} to reduce"
                )
            return RiskDecision.deny("trading_state", reason)
        if not reducing and (breach := self._loss_breach()) is not None:
            return breach
        book = context.book
        if book is not None and book.stale:
            return RiskDecision.deny("stale_book", f"{order.symbol} book is being resynchronised")
        if sized is None:
            return RiskDecision.deny(
                "no_reference_price",
                f"no {order.symbol} ask or mid price to estimate the base volume of "
                f"{_size(order, context.instrument)}",
            )
        order = sized
        if order.order_type is OrderType.MARKET and (book is None or book.mid is None):
            return RiskDecision.deny(
                "no_reference_price", f"no {order.symbol} mid price to value a market order"
            )
        decision = self._instrument_rules(order, context)
        if decision is None:
            decision = self._price_rules(order, context)
        if decision is None:
            decision = self._exposure_rules(order, context, reducing)
        if decision is None:
            decision = self._rate_rule()
        return decision or RiskDecision.allow()

    def check(self, order: ProposedOrder, context: RiskContext) -> RiskDecision:
        """`evaluate`, plus: a denial is logged and counted, an allowed order uses the rate
        budget. Call it once per order that will be sent if allowed."""
        decision = self.evaluate(order, context)
        if decision.allowed:
            self._sent.append(self._clock.monotonic())
            return decision
        source = order.strategy or "manual"
        text = f"{decision.rule}: {decision.reason}"
        logger.warning("risk denied {} {} {}: {}", source, order.side, order.symbol, text)
        self._snapshot = replace(
            self._snapshot, last_denial=f"{source}: {text}", denials=self._snapshot.denials + 1
        )
        return decision

    # -- rules --------------------------------------------------------------------------------

    def _loss_breach(self) -> RiskDecision | None:
        limits, snap = self.limits, self._snapshot
        if limits.daily_loss_limit > 0 and snap.daily_pnl <= -limits.daily_loss_limit:
            return RiskDecision.deny(
                "daily_loss",
                f"daily PnL {_fmt(snap.daily_pnl)} breaches the loss limit "
                f"of {_fmt(limits.daily_loss_limit)}",
            )
        if limits.max_drawdown_pct > 0 and snap.drawdown_pct >= limits.max_drawdown_pct:
            return RiskDecision.deny(
                "max_drawdown",
                f"drawdown {_fmt(snap.drawdown_pct.quantize(Decimal('0.01')))}% from peak "
                f"equity reaches the limit of {_fmt(limits.max_drawdown_pct)}%",
            )
        return None

    def _instrument_rules(self, order: ProposedOrder, context: RiskContext) -> RiskDecision | None:
        instrument = context.instrument
        if order.quote_volume is not None:
            return self._quote_rules(order, context)
        for label, price in (("price", order.price), ("trigger price", order.trigger_price)):
            if price is not None and not instrument.price_on_tick(price):
                return RiskDecision.deny(
                    "instrument_minimum",
                    f"{label} {_fmt(price)} is not on the {order.symbol} tick of "
                    f"{_fmt(instrument.tick_size)}",
                )
        if order.volume != order.volume.quantize(instrument.lot_step):
            return RiskDecision.deny(
                "instrument_minimum",
                f"volume {_fmt(order.volume)} has more than {instrument.lot_decimals} decimals",
            )
        if order.volume < instrument.ordermin:
            return RiskDecision.deny(
                "instrument_minimum",
                f"volume {_fmt(order.volume)} is below the {order.symbol} minimum of "
                f"{_fmt(instrument.ordermin)}",
            )
        reference = self._reference_price(order, context)
        if reference is not None and reference * order.volume < instrument.costmin:
            return RiskDecision.deny(
                "instrument_minimum",
                f"order value {_fmt(reference * order.volume)} is below the {order.symbol} "
                f"cost minimum of {_fmt(instrument.costmin)}",
            )
        return None

    @staticmethod
    def _quote_rules(order: ProposedOrder, context: RiskContext) -> RiskDecision | None:
        assert order.quote_volume is not None
        instrument = context.instrument
        amount = order.quote_volume
        error = instrument.check_quote_order(amount, _quote_reference(context))
        if error is None:
            return None
        if error.startswith("EGeneral"):
            reason = (
                f"amount {_fmt(amount)} {instrument.quote} has more than "
                f"{instrument.cost_decimals} decimals"
            )
        elif error == "EOrder:Cost minimum not met":
            reason = (
                f"amount {_fmt(amount)} {instrument.quote} is below the {order.symbol} cost "
                f"minimum of {_fmt(instrument.costmin)}"
            )
        else:
            reason = (
                f"amount {_fmt(amount)} {instrument.quote} buys about "
                f"{_fmt(order.volume)}, below the {order.symbol} "
                f"minimum of {_fmt(instrument.ordermin)}"
            )
        return RiskDecision.deny("instrument_minimum", reason)

    def _price_rules(self, order: ProposedOrder, context: RiskContext) -> RiskDecision | None:
        band = self.limits.price_band_pct
        mid = context.book.mid if context.book is not None else None
        if band <= 0:
            return None
        for label, price in (("price", order.price), ("trigger price", order.trigger_price)):
            if price is None:
                continue
            if mid is None:
                return RiskDecision.deny(
                    "price_band", f"no {order.symbol} mid price to check the {label} against"
                )
            distance = abs(price - mid) / mid * HUNDRED
            if distance > band:
                return RiskDecision.deny(
                    "price_band",
                    f"{label} {_fmt(price)} is {_fmt(distance.quantize(Decimal('0.01')))}% "
                    f"from mid {_fmt(mid)} (band {_fmt(band)}%)",
                )
        return None

    def _exposure_rules(
        self, order: ProposedOrder, context: RiskContext, reducing: bool
    ) -> RiskDecision | None:
        limits = self.limits
        reference = self._reference_price(order, context)
        if reference is None:
            return RiskDecision.deny(
                "no_reference_price", f"no price to value the {order.symbol} order"
            )
        notional = reference * order.volume
        value = _fmt(notional)
        if order.quote_volume is not None:
            notional = order.quote_volume
            value = f"{_fmt(notional)} {context.instrument.quote}"
        if limits.max_order_notional > 0 and notional > limits.max_order_notional:
            return RiskDecision.deny(
                "max_order_notional",
                f"order value {value} exceeds the limit of {_fmt(limits.max_order_notional)}",
            )
        open_count = len(context.open_orders)
        if limits.max_open_orders > 0 and open_count >= limits.max_open_orders:
            return RiskDecision.deny(
                "max_open_orders",
                f"{open_count} orders already open (limit {limits.max_open_orders})",
            )
        if reducing:
            return None
        symbol_orders = [o for o in context.open_orders if o.symbol == order.symbol]
        open_reference = _quote_reference(context) or reference
        projected = _worst_case_qty(
            context.symbol_position.qty, symbol_orders, order, open_reference
        )
        if limits.max_position_per_symbol > 0 and projected * reference > (
            limits.max_position_per_symbol
        ):
            return RiskDecision.deny(
                "max_position_symbol",
                f"{order.symbol} position would reach {_fmt(projected)} "
                f"(value {_fmt(projected * reference)}, limit "
                f"{_fmt(limits.max_position_per_symbol)}) counting open orders",
            )
        if order.strategy is not None and limits.max_position_per_strategy > 0:
            own = [o for o in symbol_orders if o.strategy == order.strategy]
            held = context.strategy_position.qty if context.strategy_position else ZERO
            projected = _worst_case_qty(held, own, order, open_reference)
            if projected * reference > limits.max_position_per_strategy:
                return RiskDecision.deny(
                    "max_position_strategy",
                    f"strategy {order.strategy} {order.symbol} position would reach "
                    f"{_fmt(projected)} (value {_fmt(projected * reference)}, limit "
                    f"{_fmt(limits.max_position_per_strategy)}) counting open orders",
                )
        return None

    def _rate_rule(self) -> RiskDecision | None:
        limit = self.limits.max_orders_per_minute
        if limit <= 0:
            return None
        horizon = self._clock.monotonic() - RATE_WINDOW_S
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()
        if len(self._sent) >= limit:
            return RiskDecision.deny(
                "order_rate", f"{len(self._sent)} orders in the last minute (limit {limit})"
            )
        return None

    @staticmethod
    def _reference_price(order: ProposedOrder, context: RiskContext) -> Decimal | None:
        if order.price is not None:
            return order.price
        if order.trigger_price is not None:
            return order.trigger_price
        return context.book.mid if context.book is not None else None


def _worst_case_qty(
    held: Decimal, open_orders: Sequence[Order], order: ProposedOrder, reference: Decimal
) -> Decimal:
    """Largest absolute position reachable in the order's direction if it and every open order
    on the same side fill: the exposure a limit must bound, not just today's position. Open
    orders sized in quote count as what their unspent amount buys at `reference`."""
    same_side = sum((_open_base(o, reference) for o in open_orders if o.side is order.side), ZERO)
    return abs(held + order.side.sign * (same_side + order.unfilled))


def _open_base(order: Order, reference: Decimal) -> Decimal:
    """What an open order may still add in base: its remaining volume or, sized in quote,
    what the part of its amount not yet spent buys at `reference`."""
    if order.quote_volume is None:
        return order.remaining
    spent = (order.avg_price or ZERO) * order.filled
    return max(order.quote_volume - spent, ZERO) / reference


def _pending_reduction(symbol: str, context: RiskContext) -> Decimal:
    """How much of the symbol position the open orders against it (on any strategy's or the
    trader's account) would take off if they all filled. An open order sized in quote that
    cannot be valued for want of a price is assumed to take all of it, so nothing counts as
    reducing until it can be valued."""
    position = context.symbol_position
    against = [
        o for o in context.open_orders if o.symbol == symbol and o.side.sign * position.qty < 0
    ]
    reference = _quote_reference(context)
    pending = ZERO
    for open_order in against:
        if open_order.quote_volume is None:
            pending += open_order.remaining
        elif reference is None:
            return abs(position.qty)
        else:
            pending += _open_base(open_order, reference)
    return pending


def _market_price_rule(order: ProposedOrder) -> RiskDecision | None:
    """A market order fills at the book: a price on it means nothing to the exchange, yet the
    limits would value the order at it, so a low price could slip a large order through."""
    if order.order_type is not OrderType.MARKET:
        return None
    for label, price in (("price", order.price), ("trigger price", order.trigger_price)):
        if price is not None:
            return RiskDecision.deny(
                "market_with_price",
                f"a market order takes no {label}, but this {order.side} of "
                f"{order.symbol} carries {label} {_fmt(price)}",
            )
    return None


def _quote_reference(context: RiskContext) -> Decimal | None:
    """The price a quote-sized buy is expected to pay: the best ask, else the mid."""
    book = context.book
    if book is None:
        return None
    ask = book.best_ask
    return ask.price if ask is not None else book.mid


def _sized_in_base(order: ProposedOrder, context: RiskContext) -> ProposedOrder | None:
    """The order with the base volume the limits judge: as given, or for one sized in quote
    the estimate at the expected fill price (None when there is no price to estimate at)."""
    if order.quote_volume is None:
        return order
    estimated = _estimated_base(order.quote_volume, _quote_reference(context), context.instrument)
    return None if estimated is None else replace(order, volume=estimated)


def _size(order: ProposedOrder, instrument: Instrument) -> str:
    """`buy 0.5`, or for an order sized in quote `buy 1000 USD` and, once estimated,
    `(about 0.02 BTC)`: the amount alone would hide the exposure the limits judge."""
    if order.quote_volume is None:
        return f"{order.side} {_fmt(order.volume)}"
    amount = f"{order.side} {_fmt(order.quote_volume)} {instrument.quote}"
    if order.volume == 0:
        return amount
    return f"{amount} (about {_fmt(order.volume)} {instrument.base})"


def _estimated_base(
    amount: Decimal, price: Decimal | None, instrument: Instrument
) -> Decimal | None:
    """The base volume `amount` buys at `price`, on the lot grid (as the exchange fills it)."""
    return None if price is None or price <= 0 else instrument.round_volume(amount / price)
