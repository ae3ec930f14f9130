"""The strategy contract: market events in, order intents out.

A strategy never talks to the exchange, the store or the risk manager. Each handler returns the
intents it wants (or None), and the `StrategyManager` passes them through risk to the
`OrderManager`. That keeps a strategy a pure function of what it has seen plus its `state`,
which is what makes it backtestable and lets the engine isolate a misbehaving one.

What a strategy may read (its position, its open orders, the instrument, the latest book, the
time) comes through a `StrategyContext` that the engine keeps current before every call; a
backtest or a unit test builds the same context by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from kraken_tui.clock import Clock
from kraken_tui.domain import (
    BookSnapshot,
    CandleView,
    Execution,
    Instrument,
    Order,
    OrderType,
    Position,
    Side,
    TimeInForce,
    Trade,
)


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Ask for a new order on the strategy's own symbol. `tag` is free text kept in the log
    (why the strategy wanted it); the engine assigns the `cl_ord_id`. A market buy may be
    sized in the quote currency instead (`quote_volume`, volume zero): see `buy_quote`."""

    side: Side
    order_type: OrderType
    volume: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    tag: str = ""
    quote_volume: Decimal | None = None

    def __post_init__(self) -> None:
        """Refuse a malformed order where the strategy builds it: the engine and the risk
        manager rely on these types and on finite Decimal money, and a strategy that writes
        `side="buy"` or a float volume must stop alone, in `error` with this message, instead
        of failing the engine's handling of the event for every strategy."""
        for name, kind in _PLACE_ORDER_TYPES:
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise _wrong_type(name, value, kind)
        _require_amount("volume", self.volume, allow_zero=True)
        for name in ("price", "trigger_price", "quote_volume"):
            value = getattr(self, name)
            if value is not None:
                _require_amount(name, value, allow_zero=False)


_PLACE_ORDER_TYPES: tuple[tuple[str, type], ...] = (
    ("side", Side),
    ("order_type", OrderType),
    ("tif", TimeInForce),
    ("post_only", bool),
    ("tag", str),
)


def _wrong_type(name: str, value: object, kind: type, intent: str = "PlaceOrder") -> TypeError:
    return TypeError(
        f"{intent}.{name} must be a {kind.__name__}, got {value!r} ({type(value).__name__})"
    )


def _require_amount(
    name: str, value: object, *, allow_zero: bool, intent: str = "PlaceOrder"
) -> None:
    """Money is Decimal: a float has already lost digits, and a NaN fails every comparison."""
    if not isinstance(value, Decimal):
        raise _wrong_type(name, value, Decimal, intent)
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise ValueError(f"{intent}.{name} must be a finite Decimal {bound}, got {value!r}")


@dataclass(frozen=True, slots=True)
class AmendOrder:
    """Change one of the strategy's own open orders in place (Kraken's AmendOrder): a new
    limit `price`, a new total `volume` (filled part included), or both. The order keeps its
    txid, and its queue priority when only the volume goes down. Cheaper under Kraken's
    trading counter than cancel and replace (1 plus a small penalty for an order under 15 s
    old, against up to 8 for cancelling it), so requoting strategies should prefer it. When
    the exchange refuses it (a post-only price that would now cross, a volume not above what
    has filled) the order stays as it was and the strategy's `on_amend_rejected` is called."""

    cl_ord_id: str
    price: Decimal | None = None
    volume: Decimal | None = None

    def __post_init__(self) -> None:
        """Refused where the strategy builds it, for the reasons `PlaceOrder` is."""
        if not isinstance(self.cl_ord_id, str):
            raise _wrong_type("cl_ord_id", self.cl_ord_id, str, "AmendOrder")
        if self.price is None and self.volume is None:
            raise ValueError("AmendOrder needs a new price, a new volume or both")
        for name in ("price", "volume"):
            value = getattr(self, name)
            if value is not None:
                _require_amount(name, value, allow_zero=False, intent="AmendOrder")


@dataclass(frozen=True, slots=True)
class CancelOrder:
    cl_ord_id: str


@dataclass(frozen=True, slots=True)
class CancelAll:
    """Cancel every open order of this strategy (never other strategies' or manual orders)."""


Intent = PlaceOrder | AmendOrder | CancelOrder | CancelAll
Intents = Sequence[Intent] | None


def as_intents(result: object) -> tuple[Intent, ...]:
    """A handler's return value as intents: None, one intent, or a list/tuple of them; the
    engine and the backtester both hold strategies to this, so anything else is a bug."""
    if result is None:
        return ()
    if isinstance(result, PlaceOrder | AmendOrder | CancelOrder | CancelAll):
        return (result,)
    if not isinstance(result, list | tuple):
        raise TypeError(f"handler returned {type(result).__name__}, expected a list of intents")
    for item in result:
        if not isinstance(item, PlaceOrder | AmendOrder | CancelOrder | CancelAll):
            raise TypeError(f"handler returned {item!r}, which is not an intent")
    return tuple(result)


class StrategyConfigError(ValueError):
    """A strategy's configuration cannot be used; the message names the strategy and field."""


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StrategyContext:
    """The read-only world of one strategy. The engine (or a backtest) updates these attributes
    before each handler call; strategies only read them through `BaseStrategy` properties."""

    def __init__(
        self,
        *,
        instrument: Instrument,
        clock: Clock,
        position: Position | None = None,
        book: BookSnapshot | None = None,
        open_orders: tuple[Order, ...] = (),
        available_quote: Decimal | None = None,
    ) -> None:
        self.instrument = instrument
        self.clock = clock
        self.position = position or Position(symbol=instrument.symbol)
        self.book = book
        self.open_orders = open_orders
        self.available_quote = available_quote
        """The account's quote-currency balance free for new orders (None until known); an
        account-wide figure, shared by every strategy trading that quote currency."""


class BaseStrategy:
    """Subclass, override the handlers you need and register with `@register_strategy(name)`.

    Parameters: declare `Params` as a pydantic model (frozen, extra fields forbidden is a good
    default) and annotate `params: MyParams` on the subclass for typed access; `from_config`
    validates the config's `params` table against it and names the offending field on error.

    `state` must stay JSON-serialisable (numbers, strings, lists, dicts; store Decimals as
    strings): the engine persists it and hands it back on restart before `on_start`.
    `signal` is a short human-readable text shown in the UI's strategy table.
    `timer_interval_s`, when set, makes the engine call `on_timer` that often.
    """

    Params: ClassVar[type[BaseModel]] = NoParams
    strategy_name: ClassVar[str] = ""
    timer_interval_s: ClassVar[float | None] = None

    def __init__(self, name: str, symbol: str, params: BaseModel, context: StrategyContext) -> None:
        if context.instrument.symbol != symbol:
            raise StrategyConfigError(
                f"strategy {name!r}: context is for {context.instrument.symbol}, not {symbol}"
            )
        self.name = name
        self.symbol = symbol
        self.params = params
        self.context = context
        self.state: dict[str, Any] = {}
        self.signal = ""

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any] | None, strategy: str = "") -> BaseModel:
        try:
            return cls.Params.model_validate(dict(raw or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"params.{'.'.join(str(part) for part in error['loc']) or '<root>'}: "
                f"{error['msg']} (got {error.get('input')!r})"
                for error in exc.errors()
            )
            label = strategy or cls.strategy_name or cls.__name__
            raise StrategyConfigError(f"strategy {label!r}: {problems}") from exc

    @classmethod
    def from_config(
        cls,
        name: str,
        symbol: str,
        raw_params: Mapping[str, Any] | None,
        context: StrategyContext,
    ) -> BaseStrategy:
        return cls(name, symbol, cls.parse_params(raw_params, name), context)

    # -- handlers: return the intents to act on, or None -------------------------------------

    def on_start(self) -> Intents:
        return None

    def on_book(self, book: BookSnapshot) -> Intents:
        return None

    def on_trade(self, trade: Trade) -> Intents:
        return None

    def on_candle(self, candle: CandleView) -> Intents:
        return None

    def on_fill(self, execution: Execution) -> Intents:
        return None

    def on_order_update(self, order: Order) -> Intents:
        return None

    def on_amend_rejected(self, order: Order, reason: str) -> Intents:
        """The exchange refused an `AmendOrder` (`reason` is its error, e.g. `EOrder:Post
        only order`); `order` is as it still is. Nothing else tells a strategy that its amend
        did not take, so one that amends decides here what to do instead."""
        return None

    def on_timer(self, now: datetime) -> Intents:
        return None

    def on_stop(self) -> Intents:
        return None

    # -- read access --------------------------------------------------------------------------

    @property
    def instrument(self) -> Instrument:
        return self.context.instrument

    @property
    def position(self) -> Position:
        return self.context.position

    @property
    def open_orders(self) -> tuple[Order, ...]:
        return self.context.open_orders

    @property
    def book(self) -> BookSnapshot | None:
        return self.context.book

    @property
    def mid(self) -> Decimal | None:
        book = self.context.book
        return None if book is None else book.mid

    @property
    def available_quote(self) -> Decimal | None:
        return self.context.available_quote

    @property
    def now(self) -> datetime:
        return self.context.clock.now()

    # -- intent helpers: prices go onto the tick grid, volumes round down to the lot size ------

    def buy(self, volume: Decimal, price: Decimal | None = None, tag: str = "") -> PlaceOrder:
        """Market buy, or a limit buy when `price` is given."""
        return self._order(Side.BUY, volume, price, tag)

    def sell(self, volume: Decimal, price: Decimal | None = None, tag: str = "") -> PlaceOrder:
        """Market sell, or a limit sell when `price` is given."""
        return self._order(Side.SELL, volume, price, tag)

    def buy_quote(self, amount: Decimal, tag: str = "") -> PlaceOrder:
        """Market buy spending `amount` of the quote currency (Kraken's `viqc`), rounded down
        to what Kraken accepts: the base volume is whatever that buys at the fill prices, so
        the order fits the budget even when the price moves between decision and fill."""
        return PlaceOrder(
            side=Side.BUY,
            order_type=OrderType.MARKET,
            volume=Decimal(0),
            quote_volume=self.instrument.round_cost(amount),
            tag=tag,
        )

    def limit(
        self,
        side: Side,
        volume: Decimal,
        price: Decimal,
        post_only: bool = False,
        tag: str = "",
    ) -> PlaceOrder:
        return PlaceOrder(
            side=side,
            order_type=OrderType.LIMIT,
            volume=self.instrument.round_volume(volume),
            price=self.instrument.round_price(price),
            post_only=post_only,
            tag=tag,
        )

    def amend(
        self, cl_ord_id: str, price: Decimal | None = None, volume: Decimal | None = None
    ) -> AmendOrder:
        """Move one of your open orders to `price` (onto the tick grid) and/or a new total
        `volume` (down onto the lot grid) in place."""
        return AmendOrder(
            cl_ord_id,
            price=None if price is None else self.instrument.round_price(price),
            volume=None if volume is None else self.instrument.round_volume(volume),
        )

    def cancel(self, cl_ord_id: str) -> CancelOrder:
        return CancelOrder(cl_ord_id)

    def cancel_all(self) -> CancelAll:
        return CancelAll()

    def _order(self, side: Side, volume: Decimal, price: Decimal | None, tag: str) -> PlaceOrder:
        if price is not None:
            return self.limit(side, volume, price, tag=tag)
        return PlaceOrder(
            side=side,
            order_type=OrderType.MARKET,
            volume=self.instrument.round_volume(volume),
            tag=tag,
        )

    # -- persistence ----------------------------------------------------------------------------

    def dump_state(self) -> str:
        """JSON text of `state`; raises TypeError naming the strategy if it is not serialisable."""
        try:
            return json.dumps(self.state, sort_keys=True, separators=(",", ":"))
        except TypeError as exc:
            raise TypeError(
                f"strategy {self.name!r}: state is not JSON-serialisable: {exc}"
            ) from exc

    def restore_state(self, text: str | None) -> None:
        if not text:
            return
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise StrategyConfigError(f"strategy {self.name!r}: persisted state is not an object")
        self.state = loaded


_StrategyClass = TypeVar("_StrategyClass", bound=type[BaseStrategy])
_REGISTRY: dict[str, type[BaseStrategy]] = {}


def register_strategy(name: str) -> Callable[[_StrategyClass], _StrategyClass]:
    """Class decorator: make a strategy available to the config under `name`. Registering a
    different class under a taken name is an error (two files claiming one name); re-importing
    the same module is not."""

    def decorate(cls: _StrategyClass) -> _StrategyClass:
        if not issubclass(cls, BaseStrategy):
            raise TypeError(f"{cls.__name__} must subclass BaseStrategy to be registered")
        existing = _REGISTRY.get(name)
        if existing is not None and _qualified(existing) != _qualified(cls):
            raise ValueError(
                f"strategy name {name!r} is already registered by "
                f"{existing.__module__}.{existing.__qualname__}"
            )
        cls.strategy_name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def strategy_registry() -> Mapping[str, type[BaseStrategy]]:
    """Registered strategy classes by name (a read-only view)."""
    return MappingProxyType(_REGISTRY)
