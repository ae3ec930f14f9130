"""Configuration: defaults < TOML file < ``KRAKEN_TUI_*`` environment < command-line flags.

Every section forbids unknown keys, so a typo in a risk limit is a startup error instead of
a silently ignored safety setting. Anything wrong surfaces as one ``ConfigError`` whose
message names the source (file, environment variable or flag), the field path and the
problem, and never contains a secret value.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from kraken_tui.alerts.url_secrets import masked_alert_url, url_secrets
from kraken_tui.domain import Mode

ENV_PREFIX = "KRAKEN_TUI_"
ENV_NESTED_DELIMITER = "__"
DEFAULT_CONFIG_PATH = Path("config/kraken_tui.toml")
API_KEY_ENV = "KRAKEN_API_KEY"
API_SECRET_ENV = "KRAKEN_API_SECRET"

KRAKEN_REST_URL = "https://api.kraken.com"
KRAKEN_WS_URL = "wss://ws.kraken.com"
KRAKEN_WS_AUTH_URL = "wss://ws-auth.kraken.com"
EXCHANGE_URL_FIELDS = ("rest_url", "ws_url", "ws_auth_url")
LIVE_HOST_OVERRIDE = "exchange.unsafe_allow_non_kraken_live_host"
MASK = "**********"
MIN_MASKED_LENGTH = 4

# Registry names the strategies package registers its built-ins under. Kept here as plain
# names so validating a config never has to import strategy code.
BUILTIN_STRATEGY_NAMES = frozenset({"sma_cross", "rsi_reversion", "market_maker", "ml_signal"})
_IMPORTABLE_CLASS = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_FILE_CLASS = re.compile(r"^[^:]+\.py:[A-Za-z_]\w*$")


class ConfigError(Exception):
    """Invalid configuration; the message is a single paragraph fit to show an operator."""


class _SettingProblem(ValueError):
    """A check across fields, reported against the field it names rather than the whole
    settings, so the error says which value to fix and where it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)


class ExchangeSettings(_Section):
    rest_url: str = ""
    """Base REST URL. The three URLs are set together or not at all; empty: the built-in
    sandbox in sandbox/paper mode, Kraken in live mode. Never a Kraken host outside live mode;
    only Kraken's hosts over https/wss in live mode (see ``unsafe_allow_non_kraken_live_host``)."""
    ws_url: str = ""
    """Public WebSocket URL as the SDK takes it, without the ``/v2`` it appends."""
    ws_auth_url: str = ""
    """Authenticated WebSocket URL as the SDK takes it, without ``/v2``."""
    api_tier: Literal["starter", "intermediate", "pro"] = "starter"
    """Kraken verification tier; sets the REST call-counter ceiling and decay rate."""
    dead_man_switch_timeout_s: int = Field(default=60, ge=0)
    """CancelAllOrdersAfter timeout re-armed while running (0 disables the switch)."""
    request_timeout_s: float = Field(default=10.0, gt=0)
    """Timeout of one REST request, in seconds."""
    unsafe_allow_non_kraken_live_host: bool = False
    """Live mode only: let the URLs point somewhere other than Kraken's hosts over https/wss
    (a proxy, a rehearsal exchange), with your real keys; the status bar then names the host."""

    @property
    def uses_external_exchange(self) -> bool:
        """True when the URLs are configured, so the app must not start its own sandbox."""
        return bool(self.rest_url or self.ws_url or self.ws_auth_url)

    def urls(self) -> dict[str, str]:
        """The three endpoint URLs by field name."""
        return {field: getattr(self, field) for field in EXCHANGE_URL_FIELDS}


class SandboxSettings(_Section):
    seed: int = 7
    """Seed of the synthetic market, so runs are reproducible."""
    rate: float = Field(default=500.0, ge=0)
    """Book update messages per second the synthetic market produces."""
    state_path: Path = Path("data/sandbox.sqlite3")
    """SQLite file where the sandbox keeps accounts, orders and fills across restarts."""
    time_scale: float = Field(default=1.0, gt=0)
    """Venue time runs this many times faster than wall time (candles, order and fill times,
    dead man's switch timeouts); 60 closes a 1-minute candle every second. For demos and
    tests: 1 behaves like Kraken."""
    mirror_url: str = "wss://ws.kraken.com/v2"
    """Paper mode: the Kraken WebSocket v2 feed whose book and trades become the sandbox's
    market (the sandbox then matches your orders against real liquidity)."""
    api_key: SecretStr | None = None
    """Key for a sandbox running elsewhere (``exchange.*_url``), e.g. one started with
    ``kraken-tui sandbox --api-key``; unset: the sandbox's development key. Never a Kraken key:
    outside live mode those are not read."""
    api_secret: SecretStr | None = None
    """Its secret (base64), set together with ``api_key``."""


class StrategyConfig(_Section):
    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(min_length=1)
    """Unique name shown in the UI and used by ``ctl pause NAME``."""
    class_name: str = Field(alias="class")
    """Built-in registry name (sma_cross, rsi_reversion, market_maker, ml_signal),
    ``package.module:Class`` or ``file.py:Class`` inside ``strategy_dir``."""
    symbol: str = Field(min_length=1)
    """Symbol the strategy trades, e.g. ``BTC/USD``."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Parameters, validated later by the strategy's own parameter model."""
    enabled: bool = True
    """Disabled strategies are loaded and shown but never started."""

    @field_validator("class_name")
    @classmethod
    def _known_strategy_class(cls, value: str) -> str:
        if value in BUILTIN_STRATEGY_NAMES or _IMPORTABLE_CLASS.match(value):
            return value
        if _FILE_CLASS.match(value):
            return value
        known = ", ".join(sorted(BUILTIN_STRATEGY_NAMES))
        raise ValueError(
            f"unknown strategy class {value!r}; use a built-in ({known}), "
            "'package.module:Class' or 'file.py:Class'"
        )


def _default_strategies() -> list[StrategyConfig]:
    return [
        StrategyConfig(name="sma_cross_btc", class_name="sma_cross", symbol="BTC/USD"),
        StrategyConfig(name="market_maker_eth", class_name="market_maker", symbol="ETH/USD"),
    ]


class RiskSettings(_Section):
    """Pre-trade limits; every one is non-negative and 0 disables that rule."""

    max_order_notional: Decimal = Field(default=Decimal("10000"), ge=0)
    """Largest notional (quote currency) of a single order."""
    max_position_per_symbol: Decimal = Field(default=Decimal("50000"), ge=0)
    """Largest absolute position value (quote currency) per symbol, all strategies."""
    max_position_per_strategy: Decimal = Field(default=Decimal("25000"), ge=0)
    """Largest absolute position value (quote currency) one strategy may hold."""
    max_open_orders: int = Field(default=50, ge=0)
    """Most orders open at once, all strategies together."""
    price_band_pct: Decimal = Field(default=Decimal("5"), ge=0, le=100)
    """Fat-finger guard: limit prices further than this % from mid are denied."""
    daily_loss_limit: Decimal = Field(default=Decimal("5000"), ge=0)
    """Loss (quote currency) since the UTC day start that fires the kill switch."""
    max_drawdown_pct: Decimal = Field(default=Decimal("20"), ge=0, le=100)
    """Drawdown from peak equity, in %, that fires the kill switch."""
    reduce_at_pct: Decimal = Field(default=Decimal("80"), ge=0, le=100)
    """Share (%) of the daily loss limit or of the drawdown limit at which trading turns
    REDUCING (only position-reducing orders) before the kill switch; 0 disables it."""
    max_orders_per_minute: int = Field(default=120, ge=0)
    """Order-rate throttle over a sliding minute, all strategies together."""
    cancel_on_pause: bool = False
    """Pausing a strategy also cancels its open orders."""
    cancel_on_shutdown: bool = True
    """Cancel open orders on shutdown; otherwise leave them under the dead man's switch."""


class StorageSettings(_Section):
    db_path: Path = Path("data/kraken_tui.sqlite3")
    """SQLite database file (created with its directory when missing)."""


class RedisSettings(_Section):
    url: str | None = None
    """Redis URL (``redis://host:port/db``); unset disables the cache and remote control."""
    username: str | None = None
    """Redis ACL user name."""
    password: SecretStr | None = None
    """Redis ACL password."""
    command_secret: SecretStr | None = None
    """Shared secret (at least 32 bytes) signing remote commands and the published state;
    unset means no remote commands are accepted and attached consoles verify nothing."""
    engine_id: str = Field(default="default", min_length=1)
    """Identifies this engine among several sharing one Redis."""
    key_prefix: str = Field(default="kraken_tui", min_length=1)
    """Prefix of every Redis key and channel."""

    @field_validator("command_secret")
    @classmethod
    def _long_command_secret(cls, value: SecretStr | None) -> SecretStr | None:
        """A short secret can be guessed offline from one signed message read off Redis;
        32 bytes is the HMAC-SHA256 key size. The message never repeats the value."""
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError(
                "must be at least 32 bytes; generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """Lowest level written to every sink."""
    dir: Path = Path("logs")
    """Directory of the rotating log files."""
    rotation: str = Field(default="10 MB", pattern=r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB)\s*$")
    """Size at which the log file rotates, e.g. ``10 MB``."""
    retention: int = Field(default=10, ge=1)
    """Number of rotated files kept."""
    compression: Literal["gz", "bz2", "xz", "zip", "tar.gz", "none"] = "gz"
    """Compression of rotated files (``none`` keeps them plain)."""
    console_format: Literal["plain", "json"] = "plain"
    """Format of the stderr sink in headless mode: plain text or one JSON object per line."""
    ui_buffer_lines: int = Field(default=5000, ge=100, le=100_000)
    """Lines kept in memory for the console's log panel (at most
    ``kraken_tui.logging.MAX_UI_BUFFER_LINES``: it is a view, not a second log file)."""
    third_party_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """Lowest level of the libraries' own loggers (Kraken SDK, aiosqlite, websockets,
    aiohttp, asyncio); ``level`` still applies on top. Their DEBUG output drowns ours, so
    it takes this explicit ``DEBUG`` to see it."""

    @field_validator("level", "third_party_level", mode="before")
    @classmethod
    def _uppercase_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class UiSettings(_Section):
    refresh_hz: int = Field(default=15, ge=10, le=20)
    """Frame rate at which panels redraw from engine snapshots."""
    theme: str = "textual-dark"
    """Textual theme name."""
    default_symbol: str = "BTC/USD"
    """Symbol selected at start."""


class AlertUrl(SecretStr):
    """An Apprise URL: secret (it carries the destination's token), shown with its token-like
    parts masked so an operator can still tell which service it is."""

    def _display(self) -> str:
        return masked_alert_url(self.get_secret_value())


class AlertsSettings(_Section):
    urls: list[AlertUrl] = Field(default_factory=list)
    """Apprise URLs, one per destination: ``ntfy://topic``, ``tgram://bot_token/chat_id``,
    ``discord://webhook_id/token``, ``json://host:port/path`` ... Empty: alerts are only
    logged and shown. Treated as secrets: masked by ``config check``, redacted in logs."""
    min_level: Literal["INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"
    """Lowest level sent to the destinations; the console and the logs show every alert."""
    repeat_interval_s: float = Field(default=300.0, ge=0)
    """The same alert goes out at most once per this many seconds; repeats in between are
    counted and sent as one alert with the count when the interval ends."""
    connection_lost_after_s: float = Field(default=30.0, gt=0)
    """An exchange connection down this long raises an alert, and its return another."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Connect and read timeout of one delivery attempt."""
    retries: int = Field(default=4, ge=0, le=20)
    """Attempts after a failed one; each waits twice as long as the one before."""
    retry_backoff_s: float = Field(default=2.0, gt=0)
    """Wait before the first retry (doubling after each failure, at most 5 minutes)."""
    queue_size: int = Field(default=100, ge=1, le=10_000)
    """Alerts waiting per destination; past it new alerts are dropped, counted and shown."""
    daily_summary: bool = False
    """Send a summary of the last 24 hours (equity, PnL, fills, fees, alerts) once a day."""
    daily_summary_at: time = time(8, 0)
    """UTC time of day of the summary (``08:00``)."""

    @field_validator("min_level", mode="before")
    @classmethod
    def _uppercase_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_serializer("urls", when_used="json")
    def _masked_urls(self, value: list[AlertUrl]) -> list[str]:
        """Pydantic prints every secret as stars; a masked URL still names its service."""
        return [str(url) for url in value]

    @field_validator("urls")
    @classmethod
    def _urls_apprise_can_use(cls, value: list[AlertUrl]) -> list[AlertUrl]:
        """Checked with Apprise itself (imported only when URLs are configured), so a typo in
        a destination stops the start instead of losing the first alert."""
        if not value:
            return value
        from kraken_tui.alerts.url_check import apprise_problem

        for index, url in enumerate(value):
            problem = apprise_problem(url.get_secret_value())
            if problem is not None:
                raise ValueError(f"entry {index} ({url}): {problem}")
        return value

    @field_validator("daily_summary_at")
    @classmethod
    def _utc_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give the time without an offset: it is read as UTC")
        return value


class Credentials(_Section):
    """Kraken API key pair; only ever read from the environment or a secrets file."""

    api_key: SecretStr
    """Kraken API key."""
    api_secret: SecretStr
    """Kraken API private key (base64)."""


class Settings(BaseSettings):
    """The whole configuration. Build it with ``load_settings``: constructing ``Settings()``
    directly reads only defaults and the environment, not the TOML file or secrets."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    mode: Mode = Mode.SANDBOX
    """sandbox (built-in exchange), paper (live market data, simulated fills) or live."""
    live_trading_confirmed: bool = False
    """Explicit opt-in required before live mode sends real orders."""
    secrets_file: Path | None = None
    """File holding the API key and secret (TOML or KEY=VALUE lines, mode 600)."""
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    """Exchange endpoints and account tier."""
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    """Built-in sandbox exchange started in sandbox mode."""
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USD", "ETH/USD"], min_length=1)
    """Symbols subscribed for market data."""
    book_depth: Literal[10, 25, 100, 500, 1000] = 10
    """Order book depth subscribed (Kraken WS v2 depths)."""
    strategies: list[StrategyConfig] = Field(default_factory=_default_strategies)
    """Strategies run by the engine."""
    strategy_dir: Path = Path("strategies")
    """Directory searched for user strategies named ``file.py:Class``."""
    strategy_budget_ms: float = Field(default=5.0, gt=0)
    """A strategy handler that holds the event loop longer than this is reported (warning and
    a slow-call count in its status): the console and other strategies share that loop."""
    risk: RiskSettings = Field(default_factory=RiskSettings)
    """Pre-trade risk limits."""
    storage: StorageSettings = Field(default_factory=StorageSettings)
    """Persistence."""
    redis: RedisSettings = Field(default_factory=RedisSettings)
    """Optional Redis cache and remote control."""
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    """Log sinks."""
    ui: UiSettings = Field(default_factory=UiSettings)
    """Terminal console."""
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    """Alerts pushed to people through Apprise (phone, chat, e-mail, webhook)."""
    credentials: Credentials | None = None
    """Kraken API credentials (from KRAKEN_API_KEY/KRAKEN_API_SECRET or the secrets file),
    read in live mode only."""

    @field_validator("strategies")
    @classmethod
    def _unique_strategy_names(cls, value: list[StrategyConfig]) -> list[StrategyConfig]:
        names = [strategy.name for strategy in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"strategy names must be unique, repeated: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _mode_requirements(self) -> Settings:
        """Practice never reaches Kraken, and real keys and orders reach nothing but Kraken
        unless the operator names the exception."""
        _set_together("exchange", self.exchange.urls())
        _set_together(
            "sandbox", {"api_key": self.sandbox.api_key, "api_secret": self.sandbox.api_secret}
        )
        if self.mode is not Mode.LIVE:
            for field, url in self.exchange.urls().items():
                if url and _is_kraken_domain(_host(url)):
                    raise _SettingProblem(
                        f"exchange.{field}",
                        f"{url!r} is Kraken itself, which {self.mode} mode never contacts; "
                        "point the exchange URLs at a sandbox, or use live mode",
                    )
            return self
        if not self.live_trading_confirmed:
            raise _SettingProblem(
                "mode",
                "live mode trades real money and needs the explicit opt-in "
                "live_trading_confirmed = true",
            )
        if self.credentials is None:
            raise _SettingProblem(
                "mode",
                f"live mode needs API credentials: set {API_KEY_ENV} and {API_SECRET_ENV} "
                "or a secrets_file",
            )
        if not self.exchange.uses_external_exchange:
            self.exchange = ExchangeSettings(
                **self.exchange.model_dump(exclude={"rest_url", "ws_url", "ws_auth_url"}),
                rest_url=KRAKEN_REST_URL,
                ws_url=KRAKEN_WS_URL,
                ws_auth_url=KRAKEN_WS_AUTH_URL,
            )
        if self.exchange.unsafe_allow_non_kraken_live_host:
            return self
        for field, url in self.exchange.urls().items():
            if not _is_kraken_endpoint(url):
                raise _SettingProblem(
                    f"exchange.{field}",
                    f"live mode talks only to Kraken's hosts (*.kraken.com) over "
                    f"{'https' if field == 'rest_url' else 'wss'}, not {url!r}; to send real "
                    f"orders elsewhere on purpose, set {LIVE_HOST_OVERRIDE} = true",
                )
        return self

    def live_host_override(self) -> str | None:
        """The host(s) live mode trades on instead of Kraken, under the override; None when
        it is not live mode or the endpoints are Kraken's."""
        if self.mode is not Mode.LIVE:
            return None
        urls = self.exchange.urls().values()
        hosts = dict.fromkeys(_host_and_port(url) for url in urls if not _is_kraken_endpoint(url))
        return ", ".join(hosts) or None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _WithoutCredentials(settings_cls, env_settings),
            _TomlDataSource(settings_cls),
        )

    def traded_symbols(self) -> tuple[str, ...]:
        """The configured symbols, then every strategy's symbol not among them, once each."""
        symbols = list(self.symbols)
        for strategy in self.strategies:
            if strategy.symbol not in symbols:
                symbols.append(strategy.symbol)
        return tuple(symbols)

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds, for the log redaction filter."""
        candidates = [self.redis.password, self.redis.command_secret]
        candidates += [self.sandbox.api_key, self.sandbox.api_secret]
        if self.credentials is not None:
            candidates += [self.credentials.api_key, self.credentials.api_secret]
        values = [secret.get_secret_value() for secret in candidates if secret is not None]
        values += [part for url in self.alerts.urls for part in url_secrets(url.get_secret_value())]
        url_password = urlsplit(self.redis.url).password if self.redis.url else None
        return [*values, url_password] if url_password else values


def _set_together(section: str, values: Mapping[str, object]) -> None:
    given = [field for field, value in values.items() if value]
    missing = [f"{section}.{field}" for field, value in values.items() if not value]
    if given and missing:
        names = [f"{section}.{field}" for field in values]
        together = ", ".join(names[:-1]) + f" and {names[-1]}"
        raise _SettingProblem(
            f"{section}.{given[0]}",
            f"{together} are set together or not at all; missing: {', '.join(missing)}",
        )


def _split(url: str) -> SplitResult:
    """URL parts, reading a bare ``host/path`` as a host so it cannot dodge the host rules."""
    return urlsplit(url if "//" in url else f"//{url}")


def _host(url: str) -> str:
    return (_split(url).hostname or "").rstrip(".")


def _host_and_port(url: str) -> str:
    parts = _split(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = _host(url) or url
    return f"{host}:{port}" if port else host


def _is_kraken_domain(host: str) -> bool:
    """Anything that may be Kraken: practice modes must not reach it even by a near miss."""
    return any(label in ("kraken", "krakenfutures") for label in host.split("."))


def _is_kraken_endpoint(url: str) -> bool:
    """A Kraken production host over TLS: the only place live mode sends keys by default."""
    host = _host(url)
    secure = _split(url).scheme in ("https", "wss")
    return secure and (host == "kraken.com" or host.endswith(".kraken.com"))


def masked_url(url: str) -> str:
    """``url`` with the password of its user part replaced by ``****``, for display."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, location = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:****@{location}").geturl()


_toml_data: ContextVar[dict[str, Any]] = ContextVar("kraken_tui_toml_data", default={})  # noqa: B039


class _TomlDataSource(PydanticBaseSettingsSource):
    """The already parsed config file; parsing happens in ``load_settings`` for its errors."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return _toml_data.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_toml_data.get())


class _WithoutCredentials(PydanticBaseSettingsSource):
    """Environment source that cannot set credentials: those have their own fixed names."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        values = self._inner()
        values.pop("credentials", None)
        return values


def load_settings(
    config_path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    secrets_path: Path | None = None,
) -> Settings:
    """Build the effective settings; raises ``ConfigError`` for anything invalid.

    ``overrides`` are command-line values as a nested mapping (``{"storage": {"db_path":
    ...}}``); they win over the environment, which wins over the file. The Kraken credentials
    are read in live mode only, so no other mode can send them anywhere.
    """
    env = os.environ
    overrides = dict(overrides or {})
    config_file = config_file_in_use(config_path)
    data = _read_toml(config_file) if config_file is not None else {}
    source_name = str(config_file) if config_file is not None else "the built-in defaults"
    if "credentials" in data:
        raise ConfigError(
            f"Invalid configuration in {config_file}: field 'credentials' is not allowed in "
            f"the config file; put the API key and secret in {API_KEY_ENV}/{API_SECRET_ENV} "
            "or in a secrets file readable only by you (chmod 600)."
        )
    secrets_file = _secrets_file_location(secrets_path, overrides, env, data)
    live = _requested_mode(overrides, env, data) == Mode.LIVE
    credentials = _read_credentials(secrets_file, env) if live else None
    if secrets_file is not None:
        overrides.setdefault("secrets_file", secrets_file)
    if credentials is not None:
        overrides["credentials"] = credentials
    token = _toml_data.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as error:
        heading = (
            f"Invalid configuration in {config_file}"
            if config_file is not None
            else "Invalid configuration (no config file)"
        )
        message = _describe(error, heading, source_name, data, overrides, env)
        for secret in _secret_inputs(credentials, data, env):
            message = message.replace(secret, MASK)
        raise ConfigError(message) from None
    finally:
        _toml_data.reset(token)


def config_file_in_use(config_path: Path | None) -> Path | None:
    """The TOML file ``load_settings`` reads for ``config_path`` (the ``--config`` value):
    that file, else ``config/kraken_tui.toml`` in the working directory, else none."""
    if config_path is not None:
        return config_path
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"Cannot read configuration file {path}: {error.strerror or error}."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"Invalid TOML in configuration file {path}: {error}.") from None


def _requested_mode(
    overrides: Mapping[str, Any], env: Mapping[str, str], data: Mapping[str, Any]
) -> object:
    """The mode as the settings sources will resolve it, known before any credential is read:
    the command line, else the environment (names matched without case, as pydantic-settings
    does), else the file, else the default."""
    if "mode" in overrides:
        return overrides["mode"]
    for name, value in env.items():
        if name.upper() == f"{ENV_PREFIX}MODE":
            return value
    return data.get("mode", Settings.model_fields["mode"].default)


def _secret_inputs(
    credentials: Credentials | None, data: Mapping[str, Any], env: Mapping[str, str]
) -> list[str]:
    """Every secret value given in any source, so an error quoting one can mask it; values
    too short to be real secrets are left out, since masking them would garble the message."""
    found = []
    if credentials is not None:
        found += [credentials.api_key.get_secret_value(), credentials.api_secret.get_secret_value()]
    for name, value in env.items():
        field = name.lower().removeprefix(ENV_PREFIX.lower())
        if name.upper().startswith(ENV_PREFIX) and _holds_secret(field):
            found.append(value)

    def walk(tree: Mapping[str, Any], path: str) -> None:
        for key, value in tree.items():
            if isinstance(value, Mapping):
                walk(value, f"{path}{key}.")
            elif isinstance(value, str) and _holds_secret(f"{path}{key}"):
                found.append(value)
            elif isinstance(value, list) and _holds_secret(f"{path}{key}"):
                found.extend(item for item in value if isinstance(item, str))

    walk(data, "")
    return [secret for secret in found if len(secret) >= MIN_MASKED_LENGTH]


def _secrets_file_location(
    secrets_path: Path | None,
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
    data: Mapping[str, Any],
) -> Path | None:
    for candidate in (
        secrets_path,
        overrides.get("secrets_file"),
        env.get(f"{ENV_PREFIX}SECRETS_FILE"),
        data.get("secrets_file"),
    ):
        if candidate:
            return Path(candidate)
    return None


def _read_credentials(secrets_file: Path | None, env: Mapping[str, str]) -> Credentials | None:
    values: dict[str, str] = {}
    if secrets_file is not None:
        values.update(_read_secrets_file(secrets_file))
    if env.get(API_KEY_ENV):
        values["api_key"] = env[API_KEY_ENV]
    if env.get(API_SECRET_ENV):
        values["api_secret"] = env[API_SECRET_ENV]
    if not values:
        return None
    missing = [name for name in ("api_key", "api_secret") if not values.get(name)]
    if missing:
        origin = f"secrets file {secrets_file}" if secrets_file else "the environment"
        raise ConfigError(
            f"Invalid credentials in {origin}: credentials.{missing[0]} is missing; the API "
            f"key and secret must be given together ({API_KEY_ENV} and {API_SECRET_ENV})."
        )
    return Credentials(
        api_key=SecretStr(values["api_key"]), api_secret=SecretStr(values["api_secret"])
    )


def _read_secrets_file(path: Path) -> dict[str, str]:
    """Read ``api_key``/``api_secret`` from TOML or KEY=VALUE lines, refusing shared files."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"Cannot read secrets file {path}: {error.strerror or error}.") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"Refusing secrets file {path}: it is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):o}); restrict it with: chmod 600 {path}"
        )
    try:
        raw: Mapping[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raw = dict(_key_value_lines(text, path))
    aliases = {"api_key": "api_key", API_KEY_ENV.lower(): "api_key"}
    aliases |= {"api_secret": "api_secret", API_SECRET_ENV.lower(): "api_secret"}
    values: dict[str, str] = {}
    for key, value in raw.items():
        name = aliases.get(key.lower())
        if name is None:
            raise ConfigError(
                f"Invalid secrets file {path}: unknown key {key!r}; expected api_key and "
                f"api_secret (or {API_KEY_ENV} and {API_SECRET_ENV})."
            )
        values[name] = str(value)
    return values


def _key_value_lines(text: str, path: Path) -> Iterator[tuple[str, str]]:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, separator, value = stripped.removeprefix("export ").partition("=")
        if not separator:
            raise ConfigError(f"Invalid secrets file {path}: expected TOML or KEY=VALUE lines.")
        yield key.strip(), value.strip().strip("'\"")


def _describe(
    error: ValidationError,
    heading: str,
    file_name: str,
    data: Mapping[str, Any],
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
) -> str:
    """One paragraph: which source, which field, what is wrong; values of secrets omitted."""
    problems = []
    for detail in error.errors():
        cause = detail.get("ctx", {}).get("error")
        across_fields = isinstance(cause, _SettingProblem)
        loc: list[Any] = (
            cause.field.split(".") if isinstance(cause, _SettingProblem) else list(detail["loc"])
        )
        field = ".".join(str(part) for part in loc) or "(settings)"
        source = _source_of(loc, file_name, data, overrides, env)
        message = detail["msg"].removeprefix("Value error, ")
        shown_input = ""
        # An unknown key may be a misspelt secret, so only known, non-secret fields quote it.
        quotable = detail["type"] not in ("missing", "extra_forbidden") and not across_fields
        if quotable and loc and not _is_secret_path(field):
            value = detail.get("input")
            if isinstance(value, str):
                shown_input = f" (got {masked_url(value)!r})"
            elif not isinstance(value, dict | list):
                shown_input = f" (got {value!r})"
        problems.append(f"{field} from {source}: {message}{shown_input}")
    return f"{heading}: " + "; ".join(problems) + "."


def _is_secret_path(field: str) -> bool:
    words = ("secret", "password", "api_key", "credentials")
    return any(word in field for word in words) or _is_alert_urls(field)


def _is_alert_urls(field: str) -> bool:
    """``alerts.urls`` as a field path or an environment variable name (``alerts__urls``)."""
    return field.replace(ENV_NESTED_DELIMITER, ".").startswith("alerts.urls")


def _holds_secret(field: str) -> bool:
    """A secret value rather than, like ``secrets_file``, the place of one."""
    return _is_secret_path(field) and field != "secrets_file"


def _source_of(
    loc: list[Any],
    file_name: str,
    data: Mapping[str, Any],
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
) -> str:
    if loc and _lookup(overrides, loc):
        return "the command line"
    env_name = ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(part) for part in loc).upper()
    if loc and any(
        name.upper() == env_name or name.upper().startswith(env_name + ENV_NESTED_DELIMITER)
        for name in env
    ):
        return f"environment variable {env_name}"
    if loc and _lookup(data, loc):
        return file_name
    return "the effective settings"


def _lookup(tree: Any, loc: list[Any]) -> bool:
    node = tree
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return True
