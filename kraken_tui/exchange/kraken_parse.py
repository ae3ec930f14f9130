"""Kraken wire payloads (REST results, WebSocket v2 messages) to domain types.

Every function here raises `MalformedPayload` for input it cannot trust, so the adapter can log
the payload and skip it: a malformed exchange message must never be fatal, and must never be
half-applied either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from kraken_tui.domain import (
    Balance,
    Candle,
    Execution,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
    TimeInForce,
    Trade,
)
from kraken_tui.domain.money import ZERO, to_decimal
from kraken_tui.exchange.protocol import OrderUpdate

SymbolResolver = Callable[[str], str]
_E = TypeVar("_E", Side, OrderType)


class MalformedPayload(ValueError):
    """An exchange payload that is missing fields or carries values of the wrong type."""


class UnknownExecType(MalformedPayload):
    """An `executions` item whose `exec_type` Kraken has not documented (yet): skipped, not
    guessed at, since its meaning for the order is unknown."""


def _mapping(item: object) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise MalformedPayload(f"expected an object, got {type(item).__name__}")
    return item


def _get(item: Mapping[str, Any], key: str) -> Any:
    try:
        return item[key]
    except (KeyError, TypeError) as exc:
        raise MalformedPayload(f"missing field {key!r}") from exc


def _dec(item: Mapping[str, Any], key: str, default: Decimal | None = None) -> Decimal:
    value = item.get(key) if isinstance(item, Mapping) else None
    if value is None or value == "":
        if default is not None:
            return default
        raise MalformedPayload(f"missing number {key!r}")
    try:
        return to_decimal(value, key)
    except ValueError as exc:
        raise MalformedPayload(str(exc)) from exc


def _opt_dec(item: Mapping[str, Any], key: str) -> Decimal | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    result = _dec(item, key)
    return result if result != 0 else None


def _enum(enum: type[_E], value: Any, field: str) -> _E:
    try:
        return enum(value)
    except ValueError as exc:
        raise MalformedPayload(f"{field}: unknown value {value!r}") from exc


def parse_timestamp(value: object) -> datetime:
    """Kraken sends Unix seconds (REST, possibly fractional or as a string) or RFC 3339 (WS v2)."""
    try:
        if isinstance(value, int | float | Decimal):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            if value.replace(".", "", 1).isdigit():
                return datetime.fromtimestamp(float(value), UTC)
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise MalformedPayload(f"bad timestamp {value!r}") from exc
    raise MalformedPayload(f"bad timestamp {value!r}")


_REST_STATUS = {
    "pending": OrderStatus.PENDING_NEW,
    "open": OrderStatus.NEW,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
}


def order_from_rest(order_id: str, item: Mapping[str, Any], symbol_of: SymbolResolver) -> Order:
    """One entry of OpenOrders / ClosedOrders / QueryOrders.

    An order flagged `viqc` was sized in quote: its `vol` is the quote amount (as the sandbox
    reports it; Kraken does not document it) and `vol_exec` the base bought, so it becomes an
    order with `quote_volume` and no base volume."""
    item = _mapping(item)
    descr = _mapping(_get(item, "descr"))
    status = _REST_STATUS.get(str(_get(item, "status")))
    if status is None:
        raise MalformedPayload(f"order {order_id}: unknown status {item.get('status')!r}")
    oflags = _flags(item.get("oflags"))
    quote_volume = _positive(item, "vol") if "viqc" in oflags else None
    volume = ZERO if quote_volume is not None else _dec(item, "vol")
    filled = _dec(item, "vol_exec", ZERO)
    if status is OrderStatus.NEW and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    if status is OrderStatus.CANCELED and filled >= volume > 0:
        status = OrderStatus.FILLED
    order_type = _enum(OrderType, _get(descr, "ordertype"), "ordertype")
    price = _opt_dec(descr, "price")
    trigger = None
    if order_type in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT):
        trigger, price = price, None
    cl_ord_id = item.get("cl_ord_id") or None
    opened = item.get("opentm")
    closed = item.get("closetm")
    return Order(
        cl_ord_id=str(cl_ord_id) if cl_ord_id else f"ext-{order_id}",
        symbol=symbol_of(str(_get(descr, "pair"))),
        side=_enum(Side, _get(descr, "type"), "type"),
        order_type=order_type,
        volume=volume,
        status=status,
        price=price,
        trigger_price=trigger,
        time_in_force=TimeInForce.IOC
        if "ioc" in str(item.get("timeinforce", "")).lower()
        else TimeInForce.GTC,
        post_only="post" in oflags,
        order_id=order_id,
        filled=filled,
        avg_price=_opt_dec(item, "price"),
        fees=_dec(item, "fee", ZERO),
        reason=item.get("reason") or None,
        external=not cl_ord_id,
        created_at=parse_timestamp(opened) if opened else None,
        updated_at=parse_timestamp(closed) if closed else None,
        quote_volume=quote_volume,
    )


def _flags(value: object) -> set[str]:
    """Kraken's comma-separated `oflags`, e.g. `fciq,viqc`."""
    if value is None:
        return set()
    if not isinstance(value, str):
        raise MalformedPayload(f"oflags must be text, got {type(value).__name__}")
    return {flag.strip() for flag in value.split(",") if flag.strip()}


def _positive(item: Mapping[str, Any], key: str) -> Decimal:
    value = _dec(item, key)
    if value <= 0:
        raise MalformedPayload(f"{key} must be positive, got {value}")
    return value


def execution_from_rest(
    trade_id: str, item: Mapping[str, Any], symbol_of: SymbolResolver, quote_of: SymbolResolver
) -> Execution:
    """One entry of TradesHistory. Fees on Kraken spot are charged in the quote currency by
    default; `quote_of` maps a symbol to it."""
    item = _mapping(item)
    symbol = symbol_of(str(_get(item, "pair")))
    maker = item.get("maker")
    return Execution(
        exec_id=trade_id,
        order_id=str(_get(item, "ordertxid")),
        symbol=symbol,
        side=_enum(Side, _get(item, "type"), "type"),
        price=_dec(item, "price"),
        qty=_dec(item, "vol"),
        fee=_dec(item, "fee", ZERO),
        fee_ccy=quote_of(symbol),
        liquidity=Liquidity.MAKER if maker is True or maker == "true" else Liquidity.TAKER,
        ts=parse_timestamp(_get(item, "time")),
        cl_ord_id=item.get("cl_ord_id") or None,
    )


KNOWN_EXEC_TYPES = frozenset(
    {
        "pending_new",
        "new",
        "trade",
        "filled",
        "iceberg_refill",
        "canceled",
        "expired",
        "amended",
        "restated",
        "status",
    }
)
"""Kraken's `exec_type` table (docs.kraken.com/api/docs/websocket-v2/executions)."""

_WS_ORDER_STATUS = {
    "pending_new": OrderStatus.PENDING_NEW,
    "new": OrderStatus.NEW,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
}


def order_update_from_ws(item: Mapping[str, Any]) -> OrderUpdate:
    """One `executions` channel item as an order state change.

    Kraken's items are sparse per exec_type: only `pending_new` (and snapshot items) carry
    the order's details; a `new` has ids, status and time, a `filled` or `canceled` what
    the order did. Absent progress reads as zero, which never moves an order backwards
    (`OrderManager` keeps the larger). Raises `UnknownExecType` for an undocumented one."""
    item = _mapping(item)
    exec_type = str(item.get("exec_type") or "status")
    if exec_type not in KNOWN_EXEC_TYPES:
        raise UnknownExecType(f"unknown exec_type {exec_type!r}")
    status_text = item.get("order_status")
    if status_text is None:
        status_text = {
            "canceled": "canceled",
            "expired": "expired",
            "filled": "filled",
            "pending_new": "pending_new",
        }.get(exec_type, "new")
    status = _WS_ORDER_STATUS.get(str(status_text))
    if status is None:
        raise MalformedPayload(f"unknown order_status {status_text!r}")
    if exec_type == "filled":
        status = OrderStatus.FILLED
    update = OrderUpdate(
        order_id=str(_get(item, "order_id")),
        cl_ord_id=item.get("cl_ord_id") or None,
        symbol=str(item.get("symbol") or ""),
        status=status,
        exec_type=exec_type,
        filled=_dec(item, "cum_qty", ZERO),
        ts=parse_timestamp(_get(item, "timestamp")),
        avg_price=_opt_dec(item, "avg_price"),
        reason=item.get("reason") or None,
    )
    return replace(update, order=_order_from_ws(item, update))


def _order_from_ws(item: Mapping[str, Any], update: OrderUpdate) -> Order | None:
    """The whole order when the item describes it (snapshot and new-order items carry its
    side, type and size), so an order we did not place can be adopted at once; None for
    items that only report progress, or describe an order type we do not model.

    An order sized in quote carries `cash_order_qty` (the quote amount) instead of
    `order_qty`; `cum_qty` still counts base. Carrying both is contradictory, not partial."""
    quote_volume = _positive(item, "cash_order_qty") if "cash_order_qty" in item else None
    if quote_volume is not None and "order_qty" in item:
        raise MalformedPayload("an order sized both in base (order_qty) and quote")
    if quote_volume is None and "order_qty" not in item:
        return None
    side = _known(Side, item.get("side"))
    order_type = _known(OrderType, item.get("order_type"))
    if side is None or order_type is None or not update.symbol:
        return None
    trigger = None
    triggers = item.get("triggers")
    if isinstance(triggers, Mapping):
        trigger = _opt_dec(triggers, "price")
    return Order(
        cl_ord_id=update.cl_ord_id or f"ext-{update.order_id}",
        symbol=update.symbol,
        side=side,
        order_type=order_type,
        volume=ZERO if quote_volume is not None else _positive(item, "order_qty"),
        status=update.status,
        price=_opt_dec(item, "limit_price"),
        trigger_price=trigger,
        time_in_force=TimeInForce.IOC
        if str(item.get("time_in_force", "")).lower() == "ioc"
        else TimeInForce.GTC,
        post_only=item.get("post_only") is True,
        order_id=update.order_id,
        filled=update.filled,
        avg_price=update.avg_price,
        reason=update.reason,
        external=update.cl_ord_id is None,
        created_at=update.ts if update.exec_type in ("pending_new", "new") else None,
        updated_at=update.ts,
        quote_volume=quote_volume,
    )


def _known(enum: type[_E], value: Any) -> _E | None:
    try:
        return enum(value)
    except ValueError:
        return None


def execution_from_ws(item: Mapping[str, Any], quote_of: SymbolResolver) -> Execution | None:
    """The fill carried by an `exec_type: trade` item, or None for other exec types."""
    item = _mapping(item)
    if item.get("exec_type") != "trade":
        return None
    symbol = str(_get(item, "symbol"))
    fee = ZERO
    fee_ccy = quote_of(symbol)
    fees = item.get("fees")
    if isinstance(fees, list) and fees:
        fee = sum((_dec(_mapping(f), "qty") for f in fees), ZERO)
        fee_ccy = str(_mapping(fees[0]).get("asset") or fee_ccy)
    exec_id = item.get("exec_id") or item.get("trade_id")
    if exec_id is None:
        raise MalformedPayload("trade execution without exec_id/trade_id")
    return Execution(
        exec_id=str(exec_id),
        order_id=str(_get(item, "order_id")),
        symbol=symbol,
        side=_enum(Side, _get(item, "side"), "side"),
        price=_dec(item, "last_price"),
        qty=_dec(item, "last_qty"),
        fee=fee,
        fee_ccy=fee_ccy,
        liquidity=Liquidity.MAKER if item.get("liquidity_ind") == "m" else Liquidity.TAKER,
        ts=parse_timestamp(_get(item, "timestamp")),
        cl_ord_id=item.get("cl_ord_id") or None,
    )


def trade_from_ws(item: Mapping[str, Any]) -> Trade:
    item = _mapping(item)
    return Trade(
        symbol=str(_get(item, "symbol")),
        side=_enum(Side, _get(item, "side"), "side"),
        price=_dec(item, "price"),
        qty=_dec(item, "qty"),
        ts=parse_timestamp(_get(item, "timestamp")),
        trade_id=item.get("trade_id"),
    )


def ticker_from_ws(item: Mapping[str, Any], now: datetime) -> Ticker:
    """Stamped with Kraken's own `timestamp` when the item carries one (its docs' examples
    do), so a ticker read late is not mistaken for a fresh one; `now` otherwise."""
    item = _mapping(item)
    stamp = item.get("timestamp")
    return Ticker(
        symbol=str(_get(item, "symbol")),
        bid=_dec(item, "bid"),
        ask=_dec(item, "ask"),
        last=_dec(item, "last"),
        volume=_dec(item, "volume", ZERO),
        vwap=_opt_dec(item, "vwap"),
        high=_opt_dec(item, "high"),
        low=_opt_dec(item, "low"),
        change_pct=_opt_dec(item, "change_pct"),
        ts=parse_timestamp(stamp) if stamp else now,
    )


def candle_from_ws(item: Mapping[str, Any], closed: bool) -> Candle:
    item = _mapping(item)
    trades = item.get("trades", 0)
    if not isinstance(trades, int):
        raise MalformedPayload("ohlc trades must be an integer")
    return Candle(
        symbol=str(_get(item, "symbol")),
        interval=int(_get(item, "interval")),
        ts=parse_timestamp(_get(item, "interval_begin")),
        open=_dec(item, "open"),
        high=_dec(item, "high"),
        low=_dec(item, "low"),
        close=_dec(item, "close"),
        volume=_dec(item, "volume", ZERO),
        trades=trades,
        closed=closed,
    )


def balances_from_rest(
    result: Mapping[str, Any], display_asset: Callable[[str], str]
) -> dict[str, Balance]:
    """BalanceEx (`{asset: {balance, hold_trade}}`) or Balance (`{asset: "1.0"}`) results."""
    balances: dict[str, Balance] = {}
    for asset, value in result.items():
        name = display_asset(asset)
        if isinstance(value, Mapping):
            total = _dec(value, "balance")
            available = total - _dec(value, "hold_trade", ZERO)
        else:
            total = _dec({"balance": value}, "balance")
            available = total
        balances[name] = Balance(asset=name, total=total, available=available)
    return balances


def balances_from_ws(data: object, display_asset: Callable[[str], str]) -> dict[str, Balance]:
    """A `balances` channel snapshot or update: the spot balance of each asset it names.

    Snapshot entries give the total over all wallets (`balance`) and each wallet apart
    (`wallets`), so the spot wallets are summed: an asset partly in Earn cannot all be
    traded. Update entries are ledger entries (`ledger_id`, `ref_id`, `amount`, `fee`,
    `wallet_type`, `balance` after them); entries of other wallets than spot are skipped
    (docs.kraken.com/api/docs/websocket-v2/balances; krakenfx/kraken-api-sdk
    rust/src/api/account/ws_types.rs). Holds are not in this channel, so `available` is
    only known from REST `BalanceEx`."""
    if not isinstance(data, list):
        raise MalformedPayload("balances data must be a list")
    balances: dict[str, Balance] = {}
    for entry in data:
        item = _mapping(entry)
        wallets = item.get("wallets")
        if wallets is not None:
            total = _spot_total(wallets)
        elif item.get("wallet_type", "spot") == "spot":
            total = _dec(item, "balance")
        else:
            continue
        name = display_asset(str(_get(item, "asset")))
        balances[name] = Balance(asset=name, total=total, available=total)
    return balances


def _spot_total(wallets: object) -> Decimal:
    if not isinstance(wallets, list):
        raise MalformedPayload("balances wallets must be a list")
    spot = (_mapping(wallet) for wallet in wallets)
    return sum((_dec(w, "balance") for w in spot if w.get("type") == "spot"), ZERO)


def candle_from_rest(symbol: str, interval: int, row: object) -> Candle:
    """One REST OHLC row: `[time, open, high, low, close, vwap, volume, count]`."""
    if not isinstance(row, list | tuple) or len(row) < 8:
        raise MalformedPayload(f"OHLC row must have 8 fields, got {row!r}")
    fields = dict(
        zip(("time", "open", "high", "low", "close", "vwap", "volume"), row, strict=False)
    )
    count = row[7]
    if not isinstance(count, int):
        raise MalformedPayload("OHLC trade count must be an integer")
    return Candle(
        symbol=symbol,
        interval=interval,
        ts=parse_timestamp(fields["time"]),
        open=_dec(fields, "open"),
        high=_dec(fields, "high"),
        low=_dec(fields, "low"),
        close=_dec(fields, "close"),
        volume=_dec(fields, "volume", ZERO),
        trades=count,
        closed=True,
    )
