"""Matching and settlement: orders meet the book in price-time priority and fills settle.

The order book (`matching.OrderBook`) only knows prices, quantities and arrival order; the
policy lives here: self-trade prevention (the newer order is canceled), market buys capped
by the buyer's funds, IOC, post-only orders that would cross (accepted, then canceled by
the exchange), stop orders that fire on trades, and settlement. A fill's cost is price x
volume rounded down onto the quote asset's step and is paid by the buyer and received by
the seller alike; each side pays its fee into the venue's fee income, in the currency its
order prefers (Kraken's `fcib`/`fciq`), except synthetic liquidity, which pays none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from kraken_tui.domain.enums import Liquidity, Side, TimeInForce
from kraken_tui.domain.money import ZERO, quantize_down
from kraken_tui.sandbox.events import ExecType, ExecutionEvent, TradePrinted
from kraken_tui.sandbox.ids import VenueIds
from kraken_tui.sandbox.journal import VenueJournal
from kraken_tui.sandbox.ledger import MARKET_MAKER_KEY, Ledger
from kraken_tui.sandbox.matching import LiveOrder, OrderBook
from kraken_tui.sandbox.order_records import OrderRecords
from kraken_tui.sandbox.pairs import PairInfo, PairRegistry
from kraken_tui.sandbox.records import FillView, OrderState, PublicTrade
from kraken_tui.sandbox.tape import TradeTape
from kraken_tui.sandbox.triggers import TriggerBook
from kraken_tui.sandbox.validation import affordable_volume, crosses

REASON_SELF_TRADE = "Self trade prevention"
REASON_NO_LIQUIDITY = "Insufficient liquidity"
REASON_POST_ONLY = "Post only order"
_REASON_IOC = "Immediate or cancel"
_REASON_NO_FUNDS = "Insufficient funds"
_EXEC_TYPE_OF_CLOSE = {
    OrderState.CLOSED: ExecType.FILLED,
    OrderState.CANCELED: ExecType.CANCELED,
    OrderState.EXPIRED: ExecType.EXPIRED,
}


class MatchingEngine:
    def __init__(
        self,
        *,
        pairs: PairRegistry,
        books: Mapping[str, OrderBook],
        tapes: Mapping[str, TradeTape],
        ledger: Ledger,
        records: OrderRecords,
        journal: VenueJournal,
        ids: VenueIds,
        on_synthetic_consumed: Callable[[str], None],
    ) -> None:
        """`on_synthetic_consumed` hears the txid of synthetic liquidity a fill used up."""
        self._pairs = pairs
        self._books = books
        self._tapes = tapes
        self._ledger = ledger
        self._records = records
        self._journal = journal
        self._ids = ids
        self._on_synthetic_consumed = on_synthetic_consumed
        self.triggers = TriggerBook(books)

    def open_order(self, order: LiveOrder) -> LiveOrder:
        """Register a new user order and report it pending, then open (Kraken's sequence).

        A post-only order that would take liquidity is not refused at AddOrder: Kraken
        accepts it (the caller gets its txid) and its engine then cancels it with reason
        `Post only order`, so it never goes live."""
        self._records.register_open(order)
        self._journal.touch_order(order)
        self.report(order, ExecType.PENDING_NEW)
        if order.post_only and self._would_take(order):
            self.close(order, OrderState.CANCELED, REASON_POST_ONLY)
            return order
        order.status = OrderState.OPEN
        self.report(order, ExecType.NEW)
        return order

    def _would_take(self, order: LiveOrder) -> bool:
        best = self._books[order.symbol].best_price(order.side.opposite)
        return (
            order.price is not None and best is not None and crosses(order.side, order.price, best)
        )

    def arm_trigger(self, order: LiveOrder) -> None:
        self._ledger.update_hold(order)
        self.triggers.arm(order, self.last_trade_price(order.symbol))

    def recheck_trigger(self, order: LiveOrder) -> None:
        self.triggers.recheck(order, self.last_trade_price(order.symbol))

    def last_trade_price(self, symbol: str) -> Decimal | None:
        last = self._tapes[symbol].last
        return last.price if last else None

    def take(self, order: LiveOrder, info: PairInfo) -> None:
        """Run a new (or re-priced) user order as taker, then rest, finish or cancel it
        (nothing for an order the exchange already ended, such as a crossing post-only)."""
        if order.status is not OrderState.OPEN:
            return
        self._ledger.update_hold(order)
        stop_reason = self.match(order, info)
        if order.status is not OrderState.OPEN:
            return
        if order.remaining <= 0:
            self.close(order, OrderState.CLOSED, None)
        elif stop_reason == REASON_SELF_TRADE:
            self.close(order, OrderState.CANCELED, REASON_SELF_TRADE)
        elif order.price is None:
            self.close(order, OrderState.CANCELED, stop_reason or REASON_NO_LIQUIDITY)
        elif order.time_in_force is TimeInForce.IOC:
            self.close(order, OrderState.CANCELED, _REASON_IOC)
        else:
            self._books[order.symbol].add(order)
            self._journal.touch_order(order)

    def spend_quote(self, order: LiveOrder, info: PairInfo) -> None:
        """Run a quote-sized market buy to completion: CLOSED once its budget is spent,
        CANCELED (keeping what filled) when the asks ran out first, like a market order."""
        stop_reason = self._match_budget(order, info)
        if stop_reason is None and order.vol_exec > 0:
            self.close(order, OrderState.CLOSED, None)
        else:
            self.close(order, OrderState.CANCELED, stop_reason or REASON_NO_LIQUIDITY)

    def match(self, taker: LiveOrder, info: PairInfo) -> str | None:
        """Trade `taker` against the opposite side in price-time priority. Returns why it
        stopped early (self-trade, funds) or None when it ran out of quantity or price."""
        book = self._books[info.symbol]
        opposite = taker.side.opposite
        limit = taker.price
        budgeted = taker.side is Side.BUY and limit is None and taker.api_key != MARKET_MAKER_KEY
        while taker.remaining > 0:
            maker = book.first(opposite)
            if maker is None:
                return REASON_NO_LIQUIDITY
            assert maker.price is not None
            if limit is not None and not crosses(taker.side, limit, maker.price):
                return None
            if maker.api_key == taker.api_key and taker.api_key != MARKET_MAKER_KEY:
                return REASON_SELF_TRADE
            qty = min(taker.remaining, maker.remaining)
            if budgeted:
                qty = min(qty, self._ledger.affordable(taker, info, maker.price))
                if qty <= 0:
                    return _REASON_NO_FUNDS
            self._fill(taker, maker, qty, maker.price, info)
        return None

    def _match_budget(self, taker: LiveOrder, info: PairInfo) -> str | None:
        """Spend a quote-sized buy's budget on the asks in price-time priority. Each fill
        buys what the budget left affords at the maker's price, floored onto the lot step.
        The budget is charged each fill's exact notional (price x qty), of which the cost
        paid is the rounded-down part, so the order never pays more than its amount and a
        fill whose cost rounds to nothing cannot repeat forever. Returns why it stopped
        early, or None when the budget left buys less than one lot at the next price."""
        book = self._books[info.symbol]
        budget = taker.volume
        while True:
            maker = book.first(Side.SELL)
            if maker is None:
                return REASON_NO_LIQUIDITY
            assert maker.price is not None
            if maker.api_key == taker.api_key:
                return REASON_SELF_TRADE
            qty = min(maker.remaining, affordable_volume(budget, maker.price, info.lot_step))
            if qty <= 0:
                return None
            budget -= maker.price * qty
            self._fill(taker, maker, qty, maker.price, info)

    def _fill(
        self, taker: LiveOrder, maker: LiveOrder, qty: Decimal, price: Decimal, info: PairInfo
    ) -> None:
        cost = quantize_down(price * qty, info.quote.step)
        tape = self._tapes[info.symbol]
        trade_id = tape.last_trade_id + 1
        ord_type = "limit" if taker.price is not None else "market"
        now = self._journal.now
        self._journal.touch_pair(info.symbol)
        for order, is_maker in ((maker, True), (taker, False)):
            self._settle_fill(order, is_maker, qty, price, cost, info, trade_id)
        self._books[info.symbol].reduce(maker, qty)
        if maker.remaining <= 0 and maker.api_key == MARKET_MAKER_KEY:
            self._on_synthetic_consumed(maker.txid)
        tape.record(PublicTrade(info.symbol, taker.side, price, qty, ord_type, trade_id, now))
        if self._journal.listening:
            self._journal.emit(
                TradePrinted(info.symbol, taker.side, price, qty, ord_type, trade_id, now)
            )
        for order in (maker, taker):
            if (
                order.api_key != MARKET_MAKER_KEY
                and order.remaining <= 0
                and not order.volume_in_quote
            ):
                self.close(order, OrderState.CLOSED, None)
        self.triggers.collect(info.symbol, price)

    def _settle_fill(
        self,
        order: LiveOrder,
        is_maker: bool,
        qty: Decimal,
        price: Decimal,
        cost: Decimal,
        info: PairInfo,
        trade_id: int,
    ) -> None:
        is_user = order.api_key != MARKET_MAKER_KEY
        account = self._ledger.owner(order)
        fee_asset = info.base if order.fee_in_base else info.quote
        charged_on = qty if order.fee_in_base else cost
        fee = self._ledger.fees.fee(charged_on, is_maker, fee_asset.step) if is_user else ZERO
        base_fee = fee if order.fee_in_base else ZERO
        quote_fee = ZERO if order.fee_in_base else fee
        order.vol_exec += qty
        order.cost += cost
        # REST order entries report `fee` in quote, whichever asset paid it
        order.fee += quote_fee or quantize_down(base_fee * price, info.quote.step)
        order.lastupdated = self._journal.now
        if is_user:
            self._ledger.update_hold(order)
        fill_id = self._ids.trade_id() if is_user else ""
        base, quote = info.base.code, info.quote.code
        if order.side is Side.BUY:
            self._ledger.move(account, base, qty, "trade", fill_id, fee=base_fee)
            self._ledger.move(account, quote, -cost, "trade", fill_id, fee=quote_fee)
        else:
            self._ledger.move(account, base, -qty, "trade", fill_id, fee=base_fee)
            self._ledger.move(account, quote, cost, "trade", fill_id, fee=quote_fee)
        self._ledger.collect_fee(fee_asset.code, fee)
        if not is_user:
            return
        fill = FillView(
            trade_id=fill_id,
            public_trade_id=trade_id,
            order_txid=order.txid,
            position_txid=self._ids.trade_id(),
            api_key=order.api_key,
            symbol=info.symbol,
            rest_pair=info.altname,
            time=self._journal.now,
            side=order.side,
            order_type=order.order_type,
            price=price,
            cost=cost,
            fee=fee,
            fee_asset=fee_asset.code,
            vol=qty,
            maker=is_maker,
            cl_ord_id=order.cl_ord_id,
            userref=order.userref,
        )
        self._records.add_fill(fill)
        self._journal.record_fill(fill)
        self._journal.touch_order(order)
        if self._journal.listening:
            self._journal.emit(
                ExecutionEvent(
                    api_key=order.api_key,
                    exec_type=ExecType.TRADE,
                    order=self._records.view(order),
                    timestamp=self._journal.now,
                    exec_id=fill_id,
                    public_trade_id=trade_id,
                    last_qty=qty,
                    last_price=price,
                    last_fee=fee,
                    fee_asset=fee_asset.display,
                    liquidity_ind=Liquidity.MAKER if is_maker else Liquidity.TAKER,
                )
            )

    def close(self, order: LiveOrder, state: OrderState, reason: str | None) -> None:
        if order.in_book:
            self._books[order.symbol].remove(order)
        self.triggers.disarm(order)
        order.status = state
        order.reason = reason
        order.closetm = self._journal.now
        order.lastupdated = self._journal.now
        self._ledger.update_hold(order)
        self._records.move_to_closed(order)
        self._journal.touch_order(order)
        self.report(order, _EXEC_TYPE_OF_CLOSE[state], reason)

    def run_triggers(self) -> None:
        """Execute stop orders triggered by trades, after the trade that triggered them is
        complete (never re-entering the book while it is being walked)."""
        while (order := self.triggers.next_fired()) is not None:
            if order.status is not OrderState.OPEN:
                continue
            order.triggered = True
            order.lastupdated = self._journal.now
            self._journal.touch_order(order)
            self.report(order, ExecType.STATUS, "Triggered")
            self.take(order, self._pairs.resolve(order.symbol))

    def report(self, order: LiveOrder, exec_type: ExecType, reason: str | None = None) -> None:
        if self._journal.listening:
            self._journal.emit(
                ExecutionEvent(
                    api_key=order.api_key,
                    exec_type=exec_type,
                    order=self._records.view(order),
                    timestamp=self._journal.now,
                    reason=reason,
                )
            )
