"""Time acceleration: a sandbox at time scale X closes 1-minute candles every 60/X seconds
and stamps candles, trades and orders with the same scaled clock."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from kraken.spot import Market, Trade, User

from kraken_tui.sandbox.process import SandboxProcess, SandboxStartError
from kraken_tui.sandbox.scaled_clock import ScaledClock
from kraken_tui.sandbox.server import SandboxConfig

SCALE = 60.0
PAIR = "XBTUSD"


class FakeWall:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_scaled_clock_starts_at_wall_time_and_runs_scale_times_faster() -> None:
    wall = FakeWall(1_700_000_000.0)
    clock = ScaledClock(60.0, wall)
    assert clock() == 1_700_000_000.0
    wall.now += 1.5
    assert clock() == 1_700_000_000.0 + 90.0


def test_scaled_clock_can_resume_from_a_later_venue_time() -> None:
    wall = FakeWall(1_700_000_000.0)
    clock = ScaledClock(2.0, wall, start=1_700_086_400.0)
    wall.now += 10.0
    assert clock() == 1_700_086_400.0 + 20.0


@pytest.mark.parametrize("scale", [0.0, -2.0, float("nan"), float("inf")])
def test_time_scale_must_be_a_positive_finite_number(scale: float) -> None:
    with pytest.raises(ValueError, match="time"):
        ScaledClock(scale)
    with pytest.raises(ValueError, match="time_scale"):
        SandboxConfig(time_scale=scale)


def test_cli_refuses_a_non_positive_time_scale() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kraken_tui.sandbox", "--port", "0", "--time-scale", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "time_scale must be a positive number" in result.stderr
    with pytest.raises(SandboxStartError, match="exited with code 2"):
        SandboxProcess(rate=0, time_scale=-1.0).start()


def _candle_begins(market: Market) -> list[int]:
    rows = market.get_ohlc(pair=PAIR, interval=1)
    (key,) = (k for k in rows if k != "last")
    return [int(row[0]) for row in rows[key]]


def test_one_minute_candles_close_every_second_at_time_scale_60() -> None:
    before_start = time.time()
    with SandboxProcess(rate=600, time_scale=SCALE, seed=3) as box:
        after_ready = time.time()
        market = Market(url=box.rest_url)
        time.sleep(0.5)
        first = _candle_begins(market)
        watched_from = time.time()
        time.sleep(4.0)
        last = _candle_begins(market)
        watched_for = time.time() - watched_from
        trades = market.get_recent_trades(pair=PAIR)
        queried_at = time.time()

        user = User(key=box.api_key, secret=box.api_secret, url=box.rest_url)
        txid = Trade(key=box.api_key, secret=box.api_secret, url=box.rest_url).create_order(
            ordertype="limit", side="buy", pair=PAIR, volume="0.001", price="1000"
        )["txid"][0]
        placed_at = time.time()
        opened = Decimal(str(user.get_open_orders()["open"][txid]["opentm"]))

    assert all(begin % 60 == 0 for begin in first + last)
    new_minutes = (last[-1] - first[-1]) / 60
    expected = watched_for * SCALE / 60
    assert expected - 1.5 <= new_minutes <= expected + 1.5, (new_minutes, expected)
    # at wall speed 4 s could add one minute at most; a loaded machine may skip a trade or two
    assert len(set(last) - set(first)) >= 2, "minutes passed without any trade"

    # Venue time = origin + (wall - origin) * 60 with the origin between spawn and ready.
    def venue_bounds(wall: float) -> tuple[float, float]:
        return SCALE * wall - (SCALE - 1) * after_ready, SCALE * wall - (SCALE - 1) * before_start

    low, high = venue_bounds(queried_at)
    (key,) = (k for k in trades if k != "last")
    newest_trade = max(float(row[2]) for row in trades[key])
    assert newest_trade <= high
    assert newest_trade >= low - 60, "trades are stamped with wall time, not venue time"
    assert last[-1] <= high and last[-1] >= low - 120
    low, high = venue_bounds(placed_at)
    assert low - SCALE <= float(opened) <= high


def _place_far_bid(box: SandboxProcess) -> Decimal:
    """Rest a bid nobody will hit and return its `opentm` as the venue stamped it."""
    trade = Trade(key=box.api_key, secret=box.api_secret, url=box.rest_url)
    txid = trade.create_order(
        ordertype="limit", side="buy", pair=PAIR, volume="0.001", price="1000"
    )["txid"][0]
    user = User(key=box.api_key, secret=box.api_secret, url=box.rest_url)
    return Decimal(str(user.get_open_orders()["open"][txid]["opentm"]))


def test_restart_on_a_fast_run_state_never_moves_venue_time_backwards(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.sqlite3"
    with SandboxProcess(rate=0, time_scale=3600.0, state_path=state) as box:
        time.sleep(1.0)  # an hour of venue time
        fast_stamp = _place_far_bid(box)
    assert float(fast_stamp) > time.time() + 1800
    for scale in (1.0, 60.0):
        with SandboxProcess(rate=0, time_scale=scale, state_path=state) as box:
            later = _place_far_bid(box)
        assert later >= fast_stamp
        fast_stamp = later
