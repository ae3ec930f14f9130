"""The REST fields of our order commands: `AddOrder` from an `OrderRequest` (sized in base or,
for market buys, in quote), and the order reference `AmendOrder`/`CancelOrder` take. Off-grid
values are refused here with the string Kraken would answer, never silently rounded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kraken_tui.domain import Instrument, OrderRequest, OrderType, Side, TimeInForce
from kraken_tui.exchange.instruments import prepare_order
from kraken_tui.exchange.protocol import OrderRejected


def order_params(request: OrderRequest, instrument: Instrument) -> dict[str, Any]:
    """AddOrder fields of an order sized in base."""
    price = request.price if request.order_type is OrderType.LIMIT else request.trigger_price
    prepared = prepare_order(instrument, request.side, request.volume, price, round_values=False)
    if not prepared.ok:
        raise OrderRejected(prepared.error or "invalid order", prepared.error)
    params: dict[str, Any] = {
        "ordertype": request.order_type.value,
        "type": request.side.value,
        "volume": prepared.volume_text,
        "pair": instrument.altname or instrument.rest_name or instrument.symbol,
        "price": prepared.price_text,
        "cl_ord_id": request.cl_ord_id,
        # fees in quote for sells too (Kraken's default there is base, api-specs
        # spot-rest/partials/properties/oflags.yaml): TradesHistory reports fees in quote,
        # so fills recovered over REST then settle exactly as the live ones did
        "oflags": "fciq,post" if request.post_only else "fciq",
    }
    if request.time_in_force is TimeInForce.IOC:
        params["timeinforce"] = "IOC"
    return params


def quote_order_params(
    request: OrderRequest, instrument: Instrument, amount: Decimal
) -> dict[str, Any]:
    """AddOrder fields of a market buy sized in quote (`oflags=viqc`): `volume` is the amount
    of quote to spend, written on the pair's cost grid. Kraken takes `viqc` only on market
    buys and with no other flag, which `OrderRequest` already guarantees."""
    error = instrument.check_quote_order(amount, None)
    if error is not None:
        raise OrderRejected(error, error)
    return {
        "ordertype": OrderType.MARKET.value,
        "type": Side.BUY.value,
        "volume": f"{amount:.{instrument.cost_decimals}f}",
        "pair": instrument.altname or instrument.rest_name or instrument.symbol,
        "oflags": "viqc",
        "cl_ord_id": request.cl_ord_id,
    }


def order_ref(cl_ord_id: str | None, order_id: str | None, *, key: str) -> dict[str, Any]:
    """Our order id when we know Kraken's, else our `cl_ord_id`, under the field names the
    command takes (`key` for Kraken's id)."""
    if order_id:
        return {key: order_id}
    if cl_ord_id:
        return {"cl_ord_id": cl_ord_id}
    raise ValueError("an order is identified by cl_ord_id or order_id")
