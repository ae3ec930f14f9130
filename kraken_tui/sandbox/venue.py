"""SandboxVenue: the synchronous core of the sandbox exchange (accounts, orders, matching, data).

Everything here is plain synchronous Python driven by the server's calls: one venue call is
one atomic step (validate, match, emit events, persist in one SQLite transaction), so the
aiohttp server can call it from its event loop without locks and tests can drive it directly.

Money rules: a fill's cost is price x volume rounded down onto the quote asset's step and is
paid by the buyer and received by the seller alike; each side pays its fee (quote currency)
into the venue's fee income. A buy order holds `remaining x limit x (1 + taker rate)` of the
quote asset, a sell order its remaining base volume; because cost and fee both round down,
what a fill charges never exceeds the hold it releases.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from random import Random

from loguru import logger

from kraken_tui.domain.enums import Liquidity, Side, TimeInForce
from kraken_tui.domain.money import ZERO, quantize_down
from kraken_tui.sandbox.accounts import Account
from kraken_tui.sandbox.errors import (
    DUPLICATE_ORDER,
    INSUFFICIENT_FUNDS,
    INVALID_KEY,
    INVALID_ORDER,
    POST_ONLY,
    UNKNOWN_ORDER,
    VenueError,
    invalid_argument,
)
from kraken_tui.sandbox.events import (
    BalanceChanged,
    BookLevelChanged,
    ExecType,
    ExecutionEvent,
    Listener,
    TradePrinted,
    VenueEvent,
)
from kraken_tui.sandbox.fees import FeeSchedule
from kraken_tui.sandbox.matching import LiveOrder, OrderBook
from kraken_tui.sandbox.pairs import PairInfo, PairRegistry
from kraken_tui.sandbox.records import (
    AddOrderResult,
    AmendResult,
    BalanceEntry,
    BookLevels,
    CancelResult,
    DeadManSwitch,
    FillView,
    OhlcBar,
    OrderState,
    OrderView,
    Page,
    PublicTrade,
    SpreadSample,
    TickerStats,
    TradeBalance,
    VenueOrderType,
)
from kraken_tui.sandbox.state import VenueStore
from kraken_tui.sandbox.tape import OHLC_INTERVALS, HistoryBar, TradeTape
from kraken_tui.sandbox.validation import (
    affordable_volume,
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

__all__ = [
    "DEFAULT_FUNDING",
    "MARKET_MAKER_KEY",
    "AddOrderResult",
    "AmendResult",
    "BalanceChanged",
    "BalanceEntry",
    "BookLevelChanged",
    "BookLevels",
    "CancelResult",
    "DeadManSwitch",
    "ExecType",
    "ExecutionEvent",
    "FeeSchedule",
    "FillView",
    "Listener",
    "OhlcBar",
    "OrderState",
    "OrderView",
    "Page",
    "PairRegistry",
    "PublicTrade",
    "SandboxVenue",
    "SpreadSample",
    "TickerStats",
    "TradeBalance",
    "TradePrinted",
    "VenueError",
    "VenueEvent",
    "VenueOrderType",
]

DEFAULT_FUNDING: Mapping[str, Decimal] = {
    "ZUSD": Decimal(100_000),
    "XXBT": Decimal(2),
    "XETH": Decimal(30),
    "SOL": Decimal(500),
}
MARKET_MAKER_KEY = "__synthetic_liquidity__"
"""The account owning synthetic liquidity; it has no funding limits and pays no fees."""

MAX_DEAD_MAN_TIMEOUT_S = 86_400
_ID_ALPHABET = string.ascii_uppercase + string.digits
_AVG_PRICE_EXTRA_DECIMALS = 4
_REASON_CANCELED = "User requested"
_REASON_DEAD_MAN = "Dead man's switch"
_REASON_SELF_TRADE = "Self trade prevention"
_REASON_NO_LIQUIDITY = "Insufficient liquidity"
_REASON_IOC = "Immediate or cancel"
_REASON_NO_FUNDS = "Insufficient funds"
_META_FEES = "fee_income"
_META_TRADE_IDS = "last_trade_ids"


class SandboxVenue:
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
        self._pairs = pairs or PairRegistry()
        self._fees = fees or FeeSchedule()
        self._clock = clock
        self._default_funding = dict(default_funding)
        self._ids: Random = Random(id_seed) if id_seed is not None else secrets.SystemRandom()
        self._listeners: list[Listener] = []
        self._now = clock()
        self._books: dict[str, OrderBook] = {}
        self._tapes: dict[str, TradeTape] = {}
        for pair in self._pairs:
            self._books[pair.symbol] = OrderBook(pair.symbol, self._on_level)
            self._tapes[pair.symbol] = TradeTape(pair.symbol, pair.price_step)
        self._market = Account(MARKET_MAKER_KEY, unlimited=True)
        self._accounts: dict[str, Account] = {}
        self._orders: dict[str, LiveOrder] = {}
        self._open: dict[str, dict[str, LiveOrder]] = {}
        self._closed: dict[str, list[LiveOrder]] = {}
        self._fills: dict[str, list[FillView]] = {}
        self._stops: dict[str, dict[str, LiveOrder]] = {symbol: {} for symbol in self._books}
        self._synthetic: dict[str, LiveOrder] = {}
        self._synthetic_seq = 0
        self._dead_man: dict[str, float] = {}
        self._fee_income: dict[str, Decimal] = {}
        self._triggered: deque[LiveOrder] = deque()
        self._dirty_accounts: set[str] = set()
        self._dirty_orders: dict[str, LiveOrder] = {}
        self._new_fills: list[FillView] = []
        self._balance_moves: dict[tuple[str, str], tuple[Decimal, str, str]] = {}
        self._touched_pairs: set[str] = set()
        self._depth = 0
        self._store = VenueStore(state_path) if state_path is not None else None
        if self._store is not None:
            self._load(self._store)

    # ---- plumbing -------------------------------------------------------------------

    @property
    def pairs(self) -> PairRegistry:
        return self._pairs

    @property
    def fees(self) -> FeeSchedule:
        return self._fees

    def now(self) -> float:
        return self._clock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register a listener for every event; returns the function that unregisters it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def fee_income(self) -> dict[str, Decimal]:
        """Fees collected so far per asset REST code (the venue's own ledger)."""
        return dict(self._fee_income)

    def market_balances(self) -> dict[str, Decimal]:
        """Net position of synthetic liquidity per asset (negative = the market paid out)."""
        return dict(self._market.balances)

    # ---- accounts -------------------------------------------------------------------

    def open_account(self, api_key: str, funding: Mapping[str, Decimal] | None = None) -> bool:
        """Create a funded account (asset REST code -> amount); an existing one is left
        unchanged. Returns True when it was created."""
        if api_key in self._accounts:
            return False
        if api_key == MARKET_MAKER_KEY:
            raise ValueError("that key is reserved for synthetic liquidity")
        with self._operation():
            initial = self._default_funding if funding is None else funding
            account = Account(
                api_key,
                {self._pairs.asset(name).code: Decimal(v) for name, v in initial.items()},
            )
            self._accounts[api_key] = account
            self._open[api_key] = {}
            self._closed[api_key] = []
            self._fills[api_key] = []
            self._dirty_accounts.add(api_key)
        logger.info("sandbox account opened with {} assets", len(account.balances))
        return True

    def has_account(self, api_key: str) -> bool:
        return api_key in self._accounts

    def balances(self, api_key: str) -> dict[str, Decimal]:
        account = self._account(api_key)
        return {asset: account.balance(asset) for asset in sorted(account.assets())}

    def balances_ex(self, api_key: str) -> dict[str, BalanceEntry]:
        account = self._account(api_key)
        return {
            asset: BalanceEntry(asset, account.balance(asset), account.hold(asset))
            for asset in sorted(account.assets())
        }

    def trade_balance(self, api_key: str, asset: str = "ZUSD") -> TradeBalance:
        """Equity valued in `asset` at the last trade price of a pair linking each asset to
        it (directly, or through XBT); assets without a price count as zero."""
        account = self._account(api_key)
        target = self._pairs.asset(asset).code
        equity = ZERO
        for code in account.assets():
            amount = account.balance(code)
            if amount:
                equity += amount * self._valuation(code, target)
        unexecuted = ZERO
        for order in self._open[api_key].values():
            reference = order.price or order.trigger_price or ZERO
            pair = self._pairs.resolve(order.symbol)
            unexecuted += order.remaining * reference * self._valuation(pair.quote.code, target)
        step = self._pairs.asset(target).step
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
        caller can spend its whole free balance without knowing the fill price."""
        account = self._account(api_key)
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
        if cl_ord_id is not None and any(
            o.cl_ord_id == cl_ord_id for o in self._open[api_key].values()
        ):
            raise VenueError(DUPLICATE_ORDER)
        if post_only and limit is not None and crosses(order_side, limit, opposite_best):
            raise VenueError(POST_ONLY)
        self._check_funds(account, info, order_side, kind, qty, limit, trigger)
        description = _describe(info, order_side, kind, qty, limit, trigger)
        if validate:
            return AddOrderResult(None, description, cl_ord_id, userref)
        with self._operation():
            order = self._open_order(
                LiveOrder(
                    txid=self._new_id("O", self._orders),
                    api_key=api_key,
                    symbol=info.symbol,
                    rest_pair=info.altname,
                    side=order_side,
                    order_type=kind,
                    volume=qty,
                    price=limit,
                    trigger_price=trigger,
                    opentm=self._now,
                    time_in_force=tif,
                    post_only=post_only,
                    userref=userref,
                    cl_ord_id=cl_ord_id,
                    hold_asset=(info.quote if order_side is Side.BUY else info.base).code,
                    lastupdated=self._now,
                )
            )
            if kind.is_triggered:
                self._arm_trigger(order, info)
            else:
                self._take(order, info)
            self._run_triggers()
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
        """A market buy spending `amount` of quote (`viqc`): checked, then run to completion
        at once (it never rests): CLOSED once the budget is spent, CANCELED (keeping what
        filled) when the asks ran out first, like a market order sized in base."""
        if side is not Side.BUY or kind is not VenueOrderType.MARKET or post_only:
            raise VenueError(invalid_argument("oflags"))
        if userref is not None and cl_ord_id is not None:
            raise VenueError(invalid_argument("cl_ord_id"))
        best_ask = self._books[info.symbol].best_price(Side.SELL)
        error = info.to_instrument().check_quote_order(amount, best_ask)
        if error is not None:
            raise VenueError(error)
        if cl_ord_id is not None and any(
            o.cl_ord_id == cl_ord_id for o in self._open[account.api_key].values()
        ):
            raise VenueError(DUPLICATE_ORDER)
        if amount * (1 + self._fees.taker) > account.available(info.quote.code):
            raise VenueError(INSUFFICIENT_FUNDS)
        description = _describe_quote_order(info, amount)
        if validate:
            return AddOrderResult(None, description, cl_ord_id, userref)
        with self._operation():
            order = self._open_order(
                LiveOrder(
                    txid=self._new_id("O", self._orders),
                    api_key=account.api_key,
                    symbol=info.symbol,
                    rest_pair=info.altname,
                    side=side,
                    order_type=kind,
                    volume=amount,
                    price=None,
                    trigger_price=None,
                    opentm=self._now,
                    time_in_force=time_in_force,
                    userref=userref,
                    cl_ord_id=cl_ord_id,
                    hold_asset=info.quote.code,
                    lastupdated=self._now,
                    volume_in_quote=True,
                )
            )
            stop_reason = self._match_budget(order, info)
            if stop_reason is None and order.vol_exec > 0:
                self._close(order, OrderState.CLOSED, None)  # the budget is spent
            else:  # the book ran out (or self-trade) first: the rest is canceled, as for any
                self._close(order, OrderState.CANCELED, stop_reason or _REASON_NO_LIQUIDITY)
            self._run_triggers()
        return AddOrderResult(order.txid, description, cl_ord_id, userref)

    def _open_order(self, order: LiveOrder) -> LiveOrder:
        """Register a new user order and report it pending, then open (Kraken's sequence)."""
        self._orders[order.txid] = order
        self._open[order.api_key][order.txid] = order
        self._touch(order)
        self._report(order, ExecType.PENDING_NEW)
        order.status = OrderState.OPEN
        self._report(order, ExecType.NEW)
        return order

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
        account = self._account(api_key)
        order = self._find_open(api_key, txid, cl_ord_id)
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
        required = self._hold_for(order, qty - order.vol_exec, limit, trigger)
        if order.hold_asset and required - order.hold > account.available(order.hold_asset):
            raise VenueError(INSUFFICIENT_FUNDS)
        with self._operation():
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
            order.lastupdated = self._now
            self._set_hold(order, account)
            self._touch(order)
            self._report(order, ExecType.AMENDED)
            if resting and not keeps_priority:
                self._take(order, info)
            elif order.order_type.is_triggered and not order.triggered:
                self._check_trigger_now(order)
            self._run_triggers()
        return AmendResult(self._new_id("T", {}), order.txid)

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
        self._account(api_key)
        open_orders = self._open[api_key]
        if txid is not None:
            targets = [open_orders[txid]] if txid in open_orders else []
        elif cl_ord_id is not None:
            targets = [o for o in open_orders.values() if o.cl_ord_id == cl_ord_id]
        elif userref is not None:
            targets = [o for o in open_orders.values() if o.userref == userref]
        else:
            raise VenueError(invalid_argument("txid"))
        if not targets:
            raise VenueError(UNKNOWN_ORDER)
        with self._operation():
            for order in targets:
                self._close(order, OrderState.CANCELED, _REASON_CANCELED)
        return CancelResult(len(targets), tuple(o.txid for o in targets))

    def cancel_all(self, api_key: str) -> CancelResult:
        self._account(api_key)
        return self._cancel_all(api_key, _REASON_CANCELED)

    def cancel_all_orders_after(self, api_key: str, timeout_s: int) -> DeadManSwitch:
        """Arm (or with 0 disarm) the dead-man switch; `tick()` fires it when it expires."""
        self._account(api_key)
        if not 0 <= timeout_s < MAX_DEAD_MAN_TIMEOUT_S:
            raise VenueError(invalid_argument("timeout"))
        now = self.now()
        if timeout_s == 0:
            self._dead_man.pop(api_key, None)
            return DeadManSwitch(now, None)
        trigger = now + timeout_s
        self._dead_man[api_key] = trigger
        return DeadManSwitch(now, trigger)

    def tick(self, now: float | None = None) -> None:
        """Run time-driven work: expired dead-man switches cancel their accounts' orders."""
        moment = self.now() if now is None else now
        for api_key, trigger in list(self._dead_man.items()):
            if trigger <= moment:
                del self._dead_man[api_key]
                logger.info("sandbox dead-man switch fired for one account")
                self._cancel_all(api_key, _REASON_DEAD_MAN)

    # ---- queries ---------------------------------------------------------------------

    def open_orders(
        self, api_key: str, *, userref: int | None = None, cl_ord_id: str | None = None
    ) -> list[OrderView]:
        self._account(api_key)
        return [
            self._view(order)
            for order in sorted(self._open[api_key].values(), key=lambda o: (o.opentm, o.seq))
            if (userref is None or order.userref == userref)
            and (cl_ord_id is None or order.cl_ord_id == cl_ord_id)
        ]

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
        self._account(api_key)
        lower = self._bound(start)
        upper = self._bound(end)
        matching = [
            order
            for order in reversed(self._closed[api_key])
            if (lower is None or (order.closetm or 0) > lower)
            and (upper is None or (order.closetm or 0) < upper)
            and (userref is None or order.userref == userref)
            and (cl_ord_id is None or order.cl_ord_id == cl_ord_id)
        ]
        page = matching[max(offset, 0) : max(offset, 0) + limit]
        return Page([self._view(order) for order in page], len(matching))

    def query_orders(self, api_key: str, txids: Sequence[str]) -> list[OrderView]:
        self._account(api_key)
        views = []
        for txid in txids:
            order = self._orders.get(txid)
            if order is None or order.api_key != api_key:
                raise VenueError(INVALID_ORDER)
            views.append(self._view(order))
        return views

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
        self._account(api_key)
        lower = self._fill_bound(api_key, start)
        upper = self._fill_bound(api_key, end)
        matching = [
            fill
            for fill in reversed(self._fills[api_key])
            if (lower is None or fill.time > lower) and (upper is None or fill.time < upper)
        ]
        return Page(matching[max(offset, 0) : max(offset, 0) + limit], len(matching))

    def recent_fills(self, api_key: str, count: int = 50) -> list[FillView]:
        """The account's last `count` fills, oldest first (WS `executions` snap_trades)."""
        self._account(api_key)
        return self._fills[api_key][-count:] if count > 0 else []

    # ---- market data -------------------------------------------------------------------

    def book(self, pair: str, depth: int = 10) -> BookLevels:
        """Aggregated top `depth` levels per side (cost O(depth)), e.g. for checksums."""
        symbol = self._pairs.resolve(pair).symbol
        book = self._books[symbol]
        return BookLevels(symbol, book.top(Side.BUY, depth), book.top(Side.SELL, depth), self.now())

    def ticker(self, pair: str) -> TickerStats:
        info = self._pairs.resolve(pair)
        book = self._books[info.symbol]
        tape = self._tapes[info.symbol]
        bid = book.best(Side.BUY) or (ZERO, ZERO)
        ask = book.best(Side.SELL) or (ZERO, ZERO)
        last = tape.last
        now = self.now()
        open_, high, low, volume, vwap, trades = tape.window_stats(now - 86_400)
        midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0)
        t_open, t_high, t_low, t_volume, t_vwap, t_trades = tape.window_stats(midnight.timestamp())
        last_price = last.price if last else ZERO
        change = last_price - open_ if trades else ZERO
        change_pct = (change / open_ * 100).quantize(Decimal("0.01")) if open_ else ZERO
        return TickerStats(
            symbol=info.symbol,
            bid=bid[0],
            bid_qty=bid[1],
            ask=ask[0],
            ask_qty=ask[1],
            last=last_price,
            last_qty=last.qty if last else ZERO,
            volume=volume,
            vwap=vwap,
            low=low,
            high=high,
            open=open_,
            change=change,
            change_pct=change_pct,
            trades=trades,
            volume_today=t_volume,
            vwap_today=t_vwap,
            low_today=t_low,
            high_today=t_high,
            trades_today=t_trades,
            open_today=t_open,
        )

    def recent_trades(
        self, pair: str, *, since: float | None = None, count: int = 1000
    ) -> list[PublicTrade]:
        """Oldest first; `since` (unix seconds) keeps only later trades."""
        tape = self._tapes[self._pairs.resolve(pair).symbol]
        trades = [t for t in tape.trades if since is None or t.timestamp > since]
        return trades[-count:] if count > 0 else []

    def seed_history(self, pair: str, minute_bars: Sequence[HistoryBar]) -> None:
        """Give a fresh pair candle history from before the venue opened (see TradeTape)."""
        self._tapes[self._pairs.resolve(pair).symbol].seed_history(minute_bars)

    def ohlc(self, pair: str, interval: int = 1, *, since: int | None = None) -> list[OhlcBar]:
        if interval not in OHLC_INTERVALS:
            raise VenueError(invalid_argument("interval"))
        return self._tapes[self._pairs.resolve(pair).symbol].ohlc(interval, since)

    def spread(self, pair: str, *, since: float | None = None) -> list[SpreadSample]:
        tape = self._tapes[self._pairs.resolve(pair).symbol]
        return [s for s in tape.spreads if since is None or s.time > since]

    def last_price(self, pair: str) -> Decimal | None:
        last = self._tapes[self._pairs.resolve(pair).symbol].last
        return last.price if last else None

    def best_price(self, pair: str, side: Side) -> Decimal | None:
        return self._books[self._pairs.resolve(pair).symbol].best_price(side)

    def level_count(self, pair: str, side: Side) -> int:
        return self._books[self._pairs.resolve(pair).symbol].level_count(side)

    # ---- synthetic liquidity (MarketSimulator, replay) ---------------------------------

    def place_synthetic(self, pair: str, side: Side, price: Decimal, qty: Decimal) -> str | None:
        """Rest synthetic liquidity; it never takes, so a price that would cross the
        opposite side is refused (None) and the caller quotes elsewhere."""
        info = self._pairs.resolve(pair)
        book = self._books[info.symbol]
        if crosses(side, price, book.best_price(side.opposite)) or qty <= 0:
            return None
        with self._operation():
            self._synthetic_seq += 1
            order = LiveOrder(
                txid=f"S{self._synthetic_seq}",
                api_key=MARKET_MAKER_KEY,
                symbol=info.symbol,
                rest_pair=info.altname,
                side=side,
                order_type=VenueOrderType.LIMIT,
                volume=qty,
                price=price,
                trigger_price=None,
                opentm=self._now,
                status=OrderState.OPEN,
            )
            self._synthetic[order.txid] = order
            book.add(order)
        return order.txid

    def cancel_synthetic(self, order_id: str) -> bool:
        """Withdraw synthetic liquidity; False when it was already consumed."""
        order = self._synthetic.pop(order_id, None)
        if order is None:
            return False
        with self._operation():
            self._books[order.symbol].remove(order)
        return True

    def resize_synthetic(self, order_id: str, qty: Decimal) -> bool:
        """Change a synthetic order's remaining size in place (keeps its queue place)."""
        order = self._synthetic.get(order_id)
        if order is None or qty <= 0:
            return False
        with self._operation():
            book = self._books[order.symbol]
            delta = qty - order.remaining
            order.volume += delta
            if delta > 0:
                book.grow(order, delta)
            elif delta < 0:
                book.reduce(order, -delta)
        return True

    def synthetic_remaining(self, order_id: str) -> Decimal:
        order = self._synthetic.get(order_id)
        return order.remaining if order is not None else ZERO

    def take_synthetic(
        self, pair: str, side: Side, qty: Decimal, limit_price: Decimal | None = None
    ) -> Decimal:
        """Synthetic aggressive flow: trade up to `qty` against the book (users' orders
        included) down/up to `limit_price`; returns the quantity filled. Whatever does not
        fill is dropped, like an IOC order."""
        info = self._pairs.resolve(pair)
        with self._operation():
            self._synthetic_seq += 1
            order = LiveOrder(
                txid=f"S{self._synthetic_seq}",
                api_key=MARKET_MAKER_KEY,
                symbol=info.symbol,
                rest_pair=info.altname,
                side=side,
                order_type=VenueOrderType.MARKET if limit_price is None else VenueOrderType.LIMIT,
                volume=qty,
                price=limit_price,
                trigger_price=None,
                opentm=self._now,
                time_in_force=TimeInForce.IOC,
                status=OrderState.OPEN,
            )
            self._match(order, info)
            self._run_triggers()
        return order.vol_exec

    # ---- internals: operations, events, persistence ------------------------------------

    @contextmanager
    def _operation(self) -> Iterator[None]:
        """One atomic venue step: a fixed timestamp for its events, then balance events,
        spread samples and a single store transaction when the outermost step ends."""
        if self._depth == 0:
            self._now = self._clock()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._settle()

    def _settle(self) -> None:
        moves, self._balance_moves = self._balance_moves, {}
        for (api_key, asset), (amount, change_type, ref_id) in moves.items():
            account = self._accounts[api_key]
            self._emit(
                BalanceChanged(
                    api_key=api_key,
                    asset=asset,
                    display=self._pairs.asset(asset).display,
                    amount=amount,
                    balance=account.balance(asset),
                    hold_trade=account.hold(asset),
                    change_type=change_type,
                    ref_id=ref_id,
                    timestamp=self._now,
                )
            )
        touched, self._touched_pairs = self._touched_pairs, set()
        for symbol in touched:
            book = self._books[symbol]
            bid, ask = book.best(Side.BUY), book.best(Side.SELL)
            if bid is not None and ask is not None:
                self._tapes[symbol].note_spread(
                    SpreadSample(self._now, bid[0], ask[0], bid[1], ask[1])
                )
        if self._store is not None and (
            self._dirty_accounts or self._dirty_orders or self._new_fills
        ):
            self._store.save(
                accounts=[self._accounts[key] for key in self._dirty_accounts],
                orders=list(self._dirty_orders.values()),
                fills=self._new_fills,
                meta={
                    _META_FEES: json.dumps({k: str(v) for k, v in self._fee_income.items()}),
                    _META_TRADE_IDS: json.dumps(
                        {symbol: tape.last_trade_id for symbol, tape in self._tapes.items()}
                    ),
                },
            )
        self._dirty_accounts = set()
        self._dirty_orders = {}
        self._new_fills = []

    def _emit(self, event: VenueEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def _on_level(self, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        best = self._books[symbol].best_price(side)
        if best is None or (price >= best if side is Side.BUY else price <= best):
            self._touched_pairs.add(symbol)
        if self._listeners:
            self._emit(BookLevelChanged(symbol, side, price, qty, self._now))

    def _touch(self, order: LiveOrder) -> None:
        self._dirty_orders[order.txid] = order

    def _report(self, order: LiveOrder, exec_type: ExecType, reason: str | None = None) -> None:
        if self._listeners:
            self._emit(
                ExecutionEvent(
                    api_key=order.api_key,
                    exec_type=exec_type,
                    order=self._view(order),
                    timestamp=self._now,
                    reason=reason,
                )
            )

    def _move_balance(
        self, account: Account, asset: str, amount: Decimal, change_type: str, ref_id: str
    ) -> None:
        account.credit(asset, amount)
        if account.unlimited:
            return
        self._dirty_accounts.add(account.api_key)
        key = (account.api_key, asset)
        previous = self._balance_moves.get(key)
        total = amount + (previous[0] if previous else ZERO)
        self._balance_moves[key] = (total, change_type, ref_id)

    def _view(self, order: LiveOrder) -> OrderView:
        view = order.view()
        if view.vol_exec:
            step = self._pairs.resolve(order.symbol).price_step.scaleb(-_AVG_PRICE_EXTRA_DECIMALS)
            return replace(view, avg_price=view.avg_price.quantize(step))
        return view

    def _new_id(self, prefix: str, taken: Mapping[str, object]) -> str:
        while True:
            chars = "".join(self._ids.choice(_ID_ALPHABET) for _ in range(16))
            candidate = f"{prefix}{chars[:5]}-{chars[5:10]}-{chars[10:]}"
            if candidate not in taken:
                return candidate

    def _account(self, api_key: str) -> Account:
        account = self._accounts.get(api_key)
        if account is None:
            raise VenueError(INVALID_KEY)
        return account

    # ---- internals: matching -------------------------------------------------------------

    def _take(self, order: LiveOrder, info: PairInfo) -> None:
        """Run a new (or re-priced) user order as taker, then rest, finish or cancel it."""
        account = self._accounts[order.api_key]
        self._set_hold(order, account)
        stop_reason = self._match(order, info)
        if order.status is not OrderState.OPEN:
            return
        if order.remaining <= 0:
            self._close(order, OrderState.CLOSED, None)
        elif stop_reason == _REASON_SELF_TRADE:
            self._close(order, OrderState.CANCELED, _REASON_SELF_TRADE)
        elif order.price is None:
            self._close(order, OrderState.CANCELED, stop_reason or _REASON_NO_LIQUIDITY)
        elif order.time_in_force is TimeInForce.IOC:
            self._close(order, OrderState.CANCELED, _REASON_IOC)
        else:
            self._books[order.symbol].add(order)
            self._touch(order)

    def _match(self, taker: LiveOrder, info: PairInfo) -> str | None:
        """Trade `taker` against the opposite side in price-time priority. Returns why it
        stopped early (self-trade, funds) or None when it ran out of quantity or price."""
        book = self._books[info.symbol]
        opposite = taker.side.opposite
        limit = taker.price
        budgeted = taker.side is Side.BUY and limit is None and taker.api_key != MARKET_MAKER_KEY
        while taker.remaining > 0:
            maker = book.first(opposite)
            if maker is None:
                return _REASON_NO_LIQUIDITY
            assert maker.price is not None
            if limit is not None and not crosses(taker.side, limit, maker.price):
                return None
            if maker.api_key == taker.api_key and taker.api_key != MARKET_MAKER_KEY:
                return _REASON_SELF_TRADE
            qty = min(taker.remaining, maker.remaining)
            if budgeted:
                qty = min(qty, self._affordable(taker, info, maker.price))
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
                return _REASON_NO_LIQUIDITY
            assert maker.price is not None
            if maker.api_key == taker.api_key:
                return _REASON_SELF_TRADE
            qty = min(maker.remaining, affordable_volume(budget, maker.price, info.lot_step))
            if qty <= 0:
                return None
            budget -= maker.price * qty
            self._fill(taker, maker, qty, maker.price, info)

    def _affordable(self, taker: LiveOrder, info: PairInfo, price: Decimal) -> Decimal:
        available = self._accounts[taker.api_key].available(info.quote.code)
        per_unit = price * (1 + self._fees.taker)
        return quantize_down(available / per_unit, info.lot_step)

    def _fill(
        self, taker: LiveOrder, maker: LiveOrder, qty: Decimal, price: Decimal, info: PairInfo
    ) -> None:
        cost = quantize_down(price * qty, info.quote.step)
        tape = self._tapes[info.symbol]
        trade_id = tape.last_trade_id + 1
        ord_type = "limit" if taker.price is not None else "market"
        self._touched_pairs.add(info.symbol)
        for order, is_maker in ((maker, True), (taker, False)):
            self._settle_fill(order, is_maker, qty, price, cost, info, trade_id)
        self._books[info.symbol].reduce(maker, qty)
        if maker.remaining <= 0 and maker.api_key == MARKET_MAKER_KEY:
            self._synthetic.pop(maker.txid, None)
        trade = PublicTrade(info.symbol, taker.side, price, qty, ord_type, trade_id, self._now)
        tape.record(trade)
        if self._listeners:
            self._emit(
                TradePrinted(info.symbol, taker.side, price, qty, ord_type, trade_id, self._now)
            )
        for order in (maker, taker):
            if (
                order.api_key != MARKET_MAKER_KEY
                and order.remaining <= 0
                and not order.volume_in_quote
            ):
                self._close(order, OrderState.CLOSED, None)
        self._collect_triggers(info.symbol, price)

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
        account = self._accounts[order.api_key] if is_user else self._market
        fee = self._fees.fee(cost, is_maker, info.quote.step) if is_user else ZERO
        order.vol_exec += qty
        order.cost += cost
        order.fee += fee
        order.lastupdated = self._now
        if is_user:
            self._set_hold(order, account)
        fill_id = self._new_id("T", {}) if is_user else ""
        if order.side is Side.BUY:
            self._move_balance(account, info.base.code, qty, "trade", fill_id)
            self._move_balance(account, info.quote.code, -(cost + fee), "trade", fill_id)
        else:
            self._move_balance(account, info.base.code, -qty, "trade", fill_id)
            self._move_balance(account, info.quote.code, cost - fee, "trade", fill_id)
        if fee:
            self._fee_income[info.quote.code] = self._fee_income.get(info.quote.code, ZERO) + fee
        if not is_user:
            return
        fill = FillView(
            trade_id=fill_id,
            public_trade_id=trade_id,
            order_txid=order.txid,
            position_txid=self._new_id("T", {}),
            api_key=order.api_key,
            symbol=info.symbol,
            rest_pair=info.altname,
            time=self._now,
            side=order.side,
            order_type=order.order_type,
            price=price,
            cost=cost,
            fee=fee,
            fee_asset=info.quote.code,
            vol=qty,
            maker=is_maker,
            cl_ord_id=order.cl_ord_id,
            userref=order.userref,
        )
        self._fills[order.api_key].append(fill)
        self._new_fills.append(fill)
        self._touch(order)
        if self._listeners:
            self._emit(
                ExecutionEvent(
                    api_key=order.api_key,
                    exec_type=ExecType.TRADE,
                    order=self._view(order),
                    timestamp=self._now,
                    exec_id=fill_id,
                    public_trade_id=trade_id,
                    last_qty=qty,
                    last_price=price,
                    last_fee=fee,
                    fee_asset=info.quote.display,
                    liquidity_ind=Liquidity.MAKER if is_maker else Liquidity.TAKER,
                )
            )

    def _close(self, order: LiveOrder, state: OrderState, reason: str | None) -> None:
        if order.in_book:
            self._books[order.symbol].remove(order)
        self._stops[order.symbol].pop(order.txid, None)
        order.status = state
        order.reason = reason
        order.closetm = self._now
        order.lastupdated = self._now
        self._set_hold(order, self._accounts[order.api_key])
        self._open[order.api_key].pop(order.txid, None)
        self._closed[order.api_key].append(order)
        self._touch(order)
        exec_type = {
            OrderState.CLOSED: ExecType.FILLED,
            OrderState.CANCELED: ExecType.CANCELED,
            OrderState.EXPIRED: ExecType.EXPIRED,
        }[state]
        self._report(order, exec_type, reason)

    def _cancel_all(self, api_key: str, reason: str) -> CancelResult:
        targets = list(self._open[api_key].values())
        with self._operation():
            for order in targets:
                self._close(order, OrderState.CANCELED, reason)
        return CancelResult(len(targets), tuple(o.txid for o in targets))

    # ---- internals: holds and funds ------------------------------------------------------

    def _hold_for(
        self,
        order: LiveOrder,
        remaining: Decimal,
        limit: Decimal | None,
        trigger: Decimal | None,
    ) -> Decimal:
        if order.side is Side.SELL:
            return remaining
        waiting = order.order_type.is_triggered and not order.triggered
        reference = limit if limit is not None else (trigger if waiting else None)
        if reference is None:
            return ZERO
        return remaining * reference * (1 + self._fees.taker)

    def _set_hold(self, order: LiveOrder, account: Account) -> None:
        required = (
            self._hold_for(order, order.remaining, order.price, order.trigger_price)
            if order.status.is_open
            else ZERO
        )
        delta = required - order.hold
        if delta:
            account.change_hold(order.hold_asset, delta)
            order.hold = required
            key = (account.api_key, order.hold_asset)
            if key not in self._balance_moves:
                self._balance_moves[key] = (ZERO, "hold", order.txid)

    def _check_funds(
        self,
        account: Account,
        info: PairInfo,
        side: Side,
        kind: VenueOrderType,
        qty: Decimal,
        limit: Decimal | None,
        trigger: Decimal | None,
    ) -> None:
        if side is Side.SELL:
            needed, asset = qty, info.base.code
        elif limit is not None or trigger is not None:
            reference = limit if limit is not None else trigger
            assert reference is not None
            needed, asset = qty * reference * (1 + self._fees.taker), info.quote.code
        else:
            needed, asset = self._market_buy_cost(account, info, qty), info.quote.code
        if needed > account.available(asset):
            raise VenueError(INSUFFICIENT_FUNDS)

    def _market_buy_cost(self, account: Account, info: PairInfo, qty: Decimal) -> Decimal:
        """What a market buy of `qty` would pay, fee included, walking the asks as they are."""
        left, total = qty, ZERO
        for maker in self._books[info.symbol].orders_from_best(Side.SELL):
            if left <= 0 or maker.api_key == account.api_key:
                break
            assert maker.price is not None
            take = min(left, maker.remaining)
            total += maker.price * take
            left -= take
        return total * (1 + self._fees.taker)

    # ---- internals: stop orders -----------------------------------------------------------

    def _arm_trigger(self, order: LiveOrder, info: PairInfo) -> None:
        self._set_hold(order, self._accounts[order.api_key])
        self._stops[info.symbol][order.txid] = order
        self._check_trigger_now(order)

    def _check_trigger_now(self, order: LiveOrder) -> None:
        last = self._tapes[order.symbol].last
        if last is not None and _is_triggered(order, last.price):
            self._stops[order.symbol].pop(order.txid, None)
            self._triggered.append(order)

    def _collect_triggers(self, symbol: str, price: Decimal) -> None:
        stops = self._stops[symbol]
        if not stops:
            return
        for txid, order in list(stops.items()):
            if _is_triggered(order, price):
                del stops[txid]
                self._triggered.append(order)

    def _run_triggers(self) -> None:
        """Execute stop orders triggered by trades, after the trade that triggered them is
        complete (never re-entering the book while it is being walked)."""
        while self._triggered:
            order = self._triggered.popleft()
            if order.status is not OrderState.OPEN:
                continue
            order.triggered = True
            order.lastupdated = self._now
            self._touch(order)
            self._report(order, ExecType.STATUS, "Triggered")
            self._take(order, self._pairs.resolve(order.symbol))

    # ---- internals: persistence and bounds ------------------------------------------------

    def _load(self, store: VenueStore) -> None:
        stored = store.load()
        for api_key, balances in stored.accounts.items():
            self._accounts[api_key] = Account(api_key, balances)
            self._open[api_key] = {}
            self._closed[api_key] = []
            self._fills[api_key] = []
        for order in stored.orders:
            info = self._pairs.resolve(order.symbol)
            order.hold_asset = (info.quote if order.side is Side.BUY else info.base).code
            self._orders[order.txid] = order
            if not order.status.is_open:
                continue
            self._open[order.api_key][order.txid] = order
            self._set_hold(order, self._accounts[order.api_key])
            if order.belongs_in_book:
                self._books[order.symbol].add(order, keep_seq=True)
            elif order.order_type.is_triggered and not order.triggered:
                self._stops[order.symbol][order.txid] = order
        closed = sorted(
            (o for o in stored.orders if not o.status.is_open), key=lambda o: o.closetm or 0
        )
        for order in closed:
            self._closed[order.api_key].append(order)
        for fill in stored.fills:
            self._fills[fill.api_key].append(fill)
        fees = json.loads(stored.meta.get(_META_FEES, "{}"))
        self._fee_income = {asset: Decimal(amount) for asset, amount in fees.items()}
        for symbol, last_id in json.loads(stored.meta.get(_META_TRADE_IDS, "{}")).items():
            if symbol in self._tapes:
                self._tapes[symbol].last_trade_id = int(last_id)
        self._balance_moves = {}
        self._touched_pairs = set()
        logger.info(
            "sandbox state loaded: {} accounts, {} orders, {} fills",
            len(stored.accounts),
            len(stored.orders),
            len(stored.fills),
        )

    def _find_open(self, api_key: str, txid: str | None, cl_ord_id: str | None) -> LiveOrder:
        open_orders = self._open[api_key]
        if txid is not None:
            order = open_orders.get(txid)
        elif cl_ord_id is not None:
            order = next((o for o in open_orders.values() if o.cl_ord_id == cl_ord_id), None)
        else:
            raise VenueError(invalid_argument("txid"))
        if order is None:
            raise VenueError(UNKNOWN_ORDER)
        return order

    def _bound(self, value: float | str | None) -> float | None:
        if value is None or isinstance(value, int | float):
            return value
        order = self._orders.get(value)
        if order is not None:
            return order.closetm or order.opentm
        try:
            return float(value)
        except ValueError:
            raise VenueError(invalid_argument("start")) from None

    def _fill_bound(self, api_key: str, value: float | str | None) -> float | None:
        if isinstance(value, str):
            match = next((f for f in self._fills[api_key] if f.trade_id == value), None)
            if match is not None:
                return match.time
        return self._bound(value)

    def _valuation(self, asset: str, target: str) -> Decimal:
        """Price of one `asset` in `target`, from last trades (through XBT if needed)."""
        if asset == target:
            return Decimal(1)
        direct = self._cross_price(asset, target)
        if direct is not None:
            return direct
        via_btc = self._cross_price(asset, "XXBT")
        btc_in_target = self._cross_price("XXBT", target)
        if via_btc is not None and btc_in_target is not None:
            return via_btc * btc_in_target
        return ZERO

    def _cross_price(self, asset: str, target: str) -> Decimal | None:
        for pair in self._pairs:
            last = self._tapes[pair.symbol].last
            if last is None:
                continue
            if pair.base.code == asset and pair.quote.code == target:
                return last.price
            if pair.base.code == target and pair.quote.code == asset:
                return 1 / last.price
        return None


def _is_triggered(order: LiveOrder, price: Decimal) -> bool:
    trigger = order.trigger_price
    assert trigger is not None
    stop = order.order_type in (VenueOrderType.STOP_LOSS, VenueOrderType.STOP_LOSS_LIMIT)
    falling_side = (order.side is Side.SELL) == stop
    return price <= trigger if falling_side else price >= trigger


def _describe(
    info: PairInfo,
    side: Side,
    kind: VenueOrderType,
    qty: Decimal,
    limit: Decimal | None,
    trigger: Decimal | None,
) -> str:
    """Kraken's `descr.order` text, e.g. `buy 1.25000000 XBTUSD @ limit 27500.0`."""
    text = f"{side.value} {qty:f} {info.altname} @ {kind.value}"
    if kind.is_triggered and trigger is not None:
        text += f" {trigger:f}"
        if limit is not None:
            text += f" -> limit {limit:f}"
    elif limit is not None:
        text += f" {limit:f}"
    return text


def _describe_quote_order(info: PairInfo, amount: Decimal) -> str:
    """`descr.order` of a quote-sized market buy, e.g. `buy 1000.00000 USD of XBTUSD @ market`
    (Kraken does not document this text; the amount is shown on the pair's cost grid)."""
    shown = amount.quantize(info.cost_step)
    return f"buy {shown:f} {info.quote.display} of {info.altname} @ market"
