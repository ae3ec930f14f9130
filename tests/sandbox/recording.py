"""Deterministic generator of a Kraken WebSocket v2 recording (book + trade, BTC/USD, ETH/USD).

Regenerate the committed file with `python tests/sandbox/recording.py`; the mirror tests
check that the file is exactly what this generator produces. Each pair keeps a book deeper
than the subscribed depth and emits, like Kraken, only what changes in the top `depth`:
new and resized levels, `qty 0` for deleted ones, the level that moves into scope when one
inside it is deleted, and nothing for levels pushed out by an insert (clients truncate).
Every book message carries the CRC32 of the resulting top 10. A trade is sent before the
book update that removes what it took.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

from kraken_tui.exchange.order_book import kraken_checksum

RECORDING_PATH = Path(__file__).parent / "data" / "kraken_ws_recording.jsonl"
DEPTH = 10
_DEEP_LEVELS = 30
_START = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


@dataclass
class PairSpec:
    symbol: str
    mid: Decimal
    tick: Decimal
    lot_decimals: int
    level_qty: float


PAIRS = (
    PairSpec("BTC/USD", Decimal("95000.0"), Decimal("0.1"), 8, 0.4),
    PairSpec("ETH/USD", Decimal("3500.00"), Decimal("0.01"), 8, 6.0),
)


def _number(value: Decimal) -> float:
    """Kraken sends bare JSON numbers; generated values stay above 1e-4 so they print plainly."""
    return float(value)


@dataclass
class ReferenceBook:
    """A pair's full book as the exchange holds it, and the messages a depth-10 subscriber
    receives about it."""

    spec: PairSpec
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)

    def truncate(self, depth: int = DEPTH) -> None:
        """Forget levels beyond `depth`, as a subscriber does after each message."""
        for side in ("bids", "asks"):
            levels = self.bids if side == "bids" else self.asks
            keep = {p for p, _ in self.top(side, depth)}
            for price in [p for p in levels if p not in keep]:
                del levels[price]

    def top(self, side: str, depth: int = DEPTH) -> list[tuple[Decimal, Decimal]]:
        levels = self.bids if side == "bids" else self.asks
        prices = sorted(levels, reverse=side == "bids")[:depth]
        return [(p, levels[p]) for p in prices]

    def checksum(self) -> int:
        price_q = self.spec.tick
        lot_q = Decimal(1).scaleb(-self.spec.lot_decimals)

        def strings(levels: list[tuple[Decimal, Decimal]]) -> list[tuple[str, str]]:
            return [(str(p.quantize(price_q)), str(q.quantize(lot_q))) for p, q in levels]

        return kraken_checksum(strings(self.top("asks")), strings(self.top("bids")))

    def snapshot_message(self) -> dict[str, Any]:
        entry = {
            "symbol": self.spec.symbol,
            "bids": [{"price": _number(p), "qty": _number(q)} for p, q in self.top("bids")],
            "asks": [{"price": _number(p), "qty": _number(q)} for p, q in self.top("asks")],
            "checksum": self.checksum(),
        }
        return {"channel": "book", "type": "snapshot", "data": [entry]}

    def change(
        self, side: str, updates: list[tuple[Decimal, Decimal]], timestamp: str
    ) -> dict[str, Any] | None:
        """Apply `(price, qty)` changes (qty 0 deletes) and return the update message, or
        None when nothing in the subscribed depth changed (Kraken sends nothing then)."""
        levels = self.bids if side == "bids" else self.asks
        before = dict(self.top(side))
        for price, qty in updates:
            if qty > 0:
                levels[price] = qty
            else:
                levels.pop(price, None)
        after = dict(self.top(side))
        sent = [
            {"price": _number(p), "qty": _number(q)} for p, q in after.items() if before.get(p) != q
        ]
        sent += [
            {"price": _number(p), "qty": 0.0} for p in before if p not in after and p not in levels
        ]
        if not sent:
            return None
        entry = {
            "symbol": self.spec.symbol,
            "bids": sent if side == "bids" else [],
            "asks": sent if side == "asks" else [],
            "checksum": self.checksum(),
            "timestamp": timestamp,
        }
        return {"channel": "book", "type": "update", "data": [entry]}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _qty(rng: Random, spec: PairSpec) -> Decimal:
    raw = spec.level_qty * rng.lognormvariate(0.0, 0.8)
    return max(Decimal(str(round(raw, spec.lot_decimals))), Decimal("0.001"))


def seeded_books(rng: Random) -> dict[str, ReferenceBook]:
    books: dict[str, ReferenceBook] = {}
    for spec in PAIRS:
        book = ReferenceBook(spec)
        for i in range(1, _DEEP_LEVELS + 1):
            book.bids[spec.mid - spec.tick * i * 3] = _qty(rng, spec)
            book.asks[spec.mid + spec.tick * i * 3] = _qty(rng, spec)
        books[spec.symbol] = book
    return books


def generate(updates: int = 400, seed: int = 7) -> list[str]:
    """The recording's lines: status, acks, snapshots, then `updates` book updates with
    trades and heartbeats mixed in, as Kraken sends them."""
    return _record(updates, seed)[0]


def final_books(updates: int = 400, seed: int = 7) -> dict[str, ReferenceBook]:
    """The exchange-side books once the recording of `generate(updates, seed)` ends."""
    return _record(updates, seed)[1]


def _record(updates: int, seed: int) -> tuple[list[str], dict[str, ReferenceBook]]:
    rng = Random(seed)
    books = seeded_books(rng)
    symbols = [spec.symbol for spec in PAIRS]
    now = _START
    messages: list[dict[str, Any]] = [
        {
            "channel": "status",
            "type": "update",
            "data": [
                {
                    "version": "2.0.10",
                    "system": "online",
                    "api_version": "v2",
                    "connection_id": 12917540930185523046,
                }
            ],
        }
    ]
    for req_id, (channel, extra) in enumerate(
        (("book", {"depth": DEPTH, "snapshot": True}), ("trade", {"snapshot": False})), start=1
    ):
        for symbol in symbols:
            messages.append(
                {
                    "method": "subscribe",
                    "result": {"channel": channel, "symbol": symbol, **extra},
                    "success": True,
                    "time_in": _iso(now),
                    "time_out": _iso(now + timedelta(microseconds=180)),
                    "req_id": req_id,
                }
            )
    messages += [books[s].snapshot_message() for s in symbols]
    trade_id = 81_000_000
    for n in range(updates):
        now += timedelta(milliseconds=rng.randint(5, 120))
        book = books[rng.choice(symbols)]
        spec = book.spec
        roll = rng.random()
        if roll < 0.08:
            side = rng.choice(("buy", "sell"))
            levels = book.asks if side == "buy" else book.bids
            price, level_qty = book.top("asks" if side == "buy" else "bids", 1)[0]
            taken = min(level_qty, (_qty(rng, spec) / 3).quantize(Decimal("0.00000001")))
            trade_id += 1
            messages.append(
                {
                    "channel": "trade",
                    "type": "update",
                    "data": [
                        {
                            "symbol": spec.symbol,
                            "side": side,
                            "price": _number(price),
                            "qty": _number(taken),
                            "ord_type": "market",
                            "trade_id": trade_id,
                            "timestamp": _iso(now),
                        }
                    ],
                }
            )
            book_side = "asks" if side == "buy" else "bids"
            update = book.change(book_side, [(price, levels[price] - taken)], _iso(now))
            if update is not None:
                messages.append(update)
            continue
        book_side = rng.choice(("bids", "asks"))
        top = book.top(book_side, DEPTH + 5)
        if roll < 0.45:
            price, _ = rng.choice(top)
            change = [(price, _qty(rng, spec))]
        elif roll < 0.7 and len(top) > DEPTH:
            price, _ = rng.choice(top[:DEPTH])
            change = [(price, Decimal(0))]
        else:
            best_bid, best_ask = book.top("bids", 1)[0][0], book.top("asks", 1)[0][0]
            if book_side == "bids":
                price = best_bid + spec.tick * rng.randint(-25, 1)
                price = min(price, best_ask - spec.tick)
            else:
                price = best_ask - spec.tick * rng.randint(-25, 1)
                price = max(price, best_bid + spec.tick)
            change = [(price, _qty(rng, spec))]
        update = book.change(book_side, change, _iso(now))
        if update is not None:
            messages.append(update)
        if n % 97 == 0:
            messages.append({"channel": "heartbeat"})
    return [json.dumps(m, separators=(",", ":")) for m in messages], books


if __name__ == "__main__":
    RECORDING_PATH.parent.mkdir(parents=True, exist_ok=True)
    RECORDING_PATH.write_text("\n".join(generate()) + "\n")
