"""The strategy the crash-safety child runs, loaded from this directory as `churn.py:Churn`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kraken_tui.domain import Side
from kraken_tui.strategies import BaseStrategy, Intent, Intents

SIZE = Decimal("0.001")


class Churn(BaseStrategy):
    """Every tick: cancel its resting orders, trade at market (alternating sides, so fills
    keep coming), and rest a new bid under the mid — fills, acks and cancels all the time."""

    timer_interval_s = 0.03

    def on_timer(self, now: datetime) -> Intents:
        n = self.state.get("n", 0) + 1
        self.state["n"] = n
        intents: list[Intent] = [self.cancel_all()]
        intents.append(self.buy(SIZE) if n % 2 else self.sell(SIZE))
        if self.mid is not None:
            intents.append(self.limit(Side.BUY, SIZE, self.mid * Decimal("0.995")))
        return intents
