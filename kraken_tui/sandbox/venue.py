"""SandboxVenue: the synchronous core of the sandbox exchange, and its public API.

Over 600 lines because it is the venue's whole public surface, one method per request the
server and the backtester make; the work behind each already lives in the parts named below,
and what stays is checking each request in Kraken's order before handing it on.

Everything here is plain synchronous Python driven by the server's calls: one venue call is
one atomic step (validate, match, emit events, persist in one SQLite transaction), so the
aiohttp server can call it from its event loop without locks and tests can drive it directly.

The venue checks what callers ask for and hands the work to its parts: `MarketData` (books,
tapes and what they show), `Ledger` (accounts, holds, funds), `MatchingEngine` (matching,
settlement, stop triggers), `OrderRecords` (orders, fills, history), `SyntheticLiquidity`
(the simulated rest of the market), `DeadManSwitches`, `VenueJournal` (a step's timestamp,
events and changes) and `persistence` (the SQLite state).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from loguru import logger

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.sandbox.accounts import Account
from kraken_tui.sandbox.amend_history import AmendHistory, AmendRecord
from kraken_tui.sandbox.dead_man import DeadManSwitches
from kraken_tui.sandbox.errors import (
    DUPLICATE_ORDER,
    INSUFFICIENT_FUNDS,
    POST_ONLY,
    UNKNOWN_ORDER,
    VenueError,
    invalid_argument,
)
from kraken_tui.sandbox.events import BookLevelChanged, ExecType, Listener
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.ids import VenueIds
from kraken_tui.sandbox.journal import StepChanges, VenueJournal
from kraken_tui.sandbox.ledger import MARKET_MAKER_KEY, Ledger
from kraken_tui.sandbox.ledger_history import LedgerEntry
from kraken_tui.sandbox.market_data import MarketData
from kraken_tui.sandbox.matching import LiveOrder
from kraken_tui.sandbox.matching_engine import MatchingEngine
from kraken_tui.sandbox.order_records import OrderRecords
from kraken_tui.sandbox.order_text import describe_order
from kraken_tui.sandbox.pairs import PairInfo, PairRegistry
from kraken_tui.sandbox.persistence import restore, save_step
from kraken_tui.sandbox.records import (
    AddOrderResult,
    AmendResult,
    BalanceEntry,
    CancelResult,
    DeadManSwitch,
    FillView,
    OrderState,
    OrderView,
    Page,
    TradeBalance,
    VenueOrderType,
)
from kraken_tui.sandbox.state import VenueStore
from kraken_tui.sandbox.synthetic import SyntheticLiquidity
from kraken_tui.sandbox.validation import (
    check_cost,
    check_price,
    check_volume,
    crosses,
    parse_decimal,
    parse_optional_decimal,
    parse_order_type,
    parse_side,
    parse_time_in_force,
)
from kraken_tui.sandbox.valuation import trade_balance

DEFAULT_FUNDING: Mapping[str, Decimal] = {
    "ZUSD": Decimal(100_000),
    "XXBT": Decimal(2),
    "XETH": Decimal(30),
    "SOL": Decimal(500),
}
_REASON_CANCELED = "User requested"
_REASON_DEAD_MAN = "Dead man's switch"


class SandboxVenue(MarketData):
    def __init__(
        self,
        pairs: PairRegistry | None = None,
        *,
        fees: FeeSchedule | None = None,
        state_path: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        default_funding: Mapping[str, Decimal] = DEFAULT_FUNDING,
        id_seed: int | None = None,
    ) -> None:
        """`state_path` is the SQLite file; an existing file brings back its accounts, open
        orders (re-queued in their original priority), closed orders and fills. `id_seed`
        makes order and trade ids reproducible (tests); by default they are random."""
        super().__init__(pairs or PairRegistry(), clock, self._on_level)
        self._default_funding = dict(default_funding)
        self._ids = VenueIds(id_seed)
        self._journal = VenueJournal(clock, self._settle)
        self._ledger = Ledger(fees or FeeSchedule(), self._journal, self._ids)
        self._records = OrderRecords(self._pairs)
        self._synthetic = SyntheticLiquidity(self._pairs, self._books, self._journal)
        self._engine = MatchingEngine(
            pairs=self._pairs,
            books=self._books,
            tapes=self._tapes,
            ledger=self._ledger,
            records=self._records,
            journal=self._journal,
            ids=self._ids,
            on_synthetic_consumed=self._synthetic.consumed,
        )
        self._dead_man = DeadManSwitches()
        self._amends = AmendHistory(self._ids)
        self._store = VenueStore(state_path) if state_path is not None else None
        if self._store is not None:
            restore(
                self._store,
                pairs=self._pairs,
                ledger=self._ledger,
                records=self._records,
                books=self._books,
                triggers=self._engine.triggers,
                tapes=self._tapes,
            )
            self._journal.discard()

    # ---- plumbing -------------------------------------------------------------------

    @property
    def fees(self) -> FeeSchedule:
        return self._ledger.fees

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register a listener for every event; returns the function that unregisters it."""
        return self._journal.subscribe(listener)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def fee_income(self) -> dict[str, Decimal]:
        """Fees collected so far per asset REST code (the venue's own ledger)."""
        return dict(self._ledger.fee_income)

    def market_balances(self) -> dict[str, Decimal]:
        """Net position of synthetic liquidity per asset (negative = the market paid out)."""
        return dict(self._ledger.market.balances)

    # ---- accounts -------------------------------------------------------------------

    def open_account(self, api_key: str, funding: Mapping[str, Decimal] | None = None) -> bool:
        """Create a funded account (asset name -> amount); an existing one is left
        unchanged. Returns True when it was created."""
        if api_key in self._ledger.accounts:
            return False
        if api_key == MARKET_MAKER_KEY:
            raise ValueError("that key is reserved for synthetic liquidity")
        with self._journal.step():
            initial = self._default_funding if funding is None else funding
            account = self._ledger.add(
                api_key, {self._pairs.asset(name).code: Decimal(v) for name, v in initial.items()}
            )
            self._records.add_account(api_key)
            self._journal.touch_account(api_key)
        logger.info("sandbox account opened with {} assets", len(account.balances))
        return True

    def has_account(self, api_key: str) -> bool:
        return api_key in self._ledger.accounts

    def balances(self, api_key: str) -> dict[str, Decimal]:
        account = self._ledger.get(api_key)
        return {asset: account.balance(asset) for asset in sorted(account.assets())}

    def balances_ex(self, api_key: str) -> dict[str, BalanceEntry]:
        account = self._ledger.get(api_key)
        return {
            asset: BalanceEntry(asset, account.balance(asset), account.hold(asset))
            for asset in sorted(account.assets())
        }

    def trade_balance(self, api_key: str, asset: str = "ZUSD") -> TradeBalance:
        """Equity valued in `asset` at last trade prices (see `valuation`)."""
        account = self._ledger.get(api_key)
        open_orders = self._records.open_of(api_key)
        return trade_balance(account, open_orders, self._pairs, self.last_price, asset)

    # ---- trading ---------------------------------------------------------------------

    def add_order(
        self,
        api_key: str,
        *,
        pair: str,
        side: Side | str,
        order_type: VenueOrderType | str,
        volume: Decimal | str,
        price: Decimal | str | None = None,
        trigger_price: Decimal | str | None = None,
        post_only: bool = False,
        time_in_force: TimeInForce | str = TimeInForce.GTC,
        userref: int | None = None,
        cl_ord_id: str | None = None,
        validate: bool = False,
        volume_in_quote: bool = False,
        fee_in_base: bool | None = None,
    ) -> AddOrderResult:
        """Validate, then place and match an order; raises VenueError with Kraken's string.

        Map REST fields this way: `price` of a limit order -> `price`; `price` of a
        stop-loss/take-profit order -> `trigger_price`; for the `-limit` variants REST `price`
        -> `trigger_price` and `price2` -> `price`; `oflags=post` -> `post_only`;
        `oflags=viqc` -> `volume_in_quote`. WS v2 maps `limit_price` -> `price`,
        `triggers.price` -> `trigger_price`, `cash_order_qty` -> `volume` with
        `volume_in_quote`. `validate=True` runs every check (funds included) and returns txid
        None without placing anything.

        `volume_in_quote` makes `volume` the amount of quote currency a market buy spends
        before fees (Kraken's `viqc`): it buys what that amount gets walking the asks, so a
        caller can spend its whole free balance without knowing the fill price.

        `fee_in_base` is REST `oflags` `fcib` (True) / `fciq` (False); None takes Kraken's
        default, base when selling and quote when buying (api-specs
        spot-rest/partials/properties/oflags.yaml). A post-only order that would cross is
        placed and at once canceled by the matching engine, as Kraken does."""
        account = self._ledger.get(api_key)
        info = self._pairs.resolve(pair)
        order_side = parse_side(side)
        kind = parse_order_type(order_type)
        qty = parse_decimal(volume, "volume")
        tif = parse_time_in_force(time_in_force)
        if volume_in_quote:
            return self._add_quote_order(
                account,
                info,
                side=order_side,
                kind=kind,
                amount=qty,
                post_only=post_only,
                time_in_force=tif,
                userref=userref,
                cl_ord_id=cl_ord_id,
                validate=validate,
            )
        limit_field = "price2" if kind.is_triggered else "price"
        limit = parse_optional_decimal(price, limit_field) if kind.has_limit_price else None
        trigger = parse_optional_decimal(trigger_price, "price") if kind.is_triggered else None
        if userref is not None and cl_ord_id is not None:
            raise VenueError(invalid_argument("cl_ord_id"))
        if kind.has_limit_price and limit is None:
            raise VenueError(invalid_argument(limit_field))
        if kind.is_triggered and trigger is None:
            raise VenueError(invalid_argument("price"))
        if post_only and kind is not VenueOrderType.LIMIT:
            raise VenueError(invalid_argument("oflags"))
        if post_only and tif is TimeInForce.IOC:
            raise VenueError(invalid_argument("timeinforce"))
        for value in (limit, trigger):
            if value is not None:
                check_price(info, value)
        check_volume(info, qty)
        book = self._books[info.symbol]
        opposite_best = book.best_price(order_side.opposite)
        check_cost(info, limit or trigger or opposite_best, qty)
        if cl_ord_id is not None and self._records.has_open_cl_ord_id(api_key, cl_ord_id):
            raise VenueError(DUPLICATE_ORDER)
        base_fee = order_side is Side.SELL if fee_in_base is None else fee_in_base
        self._ledger.check_funds(account, info, book, order_side, qty, limit, trigger, base_fee)
        description = describe_order(info, order_side, kind, qty, limit, trigger)
        if validate:
            return AddOrderResult(None, description, cl_ord_id, userref)
        with self._journal.step():
            order = self._engine.open_order(
                self._new_order(
                    info,
                    api_key,
                    order_side,
                    kind,
                    qty,
                    limit,
                    trigger,
                    time_in_force=tif,
                    post_only=post_only,
                    userref=userref,
                    cl_ord_id=cl_ord_id,
                    fee_in_base=base_fee,
                )
            )
            if kind.is_triggered:
                self._engine.arm_trigger(order)
            else:
                self._engine.take(order, info)
            self._engine.run_triggers()
        return AddOrderResult(order.txid, description, cl_ord_id, userref)

    def _add_quote_order(
        self,
        account: Account,
        info: PairInfo,
        *,
        side: Side,
        kind: VenueOrderType,
        amount: Decimal,
        post_only: bool,
        time_in_force: TimeInForce,
        userref: int | None,
        cl_ord_id: str | None,
        validate: bool,
    ) -> AddOrderResult:
        """A market buy spending `amount` of quote (`viqc`), run to completion at once."""
        if side is not Side.BUY or kind is not VenueOrderType.MARKET or post_only:
            raise VenueError(invalid_argument("oflags"))
        if userref is not None and cl_ord_id is not None:
            raise VenueError(invalid_argument("cl_ord_id"))
        best_ask = self._books[info.symbol].best_price(Side.SELL)
        error = info.to_instrument().check_quote_order(amount, best_ask)
        if error is not None:
            raise VenueError(error)
        if cl_ord_id is not None and self._records.has_open_cl_ord_id(account.api_key, cl_ord_id):
            raise VenueError(DUPLICATE_ORDER)
        self._ledger.check_quote_funds(account, info, amount)
        description = describe_order(info, side, kind, amount, None, None, volume_in_quote=True)
        if validate:
            return AddOrderResult(None, description, cl_ord_id, userref)
        with self._journal.step():
            order = self._engine.open_order(
                self._new_order(
                    info,
                    account.api_key,
                    side,
                    kind,
                    amount,
                    None,
                    None,
                    time_in_force=time_in_force,
                    userref=userref,
                    cl_ord_id=cl_ord_id,
                    volume_in_quote=True,
                )
            )
            self._engine.spend_quote(order, info)
            self._engine.run_triggers()
        return AddOrderResult(order.txid, description, cl_ord_id, userref)

    def _new_order(
        self,
        info: PairInfo,
        api_key: str,
        side: Side,
        kind: VenueOrderType,
        volume: Decimal,
        limit: Decimal | None,
        trigger: Decimal | None,
        *,
        time_in_force: TimeInForce,
        userref: int | None,
        cl_ord_id: str | None,
        post_only: bool = False,
        volume_in_quote: bool = False,
        fee_in_base: bool = False,
    ) -> LiveOrder:
        now = self._journal.now
        return LiveOrder(
            txid=self._ids.order_id(self._records.orders),
            api_key=api_key,
            symbol=info.symbol,
            rest_pair=info.altname,
            side=side,
            order_type=kind,
            volume=volume,
            price=limit,
            trigger_price=trigger,
            opentm=now,
            time_in_force=time_in_force,
            post_only=post_only,
            userref=userref,
            cl_ord_id=cl_ord_id,
            hold_asset=(info.quote if side is Side.BUY else info.base).code,
            lastupdated=now,
            volume_in_quote=volume_in_quote,
            fee_in_base=fee_in_base,
        )

    def amend_order(
        self,
        api_key: str,
        *,
        txid: str | None = None,
        cl_ord_id: str | None = None,
        order_qty: Decimal | str | None = None,
        limit_price: Decimal | str | None = None,
        trigger_price: Decimal | str | None = None,
        post_only: bool = False,
    ) -> AmendResult:
        """Change quantity (total, not remaining) and/or prices in place. The order keeps its
        queue priority when only its quantity goes down; any other change re-queues it."""
        account = self._ledger.get(api_key)
        order = self._records.find_open(api_key, txid, cl_ord_id)
        info = self._pairs.resolve(order.symbol)
        new_qty = parse_optional_decimal(order_qty, "order_qty")
        new_limit = parse_optional_decimal(limit_price, "limit_price")
        new_trigger = parse_optional_decimal(trigger_price, "trigger_price")
        if new_qty is None and new_limit is None and new_trigger is None:
            raise VenueError(invalid_argument("order_qty"))
        if new_limit is not None and not order.order_type.has_limit_price:
            raise VenueError(invalid_argument("limit_price"))
        if new_trigger is not None and (not order.order_type.is_triggered or order.triggered):
            raise VenueError(invalid_argument("trigger_price"))
        if new_qty is not None:
            check_volume(info, new_qty)
            if new_qty <= order.vol_exec:
                raise VenueError(invalid_argument("order_qty"))
        for value in (new_limit, new_trigger):
            if value is not None:
                check_price(info, value)
        qty = order.volume if new_qty is None else new_qty
        limit = order.price if new_limit is None else new_limit
        trigger = order.trigger_price if new_trigger is None else new_trigger
        book = self._books[order.symbol]
        opposite_best = book.best_price(order.side.opposite)
        resting = order.in_book
        if (
            (post_only or order.post_only)
            and resting
            and limit is not None
            and crosses(order.side, limit, opposite_best)
        ):
            raise VenueError(POST_ONLY)
        required = self._ledger.hold_for(order, qty - order.vol_exec, limit, trigger)
        if order.hold_asset and required - order.hold > account.available(order.hold_asset):
            raise VenueError(INSUFFICIENT_FUNDS)
        self._amends.keep_original(order)
        with self._journal.step():
            keeps_priority = limit == order.price and qty <= order.volume
            if resting and keeps_priority:
                shrink = order.volume - qty
                order.volume = qty
                if shrink:
                    book.reduce(order, shrink)
            elif resting:
                book.remove(order)
                order.volume, order.price = qty, limit
            else:
                order.volume, order.price, order.trigger_price = qty, limit, trigger
            order.lastupdated = self._journal.now
            amend_id = self._amends.amended(order, self._journal.now)
            self._ledger.update_hold(order)
            self._journal.touch_order(order)
            self._engine.report(order, ExecType.AMENDED)
            if resting and not keeps_priority:
                self._engine.take(order, info)
            elif order.order_type.is_triggered and not order.triggered:
                self._engine.recheck_trigger(order)
            self._engine.run_triggers()
        return AmendResult(amend_id, order.txid)

    def cancel_order(
        self,
        api_key: str,
        *,
        txid: str | None = None,
        userref: int | None = None,
        cl_ord_id: str | None = None,
    ) -> CancelResult:
        """Cancel by txid, by cl_ord_id, or every open order with `userref`;
        `EOrder:Unknown order` when nothing matches."""
        self._ledger.get(api_key)
        targets = self._records.cancel_targets(api_key, txid, userref, cl_ord_id)
        return self._cancel(targets, _REASON_CANCELED)

    def cancel_all(self, api_key: str) -> CancelResult:
        self._ledger.get(api_key)
        return self._cancel(self._records.open_of(api_key), _REASON_CANCELED)

    def _cancel(self, targets: Sequence[LiveOrder], reason: str) -> CancelResult:
        with self._journal.step():
            for order in targets:
                self._engine.close(order, OrderState.CANCELED, reason)
        return CancelResult(len(targets), tuple(o.txid for o in targets))

    def cancel_all_orders_after(self, api_key: str, timeout_s: int) -> DeadManSwitch:
        """Arm (or with 0 disarm) the dead-man switch; `tick()` fires it when it expires."""
        self._ledger.get(api_key)
        return self._dead_man.arm(api_key, timeout_s, self.now())

    def tick(self, now: float | None = None) -> None:
        """Run time-driven work: expired dead-man switches cancel their accounts' orders."""
        for api_key in self._dead_man.fire_expired(self.now() if now is None else now):
            logger.info("sandbox dead-man switch fired for one account")
            self._cancel(self._records.open_of(api_key), _REASON_DEAD_MAN)

    # ---- queries ---------------------------------------------------------------------

    def open_orders(
        self, api_key: str, *, userref: int | None = None, cl_ord_id: str | None = None
    ) -> list[OrderView]:
        self._ledger.get(api_key)
        return self._records.open_orders(api_key, userref, cl_ord_id)

    def closed_orders(
        self,
        api_key: str,
        *,
        start: float | str | None = None,
        end: float | str | None = None,
        offset: int = 0,
        limit: int = 50,
        userref: int | None = None,
        cl_ord_id: str | None = None,
    ) -> Page[OrderView]:
        """Newest first, like Kraken; `start`/`end` are exclusive bounds given as unix
        seconds or as an order txid (meaning that order's close time)."""
        self._ledger.get(api_key)
        return self._records.closed_orders(
            api_key,
            start=start,
            end=end,
            offset=offset,
            limit=limit,
            userref=userref,
            cl_ord_id=cl_ord_id,
        )

    def query_orders(self, api_key: str, txids: Sequence[str]) -> list[OrderView]:
        self._ledger.get(api_key)
        return self._records.query_orders(api_key, txids)

    def trades_history(
        self,
        api_key: str,
        *,
        start: float | str | None = None,
        end: float | str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[FillView]:
        """Newest first; `start`/`end` are exclusive unix seconds or a fill's trade id."""
        self._ledger.get(api_key)
        return self._records.trades_history(
            api_key, start=start, end=end, offset=offset, limit=limit
        )

    def query_trades(self, api_key: str, trade_ids: Sequence[str]) -> list[FillView]:
        """The account's named fills (REST QueryTrades); unknown ids are left out."""
        self._ledger.get(api_key)
        wanted = set(trade_ids)
        fills = self._records.trades_history(
            api_key, start=None, end=None, offset=0, limit=sys.maxsize
        ).items
        return [fill for fill in fills if fill.trade_id in wanted]

    def ledgers(
        self,
        api_key: str,
        *,
        assets: Sequence[str] | None = None,
        entry_type: str | None = None,
        start: str | None = None,
        end: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[LedgerEntry]:
        """Newest first; `assets` by any name Kraken accepts (`XBT`, `XXBT`, `BTC`)."""
        self._ledger.get(api_key)
        codes = None if assets is None else {self._pairs.asset(name).code for name in assets}
        return self._ledger.history.page(
            api_key,
            assets=codes,
            entry_type=entry_type,
            start=start,
            end=end,
            offset=offset,
            limit=limit,
        )

    def query_ledgers(self, api_key: str, ledger_ids: Sequence[str]) -> list[LedgerEntry]:
        self._ledger.get(api_key)
        return self._ledger.history.query(api_key, ledger_ids)

    def ledger_ids_of(self, refid: str) -> list[str]:
        """The ledger entries a fill (or other transaction) posted."""
        return self._ledger.history.ids_for(refid)

    def order_amends(self, api_key: str, txid: str) -> list[AmendRecord]:
        """The order's amend trail, its original values first (REST OrderAmends)."""
        self._ledger.get(api_key)
        order = self._records.orders.get(txid)
        if order is None or order.api_key != api_key:
            raise VenueError(UNKNOWN_ORDER)
        return self._amends.trail(order)

    def recent_fills(self, api_key: str, count: int = 50) -> list[FillView]:
        """The account's last `count` fills, oldest first (WS `executions` snap_trades)."""
        self._ledger.get(api_key)
        return self._records.recent_fills(api_key, count)

    # ---- synthetic liquidity (MarketSimulator, replay) ---------------------------------

    def place_synthetic(self, pair: str, side: Side, price: Decimal, qty: Decimal) -> str | None:
        """Rest synthetic liquidity; it never takes, so a price that would cross the
        opposite side is refused (None) and the caller quotes elsewhere."""
        return self._synthetic.place(pair, side, price, qty)

    def cancel_synthetic(self, order_id: str) -> bool:
        """Withdraw synthetic liquidity; False when it was already consumed."""
        return self._synthetic.cancel(order_id)

    def resize_synthetic(self, order_id: str, qty: Decimal) -> bool:
        """Change a synthetic order's remaining size in place (keeps its queue place)."""
        return self._synthetic.resize(order_id, qty)

    def synthetic_remaining(self, order_id: str) -> Decimal:
        return self._synthetic.remaining(order_id)

    def take_synthetic(
        self, pair: str, side: Side, qty: Decimal, limit_price: Decimal | None = None
    ) -> Decimal:
        """Synthetic aggressive flow: trade up to `qty` against the book (users' orders
        included) down/up to `limit_price`; returns the quantity filled. Whatever does not
        fill is dropped, like an IOC order."""
        return self._synthetic.take(self._engine, pair, side, qty, limit_price)

    # ---- internals: events and persistence ---------------------------------------------

    def _on_level(self, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        best = self._books[symbol].best_price(side)
        if best is None or (price >= best if side is Side.BUY else price <= best):
            self._journal.touch_pair(symbol)
        if self._journal.listening:
            self._journal.emit(BookLevelChanged(symbol, side, price, qty, self._journal.now))

    def _settle(self, changes: StepChanges) -> None:
        """End of a step: balance events, spread samples, then one store transaction."""
        for event in self._ledger.balance_events(changes, self._pairs, self._journal.now):
            self._journal.emit(event)
        self.sample_spreads(changes.pairs, self._journal.now)
        if self._store is not None:
            save_step(self._store, changes, self._ledger, self._tapes)
