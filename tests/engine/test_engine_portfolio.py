from datetime import UTC, datetime
from decimal import Decimal

from loguru import logger

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import Balance, Execution, Instrument, Liquidity, Side
from kraken_tui.engine.portfolio import PortfolioManager
from kraken_tui.engine.positions import PositionManager

D = Decimal
T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
BTC = Instrument(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    price_decimals=1,
    lot_decimals=8,
    tick_size=D("0.1"),
    ordermin=D("0.0001"),
    costmin=D("0.5"),
)
INSTRUMENTS = {"BTC/USD": BTC}


def _fill(n: int, side: Side, qty: str, price: str, fee: str = "0", ccy: str = "USD"):
    return Execution(
        exec_id=f"T{n}",
        order_id=f"O{n}",
        symbol="BTC/USD",
        side=side,
        price=D(price),
        qty=D(qty),
        fee=D(fee),
        fee_ccy=ccy,
        liquidity=Liquidity.TAKER,
        ts=T0,
    )


def test_equity_peak_and_drawdown_follow_marks() -> None:
    portfolio = PortfolioManager("USD", INSTRUMENTS, VirtualClock(T0))
    portfolio.set_balances({"USD": Balance("USD", D("1000")), "BTC": Balance("BTC", D("1"))})
    snap = portfolio.revalue({"BTC/USD": D("1000")}, D(0))
    assert snap.equity == D("2000") and snap.peak_equity == D("2000")
    snap = portfolio.revalue({"BTC/USD": D("500")}, D(0))
    assert snap.equity == D("1500")
    assert snap.drawdown_pct == D("25")
    assert snap.peak_equity == D("2000")


def test_daily_pnl_restarts_at_utc_midnight() -> None:
    clock = VirtualClock(T0)
    portfolio = PortfolioManager("USD", INSTRUMENTS, clock)
    portfolio.set_balances({"USD": Balance("USD", D("1000"))})
    portfolio.revalue({}, D("10"))
    assert portfolio.revalue({}, D("-40")).daily_pnl == D("-50")
    clock.advance(12 * 3600)
    assert portfolio.revalue({}, D("-45")).daily_pnl == D("0")
    assert portfolio.revalue({}, D("-60")).daily_pnl == D("-15")


def test_fill_moves_balances_between_polls() -> None:
    portfolio = PortfolioManager("USD", INSTRUMENTS, VirtualClock(T0))
    portfolio.set_balances({"USD": Balance("USD", D("1000"))})
    portfolio.apply_fill(_fill(1, Side.BUY, "1", "100", fee="0.5"))
    snap = portfolio.revalue({"BTC/USD": D("100")}, D(0))
    assert snap.balances == {"USD": D("899.5"), "BTC": D("1")}
    assert snap.equity == D("999.5")


def test_unchanged_figures_keep_the_same_snapshot_object() -> None:
    portfolio = PortfolioManager("USD", INSTRUMENTS, VirtualClock(T0))
    portfolio.set_balances({"USD": Balance("USD", D("1000"))})
    first = portfolio.revalue({}, D(0))
    assert portfolio.revalue({}, D(0)) is first


def test_balance_check_flags_what_fills_do_not_explain() -> None:
    portfolio = PortfolioManager("USD", INSTRUMENTS, VirtualClock(T0))
    positions = PositionManager(INSTRUMENTS)
    start = {"USD": Balance("USD", D("1000")), "BTC": Balance("BTC", D("0"))}
    baseline = portfolio.baseline_for(start, positions.asset_flows())
    positions.apply(_fill(1, Side.BUY, "1", "100", fee="0.2"), None)
    now = {"USD": Balance("USD", D("899.8")), "BTC": Balance("BTC", D("1"))}
    assert portfolio.compare(baseline, positions.asset_flows(), now) == []
    deposit = {"USD": Balance("USD", D("999.8")), "BTC": Balance("BTC", D("1"))}
    [mismatch] = portfolio.compare(baseline, positions.asset_flows(), deposit)
    assert mismatch.asset == "USD" and mismatch.actual - mismatch.expected == D("100")
    assert "exchange holds 999.8" in str(mismatch)


def test_periodic_mismatch_alerts_critical_only_when_it_persists() -> None:
    levels: list[str] = []
    sink = logger.add(lambda m: levels.append(m.record["level"].name), level="WARNING")
    try:
        portfolio = PortfolioManager("USD", INSTRUMENTS, VirtualClock(T0))
        mismatch = portfolio.compare({"USD": D(1)}, {}, {})
        portfolio.report(mismatch, confirmed=False)
        assert levels == ["WARNING"]
        portfolio.report(mismatch, confirmed=False)
        assert levels == ["WARNING", "CRITICAL"]
    finally:
        logger.remove(sink)


def test_equity_waits_for_every_valued_price_instead_of_reporting_a_phantom_drawdown() -> None:
    """After a restart the persisted peak counted BTC; until BTC's book arrives, equity
    without it would look like a crash and fire the drawdown kill switch."""
    portfolio = PortfolioManager("USD", INSTRUMENTS, VirtualClock(T0))
    portfolio.restore(D("2000"), None, D(0))
    portfolio.set_balances({"USD": Balance("USD", D("1000")), "BTC": Balance("BTC", D("1"))})
    assert portfolio.revalue({}, D(0)).drawdown_pct == D(0)
    snap = portfolio.revalue({"BTC/USD": D("900")}, D(0))
    assert snap.equity == D("1900") and snap.drawdown_pct == D("5")


def test_assets_without_a_traded_pair_stay_out_of_equity_consistently() -> None:
    portfolio = PortfolioManager("USD", INSTRUMENTS, VirtualClock(T0), valued_symbols=["BTC/USD"])
    portfolio.set_balances(
        {
            "USD": Balance("USD", D("1000")),
            "BTC": Balance("BTC", D("1")),
            "SOL": Balance("SOL", D("500")),
        }
    )
    assert portfolio.valued_assets == frozenset({"BTC"})
    assert portfolio.revalue({"BTC/USD": D("1000")}, D(0)).equity == D("2000")


def test_balance_check_allows_one_fiat_rounding_step_per_settled_fill() -> None:
    portfolio = PortfolioManager("USD", INSTRUMENTS, VirtualClock(T0))
    baseline = {"USD": D("1000"), "BTC": D("0")}
    flows = {"USD": D("-333.33333333"), "BTC": D("0.01")}
    balances = {"USD": Balance("USD", D("666.6666")), "BTC": Balance("BTC", D("0.01"))}
    assert portfolio.compare(baseline, flows, balances, {"USD": 1}) == []
    assert [m.asset for m in portfolio.compare(baseline, flows, balances)] == ["USD"]
    off_by_a_cent = {"USD": Balance("USD", D("666.6566")), "BTC": Balance("BTC", D("0.01"))}
    assert [m.asset for m in portfolio.compare(baseline, flows, off_by_a_cent, {"USD": 1})] == [
        "USD"
    ]
