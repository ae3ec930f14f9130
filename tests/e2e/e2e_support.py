"""Shared parts of the end-to-end tests: a standalone sandbox process, a config file, the real
`kraken-tui --no-ui` as a subprocess, and reading back both sides (the sandbox over REST and
its state file, our engine's SQLite store) to compare them."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from kraken.exceptions import KrakenApiLimitExceededError
from kraken.spot import User

from kraken_tui.domain.money import quantize_down
from kraken_tui.sandbox.pairs import DEFAULT_ASSETS
from kraken_tui.sandbox.process import SandboxProcess
from kraken_tui.sandbox.ratelimits import Tier
from kraken_tui.sandbox.venue import DEFAULT_FUNDING

T = TypeVar("T")

D = Decimal
ASSET_CODES = {"BTC": "XXBT", "ETH": "XETH", "USD": "ZUSD"}
"""Kraken's REST balance keys for the assets our symbols use."""
ASSET_STEPS = {asset.display: asset.step for asset in DEFAULT_ASSETS}
"""Kraken settles a fill's quote leg as its `cost`, price x volume rounded down to this step."""
USER_STRATEGIES = Path(__file__).parent / "e2e_strategies"
SCALED = 120.0
"""Time scale of the trading tests: a 1-minute candle closes every half second."""


@dataclass(frozen=True)
class StrategySpec:
    name: str
    class_name: str
    symbol: str
    params: Mapping[str, Any]


def sma_cross(symbol: str = "BTC/USD", name: str = "sma_fast") -> StrategySpec:
    """Close against its 3-bar SMA: on a random walk that crosses every few candles, so a
    short run at `SCALED` trades several times whatever way the market drifts."""
    return StrategySpec(name, "sma_cross", symbol, {"fast": 1, "slow": 3, "notional": "500"})


def market_maker(
    symbol: str = "ETH/USD", name: str = "mm_eth", *, half_spread_bps: int = 2
) -> StrategySpec:
    return StrategySpec(
        name,
        "market_maker",
        symbol,
        {
            "half_spread_bps": str(half_spread_bps),
            "quote_size": "0.1",
            "max_inventory": "1",
            "min_requote_interval_s": 1.0,
            "requote_threshold_ticks": 10,
        },
    )


def resting_bids(symbol: str = "BTC/USD", name: str = "resting_bids") -> StrategySpec:
    return StrategySpec(name, "resting_bids.py:RestingBids", symbol, {})


def flood_bids(symbol: str = "BTC/USD", name: str = "flood") -> StrategySpec:
    return StrategySpec(name, "flood_bids.py:FloodBids", symbol, {})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value) + '"'


def write_config(
    workdir: Path,
    strategies: Sequence[StrategySpec],
    *,
    cancel_on_shutdown: bool = True,
    dead_man_switch_timeout_s: int = 0,
    risk: Mapping[str, Any] | None = None,
    file_name: str = "kraken_tui.toml",
    strategy_dir: Path = USER_STRATEGIES,
    symbols: Sequence[str] = ("BTC/USD", "ETH/USD"),
    api_tier: str = "pro",
) -> Path:
    """A complete TOML config in `workdir`: store, logs, pro tier (as the sandbox runs,
    unless `api_tier` makes the client's own rate limiter the stricter one),
    strategies and risk limits. The URLs come from the environment, as an operator would set
    them to point the app at a standalone sandbox."""
    subscribed = sorted({*symbols, *(s.symbol for s in strategies)})
    lines = [
        "symbols = [" + ", ".join(f'"{s}"' for s in subscribed) + "]",
        "strategies = []" if not strategies else "",
        f'strategy_dir = "{strategy_dir}"',
        "[exchange]",
        f'api_tier = "{api_tier}"',
        f"dead_man_switch_timeout_s = {dead_man_switch_timeout_s}",
        "[storage]",
        f'db_path = "{workdir / "data" / "engine.sqlite3"}"',
        "[logging]",
        f'dir = "{workdir / "logs"}"',
        "[risk]",
        f"cancel_on_shutdown = {_toml_value(cancel_on_shutdown)}",
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in (risk or {}).items()]
    for spec in strategies:
        params = ", ".join(f"{k} = {_toml_value(v)}" for k, v in spec.params.items())
        lines += [
            "[[strategies]]",
            f'name = "{spec.name}"',
            f'class = "{spec.class_name}"',
            f'symbol = "{spec.symbol}"',
            f"params = {{{params}}}",
        ]
    path = workdir / file_name
    path.write_text("\n".join(lines) + "\n")
    return path


def engine_db(workdir: Path) -> Path:
    return workdir / "data" / "engine.sqlite3"


@contextmanager
def standalone_sandbox(
    workdir: Path, *, time_scale: float = SCALED, rate: float = 600.0, seed: int = 5
) -> Iterator[SandboxProcess]:
    workdir.mkdir(parents=True, exist_ok=True)
    box = SandboxProcess(
        seed=seed,
        rate=rate,
        state_path=workdir / "sandbox.sqlite3",
        tier=Tier.PRO,
        time_scale=time_scale,
        log_path=workdir / "sandbox.log",
    )
    with box:
        yield box


def sandbox_env(box: SandboxProcess) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKEN_")}
    env |= {
        "KRAKEN_TUI_EXCHANGE__REST_URL": box.rest_url,
        "KRAKEN_TUI_EXCHANGE__WS_URL": box.ws_url,
        "KRAKEN_TUI_EXCHANGE__WS_AUTH_URL": box.ws_auth_url,
    }
    return env


def start_headless(
    box: SandboxProcess, workdir: Path, config: Path, duration: float | None = None
) -> subprocess.Popen[bytes]:
    """`kraken-tui --no-ui` with stdin closed and no TTY, as under systemd or cron."""
    command = [sys.executable, "-m", "kraken_tui", "--no-ui", "--config", str(config)]
    if duration is not None:
        command += ["--duration", str(duration)]
    with (workdir / "headless.out").open("ab") as sink:
        return subprocess.Popen(
            command,
            cwd=workdir,
            env=sandbox_env(box),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def run_headless(box: SandboxProcess, workdir: Path, config: Path, duration: float) -> int:
    process = start_headless(box, workdir, config, duration)
    return process.wait(timeout=duration + 60)


def stop_with(process: subprocess.Popen[bytes], signum: signal.Signals, timeout: float) -> int:
    process.send_signal(signum)
    return process.wait(timeout=timeout)


def headless_output(workdir: Path) -> str:
    """Everything the headless runs in `workdir` printed so far ('' before the first)."""
    path = workdir / "headless.out"
    return path.read_text(errors="replace") if path.exists() else ""


# ---- the sandbox's side ---------------------------------------------------------------------


def sandbox_user(box: SandboxProcess) -> User:
    return User(key=box.api_key, secret=box.api_secret, url=box.rest_url)


def _within_rate_limit(call: Callable[[], T], timeout: float = 30.0) -> T:
    """The test shares the engine's API key, so its REST counter may be full right after an
    engine's reconciliation: wait for it to decay, as any Kraken client must."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except KrakenApiLimitExceededError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def rest_open_orders(box: SandboxProcess) -> dict[str, Any]:
    return dict(_within_rate_limit(sandbox_user(box).get_open_orders)["open"])


def rest_balances(box: SandboxProcess) -> dict[str, Decimal]:
    balances = _within_rate_limit(sandbox_user(box).get_account_balance)
    return {k: D(str(v)) for k, v in balances.items()}


def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@dataclass(frozen=True)
class VenueOrder:
    txid: str
    cl_ord_id: str | None
    status: str
    vol_exec: Decimal
    reason: str | None


def sandbox_orders(state_path: Path, api_key: str) -> list[VenueOrder]:
    """Every order the sandbox ever accepted for `api_key`, open and closed, from its own
    state file (REST ClosedOrders pages by 50; the file is the complete record)."""
    with closing(sqlite3.connect(f"file:{state_path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT txid, cl_ord_id, status, vol_exec, reason FROM orders WHERE api_key = ?",
            (api_key,),
        ).fetchall()
    return [VenueOrder(t, c, s, D(v), r) for t, c, s, v, r in rows]


def sandbox_open_txids(state_path: Path, api_key: str) -> set[str]:
    """Open orders as the sandbox's state file has them: cheap to poll, unlike REST
    OpenOrders, whose calls count against the same API key's rate limit as the engine's."""
    return {o.txid for o in sandbox_orders(state_path, api_key) if o.status in ("open", "pending")}


def sandbox_fill_ids(state_path: Path, api_key: str) -> set[str]:
    with closing(sqlite3.connect(f"file:{state_path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT trade_id FROM fills WHERE api_key = ?", (api_key,))
        return {row[0] for row in rows}


# ---- our side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredOrder:
    cl_ord_id: str
    order_id: str | None
    strategy: str | None
    status: str
    filled: Decimal
    external: bool


@dataclass(frozen=True)
class StoredExecution:
    exec_id: str
    order_id: str
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_ccy: str


def _read(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        return db.execute(sql).fetchall()


def stored_orders(db_path: Path) -> list[StoredOrder]:
    query = "SELECT cl_ord_id, order_id, strategy, status, filled, external FROM orders"
    return [StoredOrder(c, o, s, st, D(f), bool(x)) for c, o, s, st, f, x in _read(db_path, query)]


def stored_executions(db_path: Path) -> list[StoredExecution]:
    rows = _read(
        db_path,
        "SELECT exec_id, order_id, symbol, side, price, qty, fee, fee_ccy FROM executions",
    )
    return [StoredExecution(e, o, s, sd, D(p), D(q), D(f), c) for e, o, s, sd, p, q, f, c in rows]


def stored_net_positions(db_path: Path) -> dict[str, Decimal]:
    """Account-level positions (the rows with strategy '') by symbol."""
    rows = _read(db_path, "SELECT symbol, qty FROM positions WHERE strategy = ''")
    return {symbol: D(qty) for symbol, qty in rows}


def asset_changes(executions: Sequence[StoredExecution]) -> dict[str, Decimal]:
    """What our executions say the account's balances moved by: base and quote legs (the
    quote leg settled as Kraken's rounded `cost`), fees."""
    changes: dict[str, Decimal] = {}
    for execution in executions:
        base, quote = execution.symbol.split("/")
        sign = 1 if execution.side == "buy" else -1
        changes[base] = changes.get(base, D(0)) + sign * execution.qty
        cost = quantize_down(execution.qty * execution.price, ASSET_STEPS[quote])
        changes[quote] = changes.get(quote, D(0)) - sign * cost
        changes[execution.fee_ccy] = changes.get(execution.fee_ccy, D(0)) - execution.fee
    return changes


def balance_changes(balances: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The sandbox account's balance changes since its default funding, by display asset."""
    return {
        asset: balances.get(code, D(0)) - DEFAULT_FUNDING[code]
        for asset, code in ASSET_CODES.items()
    }
