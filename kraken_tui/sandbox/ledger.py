"""The venue's accounts: balances, what open orders hold, funds checks and fee income.

A buy order holds `remaining x limit x (1 + taker rate)` of the quote asset (a stop order
waiting for its trigger: at the trigger price), a sell order its remaining base volume, a
market buy nothing (it never rests). The taker-fee margin sits on the side the fee is paid
in: an order paying its fee in base (Kraken's `fcib`, the default for sells) holds a buy's
quote without it and a sell's base with it. Because a fill's cost and fee both round down, what a
fill charges never exceeds the hold it releases. The synthetic liquidity account stands for
the rest of the market: it has no funding limits and pays no fees.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

from kraken_tui.domain.enums import Side
from kraken_tui.domain.money import ZERO, quantize_down
from kraken_tui.sandbox.accounts import Account
from kraken_tui.sandbox.errors import INSUFFICIENT_FUNDS, INVALID_KEY, VenueError
from kraken_tui.sandbox.events import BalanceChanged, LedgerPosted
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.ids import VenueIds
from kraken_tui.sandbox.journal import StepChanges, VenueJournal
from kraken_tui.sandbox.ledger_history import LedgerEntry, LedgerHistory
from kraken_tui.sandbox.matching import LiveOrder, OrderBook
from kraken_tui.sandbox.pairs import PairInfo, PairRegistry

MARKET_MAKER_KEY = "__synthetic_liquidity__"
"""The account owning synthetic liquidity; it has no funding limits and pays no fees."""


class Ledger:
    def __init__(self, fees: FeeSchedule, journal: VenueJournal, ids: VenueIds) -> None:
        self.fees = fees
        self._journal = journal
        self._ids = ids
        self.history = LedgerHistory()
        self.accounts: dict[str, Account] = {}
        self.market = Account(MARKET_MAKER_KEY, unlimited=True)
        self.fee_income: dict[str, Decimal] = {}
        """Fees collected per asset REST code (the venue's own ledger)."""

    def add(self, api_key: str, balances: Mapping[str, Decimal]) -> Account:
        account = Account(api_key, balances)
        self.accounts[api_key] = account
        return account

    def get(self, api_key: str) -> Account:
        """The account of an API key; Kraken's invalid-key error for an unknown one."""
        account = self.accounts.get(api_key)
        if account is None:
            raise VenueError(INVALID_KEY)
        return account

    def owner(self, order: LiveOrder) -> Account:
        if order.api_key == MARKET_MAKER_KEY:
            return self.market
        return self.accounts[order.api_key]

    def hold_for(
        self,
        order: LiveOrder,
        remaining: Decimal,
        limit: Decimal | None,
        trigger: Decimal | None,
    ) -> Decimal:
        if order.side is Side.SELL:
            return remaining * self._fee_margin(order.fee_in_base)
        waiting = order.order_type.is_triggered and not order.triggered
        reference = limit if limit is not None else (trigger if waiting else None)
        if reference is None:
            return ZERO
        return remaining * reference * self._fee_margin(not order.fee_in_base)

    def _fee_margin(self, fee_here: bool) -> Decimal:
        """What an amount is multiplied by to reserve the taker fee, when paid in its asset."""
        return 1 + self.fees.taker if fee_here else Decimal(1)

    def update_hold(self, order: LiveOrder) -> None:
        """Bring the order's hold to what it needs now (nothing once it is closed)."""
        required = (
            self.hold_for(order, order.remaining, order.price, order.trigger_price)
            if order.status.is_open
            else ZERO
        )
        delta = required - order.hold
        if delta:
            account = self.accounts[order.api_key]
            account.change_hold(order.hold_asset, delta)
            order.hold = required
            self._journal.move_hold(account.api_key, order.hold_asset, order.txid)

    def check_funds(
        self,
        account: Account,
        info: PairInfo,
        book: OrderBook,
        side: Side,
        qty: Decimal,
        limit: Decimal | None,
        trigger: Decimal | None,
        fee_in_base: bool = False,
    ) -> None:
        if side is Side.SELL:
            needed, asset = qty * self._fee_margin(fee_in_base), info.base.code
        elif limit is not None or trigger is not None:
            reference = limit if limit is not None else trigger
            assert reference is not None
            needed = qty * reference * self._fee_margin(not fee_in_base)
            asset = info.quote.code
        else:
            needed = self._market_buy_cost(account, book, qty) * self._fee_margin(not fee_in_base)
            asset = info.quote.code
        if needed > account.available(asset):
            raise VenueError(INSUFFICIENT_FUNDS)

    def check_quote_funds(self, account: Account, info: PairInfo, amount: Decimal) -> None:
        """A buy spending `amount` of quote must afford its taker fee on top."""
        if amount * (1 + self.fees.taker) > account.available(info.quote.code):
            raise VenueError(INSUFFICIENT_FUNDS)

    def affordable(self, order: LiveOrder, info: PairInfo, price: Decimal) -> Decimal:
        """How much base a market buy can still pay for at `price` (its fee included when
        paid in quote)."""
        available = self.accounts[order.api_key].available(info.quote.code)
        per_unit = price * self._fee_margin(not order.fee_in_base)
        return quantize_down(available / per_unit, info.lot_step)

    def move(
        self,
        account: Account,
        asset: str,
        amount: Decimal,
        change_type: str,
        ref_id: str,
        fee: Decimal = ZERO,
    ) -> None:
        """Change a balance by `amount` and charge `fee` on top (both in `asset`)."""
        net = amount - fee
        account.credit(asset, net)
        if account.unlimited:
            return
        self._journal.move_balance(account.api_key, asset, net, change_type, ref_id)
        entry = LedgerEntry(
            ledger_id=self._ids.ledger_id(self.history),
            api_key=account.api_key,
            refid=ref_id,
            time=self._journal.now,
            type=change_type,
            asset=asset,
            amount=amount,
            fee=fee,
            balance=account.balance(asset),
        )
        self.history.add(entry)
        self._journal.post_ledger_entry(entry)

    def collect_fee(self, asset: str, fee: Decimal) -> None:
        if fee:
            self.fee_income[asset] = self.fee_income.get(asset, ZERO) + fee

    def balance_events(
        self, changes: StepChanges, pairs: PairRegistry, now: float
    ) -> Iterator[BalanceChanged | LedgerPosted]:
        """The step's ledger entries in posting order, then one event per account and asset
        the step moved: its net amount and the result."""
        for entry in changes.ledger_entries:
            yield LedgerPosted(entry, pairs.asset(entry.asset).display)
        for (api_key, asset), move in changes.balance_moves.items():
            account = self.accounts[api_key]
            yield BalanceChanged(
                api_key=api_key,
                asset=asset,
                display=pairs.asset(asset).display,
                amount=move.amount,
                balance=account.balance(asset),
                hold_trade=account.hold(asset),
                change_type=move.change_type,
                ref_id=move.ref_id,
                timestamp=now,
            )

    def _market_buy_cost(self, account: Account, book: OrderBook, qty: Decimal) -> Decimal:
        """What a market buy of `qty` would pay before fees, walking the asks as they are."""
        left, total = qty, ZERO
        for maker in book.orders_from_best(Side.SELL):
            if left <= 0 or maker.api_key == account.api_key:
                break
            assert maker.price is not None
            take = min(left, maker.remaining)
            total += maker.price * take
            left -= take
        return total
