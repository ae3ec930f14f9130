"""Wire formatting: Kraken's checksum vector, Decimal numbers, and the book diff rules."""

from __future__ import annotations

import json
from decimal import Decimal

from kraken_tui.sandbox.wire import book_checksum, dumps, rfc3339, rfc3339_seconds
from kraken_tui.sandbox.ws_public import book_side_changes

# Kraken's worked example (docs: guides/spot-ws-book-v2).
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


def test_book_checksum_matches_krakens_documented_example_and_ignores_deeper_levels() -> None:
    assert book_checksum(DOC_ASKS, DOC_BIDS) == 3310070434
    assert book_checksum([*DOC_ASKS, ("45300.0", "1.0")], DOC_BIDS) == 3310070434


def test_decimals_are_written_as_json_numbers_with_their_own_digits() -> None:
    text = dumps({"price": Decimal("45283.50"), "qty": Decimal("0.00100000"), "s": "x"})
    assert text == '{"price":45283.50,"qty":0.00100000,"s":"x"}'
    assert json.loads(text, parse_float=Decimal)["qty"] == Decimal("0.00100000")


def test_timestamps_use_krakens_formats() -> None:
    assert rfc3339(1696613755.440295) == "2023-10-06T17:35:55.440295Z"
    assert rfc3339_seconds(1696613755.9) == "2023-10-06T17:35:55Z"


def _levels(*pairs: tuple[str, str]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((Decimal(p), Decimal(q)) for p, q in pairs)


def test_level_pushed_out_of_depth_by_a_better_one_is_left_to_client_truncation() -> None:
    old = _levels(("100", "1"), ("99", "1"))
    new = _levels(("101", "2"), ("100", "1"))  # 99 still exists deeper in the venue's book
    assert book_side_changes(old, new, 2, descending=True) == [(Decimal("101"), Decimal("2"))]


def test_deleted_level_is_sent_with_zero_before_the_level_that_replaces_it() -> None:
    old = _levels(("100", "1"), ("99", "1"))
    new = _levels(("99", "1"), ("98", "3"))
    assert book_side_changes(old, new, 2, descending=True) == [
        (Decimal("100"), Decimal(0)),
        (Decimal("98"), Decimal("3")),
    ]


def test_level_leaving_a_book_thinner_than_the_depth_is_always_deleted() -> None:
    old = _levels(("10", "1"), ("11", "1"))
    new = _levels(
        ("10", "1"),
    )
    assert book_side_changes(old, new, 10, descending=False) == [(Decimal("11"), Decimal(0))]
