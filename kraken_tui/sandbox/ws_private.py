"""Authenticated WebSocket v2: the `executions` and `balances` channels and the trading
methods (add_order, amend_order, edit_order, cancel_order, cancel_all,
cancel_all_orders_after).

Every private request carries the token from REST GetWebSocketsToken in `params.token`;
the first accepted token binds the connection to its account, as on Kraken, where a token
stays usable for as long as a connection that presented it is open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.domain.money import to_decimal
from kraken_tui.sandbox.auth import Authenticator, AuthError
from kraken_tui.sandbox.errors import (
    UNKNOWN_ORDER,
    VenueError,
    invalid_argument,
    unsupported_field,
    unsupported_pair,
)
from kraken_tui.sandbox.events import ExecType, ExecutionEvent, LedgerPosted, VenueEvent
from kraken_tui.sandbox.order_gateway import OrderGateway, OrderRequest
from kraken_tui.sandbox.records import OrderView, VenueOrderType
from kraken_tui.sandbox.validation import parse_cl_ord_id
from kraken_tui.sandbox.venue import SandboxVenue
from kraken_tui.sandbox.wire import rfc3339, rfc3339_seconds
from kraken_tui.sandbox.ws_batch import BATCH_METHODS, BatchMethods
from kraken_tui.sandbox.ws_public import WsConnection, WsRequestError, ws_ack

PRIVATE_CHANNELS = ("executions", "balances")
PRIVATE_METHODS = (
    "add_order",
    "amend_order",
    "edit_order",
    "cancel_order",
    "cancel_all",
    "cancel_all_orders_after",
    *BATCH_METHODS,
)
_TRIGGERED_TYPES = {VenueOrderType.STOP_LOSS, VenueOrderType.TAKE_PROFIT}
ADD_ORDER_FIELDS = frozenset(
    {
        "order_type",
        "side",
        "order_qty",
        "symbol",
        "limit_price",
        "limit_price_type",
        "triggers",
        "time_in_force",
        "margin",
        "post_only",
        "reduce_only",
        "effective_time",
        "expire_time",
        "deadline",
        "cl_ord_id",
        "order_userref",
        "conditional",
        "display_qty",
        "fee_preference",
        "no_mpp",
        "stp_type",
        "cash_order_qty",
        "validate",
        "sender_sub_id",
        "token",
    }
)
"""The `add_order` parameters Kraken documents (docs.kraken.com/api/docs/websocket-v2/add_order).
Any other name, `leverage` and REST's `userref` included, is refused with `Unsupported field`
(krakenfx/kraken-api-sdk rust/docs/guides/wire-quirks.md)."""
_CANCEL_SELECTORS = (("order_id", "txid"), ("cl_ord_id", "cl_ord_id"), ("order_userref", "userref"))


def _dec(params: Mapping[str, Any], name: str, *, required: bool = False) -> Decimal | None:
    value = params.get(name)
    if value is None:
        if required:
            raise WsRequestError(invalid_argument(name))
        return None
    try:
        return to_decimal(value, name)
    except ValueError as exc:
        raise WsRequestError(invalid_argument(name)) from exc


def _bool(params: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise WsRequestError(invalid_argument(name))
    return value


def _int(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise WsRequestError(invalid_argument(name))
    return value


def execution_item(order: OrderView, exec_type: str, timestamp: float) -> dict[str, Any]:
    """The order-level fields every `executions` message carries. An order sized in quote
    carries `cash_order_qty` (the quote amount) instead of `order_qty`, as it was placed."""
    size_field = "cash_order_qty" if order.volume_in_quote else "order_qty"
    item: dict[str, Any] = {
        "order_id": order.txid,
        "symbol": order.symbol,
        "side": str(order.side),
        "order_type": str(order.order_type),
        size_field: order.volume,
        "order_status": order.ws_status,
        "time_in_force": str(order.time_in_force).upper(),
        "post_only": order.post_only,
        "exec_type": exec_type,
        "cum_qty": order.vol_exec,
        "cum_cost": order.cost,
        "avg_price": order.avg_price,
        "timestamp": rfc3339(timestamp),
    }
    if order.symbol.endswith("/USD"):
        item["fee_usd_equiv"] = order.fee
    if order.price is not None:
        item["limit_price"] = order.price
    if order.trigger_price is not None:
        item["triggers"] = {
            "reference": "last",
            "price": order.trigger_price,
            "price_type": "static",
            "status": "triggered" if order.triggered else "untriggered",
        }
    if order.cl_ord_id is not None:
        item["cl_ord_id"] = order.cl_ord_id
    if order.userref is not None:
        item["order_userref"] = order.userref
    return item


def _ids(order: OrderView) -> dict[str, Any]:
    ids: dict[str, Any] = {"order_id": order.txid}
    if order.cl_ord_id is not None:
        ids["cl_ord_id"] = order.cl_ord_id
    if order.userref is not None:
        ids["order_userref"] = order.userref
    return ids


def _progress(order: OrderView) -> dict[str, Any]:
    """What an order has done so far, as `trade`, `filled` and `canceled` items carry it."""
    progress: dict[str, Any] = {
        "cum_qty": order.vol_exec,
        "cum_cost": order.cost,
        "avg_price": order.avg_price,
    }
    if order.symbol.endswith("/USD"):
        progress["fee_usd_equiv"] = order.fee
    return progress


def _event_item(event: ExecutionEvent) -> dict[str, Any]:
    """One `executions` update, carrying only the fields Kraken sends for its exec_type:
    the order's details once, on `pending_new`; later items its ids, status and what
    changed. Sources: docs.kraken.com/api/docs/websocket-v2/executions (examples of
    pending_new, new and trade) and krakenfx/kraken-api-sdk
    rust/src/api/account/ws_types.rs tests (sparse new; canceled with `cancel_reason`,
    `reason`, `cum_qty`, `cum_cost`, `avg_price`, `fee_usd_equiv`). Kraken shows no
    `filled`, `expired`, `amended` or `status` example: they carry what `canceled` does
    (progress and reason) or, for amends and triggers, the changed fields."""
    order, exec_type = event.order, event.exec_type
    if exec_type is ExecType.PENDING_NEW:
        item = execution_item(order, str(exec_type), event.timestamp)
        item["fee_ccy_pref"] = "fcib" if order.fee_in_base else "fciq"
        if not order.post_only:
            del item["post_only"]
        return item
    item = {
        **_ids(order),
        "exec_type": str(exec_type),
        "order_status": order.ws_status,
        "timestamp": rfc3339(event.timestamp),
    }
    if exec_type is ExecType.TRADE:
        item.update(
            {
                "exec_id": event.exec_id,
                "trade_id": event.public_trade_id,
                "symbol": order.symbol,
                "side": str(order.side),
                "order_type": str(order.order_type),
                "last_qty": event.last_qty,
                "last_price": event.last_price,
                "cost": (event.last_qty or Decimal(0)) * (event.last_price or Decimal(0)),
                "liquidity_ind": str(event.liquidity_ind) if event.liquidity_ind else None,
                "fees": [{"asset": event.fee_asset or "", "qty": event.last_fee or Decimal(0)}],
                **_progress(order),
            }
        )
    elif exec_type in (ExecType.FILLED, ExecType.CANCELED, ExecType.EXPIRED):
        item.update(_progress(order))
    elif exec_type is ExecType.AMENDED:
        item.update({"amended": True, "order_qty": order.volume})
        if order.price is not None:
            item["limit_price"] = order.price
    if exec_type is ExecType.AMENDED or exec_type is ExecType.STATUS:
        full = execution_item(order, str(exec_type), event.timestamp)
        if "triggers" in full:
            item["triggers"] = full["triggers"]
    if event.reason is not None:
        item["reason"] = event.reason
        if exec_type is ExecType.CANCELED:
            item["cancel_reason"] = event.reason
    return item


class PrivateChannels:
    def __init__(
        self, venue: SandboxVenue, gateway: OrderGateway, authenticator: Authenticator
    ) -> None:
        self._venue = venue
        self._gateway = gateway
        self._auth = authenticator
        self._executions: dict[str, set[WsConnection]] = defaultdict(set)
        self._balances: dict[str, set[WsConnection]] = defaultdict(set)
        self._sequences: dict[WsConnection, int] = {}
        self._batches = BatchMethods(venue, gateway, self._order_request)

    def _next_sequence(self, conn: WsConnection) -> int:
        """Kraken numbers each connection's `executions` messages 1, 2, 3…, so a client can
        tell it missed one."""
        sequence = self._sequences.get(conn, 0) + 1
        self._sequences[conn] = sequence
        return sequence

    def on_venue_event(self, event: VenueEvent) -> None:
        if isinstance(event, ExecutionEvent):
            members = self._executions.get(event.api_key)
            if members:
                data = [_event_item(event)]
                for conn in members:
                    conn.send(
                        {
                            "channel": "executions",
                            "type": "update",
                            "data": data,
                            "sequence": self._next_sequence(conn),
                        }
                    )
        elif isinstance(event, LedgerPosted):
            members = self._balances.get(event.entry.api_key)
            if members:
                message = {"channel": "balances", "type": "update", "data": [_balance_item(event)]}
                for conn in members:
                    conn.send(message)

    def drop(self, conn: WsConnection) -> None:
        for members in (*self._executions.values(), *self._balances.values()):
            members.discard(conn)
        self._sequences.pop(conn, None)

    def account(self, conn: WsConnection, params: Mapping[str, Any]) -> str:
        """The account the request acts for. A token stays good on the connection that
        first presented it even after its 15 minutes, as on Kraken; any other token must
        be unexpired."""
        if not conn.authenticated_endpoint:
            raise WsRequestError("EGeneral:Permission denied")
        token = params.get("token")
        if conn.account is not None and token is not None and token == conn.token:
            return conn.account
        try:
            account = self._auth.account_for_token(token)
        except AuthError as exc:
            raise WsRequestError(exc.kraken_error) from exc
        conn.account, conn.token = account, str(token)
        return account

    # ---- channels --------------------------------------------------------------------
    def subscribe(
        self,
        conn: WsConnection,
        channel: str,
        params: Mapping[str, Any],
        time_in: float,
        req_id: object,
    ) -> None:
        account = self.account(conn, params)
        if channel == "executions":
            snap_orders = _bool(params, "snap_orders", True)
            snap_trades = _bool(params, "snap_trades", False)
            self._executions[account].add(conn)
            conn.send(
                ws_ack(
                    "subscribe",
                    time_in,
                    req_id,
                    result={
                        "channel": channel,
                        "snap_orders": snap_orders,
                        "snap_trades": snap_trades,
                    },
                )
            )
            executions = self._executions_snapshot(account, snap_orders, snap_trades)
            conn.send({**executions, "sequence": self._next_sequence(conn)})
        else:
            snapshot = _bool(params, "snapshot", True)
            self._balances[account].add(conn)
            conn.send(
                ws_ack(
                    "subscribe", time_in, req_id, result={"channel": channel, "snapshot": snapshot}
                )
            )
            if snapshot:
                conn.send(self._balances_snapshot(account))
        conn.has_subscription = True

    def unsubscribe(
        self,
        conn: WsConnection,
        channel: str,
        params: Mapping[str, Any],
        time_in: float,
        req_id: object,
    ) -> None:
        account = self.account(conn, params)
        registry = self._executions if channel == "executions" else self._balances
        if conn not in registry[account]:
            raise WsRequestError("Subscription Not Found")
        registry[account].discard(conn)
        conn.send(ws_ack("unsubscribe", time_in, req_id, result={"channel": channel}))

    def _executions_snapshot(
        self, account: str, snap_orders: bool, snap_trades: bool
    ) -> dict[str, Any]:
        data: list[dict[str, Any]] = []
        if snap_orders:
            data.extend(
                # a snapshot states each open order; "trade" would claim a fill it cannot carry
                execution_item(order, "new" if order.vol_exec == 0 else "status", order.opentm)
                for order in self._venue.open_orders(account)
            )
        if snap_trades:
            for fill in self._venue.recent_fills(account, 50):
                data.append(
                    {
                        "order_id": fill.order_txid,
                        "exec_id": fill.trade_id,
                        "exec_type": "trade",
                        "trade_id": fill.public_trade_id,
                        "symbol": fill.symbol,
                        "side": str(fill.side),
                        "order_type": str(fill.order_type),
                        "last_qty": fill.vol,
                        "last_price": fill.price,
                        "cost": fill.cost,
                        "liquidity_ind": "m" if fill.maker else "t",
                        "fees": [{"asset": fill.fee_asset, "qty": fill.fee}],
                        "timestamp": rfc3339(fill.time),
                    }
                )
        return {"channel": "executions", "type": "snapshot", "data": data}

    def _balances_snapshot(self, account: str) -> dict[str, Any]:
        registry = self._venue.pairs
        data = []
        for code, amount in self._venue.balances(account).items():
            asset = registry.asset(code)
            data.append(
                {
                    "asset": asset.display,
                    "asset_class": "currency",
                    "balance": amount,
                    "wallets": [{"type": "spot", "id": "main", "balance": amount}],
                }
            )
        return {"channel": "balances", "type": "snapshot", "data": data}

    # ---- trading methods ------------------------------------------------------------------
    def handle(
        self,
        conn: WsConnection,
        method: str,
        params: Mapping[str, Any],
        time_in: float,
        req_id: object,
    ) -> None:
        account = self.account(conn, params)
        try:
            if method == "cancel_order":
                self._cancel_order(conn, account, params, time_in, req_id)
                return
            if method in BATCH_METHODS:
                # batch_add's result is a list, which ws_ack's mapping cannot carry
                batch_result = self._batches.handle(account, method, params)
                conn.send({**ws_ack(method, time_in, req_id), "result": batch_result})
                return
            result = self._dispatch(account, method, params)
        except VenueError as exc:
            conn.send(ws_ack(method, time_in, req_id, error=exc.error))
            return
        conn.send(ws_ack(method, time_in, req_id, result=result))

    def _dispatch(self, account: str, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if method == "add_order":
            order = self._order_request(params)
            added = self._gateway.add(account, order)
            # validate=true places nothing and answers an empty order_id (wire-quirks.md)
            result: dict[str, Any] = {"order_id": added.txid or ""}
            if order.cl_ord_id is not None:
                result["cl_ord_id"] = order.cl_ord_id
            if order.userref is not None:
                result["order_userref"] = order.userref
            return result
        if method == "amend_order":
            amended = self._gateway.amend(
                account,
                txid=params.get("order_id"),
                cl_ord_id=params.get("cl_ord_id"),
                order_qty=_dec(params, "order_qty"),
                limit_price=_dec(params, "limit_price"),
                trigger_price=_dec(params, "trigger_price"),
                post_only=_bool(params, "post_only"),
            )
            result = {"amend_id": amended.amend_id, "order_id": amended.txid}
            if params.get("cl_ord_id") is not None:
                result["cl_ord_id"] = params["cl_ord_id"]
            return result
        if method == "edit_order":
            order_id = params.get("order_id")
            if not isinstance(order_id, str):
                raise VenueError(invalid_argument("order_id"))
            edited = self._gateway.edit(
                account,
                txid=order_id,
                volume=_dec(params, "order_qty"),
                price=_dec(params, "limit_price"),
                trigger_price=_dec(params.get("triggers") or {}, "price"),
                userref=_int(params, "order_userref"),
                post_only=params.get("post_only")
                if isinstance(params.get("post_only"), bool)
                else None,
                validate=_bool(params, "validate"),
            )
            return {"order_id": edited.new.txid, "original_order_id": edited.original.txid}
        if method == "cancel_all":
            return {"count": self._gateway.cancel_all(account).count}
        timeout = _int(params, "timeout")
        if timeout is None or not 0 <= timeout < 86400:
            raise VenueError(invalid_argument("timeout"))
        switch = self._gateway.cancel_all_orders_after(account, timeout)
        return {
            "currentTime": rfc3339_seconds(switch.current_time),
            "triggerTime": "0"
            if switch.trigger_time is None
            else rfc3339_seconds(switch.trigger_time),
        }

    def _cancel_order(
        self,
        conn: WsConnection,
        account: str,
        params: Mapping[str, Any],
        time_in: float,
        req_id: object,
    ) -> None:
        """Kraken answers a multi-order cancel with one response per cancelled order, each
        naming it by its Kraken `order_id` whichever identifier the request used, plus the
        "optional client identifier" `cl_ord_id` when that is what the request named
        (docs.kraken.com/api/docs/websocket-v2/cancel_order)."""
        given = [(name, kwarg) for name, kwarg in _CANCEL_SELECTORS if name in params]
        if len(given) != 1:
            # the three identifier lists "cannot be combined in the same request"
            raise VenueError(invalid_argument(given[1][0] if given else "order_id"))
        field_name, kwarg = given[0]
        values = params[field_name]
        if not isinstance(values, list) or not values:
            raise VenueError(invalid_argument(field_name))
        for value in values:
            selected = self._venue.open_orders(
                account,
                userref=value if kwarg == "userref" else None,
                cl_ord_id=value if kwarg == "cl_ord_id" else None,
            )
            if kwarg == "txid":
                selected = [order for order in selected if order.txid == value]
            if not selected:
                conn.send(ws_ack("cancel_order", time_in, req_id, error=UNKNOWN_ORDER))
                continue
            for order in selected:
                try:
                    self._gateway.cancel(account, txid=order.txid)
                except VenueError as exc:
                    conn.send(ws_ack("cancel_order", time_in, req_id, error=exc.error))
                    continue
                result: dict[str, Any] = {"order_id": order.txid}
                if kwarg == "cl_ord_id":
                    result["cl_ord_id"] = value
                conn.send(ws_ack("cancel_order", time_in, req_id, result=result))

    def _order_request(self, params: Mapping[str, Any]) -> OrderRequest:
        for name in params:
            if name not in ADD_ORDER_FIELDS:
                raise VenueError(unsupported_field(name))
        try:
            order_type = VenueOrderType(str(params.get("order_type")))
        except ValueError as exc:
            raise VenueError(invalid_argument("order_type")) from exc
        try:
            side = Side(str(params.get("side")))
        except ValueError as exc:
            raise VenueError(invalid_argument("side")) from exc
        symbol = params.get("symbol")
        if not isinstance(symbol, str):
            raise VenueError(invalid_argument("symbol"))
        pair = self._venue.pairs.find(symbol)
        if pair is None or pair.symbol != symbol:
            raise VenueError(unsupported_pair(symbol))
        tif_text = str(params.get("time_in_force", "gtc")).lower()
        if tif_text not in ("gtc", "ioc"):
            raise VenueError(invalid_argument("time_in_force"))
        cl_ord_id = params.get("cl_ord_id")
        userref = _int(params, "order_userref")
        if cl_ord_id is not None:
            cl_ord_id = parse_cl_ord_id(cl_ord_id)
            if userref is not None:
                raise VenueError(invalid_argument("cl_ord_id"))
        triggers = params.get("triggers") or {}
        if not isinstance(triggers, Mapping):
            raise VenueError(invalid_argument("triggers"))
        trigger_price = _dec(triggers, "price")
        limit_price = _dec(params, "limit_price")
        if order_type in _TRIGGERED_TYPES and trigger_price is None:
            trigger_price, limit_price = limit_price, None
        order_qty = _dec(params, "order_qty")
        cash_order_qty = _dec(params, "cash_order_qty")
        if cash_order_qty is not None and (
            order_qty is not None or side is not Side.BUY or order_type is not VenueOrderType.MARKET
        ):
            raise VenueError(invalid_argument("cash_order_qty"))
        volume = order_qty if cash_order_qty is None else cash_order_qty
        if volume is None:
            raise VenueError(invalid_argument("order_qty"))
        return OrderRequest(
            pair=symbol,
            side=side,
            order_type=order_type,
            volume=volume,
            price=limit_price,
            trigger_price=trigger_price,
            post_only=_bool(params, "post_only"),
            time_in_force=TimeInForce(tif_text),
            userref=userref,
            cl_ord_id=cl_ord_id,
            validate=_bool(params, "validate"),
            volume_in_quote=cash_order_qty is not None,
            fee_in_base=_fee_preference(params),
        )


def _fee_preference(params: Mapping[str, Any]) -> bool | None:
    """WS v2 `fee_preference` (`base` | `quote`), REST's `fcib`/`fciq`; absent: Kraken's
    default by side (docs.kraken.com/api/docs/websocket-v2/add_order)."""
    value = params.get("fee_preference")
    if value is None:
        return None
    if value not in ("base", "quote"):
        raise VenueError(invalid_argument("fee_preference"))
    return value == "base"


def _balance_item(event: LedgerPosted) -> dict[str, Any]:
    """One ledger entry as a `balances` update: its own `ledger_id`, the transaction as
    `ref_id`, the fee apart from the amount, `balance` after it (docs.kraken.com/api/docs/
    websocket-v2/balances; the trade payload in krakenfx/kraken-api-sdk
    rust/src/api/account/ws_types.rs tests: `type` and `category` `trade`, `wallet_type`
    `spot`, `wallet_id` `main`)."""
    entry = event.entry
    return {
        "ledger_id": entry.ledger_id,
        "ref_id": entry.refid,
        "timestamp": rfc3339(entry.time),
        "type": entry.type,
        "asset": event.display,
        "asset_class": "currency",
        "category": entry.type,
        "wallet_type": "spot",
        "wallet_id": "main",
        "amount": entry.amount,
        "fee": entry.fee,
        "balance": entry.balance,
    }
