"""What never goes into a recording: keys, secrets, signatures, nonces and WebSocket tokens.

Two layers, because a recording is meant to be shared (attached to an issue, dropped into
`tests/conformance/`): fields whose name says they hold a secret are replaced wherever they
appear, and every known secret value (the API key and secret, each WebSocket token once it
has been issued) is replaced wherever it appears, in any field, in any written form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kraken_tui.logging import REDACTED, Redactor

SECRET_FIELDS = frozenset(
    {
        "token",
        "ws_token",
        "api_key",
        "api-key",
        "api_secret",
        "api-sign",
        "secret",
        "signature",
        "nonce",
        "otp",
        "password",
    }
)


class TrafficRedactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        self._values = Redactor()
        for secret in secrets:
            self._values.add(secret)

    def learn_token(self, envelope: Mapping[str, Any]) -> None:
        """Remember the token of a `GetWebSocketsToken` answer, so an echo of it anywhere
        else (a subscription acknowledgement, an error text) is removed too."""
        result = envelope.get("result")
        if isinstance(result, Mapping) and isinstance(result.get("token"), str):
            self._values.learn(result["token"])

    def scrub(self, value: Any) -> Any:
        """`value` with every secret field's value replaced (a null stays null: it says
        that there was none)."""
        if isinstance(value, Mapping):
            return {
                key: REDACTED
                if str(key).lower() in SECRET_FIELDS and value[key] is not None
                else self.scrub(value[key])
                for key in value
            }
        if isinstance(value, list | tuple):
            return [self.scrub(item) for item in value]
        return value

    def redact_text(self, text: str) -> str:
        """A serialized line without any known secret value."""
        return self._values.redact(text)
