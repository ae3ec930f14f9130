"""The order each configured strategy would send, for the exchange to validate.

Preflight cannot run a strategy until it trades, so it sizes a probe from the strategy's
parameters the way the built-in strategies size their entries (`strategies.sizing`):
`volume` or `quote_size` in base units onto the lot grid, `notional` in quote at the
current price, `all_in` as a market buy of the free quote balance (`viqc`), otherwise
`DEFAULT_NOTIONAL`. A `price` parameter is sent exactly as configured; otherwise the probe is
a buy limit at the best bid, where even a real placement would not trade. Values are not
corrected here: an order Kraken would refuse must be refused by Kraken, with its own error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kraken_tui.domain import Instrument
from kraken_tui.settings import StrategyConfig
from kraken_tui.strategies.sizing import DEFAULT_NOTIONAL


class ProbeError(ValueError):
    """The strategy's parameters give no order to probe; the message says which one."""


@dataclass(frozen=True, slots=True)
class ProbeOrder:
    strategy: str
    symbol: str
    fields: Mapping[str, str]
    """REST AddOrder fields, `validate` left to the caller."""


def probe_order(
    config: StrategyConfig,
    params: Mapping[str, Any],
    instrument: Instrument,
    best_bid: Decimal,
    free_quote: Decimal,
) -> ProbeOrder:
    """`params` are the strategy's effective parameters (its `Params` model's defaults
    filled in), so a default size counts as the strategy would use it."""
    pair = instrument.altname or instrument.rest_name or instrument.symbol
    fields: dict[str, str] = {"type": "buy", "pair": pair}
    if params.get("all_in"):
        amount = instrument.round_cost(free_quote / (1 + instrument.taker_fee))
        fields |= {"ordertype": "market", "oflags": "viqc", "volume": _text(amount)}
        return ProbeOrder(config.name, instrument.symbol, fields)
    price_param = params.get("price")
    price = _decimal(config, "price", price_param) if price_param is not None else best_bid
    base = params.get("volume") or params.get("quote_size")
    if base is not None:
        volume = instrument.round_volume(_decimal(config, "volume", base))
    else:
        notional = _decimal(config, "notional", params.get("notional") or DEFAULT_NOTIONAL)
        volume = instrument.round_volume(notional / price)
    price_text = str(price_param) if price_param is not None else _fixed(price, instrument)
    fields |= {"ordertype": "limit", "price": price_text, "volume": _text(volume)}
    return ProbeOrder(config.name, instrument.symbol, fields)


def _decimal(config: StrategyConfig, name: str, value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        message = f"strategy {config.name!r}: params.{name} {value!r} is not a number"
        raise ProbeError(message) from None
    if not number.is_finite() or number <= 0:
        raise ProbeError(f"strategy {config.name!r}: params.{name} must be positive")
    return number


def _fixed(price: Decimal, instrument: Instrument) -> str:
    return f"{price:.{instrument.price_decimals}f}"


def _text(value: Decimal) -> str:
    return format(value, "f")
