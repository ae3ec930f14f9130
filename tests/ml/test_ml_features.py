"""Each feature computed in bulk (training) equals the same feature computed one candle at a
time (live), on generated and on realistic synthetic data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.backtest.synthetic import generate_bars
from kraken_tui.domain import BookLevel, BookSnapshot
from kraken_tui.ml.features import (
    BAR_FEATURES,
    BOOK_FEATURES,
    FEATURE_VERSION,
    WARMUP_BARS,
    FeatureBar,
    FeatureMismatchError,
    FeatureSet,
    LiveFeatures,
    book_depth,
    compute_features,
    resolve_feature_set,
)

START = datetime(2025, 3, 1, 22, 30, tzinfo=UTC)


def live_rows(frame: pl.DataFrame, feature_set: FeatureSet) -> list[tuple[float | None, ...]]:
    live = LiveFeatures(feature_set)
    rows = []
    has_book = "bid_depth" in frame.columns
    for row in frame.iter_rows(named=True):
        rows.append(
            live.update(
                FeatureBar(
                    row["ts"].timestamp(),
                    row["close"],
                    row["volume"],
                    row["bid_depth"] if has_book else None,
                    row["ask_depth"] if has_book else None,
                )
            )
        )
    return rows


def assert_bulk_equals_live(frame: pl.DataFrame, feature_set: FeatureSet) -> None:
    bulk = compute_features(frame, feature_set)
    live = live_rows(frame, feature_set)
    for column, name in enumerate(feature_set.names):
        for row, expected in enumerate(bulk[name].to_list()):
            actual = live[row][column]
            if expected is None or actual is None:
                assert expected is None and actual is None, f"{name} row {row}"
            else:
                assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9), f"{name} row {row}"


@st.composite
def bar_frames(draw: st.DrawFn) -> pl.DataFrame:
    """Bars from a seeded random walk, with what hypothesis chooses of the awkward cases: the
    length around the warm-up, the volatility, a run of bars without volume (a flat volume
    window, where the z-score is undefined) and bars with an empty book side."""
    n = draw(st.integers(WARMUP_BARS - 5, WARMUP_BARS + 150))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sigma = draw(st.floats(0.0005, 0.05))
    steps = sigma * rng.standard_normal(n)
    volumes = rng.lognormal(0.0, 1.0, n)
    quiet_from = draw(st.integers(0, n - 1))
    volumes[quiet_from : quiet_from + draw(st.integers(0, 90))] = 0.0
    bids, asks = rng.exponential(5.0, (2, n))
    empty = rng.random(n) < draw(st.floats(0.0, 0.3))
    bids[empty] = 0.0
    asks[empty & (rng.random(n) < 0.5)] = 0.0
    return pl.DataFrame(
        {
            "ts": [START + timedelta(minutes=i) for i in range(n)],
            "close": 30_000.0 * np.exp(np.cumsum(steps)),
            "volume": volumes,
            "bid_depth": bids,
            "ask_depth": asks,
        }
    )


@settings(max_examples=30, deadline=None)
@given(bar_frames())
def test_bulk_and_live_features_agree_on_generated_bars(frame: pl.DataFrame) -> None:
    assert_bulk_equals_live(frame, BOOK_FEATURES)


def test_bulk_and_live_features_agree_on_realistic_synthetic_bars() -> None:
    bars = generate_bars(1500, seed=11, interval=5)
    assert_bulk_equals_live(bars.frame, BAR_FEATURES)


def test_no_feature_is_reported_before_the_warm_up_in_either_path() -> None:
    frame = generate_bars(WARMUP_BARS + 3, seed=2).frame
    bulk = compute_features(frame, BAR_FEATURES)
    live = live_rows(frame, BAR_FEATURES)
    for name in BAR_FEATURES.names:
        assert bulk[name][: WARMUP_BARS - 1].null_count() == WARMUP_BARS - 1
        assert bulk[name][WARMUP_BARS - 1 :].null_count() == 0
    assert all(value is None for row in live[: WARMUP_BARS - 1] for value in row)
    assert all(value is not None for row in live[WARMUP_BARS - 1 :] for value in row)


def test_features_are_scale_free_so_a_model_carries_across_price_levels() -> None:
    frame = generate_bars(400, seed=5).frame
    scaled = frame.with_columns(pl.col("close") * 3.0)
    names = [n for n in BAR_FEATURES.names if not n.startswith("volume")]
    base = compute_features(frame, BAR_FEATURES).select(names).to_numpy()
    moved = compute_features(scaled, BAR_FEATURES).select(names).to_numpy()
    np.testing.assert_allclose(moved, base, rtol=1e-9, atol=1e-9)


def test_time_of_day_puts_the_bar_on_the_daily_circle() -> None:
    live = LiveFeatures(BAR_FEATURES)
    sin_at = BAR_FEATURES.names.index("tod_sin")
    cos_at = BAR_FEATURES.names.index("tod_cos")
    six_am = datetime(2025, 1, 1, 6, 0, tzinfo=UTC)
    for i in range(WARMUP_BARS):
        ts = six_am - timedelta(minutes=WARMUP_BARS - 1 - i)
        values = live.update(FeatureBar(ts.timestamp(), 100.0 + (i % 7), 1.0))
    assert values[sin_at] == pytest.approx(1.0)
    assert values[cos_at] == pytest.approx(0.0, abs=1e-12)


def test_book_depth_sums_the_top_levels_of_each_side() -> None:
    book = BookSnapshot(
        symbol="BTC/USD",
        bids=tuple(BookLevel(Decimal(100 - i), Decimal("1.5")) for i in range(12)),
        asks=(BookLevel(Decimal(101), Decimal("0.25")), BookLevel(Decimal(102), Decimal("2"))),
    )
    assert book_depth(book) == (15.0, 2.25)
    assert book_depth(book, levels=1) == (1.5, 0.25)


def test_book_features_require_depth_columns() -> None:
    frame = generate_bars(300, seed=1).frame
    with pytest.raises(ValueError, match="bid_depth, ask_depth"):
        compute_features(frame, BOOK_FEATURES)


def test_a_feature_list_is_accepted_only_if_this_code_computes_it_in_that_order() -> None:
    assert resolve_feature_set(BAR_FEATURES.names) is BAR_FEATURES
    assert resolve_feature_set(list(BOOK_FEATURES.names)) is BOOK_FEATURES
    with pytest.raises(FeatureMismatchError, match=f"version {FEATURE_VERSION}"):
        resolve_feature_set(tuple(reversed(BAR_FEATURES.names)))
    with pytest.raises(FeatureMismatchError):
        resolve_feature_set((*BAR_FEATURES.names, "sentiment"))


def test_feature_names_are_unique() -> None:
    for feature_set in (BAR_FEATURES, BOOK_FEATURES):
        assert len(set(feature_set.names)) == len(feature_set.names)
