"""Where the adapter hands a copy of what the exchange said, for the flight recorder.

The adapter calls a sink, when one is installed, with every WebSocket message as the SDK
delivered it and every REST envelope as Kraken answered it, before acting on either: a
recording then holds what arrived even when handling it failed. Without a sink nothing is
copied. A sink must not raise and must return at once; it sees secrets (the WebSocket token
in `GetWebSocketsToken`'s answer) and is responsible for removing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class TrafficSink(Protocol):
    def ws_message(self, feed: str, message: Mapping[str, Any]) -> None:
        """One message received on the `public` or `private` connection."""

    def rest_answer(
        self, method: str, params: Mapping[str, Any], envelope: Mapping[str, Any]
    ) -> None:
        """Kraken's `{error, result}` envelope for a call to `method` with `params` (as
        sent, before the SDK adds the nonce)."""
