"""Where the exchange is for this run, and with which credentials.

The one place where the modes differ: sandbox mode starts the built-in sandbox as a child
process (its market simulation must not compete with the console's event loop) unless a
sandbox URL is configured; live mode talks to Kraken with the user's keys, and only live mode
ever holds them: every other mode signs with sandbox keys, so a mistaken URL can at worst
send a sandbox key somewhere (the settings refuse Kraken's hosts outside live mode).
Everything after this point — adapter, engine, console — is the same code for every mode.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from kraken_tui.domain import Mode
from kraken_tui.exchange.kraken import KrakenEndpoints, KrakenExchange
from kraken_tui.exchange.ratelimit import Tier
from kraken_tui.settings import LIVE_HOST_OVERRIDE, Settings


class ExchangeSetupError(RuntimeError):
    """The run cannot reach an exchange as configured; the message says why and what to do."""


@dataclass(frozen=True)
class ExchangeTarget:
    endpoints: KrakenEndpoints
    api_key: str
    api_secret: str
    description: str
    live_host_override: str | None = None
    """The host live mode trades on instead of Kraken, under the deliberately named override,
    for the operator to see at all times."""


@asynccontextmanager
async def exchange_target(settings: Settings) -> AsyncIterator[ExchangeTarget]:
    """Yield the endpoints and credentials of this run, owning the sandbox child if any."""
    mode = Mode(settings.mode)
    exchange = settings.exchange
    if mode is Mode.LIVE or exchange.uses_external_exchange:
        key, secret = _keys(settings)
        endpoints = KrakenEndpoints(exchange.rest_url, exchange.ws_url, exchange.ws_auth_url)
        override = settings.live_host_override()
        description = f"{mode} exchange at {exchange.rest_url}"
        if override is not None:
            description += f", overriding Kraken's hosts ({LIVE_HOST_OVERRIDE})"
        yield ExchangeTarget(endpoints, key, secret, description, override)
        return
    from kraken_tui.sandbox.process import SandboxProcess
    from kraken_tui.sandbox.ratelimits import Tier as SandboxTier

    paper = mode is Mode.PAPER
    sandbox = SandboxProcess(
        mirror_url=settings.sandbox.mirror_url if paper else None,
        mirror_pairs=settings.traded_symbols() if paper else (),
        seed=settings.sandbox.seed,
        rate=settings.sandbox.rate,
        state_path=settings.sandbox.state_path,
        time_scale=settings.sandbox.time_scale,
        tier=SandboxTier(exchange.api_tier),
        log_path=Path(settings.logging.dir) / "sandbox.log",
    )
    if paper:
        logger.info("starting the sandbox exchange on a mirror of {}", settings.sandbox.mirror_url)
    else:
        logger.info(
            "starting the built-in sandbox exchange (seed {}, {} book msgs/s)",
            settings.sandbox.seed,
            settings.sandbox.rate,
        )
    await sandbox.astart()
    try:
        logger.info("sandbox exchange ready at {}", sandbox.rest_url)
        yield ExchangeTarget(
            KrakenEndpoints(sandbox.rest_url, sandbox.ws_url, sandbox.ws_auth_url),
            sandbox.api_key,
            sandbox.api_secret,
            f"built-in sandbox at {sandbox.rest_url}",
        )
    finally:
        await sandbox.astop()
        logger.info("sandbox exchange stopped")


def _keys(settings: Settings) -> tuple[str, str]:
    """The user's Kraken keys in live mode; otherwise the configured sandbox keys, else the
    sandbox's development keys, whatever Kraken keys the environment holds."""
    if Mode(settings.mode) is Mode.LIVE:
        credentials = settings.credentials
        if credentials is None:
            raise ExchangeSetupError("live mode needs the Kraken API key and secret")
        return credentials.api_key.get_secret_value(), credentials.api_secret.get_secret_value()
    key, secret = settings.sandbox.api_key, settings.sandbox.api_secret
    if key is not None and secret is not None:
        return key.get_secret_value(), secret.get_secret_value()
    from kraken_tui.sandbox.auth import DEV_API_KEY, DEV_API_SECRET

    return DEV_API_KEY, DEV_API_SECRET


def build_exchange(settings: Settings, target: ExchangeTarget) -> KrakenExchange:
    return KrakenExchange(
        target.endpoints,
        api_key=target.api_key,
        api_secret=target.api_secret,
        tier=Tier(settings.exchange.api_tier),
        nonce_path=nonce_path(settings, target.api_key),
        request_timeout_s=settings.exchange.request_timeout_s,
    )


def nonce_path(settings: Settings, api_key: str) -> Path | None:
    """One nonce file per API key, beside the database; named by a hash, never by the key."""
    if not api_key:
        return None
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return Path(settings.storage.db_path).parent / f"nonce-{digest}"
