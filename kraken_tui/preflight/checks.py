"""The preflight checks, run in order against one exchange with one set of credentials.

Every request goes through the adapter's own REST client (our nonce file, our rate limiter,
Kraken's error strings verbatim) with no retries: a preflight reports what the exchange
answered the first time. Nothing is placed: orders carry `validate=true` (Kraken checks them
and answers without a txid) and the dead man's switch is armed, then disarmed at once.
A check that depends on one which failed is reported as skipped rather than sent, so a wrong
key is not repeated to the exchange (Kraken locks keys out after repeated failures).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from kraken_tui.domain import ConnectionState, Instrument
from kraken_tui.engine.strategy_loader import StrategyLoadError, resolve_strategy_class
from kraken_tui.exchange.account_fees import account_fees_from_rest
from kraken_tui.exchange.instruments import (
    InstrumentRegistry,
    display_asset,
    instruments_from_asset_pairs,
)
from kraken_tui.exchange.kraken_parse import balances_from_rest
from kraken_tui.exchange.kraken_rest import KrakenRest
from kraken_tui.exchange.kraken_ws import WsFeed
from kraken_tui.exchange.nonce import NonceStore
from kraken_tui.exchange.protocol import ConnectionStatus, ExchangeError
from kraken_tui.exchange.ratelimit import REST_LIMITS, RateLimiter, Tier
from kraken_tui.exchange_setup import ExchangeTarget, exchange_target, nonce_path
from kraken_tui.preflight.checklist import CheckResult, Outcome
from kraken_tui.preflight.probe_orders import ProbeError, probe_order
from kraken_tui.settings import Settings, StrategyConfig
from kraken_tui.strategies.base import StrategyConfigError

MAX_CLOCK_SKEW_S = 5.0
"""Kraken's Time has one-second resolution; beyond a few seconds, `deadline`s and logged
times disagree with the exchange and the clock needs NTP."""
DEFAULT_SWITCH_TIMEOUT_S = 60

_KEY_ADVICE = {
    "EAPI:Invalid key": "the exchange does not know this API key: check the key (live: "
    "KRAKEN_API_KEY or the secrets file; otherwise sandbox.api_key)",
    "EAPI:Invalid signature": "the secret does not belong to this key: check the API secret "
    "(live: KRAKEN_API_SECRET or the secrets file; otherwise sandbox.api_secret)",
    "EGeneral:Permission denied": "the key lacks a permission: give it Query Funds, Query Open "
    "and Closed Orders and Trades, Create and Modify Orders, Cancel and Close Orders, and "
    "WebSocket interface",
    "EAPI:Invalid nonce": "another program uses this key, or the nonce file was reset: give "
    "each program its own API key",
    "EGeneral:Temporary lockout": "too many failed calls: wait about 15 minutes",
}
_STALLED_ADVICE = "the exchange does not answer: check its status and your network, then retry"


class _Failed(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.detail)
        self.result = result


class Preflight:
    def __init__(self, settings: Settings, target: ExchangeTarget, rest: KrakenRest) -> None:
        self._settings = settings
        self._target = target
        self._rest = rest
        self._results: list[CheckResult] = []
        self._free: dict[str, Decimal] = {}
        self._registry = InstrumentRegistry()

    async def run(self) -> list[CheckResult]:
        reachable = await self._check("exchange clock", self._clock)
        instruments = await self._instruments() if reachable else None
        self._registry = instruments or InstrumentRegistry()
        signs = reachable and await self._check("API key signs", self._key_signs)
        for name, check in (
            ("nonces accepted", self._nonces),
            ("REST tier", self._rest_tier),
            ("WebSocket token", self._ws_token),
            ("private WebSocket", self._private_ws),
            ("fees and volume", self._fees),
        ):
            await self._check(name, check) if signs else self._skip(name, reachable)
        for strategy in self._settings.strategies:
            name = f"order of {strategy.name}"
            if signs and instruments is not None:
                await self._check(name, lambda s=strategy: self._probe(s, instruments))
            else:
                self._skip(name, reachable)
        name = "dead man's switch"
        await self._check(name, self._dead_man_switch) if signs else self._skip(name, reachable)
        return self._results

    # -- the checks ----------------------------------------------------------------------------

    async def _clock(self) -> str:
        before = time.time()
        result = await self._call("Time", private=False)
        after = time.time()
        skew = float(result["unixtime"]) - (before + after) / 2
        if abs(skew) > MAX_CLOCK_SKEW_S + 1:
            raise _Failed(
                CheckResult(
                    "exchange clock",
                    Outcome.FAIL,
                    f"this computer's clock is {-skew:+.0f} s off the exchange's",
                    advice="synchronise the clock (NTP), e.g. timedatectl set-ntp true",
                )
            )
        return f"answers; clock skew {-skew:+.1f} s (limit {MAX_CLOCK_SKEW_S:.0f} s)"

    async def _key_signs(self) -> str:
        result = await self._call("Balance")
        return f"Balance answered ({len(result)} assets)"

    async def _nonces(self) -> str:
        result = await self._call("BalanceEx")
        balances = balances_from_rest(result, display_asset)
        self._free = {asset: balance.available for asset, balance in balances.items()}
        return "a second signed call was accepted right after the first"

    async def _rest_tier(self) -> str:
        tier = Tier(self._settings.exchange.api_tier)
        limits = REST_LIMITS[tier]
        return (
            f"configured {tier} (counter {limits.maximum:g}, -{limits.decay_per_s:g}/s); "
            "Kraken does not report it over the API: it must match your verification level"
        )

    async def _ws_token(self) -> str:
        result = await self._call("GetWebSocketsToken")
        if not isinstance(result, Mapping) or not result.get("token"):
            raise ExchangeError("GetWebSocketsToken answered without a token")
        return f"issued (expires in {result.get('expires', '?')} s)"

    async def _private_ws(self) -> str:
        acks: dict[str, asyncio.Future[str | None]] = {}
        loop = asyncio.get_running_loop()
        for channel in ("executions", "balances"):
            acks[channel] = loop.create_future()

        def on_message(message: Mapping[str, Any]) -> None:
            if message.get("method") != "subscribe":
                return
            result = message.get("result")
            channel = result.get("channel") if isinstance(result, Mapping) else None
            pending = [c for c, f in acks.items() if not f.done()]
            target = channel if channel in acks else (pending[0] if pending else None)
            if target is not None and not acks[target].done():
                error = None if message.get("success") else str(message.get("error"))
                acks[target].set_result(error)

        endpoints = self._target.endpoints
        feed = WsFeed(
            "preflight",
            ws_url=endpoints.ws_url,
            auth_ws_url=endpoints.ws_auth_url,
            on_message=on_message,
            on_status=_ignore_status,
            on_reconnect=_ignore_reconnect,
            private=True,
            api_key=self._target.api_key,
            api_secret=self._target.api_secret,
            rest_url=endpoints.rest_url,
            token_source=self._token,
        )
        timeout = self._settings.exchange.request_timeout_s
        try:
            await feed.start(timeout_s=timeout)
            if feed.status.state is not ConnectionState.CONNECTED:
                raise ExchangeError(f"not connected within {timeout:g} s ({feed.status.reason})")
            await feed.subscribe({"channel": "executions", "snap_orders": False})
            await feed.subscribe({"channel": "balances", "snapshot": False})
            try:
                async with asyncio.timeout(timeout):
                    errors = {channel: await ack for channel, ack in acks.items()}
            except TimeoutError:
                raise ExchangeError(f"no subscription answer within {timeout:g} s") from None
        finally:
            await feed.close()
        refused = {channel: error for channel, error in errors.items() if error is not None}
        if refused:
            channel, error = next(iter(refused.items()))
            raise ExchangeError(f"{channel} subscription refused", kraken_error=error)
        return "connected with the token; executions and balances subscribed"

    async def _fees(self) -> str:
        known = [self._registry.get(symbol) for symbol in self._settings.traded_symbols()]
        names = ",".join(i.rest_name or i.symbol for i in known if i is not None)
        fees = account_fees_from_rest(await self._call("TradeVolume", {"pair": names}))
        pairs = "; ".join(
            f"{name} taker {_pct(f.taker)} maker {_pct(f.maker)}" for name, f in fees.pairs.items()
        )
        return (
            f"30-day volume {fees.volume} {display_asset(fees.currency)}; {pairs}; the engine "
            "uses these fees from its next start"
        )

    async def _probe(self, strategy: StrategyConfig, instruments: InstrumentRegistry) -> str:
        instrument = instruments.get(strategy.symbol)
        if instrument is None:
            raise ExchangeError(
                f"the exchange does not list {strategy.symbol}",
                kraken_error="EQuery:Unknown asset pair",
            )
        try:
            strategy_class = resolve_strategy_class(
                strategy.class_name, self._settings.strategy_dir
            )
            params = strategy_class.parse_params(strategy.params, strategy.name).model_dump()
            order = probe_order(
                strategy,
                params,
                instrument,
                await self._best_bid(instrument),
                self._free.get(instrument.quote, Decimal(0)),
            )
        except (ProbeError, StrategyLoadError, StrategyConfigError) as exc:
            raise _Failed(
                CheckResult(
                    f"order of {strategy.name}",
                    Outcome.FAIL,
                    str(exc),
                    advice="fix the strategy's params (kraken-tui config check)",
                )
            ) from exc
        result = await self._call("AddOrder", {**order.fields, "validate": True})
        if isinstance(result, Mapping) and result.get("txid"):
            raise ExchangeError(f"the exchange PLACED the order (txid {result['txid']})")
        described = result.get("descr", {}).get("order") if isinstance(result, Mapping) else None
        return f"validated, not placed: {described or _describe(order.fields)}"

    async def _dead_man_switch(self) -> str:
        timeout = self._settings.exchange.dead_man_switch_timeout_s or DEFAULT_SWITCH_TIMEOUT_S
        armed = await self._call("CancelAllOrdersAfter", {"timeout": timeout})
        await self._call("CancelAllOrdersAfter", {"timeout": 0})
        return f"armed ({timeout} s, trigger {armed.get('triggerTime')}) and disarmed"

    # -- plumbing ------------------------------------------------------------------------------

    async def _instruments(self) -> InstrumentRegistry | None:
        try:
            pairs = await self._call("AssetPairs", private=False)
        except ExchangeError:
            return None
        return InstrumentRegistry(instruments_from_asset_pairs(pairs))

    async def _best_bid(self, instrument: Instrument) -> Decimal:
        pair = instrument.altname or instrument.rest_name or instrument.symbol
        ticker = await self._call("Ticker", {"pair": pair}, private=False)
        (entry,) = ticker.values()
        return Decimal(str(entry["b"][0]))

    async def _token(self) -> dict[str, Any]:
        result = await self._call("GetWebSocketsToken")
        return dict(result)

    async def _call(
        self, name: str, params: Mapping[str, Any] | None = None, *, private: bool = True
    ) -> Any:
        if private:
            return await self._rest.private(name, params)
        return await self._rest.public(name, params)

    async def _check(self, name: str, check: Any) -> bool:
        try:
            detail = await check()
        except _Failed as failed:
            self._results.append(failed.result)
            return False
        except ExchangeError as exc:
            self._results.append(_failure(name, exc, self._settings.exchange.request_timeout_s))
            return False
        self._results.append(CheckResult(name, Outcome.OK, detail))
        return True

    def _skip(self, name: str, reachable: bool) -> None:
        reason = "the API key does not sign" if reachable else "the exchange does not answer"
        self._results.append(CheckResult(name, Outcome.SKIPPED, f"not run: {reason}"))


def _failure(name: str, exc: ExchangeError, timeout_s: float) -> CheckResult:
    error = exc.kraken_error
    if error is None and _timed_out(exc):
        return CheckResult(
            name,
            Outcome.FAIL,
            f"no answer within {timeout_s:g} s",
            exchange_error=None,
            advice=_STALLED_ADVICE,
        )
    said = error or ""
    advice = next((text for key, text in _KEY_ADVICE.items() if said.startswith(key)), None)
    if advice is None and error is not None and error.startswith("EOrder:"):
        advice = "the strategy's order would be refused: fix its params (size, price) or the pair"
    return CheckResult(
        name,
        Outcome.FAIL,
        str(exc),
        exchange_error=error,
        advice=advice or "see the exchange's error; kraken-tui config check for settings",
    )


def _timed_out(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False


def _pct(fraction: Decimal) -> str:
    return f"{fraction * 100:.2f}%"


def _describe(fields: Mapping[str, str]) -> str:
    price = f" @ {fields['price']}" if "price" in fields else ""
    return f"{fields['type']} {fields['volume']} {fields['pair']} {fields['ordertype']}{price}"


def _ignore_status(_status: ConnectionStatus) -> None:
    """The preflight reads the feed's state once, after starting it."""


def _ignore_reconnect() -> None:
    """A preflight connection lives for two subscriptions; a reconnect shows as a timeout."""


async def run_preflight(settings: Settings) -> tuple[str, Sequence[CheckResult]]:
    """The exchange checked (as a run would reach it: in sandbox mode the built-in sandbox,
    started for the purpose) and the checklist."""
    async with exchange_target(settings) as target:
        key = target.api_key
        store_path = nonce_path(settings, key)
        rest = KrakenRest(
            target.endpoints.rest_url,
            api_key=key,
            api_secret=target.api_secret,
            nonce=NonceStore(store_path) if store_path is not None else None,
            limiter=RateLimiter(Tier(settings.exchange.api_tier)),
            timeout_s=settings.exchange.request_timeout_s,
            max_retries=0,
        )
        try:
            results = await Preflight(settings, target, rest).run()
        finally:
            await rest.close()
    return target.description, results
