"""Order-book throughput: our OrderBook against python-kraken-sdk's SpotOrderBookClient.

One synthetic BTC/USD stream per depth (a snapshot, then updates with valid checksums, some
touching both sides) is generated from an integer-priced exchange-side book, written as
Kraken's wire JSON and decoded with `json.loads` as the SDK's WebSocket client does. Both
implementations then consume the same decoded messages in the same process; both must
verify every checksum they check, and ours must end with the generator's exact book.

    scripts/bench book [--messages N] [--repeat R] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kraken.spot import SpotOrderBookClient

from kraken_tui.domain import BookLevel, Instrument, Side
from kraken_tui.exchange.order_book import BookOutcome, OrderBooks, kraken_checksum

SYMBOL = "BTC/USD"
PRICE_DECIMALS = 1
LOT_DECIMALS = 8
INSTRUMENT = Instrument(
    symbol=SYMBOL,
    base="BTC",
    quote="USD",
    price_decimals=PRICE_DECIMALS,
    lot_decimals=LOT_DECIMALS,
    tick_size=Decimal("0.1"),
    ordermin=Decimal("0.0001"),
    costmin=Decimal("0.5"),
    rest_name="XXBTZUSD",
    altname="XBTUSD",
)
TIMESTAMP = "2023-10-06T17:35:55.440295Z"


def wire_number(units: int, decimals: int) -> str:
    """Kraken's rendering: fixed decimals, as in `45283.5` and `0.10000000`."""
    scale = 10**decimals
    return f"{units // scale}.{units % scale:0{decimals}d}"


@dataclass
class BookStream:
    texts: list[str]
    final_bids: list[tuple[int, int]]
    final_asks: list[tuple[int, int]]


class ExchangeBook:
    """The exchange's full book; emits the depth-limited diffs Kraken would send: deletes
    (qty 0) for levels removed inside the view first, then new or changed levels, and nothing
    for levels that merely fall out of view."""

    def __init__(self, depth: int, rng: random.Random) -> None:
        self.depth = depth
        self.rng = rng
        self.sides: dict[Side, dict[int, int]] = {Side.BUY: {}, Side.SELL: {}}
        mid = 450_000
        for offset in range(1, depth + 40):
            self.sides[Side.SELL][mid + offset * rng.randint(1, 3)] = self.random_lots()
            self.sides[Side.BUY][mid - offset * rng.randint(1, 3)] = self.random_lots()

    def random_lots(self) -> int:
        return self.rng.randint(100_000, 500_000_000)

    def ordered(self, side: Side) -> list[int]:
        return sorted(self.sides[side], reverse=side is Side.BUY)

    def visible(self, side: Side) -> dict[int, int]:
        levels = self.sides[side]
        return {price: levels[price] for price in self.ordered(side)[: self.depth]}

    def mutate(self, side: Side) -> None:
        rng = self.rng
        levels = self.sides[side]
        prices = self.ordered(side)
        view = prices[: self.depth]
        roll = rng.random()
        if roll < 0.45:
            levels[rng.choice(view)] = self.random_lots()
        elif roll < 0.65:
            best_other = self.ordered(side.opposite)[0]
            worst_seen = view[-1]
            low, high = sorted((best_other, worst_seen))
            for _ in range(8):
                price = rng.randint(low + 1, max(low + 1, high - 1))
                if price not in levels and low < price < high:
                    levels[price] = self.random_lots()
                    break
        elif roll < 0.85:
            del levels[rng.choice(view)]
        else:
            del levels[prices[0]]
        self.keep_bounded(side)

    def keep_bounded(self, side: Side) -> None:
        levels = self.sides[side]
        prices = self.ordered(side)
        if len(prices) < self.depth + 15:
            direction = -1 if side is Side.BUY else 1
            levels[prices[-1] + direction * self.rng.randint(1, 3)] = self.random_lots()
        elif len(prices) > self.depth + 60:
            del levels[prices[-1]]

    @classmethod
    def checksum(cls, asks_view: dict[int, int], bids_view: dict[int, int]) -> int:
        return kraken_checksum(
            [cls.wire_level(p, q) for p, q in list(asks_view.items())[:10]],
            [cls.wire_level(p, q) for p, q in list(bids_view.items())[:10]],
        )

    @staticmethod
    def wire_level(price: int, lots: int) -> tuple[str, str]:
        return wire_number(price, PRICE_DECIMALS), wire_number(lots, LOT_DECIMALS)


def levels_json(levels: list[tuple[int, int]]) -> str:
    return ",".join(
        f'{{"price":{wire_number(p, PRICE_DECIMALS)},"qty":{wire_number(q, LOT_DECIMALS)}}}'
        for p, q in levels
    )


def diff(before: dict[int, int], after: dict[int, int], full: dict[int, int]) -> list:
    deletes = [(p, 0) for p in before if p not in after and p not in full]
    changes = [(p, q) for p, q in after.items() if before.get(p) != q]
    return deletes + changes


def message_text(kind: str, bids: list, asks: list, checksum: int) -> str:
    stamp = "" if kind == "snapshot" else f',"timestamp":"{TIMESTAMP}"'
    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{SYMBOL}",'
        f'"bids":[{levels_json(bids)}],"asks":[{levels_json(asks)}],'
        f'"checksum":{checksum}{stamp}}}]}}'
    )


def generate_stream(depth: int, messages: int, seed: int) -> BookStream:
    rng = random.Random(seed)
    book = ExchangeBook(depth, rng)
    bids_view = book.visible(Side.BUY)
    asks_view = book.visible(Side.SELL)
    texts = [
        message_text(
            "snapshot",
            list(bids_view.items()),
            list(asks_view.items()),
            book.checksum(asks_view, bids_view),
        )
    ]
    while len(texts) < messages:
        sides = [Side.BUY, Side.SELL] if rng.random() < 0.15 else [rng.choice(list(Side))]
        for side in sides:
            book.mutate(side)
        new_bids = book.visible(Side.BUY)
        new_asks = book.visible(Side.SELL)
        bid_diff = diff(bids_view, new_bids, book.sides[Side.BUY])
        ask_diff = diff(asks_view, new_asks, book.sides[Side.SELL])
        bids_view, asks_view = new_bids, new_asks
        if bid_diff or ask_diff:
            texts.append(
                message_text("update", bid_diff, ask_diff, book.checksum(new_asks, new_bids))
            )
    return BookStream(texts, list(bids_view.items()), list(asks_view.items()))


def run_ours(messages: list[dict[str, Any]], depth: int, stream: BookStream) -> float:
    books = OrderBooks(depth)
    book = books.add(INSTRUMENT)
    failures = 0
    applied = BookOutcome.APPLIED
    started = time.perf_counter()
    for message in messages:
        for _symbol, outcome in books.apply_message(message):
            if outcome is not applied:
                failures += 1
    elapsed = time.perf_counter() - started
    assert failures == 0 and not book.stale, f"our book rejected {failures} messages"
    expected_bids = [
        BookLevel(Decimal(wire_number(p, 1)), Decimal(wire_number(q, 8)))
        for p, q in stream.final_bids
    ]
    expected_asks = [
        BookLevel(Decimal(wire_number(p, 1)), Decimal(wire_number(q, 8)))
        for p, q in stream.final_asks
    ]
    assert book.levels(Side.BUY) == expected_bids, "our final bids differ from the exchange's"
    assert book.levels(Side.SELL) == expected_asks, "our final asks differ from the exchange's"
    return elapsed


class _AssetPairsInMemory:
    """Answers the SDK book client's one AssetPairs lookup per symbol without a network."""

    def get_asset_pairs(self, pair: str, **_: object) -> dict[str, dict[str, int]]:
        return {pair: {"pair_decimals": PRICE_DECIMALS, "lot_decimals": LOT_DECIMALS}}


async def run_sdk(messages: list[dict[str, Any]], depth: int) -> float:
    errors: list[dict[str, Any]] = []

    def on_book_update(pair: str, message: dict[str, Any]) -> None:
        if "error" in message:
            errors.append(message)
            raise AssertionError(f"SDK reported {message['error']}")

    client = SpotOrderBookClient(depth=depth, callback=on_book_update)
    client._SpotOrderBookClient__market = _AssetPairsInMemory()  # type: ignore[attr-defined]
    try:
        on_message = client.on_message
        started = time.perf_counter()
        for message in messages:
            await on_message(message)
        elapsed = time.perf_counter() - started
    finally:
        await client.close()
    assert not errors, f"SDK saw {len(errors)} checksum mismatches"
    book = client.get(SYMBOL)
    assert book is not None and book["valid"], "SDK book ended invalid"
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs for each side")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    result: dict[str, float] = {}
    for depth in (10, 100):
        started = time.perf_counter()
        stream = generate_stream(depth, args.messages, args.seed + depth)
        messages = [json.loads(text) for text in stream.texts]
        generated = time.perf_counter() - started
        ours = min(run_ours(messages, depth, stream) for _ in range(args.repeat))
        sdk = min(asyncio.run(run_sdk(messages, depth)) for _ in range(args.repeat))
        ours_rate = len(messages) / ours
        sdk_rate = len(messages) / sdk
        print(
            f"depth {depth:>3}: {len(messages):,} messages (generated in {generated:.1f}s); "
            f"ours {ours_rate:>11,.0f} msg/s, SDK {sdk_rate:>9,.0f} msg/s, "
            f"ratio {ours_rate / sdk_rate:.2f}x (best of {args.repeat})"
        )
        result[f"depth{depth}_ratio"] = round(ours_rate / sdk_rate, 2)
        result[f"ours_depth{depth}_msgs_per_s"] = round(ours_rate)
    ordered = {
        key: result[key]
        for key in (
            "depth10_ratio",
            "depth100_ratio",
            "ours_depth10_msgs_per_s",
            "ours_depth100_msgs_per_s",
        )
    }
    print(f"RESULT {json.dumps(ordered)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
