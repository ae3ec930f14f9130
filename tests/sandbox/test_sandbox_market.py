"""Synthetic market and trades-CSV replay driving a real venue."""

import contextlib
import itertools
import math
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.errors import VenueError
from kraken_tui.sandbox.events import BookLevelChanged, TradePrinted, VenueEvent
from kraken_tui.sandbox.market import DEFAULT_DYNAMICS, MarketSimulator
from kraken_tui.sandbox.replay import CsvTrade, TradesReplay, read_trades_csv
from kraken_tui.sandbox.venue import SandboxVenue

D = Decimal
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def running_market(
    seed: int, rate: float = 2_000.0, steps: int = 40, dt: float = 0.05
) -> tuple[SandboxVenue, MarketSimulator, list[VenueEvent]]:
    clock = Clock()
    venue = SandboxVenue(clock=clock, id_seed=seed)
    events: list[VenueEvent] = []
    venue.subscribe(events.append)
    simulator = MarketSimulator(venue, seed=seed, rate=rate)
    simulator.step(clock.now)
    for _ in range(steps):
        clock.now += dt
        simulator.step(clock.now)
    return venue, simulator, events


def test_same_seed_produces_the_same_event_stream() -> None:
    _, _, first = running_market(seed=11)
    _, _, second = running_market(seed=11)
    assert first == second
    _, _, other = running_market(seed=12)
    assert other != first


def test_step_produces_the_book_events_owed_at_the_configured_rate() -> None:
    clock = Clock()
    venue = SandboxVenue(clock=clock)
    simulator = MarketSimulator(venue, seed=3, rate=5_000.0)
    simulator.step(clock.now)
    seeded = simulator.book_events
    produced = 0
    for _ in range(80):
        clock.now += 0.05
        produced += simulator.step(clock.now)
    assert simulator.book_events - seeded == produced
    assert 19_900 <= produced <= 22_000


def test_synthetic_books_stay_sane_and_deep() -> None:
    venue, simulator, _ = running_market(seed=5, steps=60)
    for symbol in simulator.symbols:
        pair = venue.pairs.resolve(symbol)
        book = venue.book(symbol, 1000)
        assert book.bids[0][0] < book.asks[0][0]
        for price, qty in book.bids + book.asks:
            assert price % pair.tick_size == 0
            assert qty > 0 and qty % pair.lot_step == 0
        assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
        fair = simulator.fair_value(symbol)
        assert book.bids[0][0] < fair * D("1.01") and book.asks[0][0] > fair * D("0.99")
    assert venue.level_count("BTC/USD", Side.BUY) >= 100
    assert venue.level_count("BTC/USD", Side.SELL) >= 100


def test_book_events_let_a_client_rebuild_the_book_exactly() -> None:
    venue, simulator, events = running_market(seed=8, steps=30)
    mirror: dict[str, dict[tuple[Side, Decimal], Decimal]] = {s: {} for s in simulator.symbols}
    for event in events:
        if isinstance(event, BookLevelChanged):
            levels = mirror[event.symbol]
            if event.qty == 0:
                levels.pop((event.side, event.price), None)
            else:
                levels[(event.side, event.price)] = event.qty
    for symbol, levels in mirror.items():
        book = venue.book(symbol, 10_000)
        bids = sorted(((p, q) for (s, p), q in levels.items() if s is Side.BUY), reverse=True)
        asks = sorted((p, q) for (s, p), q in levels.items() if s is Side.SELL)
        assert (tuple(bids), tuple(asks)) == (book.bids, book.asks)


def test_trades_happen_at_book_prices_and_feed_the_candles() -> None:
    venue, simulator, events = running_market(seed=9, steps=60)
    trades = [e for e in events if isinstance(e, TradePrinted) and e.symbol == "BTC/USD"]
    assert trades
    assert len(trades) < 1000
    first_minute = int(trades[0].timestamp) // 60 * 60
    candles = venue.ohlc("BTC/USD", 1, since=first_minute)  # the synthetic history is older
    assert sum(bar.volume for bar in candles) == sum(t.qty for t in trades)
    assert sum(bar.trades for bar in candles) == len(trades)
    fair = simulator.fair_value("BTC/USD")
    assert all(abs(t.price - fair) / fair < D("0.01") for t in trades)


def test_price_process_has_roughly_the_configured_volatility() -> None:
    venue = SandboxVenue(clock=Clock())
    btc = replace(DEFAULT_DYNAMICS[0], levels_per_side=10)
    simulator = MarketSimulator(venue, seed=21, rate=0.05, dynamics=[btc])
    simulator.step(0.0)
    closes = [float(simulator.fair_value("BTC/USD"))]
    for _ in range(1440):
        simulator.advance(60.0)
        closes.append(float(simulator.fair_value("BTC/USD")))
    returns = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    annualized = math.sqrt(variance * 365 * 1440)
    assert 0.35 < annualized < 1.0


def test_users_resting_orders_fill_when_the_price_moves_through_them() -> None:
    clock = Clock()
    venue = SandboxVenue(clock=clock)
    venue.open_account("alice")
    simulator = MarketSimulator(venue, seed=4, rate=500.0)
    simulator.step(clock.now)
    bid = (simulator.fair_value("BTC/USD") - D("50")).quantize(D("0.1"))
    venue.add_order("alice", pair="BTC/USD", side="buy", order_type="limit", volume="0.01",
                    price=str(bid))  # fmt: skip
    simulator.set_fair_value("BTC/USD", bid - D("100"))
    (order,) = venue.closed_orders("alice").items
    assert order.vol_exec == D("0.01")
    assert venue.trades_history("alice").items[0].price == bid


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


def test_trades_csv_is_read_without_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "XBTUSD.csv", ["1600000000.5,10500.1,0.25", "1600000001,10499.9,1"])
    assert list(read_trades_csv(path)) == [
        CsvTrade(1600000000.5, D("10500.1"), D("0.25")),
        CsvTrade(1600000001.0, D("10499.9"), D("1")),
    ]


def test_malformed_csv_row_names_its_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "XBTUSD.csv", ["1600000000,10500.1,0.25", "oops,1,2"])
    with pytest.raises(ValueError, match=r"XBTUSD\.csv:2"):
        list(read_trades_csv(path))


def test_replay_prints_recorded_trades_in_order_with_tick_rule_sides(tmp_path: Path) -> None:
    rows = [
        "1600000000,10500.0,0.25",
        "1600000001,10501.5,0.1",
        "1600000002,10499.0,0.3",
        "1600000002.5,10499.0,0.05",
        "1600000010,10502.0,0.2",
    ]
    clock = Clock()
    venue = SandboxVenue(clock=clock)
    simulator = MarketSimulator(venue, seed=2, rate=200.0)
    replay = TradesReplay(
        simulator, "XBTUSD", read_trades_csv(write_csv(tmp_path / "XBTUSD.csv", rows))
    )
    replay.step(clock.now)
    clock.now += 3
    replay.step(clock.now)
    assert replay.replayed == 4
    assert not replay.finished
    clock.now += 10
    replay.step(clock.now)
    assert replay.finished
    printed = [(t.price, t.qty, t.side) for t in venue.recent_trades("BTC/USD")]
    assert printed == [
        (D("10500.0"), D("0.25"), Side.BUY),
        (D("10501.5"), D("0.1"), Side.BUY),
        (D("10499.0"), D("0.3"), Side.SELL),
        (D("10499.0"), D("0.05"), Side.SELL),
        (D("10502.0"), D("0.2"), Side.BUY),
    ]
    book = venue.book("BTC/USD", 10)
    assert book.bids[0][0] < D("10502.0") < book.asks[0][0] + D("1")
    assert venue.level_count("BTC/USD", Side.BUY) > 10


def test_replay_speed_compresses_recorded_time() -> None:
    clock = Clock()
    venue = SandboxVenue(clock=clock)
    simulator = MarketSimulator(venue, seed=2, rate=100.0)
    trades = [CsvTrade(1000.0 + i * 10, D("3500.00"), D("0.1")) for i in range(5)]
    replay = TradesReplay(simulator, "ETH/USD", trades, speed=10.0)
    replay.step(clock.now)
    clock.now += 2.5
    replay.step(clock.now)
    assert replay.replayed == 3


def asset_totals(venue: SandboxVenue, keys: tuple[str, ...]) -> dict[str, Decimal]:
    summed: dict[str, Decimal] = {}
    ledgers = [venue.balances(key) for key in keys]
    ledgers += [venue.market_balances(), venue.fee_income()]
    for ledger in ledgers:
        for asset, amount in ledger.items():
            summed[asset] = summed.get(asset, D(0)) + amount
    return {asset: amount for asset, amount in summed.items() if amount}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    orders=st.lists(
        st.tuples(
            st.sampled_from(["alice", "bob"]),
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(min_value=-300, max_value=300),
            st.integers(min_value=1, max_value=50),
            st.sampled_from(["limit", "market", "stop-loss"]),
        ),
        min_size=1,
        max_size=15,
    ),
)
def test_users_trading_in_a_running_market_conserve_funds_and_never_cross_the_book(
    seed: int, orders: list[tuple[str, Side, int, int, str]]
) -> None:
    clock = Clock()
    venue = SandboxVenue(clock=clock, id_seed=seed)
    keys = ("alice", "bob")
    for key in keys:
        venue.open_account(key)
    simulator = MarketSimulator(venue, seed=seed, rate=400.0)
    simulator.step(clock.now)
    initial = asset_totals(venue, keys)
    for key, side, offset_ticks, units, order_type in orders:
        reference = simulator.fair_value("BTC/USD") + D("0.1") * offset_ticks
        with contextlib.suppress(VenueError):
            venue.add_order(key, pair="BTC/USD", side=side, order_type=order_type,
                            volume=D("0.001") * units, price=reference,
                            trigger_price=reference)  # fmt: skip
        clock.now += 0.25
        simulator.step(clock.now)
        assert asset_totals(venue, keys) == initial
        for symbol in simulator.symbols:
            bid = venue.best_price(symbol, Side.BUY)
            ask = venue.best_price(symbol, Side.SELL)
            assert bid is not None and ask is not None and bid < ask
        for key in keys:
            assert all(entry.available >= 0 for entry in venue.balances_ex(key).values())


def test_a_fresh_market_starts_with_a_reproducible_candle_history_ending_at_its_price() -> None:
    def history(seed: int) -> list:
        venue = SandboxVenue(clock=Clock())
        simulator = MarketSimulator(venue, seed=seed, rate=100.0)
        simulator.step(0.0)
        return venue.ohlc("BTC/USD", 1), simulator.fair_value("BTC/USD"), venue.now()

    bars, fair, now = history(4)
    assert len(bars) == 720
    assert bars[-1].interval_begin + 60 <= now
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    assert all(a.close == b.open for a, b in itertools.pairwise(bars))
    assert abs(bars[-1].close - fair) <= D("0.1")
    assert history(4)[0] == bars and history(5)[0] != bars
