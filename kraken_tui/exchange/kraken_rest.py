"""Kraken REST calls through python-kraken-sdk, with the safety the SDK leaves to its callers.

The SDK's `SpotAsyncClient` does the signing, the session and the URL; we keep
`use_custom_exceptions=False` so the raw envelope reaches us and Kraken's own error string
(`EOrder:Insufficient funds`) can be shown verbatim instead of the SDK's paraphrase. On top:
our persistent nonce, the client-side rate limiter, retries that are safe by construction
(queries retry; an order placement never blindly does), and exceptions that say whether an
order certainly does not exist (`OrderRejected`) or might (`OutcomeUnknown`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import aiohttp
from kraken.base_api import SpotAsyncClient
from loguru import logger

from kraken_tui.exchange.nonce import NonceStore, invalid_nonce_explanation, is_invalid_nonce_error
from kraken_tui.exchange.order_gate import OrderEntryGate
from kraken_tui.exchange.priority_lock import PriorityLock
from kraken_tui.exchange.protocol import (
    ExchangeError,
    OrderRejected,
    OutcomeUnknown,
    UnknownOrder,
)
from kraken_tui.exchange.ratelimit import (
    RateLimiter,
    is_rate_limit_error,
    rest_call_cost,
    retry_delay,
)
from kraken_tui.exchange.traffic import TrafficSink

_TRANSIENT_ERRORS = ("EService:Unavailable", "EService:Busy")
_ORDER_ENTRY_CALLS = frozenset({"AddOrder", "AddOrderBatch"})


class KrakenApiError(ExchangeError):
    """Kraken answered with an error envelope; `kraken_error` holds its first error string."""


def _first_error(errors: object) -> str:
    if isinstance(errors, list) and errors:
        return str(errors[0])
    return str(errors)


def _sanitize(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as the SDK must send them: no None, booleans as Kraken's lowercase words."""
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        clean[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return clean


class _NonceClient(SpotAsyncClient):
    """The SDK client with our persistent, strictly increasing nonce instead of time()."""

    def __init__(self, nonce: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._nonce_source = nonce

    def get_nonce(self) -> str:
        return str(self._nonce_source())


class KrakenRest:
    def __init__(
        self,
        rest_url: str,
        *,
        api_key: str = "",
        api_secret: str = "",
        nonce: NonceStore | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client_kwargs: dict[str, Any] = {
            "key": api_key,
            "secret": api_secret,
            "url": rest_url,
            "use_custom_exceptions": False,
        }
        self._nonce = nonce
        self._sdk_client: SpotAsyncClient | None = None
        self._has_credentials = bool(api_key and api_secret)
        self._nonce_path = nonce.path if nonce else None
        self._limiter = limiter
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._sleep = sleep
        # Private calls are serialised: Kraken checks nonces in arrival order, so two
        # concurrent signed requests could overtake each other and fail with Invalid nonce.
        self._private_lock = PriorityLock()
        self.traffic_sink: TrafficSink | None = None
        """Given every answer's envelope while the flight recorder is on."""

    @property
    def has_credentials(self) -> bool:
        return self._has_credentials

    @property
    def _client(self) -> SpotAsyncClient:
        """Created on first use: the SDK opens its aiohttp session in its constructor, which
        needs a running event loop."""
        if self._sdk_client is None:
            nonce = self._nonce
            self._sdk_client = (
                _NonceClient(nonce.next, **self._client_kwargs)
                if nonce
                else SpotAsyncClient(**self._client_kwargs)
            )
            self._sdk_client.TIMEOUT = max(1, int(self._timeout_s))
        return self._sdk_client

    async def close(self) -> None:
        if self._sdk_client is not None:
            await self._sdk_client.close()
            self._sdk_client = None

    async def public(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self._call(name, params or {}, private=False, retry_unknown=True)

    async def private(
        self, name: str, params: Mapping[str, Any] | None = None, *, urgent: bool = False
    ) -> Any:
        """A private query or idempotent command: transient failures are retried. An `urgent`
        call (CancelAll, the dead man's switch) is charged to the REST counter but never waits
        for it, and goes ahead of every ordinary call queued for the connection."""
        return await self._call(name, params or {}, private=True, retry_unknown=True, urgent=urgent)

    async def place(
        self,
        name: str,
        params: Mapping[str, Any],
        *,
        pair: str,
        gate: OrderEntryGate | None = None,
    ) -> Any:
        """AddOrder and friends: a failure whose outcome is unknown is never retried here.
        It surfaces as `OutcomeUnknown` and is resolved by looking the order up. A rate-limit
        refusal means the order was not accepted, so that one is retried after a back-off.
        A closed `gate` refuses the call at every wait and immediately before the wire."""
        return await self._call(
            name, params, private=True, retry_unknown=False, pair=pair, gate=gate
        )

    async def trade_command(
        self,
        name: str,
        params: Mapping[str, Any],
        *,
        pair: str,
        gate: OrderEntryGate | None = None,
    ) -> Any:
        """Cancels and amends: idempotent, so transient failures are retried."""
        return await self._call(
            name, params, private=True, retry_unknown=True, pair=pair, gate=gate
        )

    async def _call(
        self,
        name: str,
        params: Mapping[str, Any],
        *,
        private: bool,
        retry_unknown: bool,
        pair: str | None = None,
        urgent: bool = False,
        gate: OrderEntryGate | None = None,
    ) -> Any:
        if private and not self._has_credentials:
            raise ExchangeError(f"{name} needs API credentials, and none are configured")
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._once(name, params, private=private, urgent=urgent, gate=gate)
            except KrakenApiError as exc:
                error = exc.kraken_error or ""
                rate_limited = is_rate_limit_error(error)
                retryable = rate_limited or (retry_unknown and error.startswith(_TRANSIENT_ERRORS))
                if not retryable or attempt > self._max_retries:
                    raise self._classify(name, exc) from exc
                delay = retry_delay(error, attempt - 1)
                if rate_limited and self._limiter is not None:
                    if pair is not None:
                        self._limiter.penalize_trade(pair)
                    else:
                        self._limiter.penalize_rest()
                logger.warning(
                    "Kraken {} answered {}; retrying in {:.2f}s (attempt {}/{})",
                    name,
                    error,
                    delay,
                    attempt,
                    self._max_retries,
                )
            except (TimeoutError, aiohttp.ClientError, _HttpStatusError) as exc:
                if not retry_unknown:
                    raise OutcomeUnknown(
                        f"{name}: no answer from Kraken ({type(exc).__name__}: {exc}); "
                        "the request may have been executed"
                    ) from exc
                if attempt > self._max_retries:
                    raise ExchangeError(f"{name} failed after {attempt} attempts: {exc}") from exc
                delay = retry_delay("", attempt - 1, base_s=0.5, cap_s=8.0)
                logger.warning("Kraken {} failed ({}); retrying in {:.2f}s", name, exc, delay)
            if gate is not None:
                await gate.wait(self._sleep(delay))
            else:
                await self._sleep(delay)

    async def _once(
        self,
        name: str,
        params: Mapping[str, Any],
        *,
        private: bool,
        urgent: bool = False,
        gate: OrderEntryGate | None = None,
    ) -> Any:
        clean = _sanitize(params)
        if not private:
            return await self._send("GET", f"/0/public/{name}", clean, auth=False)
        if self._limiter is not None:
            cost = rest_call_cost(name)
            if urgent:
                self._limiter.charge_rest(cost)
            elif gate is not None:
                await gate.wait(self._limiter.acquire_rest(cost))
            else:
                await self._limiter.acquire_rest(cost)
        async with self._private_lock.hold(urgent=urgent):
            if gate is not None:
                gate.check()
            return await self._send("POST", f"/0/private/{name}", clean, auth=True)

    async def _send(self, method: str, uri: str, params: dict[str, Any], *, auth: bool) -> Any:
        sent = dict(params)  # the SDK signs a copy it may extend with the nonce
        async with asyncio.timeout(self._timeout_s):
            # The SDK annotates request() as returning a Coroutine; with
            # use_custom_exceptions=False the awaited value is the aiohttp response itself.
            response = cast(
                aiohttp.ClientResponse,
                await self._client.request(method, uri, params=params, auth=auth),
            )
            if response.status != 200:
                body = (await response.text())[:200]
                raise _HttpStatusError(f"HTTP {response.status}: {body}")
            try:
                data = await response.json(content_type=None)
            except ValueError as exc:
                raise _HttpStatusError(f"{uri}: answer is not JSON") from exc
        if not isinstance(data, dict):
            raise _HttpStatusError(f"{uri}: answer is not a Kraken envelope")
        if self.traffic_sink is not None:
            self.traffic_sink.rest_answer(uri.rsplit("/", 1)[-1], sent, data)
        errors = data.get("error") or []
        if errors:
            first = _first_error(errors)
            raise KrakenApiError(f"{uri.rsplit('/', 1)[-1]}: {first}", kraken_error=first)
        if "result" not in data:
            raise _HttpStatusError(f"{uri}: envelope without result")
        return data["result"]

    def _classify(self, name: str, exc: KrakenApiError) -> ExchangeError:
        error = exc.kraken_error or ""
        if is_invalid_nonce_error(error):
            return ExchangeError(invalid_nonce_explanation(self._nonce_path), kraken_error=error)
        if error.startswith("EOrder:Unknown order"):
            return UnknownOrder(str(exc), kraken_error=error)
        if name in _ORDER_ENTRY_CALLS:
            if error.startswith(_TRANSIENT_ERRORS):
                return OutcomeUnknown(str(exc), kraken_error=error)
            return OrderRejected(error, kraken_error=error)
        return exc


class _HttpStatusError(Exception):
    """Transport-level failure: non-200 status or a body that is not a Kraken envelope."""
