from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from kraken_tui.domain import Execution, Instrument, Liquidity, Side
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


def test_average_price_and_realized_pnl_net_of_fees() -> None:
    positions = PositionManager(INSTRUMENTS)
    positions.apply(_fill(1, Side.BUY, "1", "100", fee="0.26"), "s1")
    positions.apply(_fill(2, Side.BUY, "1", "110", fee="0.28"), "s1")
    positions.apply(_fill(3, Side.SELL, "1.5", "120", fee="0.47"), "s1")
    account = positions.position("BTC/USD")
    assert account.qty == D("0.5")
    assert account.avg_price == D("105")
    assert account.realized_pnl == D("22.5") - D("1.01")
    assert account.fees == D("1.01")
    assert positions.strategy_position("BTC/USD", "s1") == replace(account, strategy="s1")


def test_manual_fills_move_the_account_but_no_strategy() -> None:
    positions = PositionManager(INSTRUMENTS)
    positions.apply(_fill(1, Side.BUY, "2", "100"), None)
    positions.apply(_fill(2, Side.SELL, "0.5", "100"), "s1")
    assert positions.position("BTC/USD").qty == D("1.5")
    assert positions.strategy_position("BTC/USD", "s1").qty == D("-0.5")
    assert [p.strategy for p in positions.positions] == [None, "s1"]


def test_mark_gives_unrealized_pnl_and_replaces_the_snapshot() -> None:
    positions = PositionManager(INSTRUMENTS)
    positions.apply(_fill(1, Side.BUY, "2", "100"), "s1")
    before = positions.positions
    assert positions.mark("BTC/USD", D("103"))
    assert positions.positions is not before
    assert positions.position("BTC/USD").unrealized_pnl == D("6")
    assert positions.strategy_pnl("s1") == D("6")
    assert positions.trading_pnl() == D("6")
    assert not positions.mark("BTC/USD", D("103"))


def test_flows_track_each_asset_including_fees_charged_in_base() -> None:
    positions = PositionManager(INSTRUMENTS)
    positions.apply(_fill(1, Side.BUY, "1", "100", fee="0.001", ccy="BTC"), None)
    positions.apply(_fill(2, Side.SELL, "0.5", "120", fee="0.1"), None)
    assert positions.asset_flows() == {"BTC": D("0.499"), "USD": D("-100") + D("60") - D("0.1")}
    assert positions.position("BTC/USD").fees == D("0.1") + D("0.1")


def test_a_fee_paid_in_base_leaves_the_position_and_is_valued_in_quote() -> None:
    """Kraken charges the fee in base with `fcib`, its default for sells (krakenfx/api-specs
    spot-rest/partials/properties/oflags.yaml); the WS trade item says so in `fees`."""
    positions = PositionManager(INSTRUMENTS)
    positions.apply(_fill(1, Side.BUY, "1", "100", fee="0.004", ccy="BTC"), "s1")
    bought = positions.position("BTC/USD")
    assert (bought.qty, bought.avg_price) == (D("0.996"), D("100"))
    assert bought.realized_pnl == D("-0.4") and bought.fees == D("0.4")
    positions.apply(_fill(2, Side.SELL, "0.5", "120", fee="0.002", ccy="BTC"), "s1")
    sold = positions.position("BTC/USD")
    assert sold.qty == D("0.494")
    # 0.5 sold at +20, the fee units (0.002 at cost 100) lost, both fees realized
    assert sold.realized_pnl == D("-0.4") + D("10") - D("0.2")
    assert positions.asset_flows() == {
        "BTC": D("1") - D("0.004") - D("0.5") - D("0.002"),
        "USD": D("-100") + D("60"),
    }


def test_a_fee_in_a_third_asset_moves_that_asset_and_not_the_quote() -> None:
    positions = PositionManager(INSTRUMENTS)
    positions.apply(_fill(1, Side.BUY, "1", "100", fee="3", ccy="KFEE"), None)
    assert positions.position("BTC/USD").qty == D("1")
    assert positions.asset_flows() == {"BTC": D("1"), "USD": D("-100"), "KFEE": D("-3")}
