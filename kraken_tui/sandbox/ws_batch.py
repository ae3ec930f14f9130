"""WS v2 `batch_add` and `batch_cancel`, as Kraken documents them.

batch_add (docs.kraken.com/api/docs/websocket-v2/batch_add): 2 to 15 orders on one
`symbol`. "Validation is performed on the whole batch prior to submission to the engine.
If an order fails validation, the whole batch will be rejected. On submission to the
engine, if an order fails pre-match checks (i.e. funding), then the individual order will
be rejected and remainder of the batch will be processed." The answer's `result` lists the
orders in request order, each with its `order_id` (and `cl_ord_id` / `order_userref` when
given); `validate: true` places nothing and, as `add_order` does, answers an empty
`order_id` (krakenfx/kraken-api-sdk rust/docs/guides/wire-quirks.md).

batch_cancel (docs.kraken.com/api/docs/websocket-v2/batch_cancel): 2 to 50 identifiers,
`orders` holding Kraken order ids or `order_userref`s (as strings, as in Kraken's example)
and `cl_ord_id` holding client ids; the answer is `{"count": <orders cancelled>}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kraken_tui.sandbox.errors import (
    INSUFFICIENT_FUNDS,
    UNKNOWN_ORDER,
    VenueError,
    invalid_argument,
    unsupported_field,
)
from kraken_tui.sandbox.order_gateway import OrderGateway, OrderRequest
from kraken_tui.sandbox.venue import SandboxVenue

BATCH_METHODS = ("batch_add", "batch_cancel")
_BATCH_ADD_FIELDS = frozenset({"orders", "symbol", "validate", "deadline", "token"})
_BATCH_CANCEL_FIELDS = frozenset({"orders", "cl_ord_id", "token"})
_PRE_MATCH_ERRORS = frozenset({INSUFFICIENT_FUNDS})
"""Refusals Kraken's engine makes per order ("pre-match checks (i.e. funding)"); any other
refusal is a validation failure that rejects the whole batch."""

OrderParser = Callable[[Mapping[str, Any]], OrderRequest]


class BatchMethods:
    def __init__(
        self, venue: SandboxVenue, gateway: OrderGateway, parse_order: OrderParser
    ) -> None:
        """`parse_order` reads one `add_order`-style order (the same fields and checks)."""
        self._venue = venue
        self._gateway = gateway
        self._parse_order = parse_order

    def handle(self, account: str, method: str, params: Mapping[str, Any]) -> Any:
        if method == "batch_add":
            return self._batch_add(account, params)
        return self._batch_cancel(account, params)

    def _batch_add(self, account: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        _only(params, _BATCH_ADD_FIELDS)
        orders = params.get("orders")
        if not isinstance(orders, list) or not 2 <= len(orders) <= 15:
            raise VenueError(invalid_argument("orders"))
        symbol, validate = params.get("symbol"), params.get("validate", False)
        if not isinstance(validate, bool):
            raise VenueError(invalid_argument("validate"))
        requests = []
        for order in orders:
            if not isinstance(order, Mapping) or "symbol" in order:
                raise VenueError(invalid_argument("orders"))
            requests.append(self._parse_order({**order, "symbol": symbol, "validate": validate}))
        for request in requests:
            self._validate(account, request)
        return [self._place(account, request) for request in requests]

    def _validate(self, account: str, request: OrderRequest) -> None:
        """The whole-batch validation pass: every check but funding, nothing placed."""
        try:
            self._venue.add_order(
                account,
                pair=request.pair,
                side=request.side,
                order_type=request.order_type,
                volume=request.volume,
                price=request.price,
                trigger_price=request.trigger_price,
                post_only=request.post_only,
                time_in_force=request.time_in_force,
                userref=request.userref,
                cl_ord_id=request.cl_ord_id,
                validate=True,
                volume_in_quote=request.volume_in_quote,
                fee_in_base=request.fee_in_base,
            )
        except VenueError as exc:
            if exc.error not in _PRE_MATCH_ERRORS:
                raise

    def _place(self, account: str, request: OrderRequest) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        try:
            entry["order_id"] = self._gateway.add(account, request).txid or ""
        except VenueError as exc:
            entry["error"] = exc.error
        if request.cl_ord_id is not None:
            entry["cl_ord_id"] = request.cl_ord_id
        if request.userref is not None:
            entry["order_userref"] = request.userref
        return entry

    def _batch_cancel(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        _only(params, _BATCH_CANCEL_FIELDS)
        orders = _strings(params, "orders")
        cl_ord_ids = _strings(params, "cl_ord_id")
        if not 2 <= len(orders) + len(cl_ord_ids) <= 50:
            raise VenueError(invalid_argument("orders"))
        selectors: list[dict[str, Any]] = [
            {"userref": int(value)} if value.lstrip("-").isdigit() else {"txid": value}
            for value in orders
        ]
        selectors += [{"cl_ord_id": value} for value in cl_ord_ids]
        count = 0
        for selector in selectors:
            try:
                count += self._gateway.cancel(account, **selector).count
            except VenueError as exc:
                if exc.error != UNKNOWN_ORDER:
                    raise
        return {"count": count}


def _only(params: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise VenueError(unsupported_field(name))


def _strings(params: Mapping[str, Any], name: str) -> Sequence[str]:
    value = params.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise VenueError(invalid_argument(name))
    return value
