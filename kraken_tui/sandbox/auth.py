"""Kraken's private-endpoint authentication, verified the way Kraken verifies it.

A request is accepted only if its `API-Key` names a registered account, its `API-Sign` is
base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + body))) and its nonce is
strictly greater than the last one this key used. Checking in that order yields Kraken's
error strings in Kraken's precedence: key, then signature, then nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
INVALID_TOKEN = "ESession:Invalid session"

WS_TOKEN_LIFETIME_S = 900
"""Kraken lets a WebSocket token open connections for 15 minutes after it is issued."""

DEV_ACCOUNT = "dev"
DEV_API_KEY = "kraken-tui-sandbox-dev-key-0001"
DEV_API_SECRET = base64.b64encode(
    hashlib.sha512(b"kraken-tui sandbox dev secret v1").digest()
).decode()
"""Deterministic, documented development credentials: they only open the loopback sandbox,
so every run (and every doc example) can use them without setup."""


class AuthError(Exception):
    """Carries the Kraken error string to put in the response envelope."""

    def __init__(self, kraken_error: str) -> None:
        super().__init__(kraken_error)
        self.kraken_error = kraken_error


def kraken_signature(uri_path: str, nonce: str, body: str, secret_b64: str) -> str:
    """API-Sign for one request; shared with tests so both sides sign identically."""
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


@dataclass(slots=True)
class ApiCredential:
    account: str
    secret: bytes
    last_nonce: int = 0


@dataclass(slots=True)
class WsToken:
    account: str
    expires_at: float


@dataclass
class Authenticator:
    """Registry of API keys and WebSocket tokens for the sandbox accounts."""

    clock: Callable[[], float] = time.time
    _keys: dict[str, ApiCredential] = field(default_factory=dict)
    _tokens: dict[str, WsToken] = field(default_factory=dict)

    def register(self, api_key: str, secret_b64: str, account: str) -> None:
        try:
            secret = base64.b64decode(secret_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("API secret must be base64") from exc
        if not api_key or not secret:
            raise ValueError("API key and secret must not be empty")
        self._keys[api_key] = ApiCredential(account=account, secret=secret)

    def verify(
        self, api_key: str | None, api_sign: str | None, uri_path: str, nonce: str | None, body: str
    ) -> str:
        """Return the account the request acts for, or raise AuthError with Kraken's error.

        `uri_path` is the path plus any query string, exactly the bytes the client signed."""
        credential = self._keys.get(api_key or "")
        if credential is None:
            raise AuthError(INVALID_KEY)
        if not api_sign:
            raise AuthError(INVALID_SIGNATURE)
        if nonce is None:
            raise AuthError(INVALID_NONCE)
        digest = hashlib.sha256((nonce + body).encode()).digest()
        expected = hmac.new(credential.secret, uri_path.encode() + digest, hashlib.sha512).digest()
        try:
            given = base64.b64decode(api_sign, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AuthError(INVALID_SIGNATURE) from exc
        if not hmac.compare_digest(expected, given):
            raise AuthError(INVALID_SIGNATURE)
        if not nonce.isdigit() or int(nonce) <= credential.last_nonce:
            raise AuthError(INVALID_NONCE)
        credential.last_nonce = int(nonce)
        return credential.account

    def issue_ws_token(self, account: str) -> tuple[str, int]:
        """Return (token, seconds it stays valid for opening connections)."""
        self._drop_expired_tokens()
        token = base64.b64encode(secrets.token_bytes(30)).decode()
        self._tokens[token] = WsToken(
            account=account, expires_at=self.clock() + WS_TOKEN_LIFETIME_S
        )
        return token, WS_TOKEN_LIFETIME_S

    def account_for_token(self, token: object) -> str:
        """Resolve a WebSocket token; a connection that presented it once keeps its account."""
        entry = self._tokens.get(token) if isinstance(token, str) else None
        if entry is None or entry.expires_at < self.clock():
            raise AuthError(INVALID_TOKEN)
        return entry.account

    def _drop_expired_tokens(self) -> None:
        now = self.clock()
        for token in [t for t, entry in self._tokens.items() if entry.expires_at < now]:
            del self._tokens[token]
