"""Checks that features do not see the future, run before every training.

A feature that peeks at later bars (a negative shift, a centred window, a normalisation by the
whole series' statistics) makes a backtest look brilliant and a live model useless, and nothing
in the training metrics reveals it. Two checks catch it:

* the truncation test, which is decisive: recompute every feature on the data cut off at
  several points and compare with the values computed on all of it. A causal feature at bar t
  depends only on bars up to t, so removing later bars must not change it;
* the correlation test, a tripwire for leaks the truncation misses (a label computed into the
  input upstream, say): no honest feature of a liquid market correlates with the forward
  return anywhere near `SUSPICIOUS_CORRELATION`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from kraken_tui.ml.features import WARMUP_BARS, FeatureSet, compute_features

SUSPICIOUS_CORRELATION = 0.5
TRUNCATION_CUTS = 4
TOLERANCE = 1e-12


class LeakageError(ValueError):
    """Features that use information from after the bar they describe."""


def check_lookahead(
    frame: pl.DataFrame, feature_set: FeatureSet, *, cuts: int = TRUNCATION_CUTS
) -> None:
    """Raise LeakageError naming every feature whose values change when later bars are removed."""
    height = frame.height
    first = WARMUP_BARS + 1
    if height <= first:
        raise ValueError(f"need more than {first} bars to check features for look-ahead")
    full = compute_features(frame, feature_set)
    step = max((height - first) // cuts, 1)
    leaks: dict[str, str] = {}
    for cut in range(first, height, step):
        truncated = compute_features(frame.head(cut), feature_set)
        for name in feature_set.names:
            if name in leaks:
                continue
            row = _first_difference(full[name].head(cut), truncated[name])
            if row is not None:
                leaks[name] = f"{name} (bar {truncated['ts'][row]:%Y-%m-%d %H:%M} changes)"
    if leaks:
        raise LeakageError(
            "features change when later bars are removed, so they use the future: "
            + "; ".join(leaks.values())
        )


def check_label_correlation(
    features: pl.DataFrame,
    names: Sequence[str],
    forward_return: str = "forward_return",
    *,
    limit: float = SUSPICIOUS_CORRELATION,
) -> dict[str, float]:
    """Pearson correlation of each feature with the forward return; raise LeakageError for any
    above `limit` in magnitude. Returns the correlations for the training report."""
    correlations: dict[str, float] = {}
    for name in names:
        pair = features.select(name, forward_return).drop_nulls()
        value = pair.select(pl.corr(name, forward_return)).item() if pair.height > 2 else None
        correlations[name] = 0.0 if value is None or math.isnan(value) else float(value)
    suspicious = {n: c for n, c in correlations.items() if abs(c) > limit}
    if suspicious:
        listed = ", ".join(f"{n} ({c:+.2f})" for n, c in suspicious.items())
        raise LeakageError(
            f"features correlate with the forward return beyond ±{limit}, which no honest "
            f"market feature does: {listed}; check them for look-ahead"
        )
    return correlations


def _first_difference(expected: pl.Series, actual: pl.Series) -> int | None:
    """Index of the first row where the two differ (a null on one side only counts)."""
    compared = pl.DataFrame({"a": expected, "b": actual}).select(
        pl.when(pl.col("a").is_null() | pl.col("b").is_null())
        .then(pl.col("a").is_null() != pl.col("b").is_null())
        .otherwise(
            (pl.col("a") - pl.col("b")).abs()
            > TOLERANCE * pl.max_horizontal(pl.col("a").abs(), pl.lit(1.0))
        )
        .alias("differs")
    )["differs"]
    hits = compared.arg_true()
    return int(hits[0]) if hits.len() else None
