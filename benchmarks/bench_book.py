"""Order-book throughput: our OrderBook against python-kraken-sdk's SpotOrderBookClient.

One synthetic BTC/USD stream per depth (a snapshot, then updates with valid checksums, some
touching both sides) is generated from an integer-priced exchange-side book and written as
Kraken's wire JSON. Both sides receive the same texts and pay, per message, for what they
pay in production, timed the same way around the same loop:

* parsing: `json.loads`, as the SDK's WebSocket connector decodes every frame for both (our
  adapter receives the SDK's decoded messages);
* ours: `OrderBooks.apply_message` (apply, truncate, CRC32 verified against the message)
  and a `BookChanged` published on the real `EventBus`, which coalesces it per symbol; once
  per UI frame (`--refresh-hz`) the engine's subscription is drained and each coalesced
  `BookChanged` costs the `Decimal` `OrderBook.snapshot()` the engine hands the UI;
* the SDK: `SpotOrderBookClient.on_message` as the SDK runs it (per changed level it
  re-sorts the side; per message it formats the top 10 from floats for its checksum and
  calls back), its book read with `get` once per UI frame.

Both must verify every checksum; ours must end with the generator's exact book. The two
sides alternate (`--repeat`) and each keeps its best run.

    scripts/bench book [--messages N] [--repeat R] [--seed S] [--refresh-hz HZ]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kraken.spot import SpotOrderBookClient

from kraken_tui.domain import BookLevel, Instrument, Side
from kraken_tui.engine.bus import EventBus
from kraken_tui.exchange.order_book import BookOutcome, OrderBooks, kraken_checksum
from kraken_tui.exchange.protocol import BookChanged

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


@dataclass
class Run:
    seconds: float
    snapshots: int


def run_ours(texts: list[str], depth: int, stream: BookStream, frame_s: float) -> Run:
    """Production's path for each text: decode, apply and verify (`OrderBooks.apply_message`,
    as the adapter's `_on_book` calls it), publish a `BookChanged` on the real `EventBus`
    (which coalesces it per symbol) and, once per UI frame, drain the engine's subscription
    and read each symbol's `Decimal` snapshot as the engine does on every coalesced
    `BookChanged`."""
    books = OrderBooks(depth)
    book = books.add(INSTRUMENT)
    bus = EventBus()
    events = bus.subscribe("engine")
    publish = bus.publish
    pop = events.pop
    loads = json.loads
    clock = time.perf_counter
    failures = 0
    snapshots = 0
    applied = BookOutcome.APPLIED
    started = clock()
    next_frame = started + frame_s
    for text in texts:
        for symbol, outcome in books.apply_message(loads(text)):
            if outcome is applied:
                publish(BookChanged(symbol))
            else:
                failures += 1
        now = clock()
        if now >= next_frame:
            next_frame = now + frame_s
            while (event := pop()) is not None:
                assert isinstance(event, BookChanged)
                changed = books.get(event.symbol)
                if changed is not None:
                    changed.snapshot()
                    snapshots += 1
    while (event := pop()) is not None:
        assert isinstance(event, BookChanged)
        book.snapshot()
        snapshots += 1
    elapsed = clock() - started
    assert failures == 0 and not book.stale, f"our book rejected {failures} messages"
    final = book.snapshot()
    expected_bids = tuple(
        BookLevel(Decimal(wire_number(p, 1)), Decimal(wire_number(q, 8)))
        for p, q in stream.final_bids
    )
    expected_asks = tuple(
        BookLevel(Decimal(wire_number(p, 1)), Decimal(wire_number(q, 8)))
        for p, q in stream.final_asks
    )
    assert final.bids == expected_bids, "our final bids differ from the exchange's"
    assert final.asks == expected_asks, "our final asks differ from the exchange's"
    return Run(elapsed, snapshots)


class _AssetPairsInMemory:
    """Answers the SDK book client's one AssetPairs lookup per symbol without a network."""

    def get_asset_pairs(self, pair: str, **_: object) -> dict[str, dict[str, int]]:
        return {pair: {"pair_decimals": PRICE_DECIMALS, "lot_decimals": LOT_DECIMALS}}


async def run_sdk(texts: list[str], depth: int, frame_s: float) -> Run:
    """The SDK's path for each text: its connector's `json.loads`, then its book client's
    `on_message` (apply, re-sort, checksum, callback); its book (`get`) read once per UI
    frame. Both sides are timed the same way around the same loop."""
    errors: list[dict[str, Any]] = []

    def on_book_update(pair: str, message: dict[str, Any]) -> None:
        if "error" in message:
            errors.append(message)
            raise AssertionError(f"SDK reported {message['error']}")

    client = SpotOrderBookClient(depth=depth, callback=on_book_update)
    client._SpotOrderBookClient__market = _AssetPairsInMemory()  # type: ignore[attr-defined]
    try:
        on_message = client.on_message
        get = client.get
        loads = json.loads
        clock = time.perf_counter
        reads = 0
        started = clock()
        next_frame = started + frame_s
        for text in texts:
            await on_message(loads(text))
            now = clock()
            if now >= next_frame:
                next_frame = now + frame_s
                get(SYMBOL)
                reads += 1
        get(SYMBOL)
        elapsed = clock() - started
    finally:
        await client.close()
    assert not errors, f"SDK saw {len(errors)} checksum mismatches"
    book = client.get(SYMBOL)
    assert book is not None and book["valid"], "SDK book ended invalid"
    return Run(elapsed, reads + 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each side, interleaved; best of them"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--refresh-hz",
        type=float,
        default=20.0,
        help="UI frames per second: how often the coalesced book is read (settings allow 10-20)",
    )
    args = parser.parse_args()
    frame_s = 1 / args.refresh_hz

    result: dict[str, float] = {}
    for depth in (10, 100):
        started = time.perf_counter()
        stream = generate_stream(depth, args.messages, args.seed + depth)
        texts = stream.texts
        generated = time.perf_counter() - started
        ours_runs: list[Run] = []
        sdk_runs: list[Run] = []
        for _ in range(args.repeat):
            ours_runs.append(run_ours(texts, depth, stream, frame_s))
            sdk_runs.append(asyncio.run(run_sdk(texts, depth, frame_s)))
        ours = min(ours_runs, key=lambda run: run.seconds)
        sdk = min(sdk_runs, key=lambda run: run.seconds)
        ours_rate = len(texts) / ours.seconds
        sdk_rate = len(texts) / sdk.seconds
        print(
            f"depth {depth:>3}: {len(texts):,} messages (generated in {generated:.1f}s); "
            f"ours {ours_rate:>9,.0f} msg/s ({ours.snapshots} snapshots), "
            f"SDK {sdk_rate:>9,.0f} msg/s, ratio {ours_rate / sdk_rate:.2f}x "
            f"(best of {args.repeat} interleaved)"
        )
        result[f"ratio_depth{depth}"] = round(ours_rate / sdk_rate, 2)
        result[f"ours_depth{depth}_msgs_per_s"] = round(ours_rate)
        result[f"sdk_depth{depth}_msgs_per_s"] = round(sdk_rate)
        result[f"snapshots_depth{depth}"] = ours.snapshots
    result["messages"] = args.messages
    result["refresh_hz"] = args.refresh_hz
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(f"RESULT {json.dumps(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
