"""SimulatedExchange: a test double of the `Exchange` protocol, in-process on the sandbox venue.

The same `SandboxVenue` that sits behind the sandbox server does the matching, holds, fees and
dead man's switch here, without HTTP or WebSocket in between: engine tests run on it in
milliseconds, on a virtual clock when they need one. Events arrive synchronously during a call
(an execution report can reach the handler before `add_order` returns, as a Kraken WS update
can beat the REST response).

It is held to `KrakenExchange` on the sandbox by one contract suite
(`tests/exchange/test_exchange_contract.py`); where they differ, the adapter is right.

Faults: `faults` lets a test lose a request before the venue sees it, or lose the answer after
the venue placed the order (both surface as `OutcomeUnknown`), make lookups fail, answer
requests with Kraken's rate-limit error (retried after a back-off, as the adapter does) and
mute the private feed; `drop_private_feed` drops it and brings it back reconciled, as the
adapter recovers from a WebSocket drop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from pathlib import Path

from loguru import logger

from kraken_tui.clock import Clock, WallClock
from kraken_tui.domain import (
    Balance,
    BookLevel,
    BookSnapshot,
    Candle,
    ConnectionState,
    Execution,
    Instrument,
    Liquidity,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Trade,
)
from kraken_tui.domain.money import ZERO
from kraken_tui.exchange.candles import CandleBuilder
from kraken_tui.exchange.order_gate import OrderEntryGate
from kraken_tui.exchange.protocol import (
    BalancesEvent,
    BookChanged,
    CandleEvent,
    ConnectionEvent,
    ConnectionStatus,
    EventHandler,
    ExchangeError,
    ExchangeEvent,
    FillEvent,
    OrderAck,
    OrderEvent,
    OrderRejected,
    OrderUpdate,
    OutcomeUnknown,
    RateLimitStatus,
    TradeEvent,
    UnknownOrder,
)
from kraken_tui.exchange.ratelimit import retry_delay
from kraken_tui.sandbox.errors import UNKNOWN_ORDER, VenueError
from kraken_tui.sandbox.events import (
    BalanceChanged,
    BookLevelChanged,
    ExecType,
    ExecutionEvent,
    TradePrinted,
    VenueEvent,
)
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.sandbox.ratelimits import REST_RATE_LIMIT
from kraken_tui.sandbox.records import FillView, OrderView, VenueOrderType
from kraken_tui.sandbox.venue import DEFAULT_FUNDING, SandboxVenue

DEFAULT_API_KEY = "simulated-account"
_PAGE = 50
_RATE_LIMIT_RETRIES = 4
"""As many retries of a rate-limited request as `KrakenRest` makes before giving up."""

_ORDER_TYPES = {
    OrderType.MARKET: VenueOrderType.MARKET,
    OrderType.LIMIT: VenueOrderType.LIMIT,
    OrderType.STOP_LOSS: VenueOrderType.STOP_LOSS,
    OrderType.TAKE_PROFIT: VenueOrderType.TAKE_PROFIT,
}
_FROM_VENUE_TYPE = {
    VenueOrderType.MARKET: OrderType.MARKET,
    VenueOrderType.LIMIT: OrderType.LIMIT,
    VenueOrderType.STOP_LOSS: OrderType.STOP_LOSS,
    VenueOrderType.STOP_LOSS_LIMIT: OrderType.STOP_LOSS,
    VenueOrderType.TAKE_PROFIT: OrderType.TAKE_PROFIT,
    VenueOrderType.TAKE_PROFIT_LIMIT: OrderType.TAKE_PROFIT,
}


@dataclass(slots=True)
class SimulatedFaults:
    """Counters of faults still to inject; each injected fault decrements its counter."""

    lose_requests: int = 0
    """add_order raises OutcomeUnknown before the venue sees the order."""
    lose_acks: int = 0
    """add_order places the order, then raises OutcomeUnknown instead of acknowledging."""
    fail_lookups: int = 0
    """lookup_order raises ExchangeError (exchange unreachable)."""
    rate_limit: int = 0
    """Answer the next N requests with Kraken's rate-limit error (as the sandbox's fault of
    that name does); each is retried after a back-off."""
    mute_private_events: bool = False
    """Drop order and fill events (a private feed that is down); queries still answer."""


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class SimulatedExchange:
    def __init__(
        self,
        venue: SandboxVenue,
        *,
        api_key: str = DEFAULT_API_KEY,
        clock: Clock | None = None,
        funding: Mapping[str, Decimal] | None = None,
        latency_s: float = 0.0,
    ) -> None:
        """`funding` (asset -> amount) is used only when the account does not exist yet."""
        self.venue = venue
        self.faults = SimulatedFaults()
        self._api_key = api_key
        self._clock = clock or WallClock()
        self._funding = funding
        self._latency_s = latency_s
        self._handler: EventHandler | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._instruments = {p.symbol: p.to_instrument() for p in venue.pairs}
        self._subscribed: set[str] = set()
        self._depth = 10
        self._sequence = count(1)
        self._candle_interval = 1
        self._candles: dict[str, CandleBuilder] = {}
        self._connection = ConnectionStatus(ConnectionState.DISCONNECTED, since=self._clock.now())
        self._feed_down = False
        self._seen_fills: set[str] = set()
        self._last_fill_ts: datetime | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._entry_gate = OrderEntryGate()
        self.calls: Counter[str] = Counter()
        """Requests made, by method name (tests assert what was sent, and how often)."""

    @classmethod
    def create(
        cls,
        clock: Clock,
        *,
        state_path: Path | None = None,
        pairs: PairRegistry | None = None,
        funding: Mapping[str, Decimal] = DEFAULT_FUNDING,
        id_seed: int | None = None,
        api_key: str = DEFAULT_API_KEY,
    ) -> SimulatedExchange:
        """A venue on `clock` (so a virtual clock drives matching timestamps and the dead
        man's switch) with one funded account."""
        venue = SandboxVenue(
            pairs,
            state_path=state_path,
            clock=lambda: clock.now().timestamp(),
            id_seed=id_seed,
        )
        return cls(venue, api_key=api_key, clock=clock, funding=funding)

    # -- protocol: state ---------------------------------------------------------------------------

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    @property
    def connection(self) -> ConnectionStatus:
        return self._connection

    @property
    def rate_limits(self) -> RateLimitStatus:
        return RateLimitStatus()

    def set_event_handler(self, handler: EventHandler) -> None:
        self._handler = handler

    async def connect(self) -> None:
        self.venue.open_account(self._api_key, self._funding)
        if self._unsubscribe is None:
            self._unsubscribe = self.venue.subscribe(self._on_venue_event)
        self._set_connection(ConnectionState.CONNECTED)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None
        self._set_connection(ConnectionState.DISCONNECTED)

    async def subscribe_market(
        self, symbols: Sequence[str], depth: int = 10, ohlc_interval: int = 1
    ) -> None:
        for symbol in symbols:
            if symbol not in self._instruments:
                raise ExchangeError(f"unknown symbol {symbol}", "EQuery:Unknown asset pair")
        self._depth = depth
        self._candle_interval = ohlc_interval
        self._candles = {}
        self._subscribed.update(symbols)
        for symbol in symbols:
            self._emit(BookChanged(symbol))

    def book(self, symbol: str) -> BookSnapshot | None:
        if symbol not in self._subscribed:
            return None
        levels = self.venue.book(symbol, self._depth)
        return BookSnapshot(
            symbol,
            bids=tuple(BookLevel(price, qty) for price, qty in levels.bids),
            asks=tuple(BookLevel(price, qty) for price, qty in levels.asks),
            ts=_ts(levels.timestamp),
            sequence=next(self._sequence),
        )

    def tick(self) -> None:
        """Run the venue's time-driven work (the dead man's switch) at the clock's time."""
        self.venue.tick()

    def drop_private_feed(self, down_s: float = 0.1) -> None:
        """Fault: the private feed drops now and comes back `down_s` later. Order and fill
        events of the gap are lost, then recovered as the adapter recovers them after a
        WebSocket reconnect: by reconciling over the queries, each missed fill exactly once."""
        self._feed_down = True
        self._set_connection(ConnectionState.RECONNECTING, "private: dropped")
        task = asyncio.get_running_loop().create_task(self._reconnect_after(down_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- protocol: trading -----------------------------------------------------------------------

    async def add_order(self, request: OrderRequest) -> OrderAck:
        await self._entry_gate.wait(self._request("add_order"))
        if self.faults.lose_requests > 0:
            self.faults.lose_requests -= 1
            raise OutcomeUnknown(f"add_order {request.cl_ord_id}: request timed out")
        try:
            result = self.venue.add_order(
                self._api_key,
                pair=request.symbol,
                side=request.side,
                order_type=_ORDER_TYPES[request.order_type],
                volume=request.volume if request.quote_volume is None else request.quote_volume,
                price=request.price,
                trigger_price=request.trigger_price,
                post_only=request.post_only,
                time_in_force=request.time_in_force,
                cl_ord_id=request.cl_ord_id,
                volume_in_quote=request.quote_volume is not None,
            )
        except VenueError as exc:
            raise OrderRejected(f"order {request.cl_ord_id} rejected", exc.error) from exc
        if self.faults.lose_acks > 0:
            self.faults.lose_acks -= 1
            raise OutcomeUnknown(f"add_order {request.cl_ord_id}: connection dropped")
        if result.txid is None:
            raise ExchangeError(f"order {request.cl_ord_id}: venue returned no txid")
        return OrderAck(request.cl_ord_id, result.txid)

    async def amend_order(
        self,
        *,
        cl_ord_id: str | None = None,
        order_id: str | None = None,
        volume: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        await self._entry_gate.wait(self._request("amend_order"))
        try:
            self.venue.amend_order(
                self._api_key,
                txid=order_id,
                cl_ord_id=cl_ord_id,
                order_qty=volume,
                limit_price=price,
            )
        except VenueError as exc:
            raise _error(exc, f"amend {cl_ord_id or order_id}") from exc

    async def cancel_order(
        self, *, cl_ord_id: str | None = None, order_id: str | None = None
    ) -> bool:
        await self._request("cancel_order")
        try:
            self.venue.cancel_order(self._api_key, txid=order_id, cl_ord_id=cl_ord_id)
        except VenueError as exc:
            if exc.error == UNKNOWN_ORDER:
                logger.warning("cancel: exchange does not know order {}", cl_ord_id or order_id)
                return False
            raise _error(exc, f"cancel {cl_ord_id or order_id}") from exc
        return True

    def halt_order_entry(self, reason: str) -> None:
        self._entry_gate.close(reason)

    def resume_order_entry(self) -> None:
        self._entry_gate.open()

    async def cancel_all(self) -> int:
        await self._request("cancel_all")
        return self.venue.cancel_all(self._api_key).count

    async def cancel_all_after(self, timeout_s: int) -> None:
        await self._request("cancel_all_after")
        try:
            self.venue.cancel_all_orders_after(self._api_key, timeout_s)
        except VenueError as exc:
            raise _error(exc, "cancel_all_after") from exc

    # -- protocol: queries ---------------------------------------------------------------------

    async def open_orders(self) -> list[Order]:
        await self._request("open_orders")
        return [self._order(view) for view in self.venue.open_orders(self._api_key)]

    async def closed_orders(self, since: datetime | None = None) -> list[Order]:
        await self._request("closed_orders")
        start = since.timestamp() if since is not None else None
        views: list[OrderView] = []
        offset = 0
        while True:
            page = self.venue.closed_orders(self._api_key, start=start, offset=offset, limit=_PAGE)
            views.extend(page.items)
            offset += len(page.items)
            if not page.items or offset >= page.count:
                break
        return [self._order(view) for view in reversed(views)]

    async def lookup_order(self, cl_ord_id: str) -> Order | None:
        await self._request("lookup_order")
        if self.faults.fail_lookups > 0:
            self.faults.fail_lookups -= 1
            raise ExchangeError(f"lookup {cl_ord_id}: exchange unreachable")
        found = self.venue.open_orders(self._api_key, cl_ord_id=cl_ord_id)
        if not found:
            found = list(self.venue.closed_orders(self._api_key, cl_ord_id=cl_ord_id).items)
        return self._order(found[0]) if found else None

    async def executions_since(self, since: datetime | None = None) -> list[Execution]:
        await self._request("executions_since")
        start = since.timestamp() if since is not None else None
        fills: list[FillView] = []
        offset = 0
        while True:
            page = self.venue.trades_history(self._api_key, start=start, offset=offset)
            fills.extend(page.items)
            offset += len(page.items)
            if not page.items or offset >= page.count:
                break
        return [self._execution_from_fill(fill) for fill in reversed(fills)]

    async def balances(self) -> dict[str, Balance]:
        await self._request("balances")
        return self._balances()

    async def recent_candles(self, symbol: str, interval: int = 1) -> list[Candle]:
        bars = self.venue.ohlc(symbol, interval)
        return [
            Candle(
                symbol=symbol,
                interval=interval,
                ts=datetime.fromtimestamp(bar.interval_begin, UTC),
                open=bar.open,
                high=bar.high,
                low=bar.low,
                close=bar.close,
                volume=bar.volume,
                trades=bar.trades,
                closed=True,
            )
            for bar in bars[:-1]
        ]

    # -- venue events ---------------------------------------------------------------------------

    def _on_venue_event(self, event: VenueEvent) -> None:
        match event:
            case BookLevelChanged(symbol=symbol) if symbol in self._subscribed:
                self._emit(BookChanged(symbol))
            case TradePrinted() if event.symbol in self._subscribed:
                self._on_trade(event)
            case ExecutionEvent(api_key=key) if key == self._api_key:
                if self._private_feed_up:
                    self._on_execution(event)
            case BalanceChanged(api_key=key) if key == self._api_key:
                if self._private_feed_up:
                    self._emit(BalancesEvent(self._balances()))
            case _:
                pass

    @property
    def _private_feed_up(self) -> bool:
        return not (self.faults.mute_private_events or self._feed_down)

    def _on_trade(self, event: TradePrinted) -> None:
        trade = Trade(
            event.symbol, event.side, event.price, event.qty, _ts(event.timestamp), event.trade_id
        )
        self._emit(TradeEvent(trade))
        builder = self._candles.get(trade.symbol)
        if builder is None:
            builder = self._candles[trade.symbol] = CandleBuilder(
                trade.symbol, self._candle_interval
            )
        for candle in builder.add(trade):
            self._emit(CandleEvent(candle))

    def _on_execution(self, event: ExecutionEvent) -> None:
        view = event.order
        if event.exec_type is ExecType.TRADE and event.exec_id is not None:
            self._emit_fill(self._execution_from_event(event))
        order = self._order(view)
        self._emit(
            OrderEvent(
                OrderUpdate(
                    order_id=view.txid,
                    cl_ord_id=view.cl_ord_id,
                    symbol=view.symbol,
                    status=order.status,
                    exec_type=event.exec_type.value,
                    filled=view.vol_exec,
                    ts=_ts(event.timestamp),
                    avg_price=order.avg_price,
                    reason=event.reason,
                    order=order,
                )
            )
        )

    def _emit_fill(self, fill: Execution) -> None:
        """Each fill once, whether the feed or a reconciliation reports it."""
        if fill.exec_id in self._seen_fills:
            return
        self._seen_fills.add(fill.exec_id)
        if self._last_fill_ts is None or fill.ts > self._last_fill_ts:
            self._last_fill_ts = fill.ts
        self._emit(FillEvent(fill))

    async def _reconnect_after(self, down_s: float) -> None:
        await asyncio.sleep(down_s)
        self._feed_down = False
        self._set_connection(ConnectionState.CONNECTED)
        await self._reconcile()

    async def _reconcile(self) -> None:
        """What `KrakenExchange.reconcile` recovers after a reconnect: the fills since the
        last one seen, and every open order and order closed since then, as it stands."""
        since = self._last_fill_ts
        for fill in await self.executions_since(since):
            self._emit_fill(fill)
        for order in await self.open_orders() + await self.closed_orders(since):
            if order.order_id is None:
                continue
            self._emit(
                OrderEvent(
                    OrderUpdate(
                        order_id=order.order_id,
                        cl_ord_id=order.cl_ord_id or None,
                        symbol=order.symbol,
                        status=order.status,
                        exec_type="reconciled",
                        filled=order.filled,
                        ts=order.updated_at or self._clock.now(),
                        avg_price=order.avg_price,
                        reason=order.reason,
                        order=order,
                    )
                )
            )

    # -- conversions -----------------------------------------------------------------------------

    def _order(self, view: OrderView) -> Order:
        """A venue order sized in quote reports the quote amount as its `volume`; ours keeps
        that in `quote_volume` and has no base volume."""
        quote_volume = view.volume if view.volume_in_quote else None
        return Order(
            cl_ord_id=view.cl_ord_id or "",
            symbol=view.symbol,
            side=view.side,
            order_type=_FROM_VENUE_TYPE[view.order_type],
            volume=ZERO if view.volume_in_quote else view.volume,
            # Our order states are the words of Kraken WS v2 `order_status`.
            status=OrderStatus(view.ws_status),
            price=view.price,
            trigger_price=view.trigger_price,
            time_in_force=view.time_in_force,
            post_only=view.post_only,
            order_id=view.txid,
            filled=view.vol_exec,
            avg_price=view.avg_price if view.vol_exec > 0 else None,
            fees=view.fee,
            reason=view.reason,
            created_at=_ts(view.opentm),
            updated_at=_ts(view.lastupdated),
            quote_volume=quote_volume,
        )

    def _execution_from_event(self, event: ExecutionEvent) -> Execution:
        if event.last_qty is None or event.last_price is None or event.exec_id is None:
            raise ExchangeError(f"trade report for {event.order.txid} without fill details")
        return Execution(
            exec_id=event.exec_id,
            order_id=event.order.txid,
            symbol=event.order.symbol,
            side=event.order.side,
            price=event.last_price,
            qty=event.last_qty,
            fee=event.last_fee or Decimal(0),
            fee_ccy=self._display(event.fee_asset),
            liquidity=event.liquidity_ind or Liquidity.TAKER,
            ts=_ts(event.timestamp),
            cl_ord_id=event.order.cl_ord_id,
        )

    def _execution_from_fill(self, fill: FillView) -> Execution:
        """A fill from the history names no `cl_ord_id`, as TradesHistory does for the
        adapter: whoever reads it matches the fill to its order by order id."""
        return Execution(
            exec_id=fill.trade_id,
            order_id=fill.order_txid,
            symbol=fill.symbol,
            side=fill.side,
            price=fill.price,
            qty=fill.vol,
            fee=fill.fee,
            fee_ccy=self._display(fill.fee_asset),
            liquidity=Liquidity.MAKER if fill.maker else Liquidity.TAKER,
            ts=_ts(fill.time),
        )

    def _balances(self) -> dict[str, Balance]:
        result = {}
        for code, entry in self.venue.balances_ex(self._api_key).items():
            name = self._display(code)
            result[name] = Balance(name, entry.balance, entry.available)
        return result

    def _display(self, asset: str | None) -> str:
        if asset is None:
            return ""
        try:
            return self.venue.pairs.asset(asset).display
        except VenueError:
            return asset

    # -- plumbing -----------------------------------------------------------------------------

    async def _request(self, method: str) -> None:
        """Every request yields to the loop (and waits `latency_s`), as a network call does;
        it also runs the venue's time-driven work, as the sandbox server's timer would. A
        rate-limit answer is retried after the adapter's back-off; after as many retries as
        the adapter makes, it is the adapter's error (an order certainly not placed)."""
        self.calls[method] += 1
        self.venue.tick()
        await asyncio.sleep(self._latency_s)
        if self._unsubscribe is None:  # requests work while the private feed is down
            raise ExchangeError("not connected")
        attempt = 0
        while self.faults.rate_limit > 0:
            self.faults.rate_limit -= 1
            if attempt == _RATE_LIMIT_RETRIES:
                refused = OrderRejected if method == "add_order" else ExchangeError
                raise refused(f"{method}: {REST_RATE_LIMIT}", REST_RATE_LIMIT)
            delay = retry_delay(REST_RATE_LIMIT, attempt)
            attempt += 1
            logger.warning("{} answered {}; retrying in {:.2f}s", method, REST_RATE_LIMIT, delay)
            await asyncio.sleep(delay)

    def _emit(self, event: ExchangeEvent) -> None:
        if self._handler is not None:
            self._handler(event)

    def _set_connection(self, state: ConnectionState, reason: str = "") -> None:
        self._connection = ConnectionStatus(state, reason, since=self._clock.now())
        self._emit(ConnectionEvent(self._connection))


def _error(exc: VenueError, action: str) -> ExchangeError:
    if exc.error == UNKNOWN_ORDER:
        return UnknownOrder(f"{action}: unknown order", exc.error)
    return ExchangeError(f"{action}: {exc.error}", exc.error)
