"""Persistence: a restarted venue on the same SQLite file finds what a real exchange keeps."""

import sqlite3
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.venue import SandboxVenue

D = Decimal
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def trading_session(path: Path) -> SandboxVenue:
    venue = SandboxVenue(state_path=path, clock=Clock())
    venue.open_account("alice")
    venue.open_account("bob", {"ZUSD": D(5_000), "XXBT": D("0.5")})
    venue.place_synthetic("BTC/USD", Side.SELL, D("95000.0"), D("0.3"))
    venue.add_order("alice", pair="BTC/USD", side="buy", order_type="market", volume="0.1")
    venue.add_order("alice", pair="BTC/USD", side="buy", order_type="limit", volume="0.05",
                    price="94000.0", cl_ord_id="first")  # fmt: skip
    venue.add_order("bob", pair="BTC/USD", side="buy", order_type="limit", volume="0.05",
                    price="94000.0", userref=9)  # fmt: skip
    venue.add_order("alice", pair="BTC/USD", side="buy", order_type="limit", volume="0.4",
                    price="95000.0")  # fmt: skip
    venue.add_order("bob", pair="BTC/USD", side="sell", order_type="stop-loss", volume="0.1",
                    trigger_price="90000.0")  # fmt: skip
    txid = venue.add_order("alice", pair="ETH/USD", side="sell", order_type="limit",
                           volume="1", price="4000.00").txid  # fmt: skip
    assert txid is not None
    venue.cancel_order("alice", txid=txid)
    return venue


def snapshot(venue: SandboxVenue) -> dict[str, object]:
    return {
        key: (
            venue.balances_ex(key),
            venue.open_orders(key),
            venue.closed_orders(key, limit=100).items,
            venue.trades_history(key, limit=100).items,
        )
        for key in ("alice", "bob")
    } | {
        "fees": venue.fee_income(),
        "book": (venue.book("BTC/USD", 10).bids, venue.book("BTC/USD", 10).asks),
    }


def test_restarted_venue_finds_accounts_orders_fills_and_book(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    first = trading_session(path)
    before = snapshot(first)
    first.close()
    second = SandboxVenue(state_path=path, clock=Clock())
    assert snapshot(second) == before
    assert second.open_account("alice") is False


def test_reloaded_orders_keep_their_queue_priority(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    trading_session(path).close()
    venue = SandboxVenue(state_path=path, clock=Clock())
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.25"), D("94000.0"))
    (alice_fill,) = [f for f in venue.trades_history("alice").items if f.price == D("94000.0")]
    assert alice_fill.cl_ord_id == "first"
    assert not [f for f in venue.trades_history("bob").items if f.price == D("94000.0")]


def test_reloaded_stop_orders_still_trigger(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    trading_session(path).close()
    venue = SandboxVenue(state_path=path, clock=Clock())
    venue.place_synthetic("BTC/USD", Side.BUY, D("89000.0"), D("1"))
    venue.take_synthetic("BTC/USD", Side.SELL, D("0.5"), D("89000.0"))
    stop = [o for o in venue.closed_orders("bob").items if o.order_type == "stop-loss"]
    assert stop and stop[0].triggered and stop[0].vol_exec == D("0.1")


def test_public_trade_ids_continue_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    first = trading_session(path)
    last_id = first.trades_history("alice").items[0].public_trade_id
    first.close()
    venue = SandboxVenue(state_path=path, clock=Clock())
    venue.place_synthetic("BTC/USD", Side.SELL, D("96000.0"), D("1"))
    venue.add_order("alice", pair="BTC/USD", side="buy", order_type="market", volume="0.01")
    assert venue.recent_trades("BTC/USD")[-1].trade_id == last_id + 1


def test_state_file_uses_wal_and_stores_money_as_exact_text(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    trading_session(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    costs = {row[0] for row in db.execute("SELECT cost FROM fills")}
    assert "9500.00" in costs
    db.close()
