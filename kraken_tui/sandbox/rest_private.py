"""REST `/0/private/*`: account queries and trading, with Kraken's parameter names and
result shapes (amounts as strings rendered with the pair's or asset's precision).

Authentication and the REST call counter are applied by the server before a handler runs;
trading calls go through the `OrderGateway`, which applies the trading counter and order
faults shared with the WebSocket methods."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.domain.money import to_decimal
from kraken_tui.sandbox.auth import Authenticator
from kraken_tui.sandbox.errors import VenueError, invalid_argument
from kraken_tui.sandbox.ledger_history import LedgerEntry
from kraken_tui.sandbox.order_gateway import OrderGateway, OrderRequest
from kraken_tui.sandbox.order_text import describe_order
from kraken_tui.sandbox.pairs import PairInfo
from kraken_tui.sandbox.records import FillView, OrderView, VenueOrderType
from kraken_tui.sandbox.rest_public import UNKNOWN_METHOD, parse_float, parse_int
from kraken_tui.sandbox.trade_volume import (
    THIRTY_DAYS_S,
    requested_pairs,
    trade_volume,
    usd_volume,
)
from kraken_tui.sandbox.validation import parse_cl_ord_id
from kraken_tui.sandbox.venue import SandboxVenue
from kraken_tui.sandbox.wire import fixed, rfc3339_seconds

Params = Mapping[str, Any]
_TRUE = {"true", "1", "yes"}
_SUPPORTED_OFLAGS = {"post", "fcib", "fciq", "nompp", "viqc"}
_STOP_TYPES = {VenueOrderType.STOP_LOSS, VenueOrderType.TAKE_PROFIT}
_STOP_LIMIT_TYPES = {VenueOrderType.STOP_LOSS_LIMIT, VenueOrderType.TAKE_PROFIT_LIMIT}
_MAX_QUERIED_IDS = 20
_LEDGER_TYPES = frozenset(
    # api-specs spot-rest/schemas/requests/user/ledgers/info.yaml, `type`
    {
        "all", "trade", "deposit", "withdrawal", "transfer", "margin", "adjustment",
        "rollover", "credit", "settled", "staking", "dividend", "sale", "nft_rebate",
    }
)  # fmt: skip


def _flag(params: Params, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, bool):
        return value
    return str(value).lower() in _TRUE if value is not None else False


def _decimal(params: Params, name: str, *, required: bool = False) -> Decimal | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise VenueError(invalid_argument(name))
        return None
    try:
        return to_decimal(value if not isinstance(value, float) else repr(value), name)
    except ValueError as exc:
        raise VenueError(invalid_argument(name)) from exc


def _userref(params: Params) -> int | None:
    value = params.get("userref")
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise VenueError(invalid_argument("userref")) from exc
    if not -(2**31) <= number < 2**31:
        raise VenueError(invalid_argument("userref"))
    return number


def _text(params: Params, name: str) -> str | None:
    value = params.get(name)
    return None if value is None or value == "" else str(value)


def _id_list(params: Params, name: str) -> list[str]:
    """QueryTrades `txid` / QueryLedgers `id`: a comma list of at most 20 ids."""
    ids = [i.strip() for i in (_text(params, name) or "").split(",") if i.strip()]
    if not ids or len(ids) > _MAX_QUERIED_IDS:
        raise VenueError(invalid_argument(name))
    return ids


class PrivateRest:
    def __init__(
        self, venue: SandboxVenue, gateway: OrderGateway, authenticator: Authenticator
    ) -> None:
        self._venue = venue
        self._gateway = gateway
        self._auth = authenticator
        self._methods: dict[str, Callable[[str, Params], Any]] = {
            "Balance": self._balance,
            "BalanceEx": self._balance_ex,
            "TradeBalance": self._trade_balance,
            "OpenOrders": self._open_orders,
            "ClosedOrders": self._closed_orders,
            "QueryOrders": self._query_orders,
            "TradesHistory": self._trades_history,
            "QueryTrades": self._query_trades,
            "Ledgers": self._ledgers,
            "QueryLedgers": self._query_ledgers,
            "OrderAmends": self._order_amends,
            "AddOrder": self._add_order,
            "AddOrderBatch": self._add_order_batch,
            "AmendOrder": self._amend_order,
            "EditOrder": self._edit_order,
            "CancelOrder": self._cancel_order,
            "CancelOrderBatch": self._cancel_order_batch,
            "CancelAll": self._cancel_all,
            "CancelAllOrdersAfter": self._cancel_all_orders_after,
            "GetWebSocketsToken": self._ws_token,
            "TradeVolume": self._trade_volume,
        }

    def knows(self, method: str) -> bool:
        return method in self._methods

    def handle(self, account: str, method: str, params: Params) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise VenueError(UNKNOWN_METHOD)
        return handler(account, params)

    # ---- rendering -----------------------------------------------------------------------
    def _pair(self, symbol: str) -> PairInfo:
        return self._venue.pairs.resolve(symbol)

    def _asset_amount(self, code: str, amount: Decimal) -> str:
        return fixed(amount, self._venue.pairs.asset(code).decimals)

    def _order_json(self, order: OrderView, with_trades: bool) -> dict[str, Any]:
        pair = self._pair(order.symbol)
        p, q = pair.pair_decimals, pair.lot_decimals
        price_field = order.trigger_price if order.order_type.is_triggered else order.price
        price2 = order.price if order.order_type in _STOP_LIMIT_TYPES else None
        oflags = ["fcib" if order.fee_in_base else "fciq"] + (["post"] if order.post_only else [])
        if order.volume_in_quote:
            oflags.append("viqc")
        # Kraken does not document `vol` of a viqc order; the sandbox reports the quote
        # amount it was given (on the cost grid), `vol_exec` being the base it bought.
        vol_decimals = pair.cost_decimals if order.volume_in_quote else q
        entry: dict[str, Any] = {
            "refid": None,
            "userref": order.userref if order.userref is not None else 0,
            "cl_ord_id": order.cl_ord_id,
            "status": str(order.status),
            "opentm": round(order.opentm, 4),
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": pair.altname,
                "type": str(order.side),
                "ordertype": str(order.order_type),
                "price": fixed(price_field, p) if price_field is not None else "0",
                "price2": fixed(price2, p) if price2 is not None else "0",
                "leverage": "none",
                "order": describe_order(
                    pair,
                    order.side,
                    order.order_type,
                    order.volume,
                    order.price,
                    order.trigger_price,
                    volume_in_quote=order.volume_in_quote,
                ),
                "close": "",
            },
            "vol": fixed(order.volume, vol_decimals),
            "vol_exec": fixed(order.vol_exec, q),
            "cost": fixed(order.cost, pair.cost_decimals),
            "fee": fixed(order.fee, pair.cost_decimals),
            "price": fixed(order.avg_price, p),
            "stopprice": fixed(order.trigger_price or Decimal(0), p),
            "limitprice": fixed(order.price or Decimal(0), p),
            "misc": "",
            "oflags": ",".join(oflags),
            "timeinforce": str(order.time_in_force).upper(),
        }
        if order.closetm is not None:
            entry["closetm"] = round(order.closetm, 4)
            entry["reason"] = order.reason
        if with_trades:
            entry["trades"] = [
                fill.trade_id
                for fill in self._venue.recent_fills(order.api_key, 10_000)
                if fill.order_txid == order.txid
            ]
        return entry

    def _fill_json(self, fill: FillView, with_ledgers: bool = False) -> dict[str, Any]:
        """A TradesHistory/QueryTrades entry (krakenfx/api-specs spot-rest/schemas/objects/
        user/trades/trade.yaml): `pair` is the REST pair key (`XXBTZUSD`) and `aclass` is
        present, as in the spec's examples and the official SDK's TradeHistoryEntry
        (krakenfx/kraken-api-sdk rust/src/api/account/types.rs), which also requires
        `tradeordertype`: how the fill executed (a triggered stop fills as market)."""
        pair = self._pair(fill.symbol)
        p, q, c = pair.pair_decimals, pair.lot_decimals, pair.cost_decimals
        entry: dict[str, Any] = {
            "ordertxid": fill.order_txid,
            "postxid": fill.position_txid,
            "pair": pair.rest_name,
            "aclass": "currency",
            "time": round(fill.time, 4),
            "type": str(fill.side),
            "ordertype": str(fill.order_type),
            "tradeordertype": "limit" if fill.order_type.has_limit_price else "market",
            "price": fixed(fill.price, p),
            "cost": fixed(fill.cost, c),
            # api-specs spot-rest/schemas/objects/user/trades/trade.yaml: "Total fee (quote
            # currency)", also for a fee paid in base (fcib), which the ledgers itemize
            "fee": fixed(
                fill.fee if fill.fee_asset == pair.quote.code else fill.fee * fill.price, c
            ),
            "vol": fixed(fill.vol, q),
            "margin": fixed(fill.margin, c),
            "leverage": "0",
            "misc": "",
            "trade_id": fill.public_trade_id,
            "maker": fill.maker,
        }
        if with_ledgers:
            entry["ledgers"] = self._venue.ledger_ids_of(fill.trade_id)
        return entry

    def _ledger_json(self, entry: LedgerEntry) -> dict[str, Any]:
        """A Ledgers/QueryLedgers entry (api-specs spot-rest/schemas/objects/user/ledgers/
        ledger.yaml): amounts as strings with the asset's `decimals`, `time` a number."""
        return {
            "refid": entry.refid,
            "time": round(entry.time, 4),
            "type": entry.type,
            "subtype": entry.subtype,
            "aclass": "currency",
            "asset": entry.asset,
            "amount": self._asset_amount(entry.asset, entry.amount),
            "fee": self._asset_amount(entry.asset, entry.fee),
            "balance": self._asset_amount(entry.asset, entry.balance),
        }

    # ---- account ---------------------------------------------------------------------------
    def _balance(self, account: str, _: Params) -> dict[str, str]:
        return {
            code: self._asset_amount(code, amount)
            for code, amount in self._venue.balances(account).items()
        }

    def _balance_ex(self, account: str, _: Params) -> dict[str, Any]:
        return {
            code: {
                "balance": self._asset_amount(code, entry.balance),
                "hold_trade": self._asset_amount(code, entry.hold_trade),
            }
            for code, entry in self._venue.balances_ex(account).items()
        }

    def _trade_balance(self, account: str, params: Params) -> dict[str, str]:
        asset = self._venue.pairs.asset(_text(params, "asset") or "ZUSD")
        tb = self._venue.trade_balance(account, asset.code)
        d = asset.decimals
        return {
            "eb": fixed(tb.equivalent_balance, d),
            "tb": fixed(tb.trade_balance, d),
            "m": fixed(tb.margin, d),
            "n": fixed(tb.unrealized_pnl, d),
            "c": fixed(tb.cost_basis, d),
            "v": fixed(tb.floating_valuation, d),
            "e": fixed(tb.equity, d),
            "mf": fixed(tb.free_margin, d),
            "uv": fixed(tb.unexecuted_value, d),
        }

    def _open_orders(self, account: str, params: Params) -> dict[str, Any]:
        trades = _flag(params, "trades")
        orders = self._venue.open_orders(
            account, userref=_userref(params), cl_ord_id=_text(params, "cl_ord_id")
        )
        return {"open": {o.txid: self._order_json(o, trades) for o in orders}}

    def _closed_orders(self, account: str, params: Params) -> dict[str, Any]:
        trades = _flag(params, "trades")
        page = self._venue.closed_orders(
            account,
            start=_text(params, "start"),
            end=_text(params, "end"),
            offset=parse_int(params, "ofs", 0) or 0,
            userref=_userref(params),
            cl_ord_id=_text(params, "cl_ord_id"),
        )
        return {
            "closed": {o.txid: self._order_json(o, trades) for o in page.items},
            "count": page.count,
        }

    def _query_orders(self, account: str, params: Params) -> dict[str, Any]:
        txids = [t for t in (_text(params, "txid") or "").split(",") if t]
        if not txids or len(txids) > 50:
            raise VenueError(invalid_argument("txid"))
        trades = _flag(params, "trades")
        return {
            o.txid: self._order_json(o, trades) for o in self._venue.query_orders(account, txids)
        }

    def _trades_history(self, account: str, params: Params) -> dict[str, Any]:
        page = self._venue.trades_history(
            account,
            start=_text(params, "start"),
            end=_text(params, "end"),
            offset=parse_int(params, "ofs", 0) or 0,
        )
        return {
            "trades": {
                fill.trade_id: self._fill_json(fill, _flag(params, "ledgers"))
                for fill in page.items
            },
            "count": page.count,
        }

    def _query_trades(self, account: str, params: Params) -> dict[str, Any]:
        txids = _id_list(params, "txid")
        with_ledgers = _flag(params, "ledgers")
        return {
            fill.trade_id: self._fill_json(fill, with_ledgers)
            for fill in self._venue.query_trades(account, txids)
        }

    def _ledgers(self, account: str, params: Params) -> dict[str, Any]:
        asset_text = _text(params, "asset") or "all"
        assets = None if asset_text == "all" else [a.strip() for a in asset_text.split(",")]
        entry_type = _text(params, "type") or "all"
        if entry_type not in _LEDGER_TYPES:
            raise VenueError(invalid_argument("type"))
        page = self._venue.ledgers(
            account,
            assets=assets,
            entry_type=None if entry_type == "all" else entry_type,
            start=_text(params, "start"),
            end=_text(params, "end"),
            offset=parse_int(params, "ofs", 0) or 0,
        )
        result: dict[str, Any] = {
            "ledger": {entry.ledger_id: self._ledger_json(entry) for entry in page.items}
        }
        if not _flag(params, "without_count"):
            result["count"] = page.count
        return result

    def _query_ledgers(self, account: str, params: Params) -> dict[str, Any]:
        ids = _id_list(params, "id")
        return {
            entry.ledger_id: self._ledger_json(entry)
            for entry in self._venue.query_ledgers(account, ids)
        }

    def _order_amends(self, account: str, params: Params) -> dict[str, Any]:
        """api-specs openapi_v3.yaml /private/OrderAmends: `amends` oldest first, the
        original order first, `timestamp` in integer nanoseconds as in its example."""
        txid = _text(params, "order_id")
        if txid is None:
            raise VenueError(invalid_argument("order_id"))
        amends = self._venue.order_amends(account, txid)
        (order,) = self._venue.query_orders(account, [txid])
        pair = self._pair(order.symbol)
        rows = []
        for amend in amends:
            row: dict[str, Any] = {
                "amend_id": amend.amend_id,
                "amend_type": amend.amend_type,
                "order_qty": fixed(amend.order_qty, pair.lot_decimals),
                "remaining_qty": fixed(amend.remaining_qty, pair.lot_decimals),
            }
            if amend.limit_price is not None:
                row["limit_price"] = fixed(amend.limit_price, pair.pair_decimals)
            if amend.trigger_price is not None:
                row["trigger_price"] = fixed(amend.trigger_price, pair.pair_decimals)
            if amend.post_only:
                row["post_only"] = True
            row["timestamp"] = round(amend.timestamp * 1_000_000_000)
            rows.append(row)
        return {"amends": rows, "count": len(rows)}

    def _trade_volume(self, account: str, params: Params) -> dict[str, Any]:
        pairs = requested_pairs(_text(params, "pair"), self._venue.pairs.resolve)
        since = self._venue.now() - THIRTY_DAYS_S
        fills = self._venue.trades_history(account, start=since, limit=sys.maxsize).items
        fees = self._venue.fees
        return trade_volume(usd_volume(fills), pairs, fees.maker, fees.taker)

    def _ws_token(self, account: str, _: Params) -> dict[str, Any]:
        token, expires = self._auth.issue_ws_token(account)
        return {"token": token, "expires": expires}

    # ---- trading -----------------------------------------------------------------------------
    def _order_request(self, params: Params, pair_name: str | None = None) -> OrderRequest:
        try:
            order_type = VenueOrderType(str(params.get("ordertype")))
        except ValueError as exc:
            raise VenueError(invalid_argument("ordertype")) from exc
        try:
            side = Side(str(params.get("type")))
        except ValueError as exc:
            raise VenueError(invalid_argument("type")) from exc
        pair = pair_name or _text(params, "pair")
        if pair is None:
            raise VenueError(invalid_argument("pair"))
        oflags = {f for f in str(params.get("oflags") or "").split(",") if f}
        if oflags - _SUPPORTED_OFLAGS or {"fcib", "fciq"} <= oflags:
            raise VenueError(invalid_argument("oflags"))
        tif_text = (_text(params, "timeinforce") or "GTC").lower()
        if tif_text not in ("gtc", "ioc"):
            raise VenueError(invalid_argument("timeinforce"))
        userref = _userref(params)
        cl_ord_id = _text(params, "cl_ord_id")
        if cl_ord_id is not None:
            cl_ord_id = parse_cl_ord_id(cl_ord_id)
        if userref is not None and cl_ord_id is not None:
            raise VenueError(invalid_argument("cl_ord_id"))
        price = _decimal(params, "price")
        price2 = _decimal(params, "price2")
        trigger_price: Decimal | None = None
        if order_type in _STOP_TYPES:
            trigger_price, price = price, None
        elif order_type in _STOP_LIMIT_TYPES:
            trigger_price, price = price, price2
        return OrderRequest(
            pair=pair,
            side=side,
            order_type=order_type,
            volume=_decimal(params, "volume", required=True) or Decimal(0),
            price=price,
            trigger_price=trigger_price,
            post_only="post" in oflags,
            time_in_force=TimeInForce(tif_text),
            userref=userref,
            cl_ord_id=cl_ord_id,
            validate=_flag(params, "validate"),
            volume_in_quote="viqc" in oflags,
            fee_in_base=True if "fcib" in oflags else False if "fciq" in oflags else None,
        )

    def _add_order(self, account: str, params: Params) -> dict[str, Any]:
        request = self._order_request(params)
        added = self._gateway.add(account, request)
        result: dict[str, Any] = {"descr": {"order": added.description}}
        if added.txid is not None:
            result["txid"] = [added.txid]
        return result

    def _add_order_batch(self, account: str, params: Params) -> dict[str, Any]:
        orders = params.get("orders")
        pair = _text(params, "pair")
        if not isinstance(orders, list) or not 2 <= len(orders) <= 15 or pair is None:
            raise VenueError(invalid_argument("orders"))
        validate = _flag(params, "validate")
        requests = []
        for order in orders:
            if not isinstance(order, Mapping):
                raise VenueError(invalid_argument("orders"))
            requests.append(self._order_request({**order, "validate": validate}, pair))
        results: list[dict[str, Any]] = []
        for request in requests:
            try:
                added = self._gateway.add(account, request)
            except VenueError as exc:
                results.append({"error": exc.error})
                continue
            entry: dict[str, Any] = {"descr": {"order": added.description}}
            if added.txid is not None:
                entry["txid"] = added.txid
            if request.cl_ord_id is not None:
                entry["cl_ord_id"] = request.cl_ord_id
            results.append(entry)
        return {"orders": results}

    def _amend_order(self, account: str, params: Params) -> dict[str, Any]:
        amended = self._gateway.amend(
            account,
            txid=_text(params, "txid"),
            cl_ord_id=_text(params, "cl_ord_id"),
            order_qty=_decimal(params, "order_qty"),
            limit_price=_decimal(params, "limit_price"),
            trigger_price=_decimal(params, "trigger_price"),
            post_only=_flag(params, "post_only"),
        )
        return {"amend_id": amended.amend_id}

    def _edit_order(self, account: str, params: Params) -> dict[str, Any]:
        txid = _text(params, "txid")
        if txid is None:
            raise VenueError(invalid_argument("txid"))
        original = self._gateway.find_open(account, txid=txid, cl_ord_id=None)
        price = _decimal(params, "price")
        price2 = _decimal(params, "price2")
        trigger: Decimal | None = None
        if original.order_type in _STOP_TYPES:
            trigger, price = price, None
        elif original.order_type in _STOP_LIMIT_TYPES:
            trigger, price = price, price2
        oflags = {f for f in str(params.get("oflags") or "").split(",") if f}
        edited = self._gateway.edit(
            account,
            txid=txid,
            volume=_decimal(params, "volume"),
            price=price,
            trigger_price=trigger,
            userref=_userref(params),
            post_only=("post" in oflags) if oflags else None,
            validate=_flag(params, "validate"),
        )
        pair = self._pair(original.symbol)
        new_volume = _decimal(params, "volume") or original.volume
        result: dict[str, Any] = {
            "status": "ok",
            "descr": {"order": edited.new.description},
            "volume": fixed(new_volume, pair.lot_decimals),
            "price": fixed(price or original.price or Decimal(0), pair.pair_decimals),
            "price2": fixed(price2 or Decimal(0), pair.pair_decimals),
            "orders_cancelled": 0 if edited.new.txid is None else 1,
            "originaltxid": original.txid,
        }
        if edited.new.txid is not None:
            result["txid"] = edited.new.txid
        return result

    def _cancel_order(self, account: str, params: Params) -> dict[str, Any]:
        txid = _text(params, "txid")
        cl_ord_id = _text(params, "cl_ord_id")
        if txid is None and cl_ord_id is None:
            raise VenueError(invalid_argument("txid"))
        if txid is not None and txid.lstrip("-").isdigit():
            cancelled = self._gateway.cancel(account, userref=int(txid))
        else:
            cancelled = self._gateway.cancel(account, txid=txid, cl_ord_id=cl_ord_id)
        return {"count": cancelled.count}

    def _cancel_order_batch(self, account: str, params: Params) -> dict[str, Any]:
        targets: list[dict[str, Any]] = []
        for order in params.get("orders") or []:
            # Kraken takes bare txids/userrefs (what the SDK sends) or {"txid": ...} objects.
            value = str(order.get("txid", "")) if isinstance(order, Mapping) else str(order)
            if value.lstrip("-").isdigit():
                targets.append({"userref": int(value)})
            else:
                targets.append({"txid": value})
        if not targets or len(targets) > 50:
            raise VenueError(invalid_argument("orders"))
        count = 0
        for selector in targets:
            try:
                count += self._gateway.cancel(account, **selector).count
            except VenueError as exc:
                if exc.error != "EOrder:Unknown order":
                    raise
        return {"count": count}

    def _cancel_all(self, account: str, _: Params) -> dict[str, Any]:
        return {"count": self._gateway.cancel_all(account).count}

    def _cancel_all_orders_after(self, account: str, params: Params) -> dict[str, Any]:
        timeout = parse_float(params, "timeout")
        if timeout is None or not 0 <= timeout < 86400:
            raise VenueError(invalid_argument("timeout"))
        switch = self._gateway.cancel_all_orders_after(account, int(timeout))
        return {
            "currentTime": rfc3339_seconds(switch.current_time),
            "triggerTime": "0"
            if switch.trigger_time is None
            else rfc3339_seconds(switch.trigger_time),
        }
