"""An account's equity in one asset, valued at last trade prices (Kraken's TradeBalance).

The sandbox has no index prices: an asset is valued through a pair linking it to the
target asset, directly or through XBT, at that pair's last trade; an asset without such a
price counts as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from kraken_tui.domain.money import ZERO
from kraken_tui.sandbox.accounts import Account
from kraken_tui.sandbox.matching import LiveOrder
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.sandbox.records import TradeBalance

LastPrice = Callable[[str], Decimal | None]
"""The last trade price of a pair symbol, None before its first trade."""


def trade_balance(
    account: Account,
    open_orders: Iterable[LiveOrder],
    pairs: PairRegistry,
    last_price: LastPrice,
    asset: str,
) -> TradeBalance:
    target = pairs.asset(asset).code
    equity = ZERO
    for code in account.assets():
        amount = account.balance(code)
        if amount:
            equity += amount * _price_in(code, target, pairs, last_price)
    unexecuted = ZERO
    for order in open_orders:
        reference = order.price or order.trigger_price or ZERO
        quote = pairs.resolve(order.symbol).quote.code
        unexecuted += order.remaining * reference * _price_in(quote, target, pairs, last_price)
    step = pairs.asset(target).step
    equity = equity.quantize(step)
    return TradeBalance(
        asset=target,
        equivalent_balance=equity,
        trade_balance=equity,
        margin=ZERO,
        unrealized_pnl=ZERO,
        cost_basis=ZERO,
        floating_valuation=ZERO,
        equity=equity,
        free_margin=equity,
        unexecuted_value=unexecuted.quantize(step),
    )


def _price_in(asset: str, target: str, pairs: PairRegistry, last_price: LastPrice) -> Decimal:
    if asset == target:
        return Decimal(1)
    direct = _cross_price(asset, target, pairs, last_price)
    if direct is not None:
        return direct
    via_btc = _cross_price(asset, "XXBT", pairs, last_price)
    btc_in_target = _cross_price("XXBT", target, pairs, last_price)
    if via_btc is not None and btc_in_target is not None:
        return via_btc * btc_in_target
    return ZERO


def _cross_price(
    asset: str, target: str, pairs: PairRegistry, last_price: LastPrice
) -> Decimal | None:
    for pair in pairs:
        price = last_price(pair.symbol)
        if price is None:
            continue
        if pair.base.code == asset and pair.quote.code == target:
            return price
        if pair.base.code == target and pair.quote.code == asset:
            return 1 / price
    return None
