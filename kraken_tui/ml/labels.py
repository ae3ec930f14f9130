"""What a model learns to predict: whether buying now and selling `horizon` bars later would
have made money after paying the fee on both sides.

Buying a notional N at close p costs fee·N; selling the N/p units `horizon` bars later at p'
yields N·p'/p minus fee on that. The net return per unit of notional is therefore
p'/p·(1 - fee) - (1 + fee), and the label is 1 when it is positive. With Kraken's 0.26% taker
fee a move has to clear about 0.52% before it counts as up: a model that predicts plain
direction would learn to trade moves that cannot pay for themselves.
"""

from __future__ import annotations

import polars as pl


def check_label_spec(horizon: int, fee_rate: float) -> None:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive number of bars, got {horizon!r}")
    if not 0.0 <= fee_rate < 0.1:
        raise ValueError(f"fee rate must be a fraction in [0, 0.1), got {fee_rate!r}")


def forward_net_return(horizon: int, fee_rate: float) -> pl.Expr:
    """Net return of buying at this bar's close and selling `horizon` bars later, after fees
    on both sides; null for the last `horizon` bars, whose outcome is not known yet."""
    check_label_spec(horizon, fee_rate)
    close = pl.col("close")
    return (close.shift(-horizon) / close * (1.0 - fee_rate) - (1.0 + fee_rate)).alias(
        "forward_return"
    )


def forward_label(horizon: int, fee_rate: float) -> pl.Expr:
    """1 where the fee-adjusted forward return is positive, 0 where not, null where unknown."""
    return (forward_net_return(horizon, fee_rate) > 0.0).cast(pl.Int8).alias("label")
