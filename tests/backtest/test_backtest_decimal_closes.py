from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.backtest.engine import decimals_of


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=50))
def test_bulk_decimals_are_those_of_each_floats_repr(values: list[float]) -> None:
    converted = decimals_of(pl.Series(values, dtype=pl.Float64))
    expected = [Decimal(repr(value)) for value in values]
    assert [(str(d), d.as_tuple()) for d in converted] == [(str(d), d.as_tuple()) for d in expected]


def test_bulk_decimals_keep_prices_as_written() -> None:
    prices = [45000.0, 45000.1, 0.1, 1e-07, 123456789012.5, 5e-324, 1.7976931348623157e308]
    assert decimals_of(pl.Series(prices)) == [Decimal(repr(p)) for p in prices]
    assert [str(d) for d in decimals_of(pl.Series(prices))] == [
        str(Decimal(repr(p))) for p in prices
    ]
