"""OrderBook against Kraken's documented checksum vector and a naive string-based reference."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.domain import BookLevel, Instrument, Side
from kraken_tui.exchange.order_book import (
    AWAITING_SNAPSHOT,
    BookOutcome,
    OrderBook,
    OrderBooks,
    kraken_checksum,
)

# Kraken's worked example (docs: guides/spot-ws-book-v2), expected checksum 3310070434.
DOC_BIDS = [
    ("45283.5", "0.10000000"),
    ("45283.4", "1.54582015"),
    ("45282.1", "0.10000000"),
    ("45281.0", "0.10000000"),
    ("45280.3", "1.54592586"),
    ("45279.0", "0.07990000"),
    ("45277.6", "0.03310103"),
    ("45277.5", "0.30000000"),
    ("45277.3", "1.54602737"),
    ("45276.6", "0.15445238"),
]
DOC_ASKS = [
    ("45285.2", "0.00100000"),
    ("45286.4", "1.54571953"),
    ("45286.6", "1.54571109"),
    ("45289.6", "1.54560911"),
    ("45290.2", "0.15890660"),
    ("45291.8", "1.54553491"),
    ("45294.7", "0.04454749"),
    ("45296.1", "0.35380000"),
    ("45297.5", "0.09945542"),
    ("45299.5", "0.18772827"),
]
DOC_CHECKSUM = 3310070434

BTC_USD = Instrument(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    price_decimals=1,
    lot_decimals=8,
    tick_size=Decimal("0.1"),
    ordermin=Decimal("0.0001"),
    costmin=Decimal("0.5"),
)


def wire_levels(levels: list[tuple[str, str]]) -> str:
    return ",".join(f'{{"price":{price},"qty":{qty}}}' for price, qty in levels)


def book_text(kind: str, bids: list, asks: list, checksum: int, symbol: str = "BTC/USD") -> str:
    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}",'
        f'"bids":[{wire_levels(bids)}],"asks":[{wire_levels(asks)}],"checksum":{checksum},'
        '"timestamp":"2023-10-06T17:35:55.440295Z"}]}'
    )


def doc_snapshot(**loads: Any) -> dict[str, Any]:
    return json.loads(book_text("snapshot", DOC_BIDS, DOC_ASKS, DOC_CHECKSUM), **loads)


def test_kraken_checksum_matches_the_documented_example() -> None:
    assert kraken_checksum(DOC_ASKS, DOC_BIDS) == DOC_CHECKSUM


def test_kraken_checksum_uses_only_the_top_ten_levels_of_each_side() -> None:
    extra_asks = [*DOC_ASKS, ("45300.0", "9.00000000")]
    extra_bids = [*DOC_BIDS, ("45270.0", "9.00000000")]
    assert kraken_checksum(extra_asks, extra_bids) == DOC_CHECKSUM


@pytest.mark.parametrize(
    "loads",
    [{}, {"parse_float": Decimal}, {"parse_float": str}],
    ids=["floats", "decimals", "strings"],
)
def test_documented_snapshot_verifies_whatever_the_json_number_decoding(
    loads: dict[str, Any],
) -> None:
    books = OrderBooks(depth=10)
    book = books.add(BTC_USD)
    assert book.stale and book.stale_reason == AWAITING_SNAPSHOT

    assert books.apply_message(doc_snapshot(**loads)) == [("BTC/USD", BookOutcome.APPLIED)]

    assert not book.stale
    assert book.checksum == DOC_CHECKSUM
    assert book.best_bid == BookLevel(Decimal("45283.5"), Decimal("0.1"))
    assert book.best_ask == BookLevel(Decimal("45285.2"), Decimal("0.001"))
    assert book.spread == Decimal("1.7")
    assert book.mid == Decimal("45284.35")


class ReferenceBook:
    """The obvious implementation: decimal strings in dicts, re-sorted and re-formatted for
    every checksum with the string-based `kraken_checksum`."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        for side, levels, best_first_reverse in ((self.bids, bids, True), (self.asks, asks, False)):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(qty)
            kept = sorted(side, reverse=best_first_reverse)[: self.depth]
            for price in list(side):
                if price not in kept:
                    del side[price]

    def ordered(self, side: dict[Decimal, Decimal], reverse: bool) -> list[tuple[str, str]]:
        return [(f"{p:.1f}", f"{side[p]:.8f}") for p in sorted(side, reverse=reverse)]

    def checksum(self) -> int:
        return kraken_checksum(self.ordered(self.asks, False), self.ordered(self.bids, True))

    def levels(self, side: Side) -> list[BookLevel]:
        source, reverse = (self.bids, True) if side is Side.BUY else (self.asks, False)
        return [BookLevel(p, source[p]) for p in sorted(source, reverse=reverse)]


price_ticks = st.integers(min_value=1, max_value=60)
positive_lots = st.integers(min_value=1, max_value=10**9)
lots = st.one_of(st.just(0), positive_lots)


def as_wire(ticks: int, lot_count: int, side: Side) -> tuple[str, str]:
    # Bids at 1000.0 - ticks/10, asks at 1000.0 + ticks/10: the sides never cross.
    price = Decimal(10000 + (ticks if side is Side.SELL else -ticks)).scaleb(-1)
    return f"{price:.1f}", f"{Decimal(lot_count).scaleb(-8):.8f}"


side_changes = st.lists(st.tuples(price_ticks, lots), max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    depth=st.sampled_from([10, 25]),
    snapshot_bids=st.lists(st.tuples(price_ticks, positive_lots), max_size=30),
    snapshot_asks=st.lists(st.tuples(price_ticks, positive_lots), max_size=30),
    updates=st.lists(st.tuples(side_changes, side_changes), max_size=40),
    number_decoding=st.sampled_from([None, Decimal, str]),
)
def test_random_update_streams_match_the_reference_book_and_its_checksums(
    depth: int,
    snapshot_bids: list[tuple[int, int]],
    snapshot_asks: list[tuple[int, int]],
    updates: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]],
    number_decoding: Any,
) -> None:
    reference = ReferenceBook(depth)
    bids = [as_wire(t, q, Side.BUY) for t, q in dict(snapshot_bids).items()]
    asks = [as_wire(t, q, Side.SELL) for t, q in dict(snapshot_asks).items()]
    bids = sorted(bids, key=lambda level: -Decimal(level[0]))[:depth]
    asks = sorted(asks, key=lambda level: Decimal(level[0]))[:depth]
    reference.apply(bids, asks)
    book = OrderBook(BTC_USD, depth)
    loads = {} if number_decoding is None else {"parse_float": number_decoding}

    def feed(kind: str, bid_levels: list, ask_levels: list) -> BookOutcome:
        message = json.loads(book_text(kind, bid_levels, ask_levels, reference.checksum()), **loads)
        return book.apply(message["data"][0], snapshot=kind == "snapshot")

    assert feed("snapshot", bids, asks) is BookOutcome.APPLIED
    for bid_changes, ask_changes in updates:
        bid_levels = [as_wire(t, q, Side.BUY) for t, q in bid_changes]
        ask_levels = [as_wire(t, q, Side.SELL) for t, q in ask_changes]
        reference.apply(bid_levels, ask_levels)
        assert feed("update", bid_levels, ask_levels) is BookOutcome.APPLIED
        assert book.checksum == reference.checksum()
    assert book.levels(Side.BUY) == reference.levels(Side.BUY)
    assert book.levels(Side.SELL) == reference.levels(Side.SELL)
    assert not book.stale


def fresh_doc_book(depth: int = 10) -> OrderBook:
    book = OrderBook(BTC_USD, depth)
    assert book.apply(doc_snapshot()["data"][0], snapshot=True) is BookOutcome.APPLIED
    return book


def update(bids: list, asks: list, checksum: int) -> dict[str, Any]:
    return json.loads(book_text("update", bids, asks, checksum))["data"][0]


def test_insert_beyond_depth_is_truncated_and_an_insert_inside_drops_the_worst_level() -> None:
    book = fresh_doc_book(depth=10)
    outside = [("45270.0", "1.00000000")]
    assert book.apply(update(outside, [], DOC_CHECKSUM), snapshot=False) is BookOutcome.APPLIED
    assert len(book.levels(Side.BUY)) == 10

    inside = ("45283.0", "2.00000000")
    bids_after = [*DOC_BIDS[:2], inside, *DOC_BIDS[2:9]]
    checksum = kraken_checksum(DOC_ASKS, bids_after)
    assert book.apply(update([inside], [], checksum), snapshot=False) is BookOutcome.APPLIED
    assert [level.price for level in book.levels(Side.BUY)] == [
        Decimal(price) for price, _ in bids_after
    ]


def test_an_update_carrying_both_sides_applies_each_level_in_order() -> None:
    book = fresh_doc_book()
    bids = [("45283.5", "0.50000000"), ("45283.5", "0.70000000"), ("45282.1", "0")]
    asks = [("45285.2", "0"), ("45285.0", "0.20000000")]
    new_bids = [("45283.5", "0.70000000"), DOC_BIDS[1], *DOC_BIDS[3:]]
    new_asks = [("45285.0", "0.20000000"), *DOC_ASKS[1:]]
    checksum = kraken_checksum(new_asks, new_bids)

    assert book.apply(update(bids, asks, checksum), snapshot=False) is BookOutcome.APPLIED
    assert book.best_bid == BookLevel(Decimal("45283.5"), Decimal("0.7"))
    assert book.best_ask == BookLevel(Decimal("45285.0"), Decimal("0.2"))
    assert len(book.levels(Side.BUY)) == 9


def test_deleting_an_unknown_level_changes_nothing() -> None:
    book = fresh_doc_book()
    outcome = book.apply(update([("45000.0", "0")], [], DOC_CHECKSUM), snapshot=False)
    assert outcome is BookOutcome.APPLIED
    assert book.levels(Side.BUY) == [BookLevel(Decimal(p), Decimal(q)) for p, q in DOC_BIDS]


def test_checksum_mismatch_marks_only_that_book_stale_until_a_fresh_snapshot() -> None:
    books = OrderBooks(depth=10)
    btc = books.add(BTC_USD)
    eth_instrument = Instrument(
        symbol="ETH/USD",
        base="ETH",
        quote="USD",
        price_decimals=1,
        lot_decimals=8,
        tick_size=Decimal("0.1"),
        ordermin=Decimal("0.001"),
        costmin=Decimal("0.5"),
    )
    eth = books.add(eth_instrument)
    books.apply_message(doc_snapshot())
    books.apply_message(
        json.loads(book_text("snapshot", DOC_BIDS, DOC_ASKS, DOC_CHECKSUM, "ETH/USD"))
    )

    bad = json.loads(book_text("update", [("45283.5", "0.20000000")], [], DOC_CHECKSUM))
    assert books.apply_message(bad) == [("BTC/USD", BookOutcome.CHECKSUM_MISMATCH)]
    assert btc.stale and "checksum mismatch" in (btc.stale_reason or "")
    assert btc.snapshot().stale
    assert not eth.stale

    later = json.loads(book_text("update", [], [], DOC_CHECKSUM))
    assert books.apply_message(later) == [("BTC/USD", BookOutcome.IGNORED_STALE)]
    assert books.apply_message(doc_snapshot()) == [("BTC/USD", BookOutcome.APPLIED)]
    assert not btc.stale and btc.checksum == DOC_CHECKSUM


@pytest.mark.parametrize(
    "bad_level",
    [
        {"price": "abc", "qty": 1.0},
        {"price": 45000.0},
        {"price": -1.0, "qty": 1.0},
        {"price": 45000.0, "qty": -0.5},
        {"price": 45000.0, "qty": True},
        {"price": float("nan"), "qty": 1.0},
        {"price": "45000.05", "qty": "1.0"},
        ["45000.0", "1.0"],
        None,
    ],
)
def test_malformed_level_rejects_the_message_without_touching_the_levels(bad_level: Any) -> None:
    book = fresh_doc_book()
    before = book.snapshot()
    entry = update([("45283.5", "0.20000000")], [], DOC_CHECKSUM)
    entry["bids"].append(bad_level)

    assert book.apply(entry, snapshot=False) is BookOutcome.MALFORMED
    assert book.stale and "malformed" in (book.stale_reason or "")
    assert book.levels(Side.BUY) == list(before.bids)
    assert book.levels(Side.SELL) == list(before.asks)


@pytest.mark.parametrize(
    "mutation",
    [
        lambda e: e.pop("checksum"),
        lambda e: e.update(checksum="3310070434"),
        lambda e: e.update(checksum=1 << 32),
        lambda e: e.pop("asks"),
        lambda e: e.update(bids={"price": 1}),
        lambda e: e.update(symbol="ETH/USD"),
    ],
    ids=[
        "no-checksum",
        "string-checksum",
        "checksum-too-big",
        "no-asks",
        "bids-not-list",
        "symbol",
    ],
)
def test_malformed_entry_is_rejected_and_the_book_marked_stale(mutation: Any) -> None:
    book = fresh_doc_book()
    entry = update([], [], DOC_CHECKSUM)
    mutation(entry)
    assert book.apply(entry, snapshot=False) is BookOutcome.MALFORMED
    assert book.stale
    assert book.levels(Side.BUY)[0] == BookLevel(Decimal("45283.5"), Decimal("0.1"))


def test_snapshot_object_is_cached_until_the_next_change() -> None:
    book = fresh_doc_book()
    first = book.snapshot()
    assert book.snapshot() is first
    assert first.sequence == book.sequence
    assert first.ts is None or first.ts.year == 2023
    assert first.bids[0].price == Decimal("45283.5") and len(first.asks) == 10

    change = ("45283.5", "0.30000000")
    checksum = kraken_checksum(DOC_ASKS, [change, *DOC_BIDS[1:]])
    book.apply(update([change], [], checksum), snapshot=False)
    second = book.snapshot()
    assert second is not first
    assert second.bids[0].qty == Decimal("0.3") and first.bids[0].qty == Decimal("0.1")
    assert second.ts is not None and second.ts.year == 2023


def test_cumulative_depth_sums_quantity_from_the_best_level_outwards() -> None:
    book = fresh_doc_book()
    depth = book.cumulative_depth(Side.SELL, levels=3)
    assert depth == [
        BookLevel(Decimal("45285.2"), Decimal("0.001")),
        BookLevel(Decimal("45286.4"), Decimal("1.54671953")),
        BookLevel(Decimal("45286.6"), Decimal("3.09243062")),
    ]
    assert len(book.cumulative_depth(Side.BUY)) == 10


def test_reset_empties_the_book_and_waits_for_a_snapshot() -> None:
    book = fresh_doc_book()
    book.reset("disconnected")
    assert book.stale and book.stale_reason == "disconnected"
    assert book.best_bid is None and book.mid is None and book.spread is None
    assert book.apply(update([], [], 0), snapshot=False) is BookOutcome.IGNORED_STALE
    snapshot = book.snapshot()
    assert snapshot.stale and snapshot.bids == () and snapshot.asks == ()


def test_mark_stale_is_reflected_in_the_ui_snapshot() -> None:
    book = fresh_doc_book()
    assert not book.snapshot().stale
    book.mark_stale("resubscribing")
    assert book.snapshot().stale and book.stale_reason == "resubscribing"


def test_depth_below_the_checksum_window_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        OrderBook(BTC_USD, depth=5)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["45283.5", "1E+999999", "-0", "0.000000001", "NaN"]),
    st.decimals(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["price", "qty", "symbol", "x"]), inner, max_size=3),
    ),
    max_leaves=12,
)
junk_levels = st.lists(
    st.one_of(
        json_values,
        st.fixed_dictionaries({"price": json_scalars, "qty": json_scalars}),
    ),
    max_size=4,
)
junk_entries = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "symbol": st.one_of(st.just("BTC/USD"), json_scalars),
            "bids": st.one_of(junk_levels, json_values),
            "asks": st.one_of(junk_levels, json_values),
            "checksum": st.one_of(st.integers(min_value=-1, max_value=2**33), json_scalars),
        },
        optional={"timestamp": json_scalars},
    ),
)


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(junk_entries, min_size=1, max_size=5), snapshot=st.booleans())
def test_garbage_never_raises_and_never_leaves_a_wrong_book_trusted(
    entries: list[Any], snapshot: bool
) -> None:
    books = OrderBooks(depth=10)
    book = books.add(BTC_USD)
    assert books.apply_message(doc_snapshot()) == [("BTC/USD", BookOutcome.APPLIED)]
    for entry in entries:
        outcome = book.apply(entry, snapshot=snapshot)
        assert isinstance(outcome, BookOutcome)
        if outcome is BookOutcome.APPLIED:
            # Only a message whose checksum matched the resulting book is ever accepted.
            assert book.checksum == kraken_checksum(
                [(f"{level.price:.1f}", f"{level.qty:.8f}") for level in book.levels(Side.SELL)],
                [(f"{level.price:.1f}", f"{level.qty:.8f}") for level in book.levels(Side.BUY)],
            )
        else:
            assert book.stale
        books.apply_message({"channel": "book", "type": "update", "data": [entry]})
        books.apply_message(entry)
    assert isinstance(book.snapshot().stale, bool)
