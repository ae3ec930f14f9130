"""Kraken's REST signature scheme and nonce rule, checked against Kraken's documented example
and against the signer inside python-kraken-sdk."""

from __future__ import annotations

import pytest
from kraken.spot import SpotClient

from kraken_tui.sandbox.auth import (
    DEV_API_KEY,
    DEV_API_SECRET,
    INVALID_KEY,
    INVALID_NONCE,
    INVALID_SIGNATURE,
    INVALID_TOKEN,
    WS_TOKEN_LIFETIME_S,
    Authenticator,
    AuthError,
    kraken_signature,
)

DOC_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
DOC_BODY = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
DOC_SIGNATURE = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def test_signature_matches_krakens_documented_example() -> None:
    signature = kraken_signature("/0/private/AddOrder", "1616492376594", DOC_BODY, DOC_SECRET)
    assert signature == DOC_SIGNATURE


def test_signature_matches_the_sdk_signer() -> None:
    client = SpotClient(key=DEV_API_KEY, secret=DEV_API_SECRET)
    sdk_sign = client._get_kraken_signature(url_path="/0/private/Balance", data="nonce=5", nonce=5)
    assert sdk_sign == kraken_signature("/0/private/Balance", "5", "nonce=5", DEV_API_SECRET)


def _authenticator() -> Authenticator:
    auth = Authenticator()
    auth.register(DEV_API_KEY, DEV_API_SECRET, "dev")
    return auth


def _verify(
    auth: Authenticator, nonce: str, *, key: str = DEV_API_KEY, sign: str | None = None
) -> str:
    body = f"nonce={nonce}"
    signature = sign or kraken_signature("/0/private/Balance", nonce, body, DEV_API_SECRET)
    return auth.verify(key, signature, "/0/private/Balance", nonce, body)


def test_valid_request_resolves_to_its_account() -> None:
    assert _verify(_authenticator(), "100") == "dev"


def test_unknown_key_is_refused_before_the_signature_is_looked_at() -> None:
    with pytest.raises(AuthError) as error:
        _verify(_authenticator(), "100", key="nobody", sign="garbage")
    assert error.value.kraken_error == INVALID_KEY


def test_signature_made_with_another_secret_is_refused() -> None:
    wrong = kraken_signature("/0/private/Balance", "100", "nonce=100", DOC_SECRET)
    with pytest.raises(AuthError) as error:
        _verify(_authenticator(), "100", sign=wrong)
    assert error.value.kraken_error == INVALID_SIGNATURE


def test_nonce_must_strictly_increase_per_key() -> None:
    auth = _authenticator()
    _verify(auth, "100")
    for stale in ("100", "99"):
        with pytest.raises(AuthError) as error:
            _verify(auth, stale)
        assert error.value.kraken_error == INVALID_NONCE
    assert _verify(auth, "101") == "dev"


def test_ws_token_opens_connections_only_within_its_lifetime() -> None:
    now = [1000.0]
    auth = Authenticator(clock=lambda: now[0])
    token, lifetime = auth.issue_ws_token("dev")
    assert lifetime == WS_TOKEN_LIFETIME_S
    assert auth.account_for_token(token) == "dev"
    now[0] += WS_TOKEN_LIFETIME_S + 1
    with pytest.raises(AuthError) as error:
        auth.account_for_token(token)
    assert error.value.kraken_error == INVALID_TOKEN


def test_request_without_nonce_is_refused_as_invalid_nonce() -> None:
    signature = kraken_signature("/0/private/Balance", "", "", DEV_API_SECRET)
    with pytest.raises(AuthError) as error:
        _authenticator().verify(DEV_API_KEY, signature, "/0/private/Balance", None, "")
    assert error.value.kraken_error == INVALID_NONCE
