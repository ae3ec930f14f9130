"""Kraken's own error strings; the sandbox must refuse exactly what Kraken refuses, with its words.

The SDK maps `error[0]` to an exception class by this text, so a paraphrase would surface in
clients as a generic error instead of the specific one their retry logic expects.
"""

from __future__ import annotations

UNKNOWN_ASSET_PAIR = "EQuery:Unknown asset pair"
UNKNOWN_ASSET = "EQuery:Unknown asset"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
TICK_SIZE = "EOrder:Tick size check failed"
ORDER_MINIMUM = "EOrder:Order minimum not met"
COST_MINIMUM = "EOrder:Cost minimum not met"
INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
POST_ONLY = "EOrder:Post only order"
INVALID_PRICE = "EOrder:Invalid price"
INVALID_ORDER = "EOrder:Invalid order"
UNKNOWN_ORDER = "EOrder:Unknown order"
DUPLICATE_ORDER = "EOrder:Duplicate order"
ORDERS_LIMIT = "EOrder:Orders limit exceeded"
INVALID_KEY = "EAPI:Invalid key"


def unsupported_pair(symbol: object) -> str:
    """WS v2's refusal of a symbol that is not a pair's canonical `BASE/QUOTE` spelling
    (`XBT/USD`, `btc/usd`), as Kraken answers a v1-style pair on v2 (seen by clients:
    JKorf/Kraken.Net issue 126, "Currency pair not supported XBT/USDC")."""
    return f"Currency pair not supported {symbol}"


def unsupported_field(name: str) -> str:
    """WS v2 `add_order` refuses any parameter it does not know with this text (Kraken's
    own SDK, krakenfx/kraken-api-sdk rust/docs/guides/wire-quirks.md)."""
    return f"Unsupported field: '{name}'"


def invalid_argument(name: str) -> str:
    """Kraken names the offending field after the text: `EGeneral:Invalid arguments:volume`."""
    return f"{INVALID_ARGUMENTS}:{name}"


class VenueError(Exception):
    """A request the venue refuses; `error` is the exact string for Kraken's `error` array."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error
