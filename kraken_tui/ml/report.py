"""What `ml train` and `ml evaluate` print: tables that fit any terminal, and the same figures
as JSON for scripts.

The text is formatted from the very dictionaries the JSON carries, so a script reading
`--format json` and a person reading the terminal see the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from kraken_tui.backtest.fitted_table import Column, fitted_table

FOLD_COLUMNS = (
    Column("fold", "fold"),
    Column("test window (UTC)", "test window (UTC)", numeric=False),
    Column("train", "training rows"),
    Column("purged", "rows purged between training and test"),
    Column("base", "base rate (share of test rows labelled up)"),
    Column("AUC", "AUC"),
    Column("prec", "precision (share of winners among signals)"),
    Column("signals", "signals"),
)

FOLD_BACKTEST_COLUMNS = (
    Column("fold", "fold"),
    Column("strategy", "strategy"),
    Column("buy & hold", "buy & hold"),
    Column("trades", "trades"),
)

SCORE_COLUMNS = (
    Column("rows", "rows"),
    Column("base", "base rate (share of rows labelled up)"),
    Column("AUC", "AUC"),
    Column("prec", "precision (share of winners among signals)"),
    Column("signals", "signals"),
)


def fold_tables(folds: Sequence[Mapping[str, Any]], width: int) -> RenderableType:
    """The walk-forward folds (`FoldResult.to_json()` dictionaries): their scores, then the
    out-of-sample backtest of each window (when the folds were backtested)."""
    scores = fitted_table(
        "walk-forward folds (every score is out of sample)",
        FOLD_COLUMNS,
        [_fold_row(fold) for fold in folds],
        width,
        record_name="fold",
    )
    if not any("strategy_return" in fold for fold in folds):
        return scores
    backtests = fitted_table(
        "out-of-sample backtest of each test window",
        FOLD_BACKTEST_COLUMNS,
        [_fold_backtest_row(fold) for fold in folds],
        width,
        record_name="fold",
    )
    return Group(scores, Text(""), backtests)


def score_table(scores: Mapping[str, Any], enter: float, width: int) -> RenderableType:
    """Out-of-sample scores of `ml evaluate`; signals are rows at or above `enter`."""
    row = (
        f"{scores['rows']:,}",
        _number(scores["base_rate"], "{:.3f}"),
        _number(scores["auc"], "{:.3f}"),
        _number(scores["precision_at_enter"], "{:.3f}"),
        f"{scores['signals']:,}",
    )
    return fitted_table(
        f"out-of-sample scores (signal: probability ≥ {enter:.2f})",
        SCORE_COLUMNS,
        [row],
        width,
        record_name="scores",
    )


def percent(value: float | None) -> str:
    return _number(value, "{:+.2%}")


def _fold_row(fold: Mapping[str, Any]) -> tuple[str, ...]:
    start, end = (datetime.fromisoformat(t) for t in fold["test"])
    return (
        str(fold["fold"]),
        f"{start:%m-%d %H:%M}→{end:%m-%d %H:%M}",
        f"{fold['n_train']:,}",
        f"{fold['purged']:,}",
        _number(fold["base_rate"], "{:.3f}"),
        _number(fold["auc"], "{:.3f}"),
        _number(fold["precision_at_enter"], "{:.3f}"),
        f"{fold['signals']:,}",
    )


def _fold_backtest_row(fold: Mapping[str, Any]) -> tuple[str, ...]:
    trades = fold.get("trades")
    return (
        str(fold["fold"]),
        percent(fold.get("strategy_return")),
        percent(fold.get("buy_hold_return")),
        "–" if trades is None else f"{trades:,}",
    )


def _number(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)
