"""Labels count a move as up only when it pays for the fee on both sides."""

from __future__ import annotations

import polars as pl
import pytest

from kraken_tui.ml.labels import forward_label, forward_net_return


def test_a_rise_that_does_not_cover_both_fees_is_labelled_down() -> None:
    # 100 -> 100.5 (+0.5%) with 0.26% per side: 1.005 * 0.9974 - 1.0026 = -0.00018 < 0.
    # 100 -> 101 (+1%): 1.01 * 0.9974 - 1.0026 = +0.00477 > 0.
    frame = pl.DataFrame({"close": [100.0, 100.5, 100.0, 101.0, 99.0]})
    out = frame.select(forward_net_return(1, 0.0026), forward_label(1, 0.0026))
    assert out["label"].to_list() == [0, 0, 1, 0, None]
    assert out["forward_return"][0] == pytest.approx(1.005 * 0.9974 - 1.0026)
    assert out["forward_return"][2] == pytest.approx(1.01 * 0.9974 - 1.0026)


def test_without_fees_the_label_is_the_direction_over_the_horizon() -> None:
    frame = pl.DataFrame({"close": [10.0, 9.0, 11.0, 10.5, 12.0]})
    labels = frame.select(forward_label(2, 0.0))["label"].to_list()
    assert labels == [1, 1, 1, None, None]


@pytest.mark.parametrize(("horizon", "fee"), [(0, 0.001), (-1, 0.0), (3, -0.001), (3, 0.5)])
def test_impossible_horizons_and_fees_are_refused(horizon: int, fee: float) -> None:
    with pytest.raises(ValueError):
        forward_label(horizon, fee)
