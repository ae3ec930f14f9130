"""Orders, executions and positions as the engine sees them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from kraken_tui.domain.enums import Liquidity, OrderStatus, OrderType, Side, TimeInForce
from kraken_tui.domain.money import ZERO


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What is sent to the exchange. `cl_ord_id` is ours and makes a resend idempotent.

    `quote_volume` is Kraken's `viqc` flag: a market buy that spends this much of the quote
    currency (before fees) and buys whatever base volume that gets at the prices it meets.
    It is how an order goes "all in" without knowing its fill price; `volume` is then zero."""

    cl_ord_id: str
    symbol: str
    side: Side
    order_type: OrderType
    volume: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    strategy: str | None = None
    quote_volume: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.cl_ord_id:
            raise ValueError("cl_ord_id is required")
        check_size(self.side, self.order_type, self.volume, self.quote_volume)
        if self.order_type is OrderType.LIMIT and self.price is None:
            raise ValueError("a limit order needs a price")
        if self.order_type in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT) and (
            self.trigger_price is None
        ):
            raise ValueError(f"a {self.order_type} order needs a trigger price")
        if self.price is not None and self.price <= 0:
            raise ValueError(f"price must be positive, got {self.price}")
        if self.post_only and self.order_type is not OrderType.LIMIT:
            raise ValueError("post-only applies to limit orders only")

    @property
    def notional(self) -> Decimal | None:
        if self.quote_volume is not None:
            return self.quote_volume
        reference = self.price if self.price is not None else self.trigger_price
        return None if reference is None else reference * self.volume


def check_size(
    side: Side, order_type: OrderType, volume: Decimal, quote_volume: Decimal | None
) -> None:
    """An order is sized in base (`volume` > 0) or, market buys only, in quote (`viqc`)."""
    if quote_volume is None:
        if volume <= 0:
            raise ValueError(f"volume must be positive, got {volume}")
        return
    if quote_volume <= 0:
        raise ValueError(f"quote volume must be positive, got {quote_volume}")
    if volume != 0:
        raise ValueError("an order sized in quote has no base volume: set one or the other")
    if side is not Side.BUY or order_type is not OrderType.MARKET:
        raise ValueError("only market buys can be sized in the quote currency")


@dataclass(frozen=True, slots=True)
class Order:
    """The latest known state of one order (ours or adopted from the exchange).

    An order sized in quote (`quote_volume`, Kraken's `viqc`) has no base volume up front:
    its `volume` is zero, `filled` counts the base it has bought, and it has no `remaining`
    base (what is left to spend is `quote_volume` minus what its fills cost)."""

    cl_ord_id: str
    symbol: str
    side: Side
    order_type: OrderType
    volume: Decimal
    status: OrderStatus
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    order_id: str | None = None
    filled: Decimal = ZERO
    avg_price: Decimal | None = None
    fees: Decimal = ZERO
    strategy: str | None = None
    reason: str | None = None
    external: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    quote_volume: Decimal | None = None

    @property
    def remaining(self) -> Decimal:
        if self.quote_volume is not None:
            return ZERO
        return self.volume - self.filled

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def with_changes(self, **changes: object) -> Order:
        return replace(self, **changes)  # type: ignore[arg-type]  # replace() checks names at run time

    @classmethod
    def from_request(cls, request: OrderRequest, created_at: datetime) -> Order:
        return cls(
            cl_ord_id=request.cl_ord_id,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            volume=request.volume,
            status=OrderStatus.PENDING_NEW,
            price=request.price,
            trigger_price=request.trigger_price,
            time_in_force=request.time_in_force,
            post_only=request.post_only,
            strategy=request.strategy,
            created_at=created_at,
            updated_at=created_at,
            quote_volume=request.quote_volume,
        )


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill. `exec_id` is the exchange's trade id, unique: it makes fills idempotent."""

    exec_id: str
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_ccy: str
    liquidity: Liquidity
    ts: datetime
    cl_ord_id: str | None = None

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"execution {self.exec_id}: qty must be positive")
        if self.price <= 0:
            raise ValueError(f"execution {self.exec_id}: price must be positive")
        if self.fee < 0:
            raise ValueError(f"execution {self.exec_id}: fee must not be negative")


@dataclass(frozen=True, slots=True)
class Position:
    """Net position of one symbol (optionally of one strategy), with PnL in the quote currency."""

    symbol: str
    qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    mark: Decimal | None = None
    strategy: str | None = None
    opened_at: datetime | None = None

    @property
    def unrealized_pnl(self) -> Decimal:
        if self.mark is None or self.qty == 0:
            return ZERO
        return (self.mark - self.avg_price) * self.qty

    @property
    def is_flat(self) -> bool:
        return self.qty == 0

    def apply(
        self, side: Side, qty: Decimal, price: Decimal, fee: Decimal, ts: datetime
    ) -> Position:
        """Return the position after one fill. Fees are realized at once (quote currency)."""
        signed = qty * side.sign
        new_qty = self.qty + signed
        realized = self.realized_pnl - fee
        avg = self.avg_price
        opened_at = self.opened_at
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            avg = (self.avg_price * abs(self.qty) + price * qty) / abs(new_qty)
            opened_at = opened_at or ts
        else:
            closing = min(qty, abs(self.qty))
            direction = 1 if self.qty > 0 else -1
            realized += (price - self.avg_price) * closing * direction
            if new_qty == 0:
                avg, opened_at = ZERO, None
            elif (new_qty > 0) != (self.qty > 0):
                avg, opened_at = price, ts
        return replace(
            self,
            qty=new_qty,
            avg_price=avg,
            realized_pnl=realized,
            fees=self.fees + fee,
            opened_at=opened_at,
        )


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    total: Decimal
    available: Decimal = field(default=ZERO)
