"""`KrakenExchange`: the `Exchange` protocol on python-kraken-sdk, for sandbox, paper and live.

Only URLs and credentials differ between modes. Orders go out over REST (`AddOrder` with our
`cl_ord_id`, so a resend can be detected and an unknown outcome looked up); order state and
fills come back on the authenticated WebSocket `executions` channel, and after every reconnect
they are reconciled over REST so a fill that happened while we were away arrives exactly once.

Over 600 lines on purpose: what is left is the one object that owns the session's mutable
state (feeds, books, the order-to-pair maps and ages the rate limiter charges by) and the
message handlers that change it. The account's REST reads and reconciliation
(`kraken_account`) and the order command fields (`kraken_order_params`) live apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from kraken_tui.domain import (
    Balance,
    BookSnapshot,
    Candle,
    ConnectionState,
    Execution,
    Instrument,
    Order,
    OrderRequest,
)
from kraken_tui.exchange import kraken_parse as parse
from kraken_tui.exchange.account_fees import account_fees_from_rest
from kraken_tui.exchange.candles import (
    KRAKEN_OHLC_INTERVALS,
    CandleBuilder,
    aggregate_candles,
)
from kraken_tui.exchange.instruments import (
    InstrumentRegistry,
    display_asset,
    instruments_from_asset_pairs,
)
from kraken_tui.exchange.kraken_account import KrakenAccount, order_update
from kraken_tui.exchange.kraken_order_params import order_params, order_ref, quote_order_params
from kraken_tui.exchange.kraken_rest import KrakenRest
from kraken_tui.exchange.kraken_ws import WsFeed
from kraken_tui.exchange.nonce import NonceStore
from kraken_tui.exchange.order_book import OrderBooks
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
    OrderAck,
    OrderEvent,
    OrderRejected,
    OrderUpdate,
    RateLimitStatus,
    TickerEvent,
    TradeEvent,
    UnknownOrder,
)
from kraken_tui.exchange.ratelimit import RateLimiter, Tier, TradeAction, trade_cost
from kraken_tui.exchange.traffic import TrafficSink
from kraken_tui.logging import register_secret

KRAKEN_REST_URL = "https://api.kraken.com"
KRAKEN_WS_URL = "wss://ws.kraken.com"
KRAKEN_WS_AUTH_URL = "wss://ws-auth.kraken.com"

_ORDER_MAPS_KEPT = 20_000


@dataclass(frozen=True, slots=True)
class KrakenEndpoints:
    """WebSocket URLs as the SDK takes them: it appends `/v2` itself."""

    rest_url: str = KRAKEN_REST_URL
    ws_url: str = KRAKEN_WS_URL
    ws_auth_url: str = KRAKEN_WS_AUTH_URL


class KrakenExchange:
    def __init__(
        self,
        endpoints: KrakenEndpoints,
        *,
        api_key: str = "",
        api_secret: str = "",
        tier: Tier = Tier.STARTER,
        nonce_path: Path | None = None,
        request_timeout_s: float = 10.0,
        rest: KrakenRest | None = None,
        open_feed: Callable[..., WsFeed] = WsFeed,
    ) -> None:
        """`rest` and `open_feed` replace the network clients (a replay of a recording
        answers from the file); by default they are the real ones."""
        self._endpoints = endpoints
        self._api_key = api_key
        self._api_secret = api_secret
        self._limiter = RateLimiter(tier)
        self._entry_gate = OrderEntryGate()
        self._rest = rest or KrakenRest(
            endpoints.rest_url,
            api_key=api_key,
            api_secret=api_secret,
            nonce=NonceStore(nonce_path) if nonce_path and api_key else None,
            limiter=self._limiter,
            timeout_s=request_timeout_s,
        )
        self._open_feed = open_feed
        self._traffic_sink: TrafficSink | None = None
        self._fee_symbols: tuple[str, ...] = ()
        self._registry = InstrumentRegistry()
        self._account = KrakenAccount(self._rest, self._registry, self._emit)
        self._instruments: dict[str, Instrument] = {}
        self._books = OrderBooks()
        self._book_params: dict[str, dict[str, Any]] = {}
        self._resyncing: set[str] = set()
        self._handler: EventHandler = _drop_event
        self._public: WsFeed | None = None
        self._private: WsFeed | None = None
        self._status = ConnectionStatus(ConnectionState.DISCONNECTED, "not connected")
        self._open_candles: dict[str, Candle] = {}
        self._candle_builders: dict[str, CandleBuilder] = {}
        self._described: OrderedDict[str, None] = OrderedDict()
        self._placed_at: dict[str, float] = {}
        self._order_pairs: dict[str, str] = {}
        self._balances: dict[str, Balance] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- Exchange protocol: state ----------------------------------------------------------

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    @property
    def connection(self) -> ConnectionStatus:
        return self._status

    @property
    def rate_limits(self) -> RateLimitStatus:
        state = self._limiter.state()
        return RateLimitStatus(state.rest, state.rest_max, dict(state.trade), state.trade_max)

    @property
    def has_credentials(self) -> bool:
        return self._rest.has_credentials

    def set_event_handler(self, handler: EventHandler) -> None:
        self._handler = handler

    def book(self, symbol: str) -> BookSnapshot | None:
        book = self._books.get(symbol)
        return None if book is None else book.snapshot()

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        pairs = await self._rest.public("AssetPairs")
        for instrument in instruments_from_asset_pairs(pairs):
            self._registry.add(instrument)
        self._instruments = {i.symbol: i for i in self._registry}
        logger.info(
            "Loaded {} instruments from {}", len(self._instruments), self._endpoints.rest_url
        )
        if self._fee_symbols and self._rest.has_credentials:
            await self._read_account_fees()
        self._public = self._open_feed(
            "public",
            ws_url=self._endpoints.ws_url,
            auth_ws_url=self._endpoints.ws_auth_url,
            on_message=self._on_public,
            on_status=lambda _status: self._update_status(),
            on_reconnect=self._on_public_reconnect,
        )
        self._public.traffic_sink = self._traffic_sink
        await self._public.start()
        if self._rest.has_credentials:
            self._private = self._open_feed(
                "private",
                ws_url=self._endpoints.ws_url,
                auth_ws_url=self._endpoints.ws_auth_url,
                on_message=self._on_private,
                on_status=lambda _status: self._update_status(),
                on_reconnect=self._on_private_reconnect,
                private=True,
                api_key=self._api_key,
                api_secret=self._api_secret,
                rest_url=self._endpoints.rest_url,
                token_source=self._ws_token,
            )
            self._private.traffic_sink = self._traffic_sink
            await self._private.start()
            await self._private.subscribe(
                {"channel": "executions", "snap_orders": True, "snap_trades": True}
            )
            await self._private.subscribe({"channel": "balances", "snapshot": True})
        self._update_status()

    def set_traffic_sink(self, sink: TrafficSink | None) -> None:
        """Start (or, with None, stop) copying what the exchange says to `sink`, at once
        and for the connections opened later."""
        self._traffic_sink = sink
        self._rest.traffic_sink = sink
        for feed in (self._public, self._private):
            if feed is not None:
                feed.traffic_sink = sink

    def use_account_fees_for(self, symbols: Sequence[str]) -> None:
        """Read the account's fees for `symbols` (TradeVolume) when connecting, so their
        instruments carry the taker fee this account pays rather than the pair's first
        tier. Without the key's "Query Funds" permission the first tier stays, which
        over-reserves rather than under-reserves."""
        self._fee_symbols = tuple(symbols)

    async def _read_account_fees(self) -> None:
        known = [i for s in self._fee_symbols if (i := self._registry.get(s)) is not None]
        names = ",".join(i.rest_name or i.altname or i.symbol for i in known)
        try:
            fees = account_fees_from_rest(await self._rest.private("TradeVolume", {"pair": names}))
        except (ExchangeError, KeyError, TypeError, ValueError) as exc:
            logger.warning("account fees not read ({}); first-tier fees assumed", exc)
            return
        for name, pair_fees in fees.pairs.items():
            instrument = self._registry.get(name)
            if instrument is not None:
                self._registry.add(replace(instrument, taker_fee=pair_fees.taker))
        self._instruments = {i.symbol: i for i in self._registry}
        logger.info(
            "account fees read: 30-day volume {} {}; {}",
            fees.volume,
            fees.currency,
            ", ".join(f"{n} taker {f.taker:%} maker {f.maker:%}" for n, f in fees.pairs.items()),
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for feed in (self._public, self._private):
            if feed is not None:
                await feed.close()
        await self._rest.close()
        self._update_status()

    async def subscribe_market(
        self, symbols: Sequence[str], depth: int = 10, ohlc_interval: int = 1
    ) -> None:
        if self._public is None:
            raise ExchangeError("connect() first")
        if self._books.depth != depth:
            self._books = OrderBooks(depth)
        wanted = [self._registry.require(s).symbol for s in symbols]
        for symbol in wanted:
            self._books.add(self._instruments[symbol])
            self._book_params[symbol] = {
                "channel": "book",
                "symbol": [symbol],
                "depth": depth,
                "snapshot": True,
            }
            await self._public.subscribe(self._book_params[symbol])
        await self._public.subscribe({"channel": "ticker", "symbol": wanted})
        await self._public.subscribe({"channel": "trade", "symbol": wanted, "snapshot": False})
        if ohlc_interval in KRAKEN_OHLC_INTERVALS:
            await self._public.subscribe(
                {"channel": "ohlc", "symbol": wanted, "interval": ohlc_interval, "snapshot": True}
            )
        else:
            logger.info(
                "{}-minute candles are built from trades (not a Kraken ohlc interval)",
                ohlc_interval,
            )
            for symbol in wanted:
                self._candle_builders[symbol] = CandleBuilder(symbol, ohlc_interval)

    async def recent_candles(self, symbol: str, interval: int = 1) -> list[Candle]:
        if interval not in KRAKEN_OHLC_INTERVALS:
            return aggregate_candles(await self.recent_candles(symbol, 1), interval)
        instrument = self._registry.require(symbol)
        pair = instrument.altname or instrument.rest_name or instrument.symbol
        result = await self._rest.public("OHLC", {"pair": pair, "interval": interval})
        rows: list[Any] = next((v for k, v in result.items() if k != "last"), [])
        candles: list[Candle] = []
        for row in rows[:-1]:  # Kraken's last row is the interval still forming
            try:
                candles.append(parse.candle_from_rest(instrument.symbol, interval, row))
            except (parse.MalformedPayload, ValueError, TypeError) as exc:
                logger.warning("Skipping malformed OHLC row for {}: {}", symbol, exc)
        return candles

    # -- orders ----------------------------------------------------------------------------

    async def add_order(self, request: OrderRequest) -> OrderAck:
        instrument = self._registry.get(request.symbol)
        if instrument is None:
            raise OrderRejected(
                f"EQuery:Unknown asset pair: {request.symbol}", "EQuery:Unknown asset pair"
            )
        if request.quote_volume is not None:
            params = quote_order_params(request, instrument, request.quote_volume)
        else:
            params = order_params(request, instrument)
        await self._entry_gate.wait(
            self._limiter.acquire_trade(instrument.symbol, trade_cost(TradeAction.ADD))
        )
        # Known before the answer: the feed may report the order ended before AddOrder returns.
        self._order_pairs[request.cl_ord_id] = instrument.symbol
        try:
            result = await self._rest.place(
                "AddOrder", params, pair=instrument.symbol, gate=self._entry_gate
            )
        except OrderRejected:
            self._forget_order("", request.cl_ord_id)
            raise
        txids = result.get("txid") if isinstance(result, Mapping) else None
        if not txids:
            raise ExchangeError(f"AddOrder answered without txid: {result!r}")
        if request.cl_ord_id in self._order_pairs:  # not already reported ended
            self._placed_at[request.cl_ord_id] = time.monotonic()
            self._remember_pair(instrument.symbol, str(txids[0]), request.cl_ord_id)
        return OrderAck(cl_ord_id=request.cl_ord_id, order_id=str(txids[0]))

    async def amend_order(
        self,
        *,
        cl_ord_id: str | None = None,
        order_id: str | None = None,
        volume: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        params: dict[str, Any] = order_ref(cl_ord_id, order_id, key="txid")
        if volume is not None:
            params["order_qty"] = str(volume)
        if price is not None:
            params["limit_price"] = str(price)
        pair = self._pair_of(cl_ord_id, order_id)
        await self._entry_gate.wait(
            self._limiter.acquire_trade(
                pair, trade_cost(TradeAction.AMEND, self._order_age(cl_ord_id))
            )
        )
        await self._rest.trade_command("AmendOrder", params, pair=pair, gate=self._entry_gate)

    async def cancel_order(
        self, *, cl_ord_id: str | None = None, order_id: str | None = None
    ) -> bool:
        params = order_ref(cl_ord_id, order_id, key="txid")
        pair = self._pair_of(cl_ord_id, order_id)
        # Kraken refuses a cancel like any transaction once the pair's counter is full, and
        # cancelling a young order is the dearest one: wait for room rather than be refused.
        await self._limiter.acquire_trade(
            pair, trade_cost(TradeAction.CANCEL, self._order_age(cl_ord_id))
        )
        try:
            await self._rest.trade_command("CancelOrder", params, pair=pair)
        except UnknownOrder as exc:
            logger.warning(
                "Cancel of {}: exchange does not know it ({})",
                cl_ord_id or order_id,
                exc.kraken_error,
            )
            return False
        return True

    def halt_order_entry(self, reason: str) -> None:
        self._entry_gate.close(reason)

    def resume_order_entry(self) -> None:
        self._entry_gate.open()

    async def cancel_all(self) -> int:
        result = await self._rest.private("CancelAll", urgent=True)
        return int(result.get("count", 0)) if isinstance(result, Mapping) else 0

    async def cancel_all_after(self, timeout_s: int) -> None:
        await self._rest.private("CancelAllOrdersAfter", {"timeout": int(timeout_s)}, urgent=True)

    async def open_orders(self) -> list[Order]:
        return await self._account.open_orders()

    async def closed_orders(self, since: datetime | None = None) -> list[Order]:
        return await self._account.closed_orders(since)

    async def lookup_order(self, cl_ord_id: str) -> Order | None:
        return await self._account.lookup_order(cl_ord_id)

    async def executions_since(self, since: datetime | None = None) -> list[Execution]:
        return await self._account.executions_since(since)

    async def balances(self) -> dict[str, Balance]:
        result = await self._rest.private("BalanceEx")
        self._balances = parse.balances_from_rest(result, display_asset)
        return dict(self._balances)

    # -- WebSocket message handling --------------------------------------------------------

    def _on_public(self, message: Mapping[str, Any]) -> None:
        channel = message.get("channel")
        if channel == "book":
            self._on_book(message)
        elif channel == "ticker":
            now = datetime.now(UTC)
            self._each(message, lambda item: TickerEvent(parse.ticker_from_ws(item, now)))
        elif channel == "trade":
            self._each(message, self._trade_event)
        elif channel == "ohlc":
            self._each_candle(message)
        elif message.get("method") in ("subscribe", "unsubscribe") and not message.get("success"):
            logger.error("Kraken refused {}: {}", message.get("method"), message.get("error"))

    def _on_book(self, message: Mapping[str, Any]) -> None:
        for symbol, outcome in self._books.apply_message(message):
            if outcome.needs_resync:
                self._resync_book(symbol, outcome.value)
            else:
                self._resyncing.discard(symbol)
                self._emit(BookChanged(symbol))

    def _resync_book(self, symbol: str, reason: str) -> None:
        """Only this symbol goes stale and is resubscribed; other books are untouched."""
        self._emit(BookChanged(symbol, stale=True))
        if symbol in self._resyncing or self._public is None:
            return
        self._resyncing.add(symbol)
        logger.warning("Book {} is stale ({}); resubscribing for a fresh snapshot", symbol, reason)
        self._spawn(self._public.resubscribe(self._book_params[symbol]))

    def _each(self, message: Mapping[str, Any], convert: Callable[[Any], ExchangeEvent]) -> None:
        data = message.get("data")
        if not isinstance(data, list):
            logger.warning("Skipping {} message without data list", message.get("channel"))
            return
        for item in data:
            try:
                self._emit(convert(item))
            except (parse.MalformedPayload, ValueError, TypeError) as exc:
                logger.warning("Skipping malformed {} item: {}", message.get("channel"), exc)

    def _trade_event(self, item: Any) -> TradeEvent:
        """One parsed trade; it also feeds the candle builder of an interval Kraken's ohlc
        channel lacks (the bar it closes is published before the trade that closed it)."""
        trade = parse.trade_from_ws(item)
        builder = self._candle_builders.get(trade.symbol)
        if builder is not None:
            for candle in builder.add(trade):
                self._emit(CandleEvent(candle))
        return TradeEvent(trade)

    def _each_candle(self, message: Mapping[str, Any]) -> None:
        """Kraken streams the open candle; it is closed when a later interval begins. A
        snapshot only sets the forming candle: history comes from `recent_candles`, so a
        (re)subscription never replays old candles to strategies as if they just closed."""
        data = message.get("data")
        if not isinstance(data, list):
            return
        if message.get("type") == "snapshot":
            data = data[-1:]
        for item in data:
            try:
                candle = parse.candle_from_ws(item, closed=False)
            except (parse.MalformedPayload, ValueError, TypeError) as exc:
                logger.warning("Skipping malformed ohlc item: {}", exc)
                continue
            key = f"{candle.symbol}:{candle.interval}"
            previous = self._open_candles.get(key)
            if previous is not None and candle.ts > previous.ts:
                self._emit(CandleEvent(replace(previous, closed=True)))
            if previous is None or candle.ts >= previous.ts:
                self._open_candles[key] = candle
                self._emit(CandleEvent(candle))

    def _on_private(self, message: Mapping[str, Any]) -> None:
        channel = message.get("channel")
        if channel == "executions":
            data = message.get("data")
            if not isinstance(data, list):
                logger.warning("Skipping executions message without data list")
                return
            live = message.get("type") == "update"
            for item in data:
                self._on_execution_item(item, live)
        elif channel == "balances":
            try:
                balances = parse.balances_from_ws(message.get("data"), display_asset)
            except (parse.MalformedPayload, ValueError, TypeError) as exc:
                logger.warning("Skipping malformed balances message: {}", exc)
                return
            if balances:
                self._balances = {**self._balances, **balances}
                self._emit(BalancesEvent(self._balances))
        elif message.get("method") == "subscribe" and not message.get("success"):
            logger.error("Kraken refused private subscribe: {}", message.get("error"))

    def _on_execution_item(self, item: Any, live: bool) -> None:
        """`live` items (updates, not the snapshot's history of fills) about an order we
        know nothing of make us ask Kraken for it, once per order."""
        if not isinstance(item, Mapping):
            logger.warning("Skipping non-object execution item {!r}", item)
            return
        try:
            update = parse.order_update_from_ws(item)
            fill = parse.execution_from_ws(item, self._account.quote_of)
        except parse.UnknownExecType as exc:
            logger.info("Skipping execution item for order {}: {}", item.get("order_id"), exc)
            return
        except (parse.MalformedPayload, ValueError, TypeError) as exc:
            logger.warning("Skipping malformed execution item: {}", exc)
            return
        unknown = (
            live
            and update.order is None
            and self._rest.has_credentials
            and not self._knows_order(update)
            and update.order_id not in self._described
        )
        if update.status.is_final:
            self._forget_order(update.order_id, update.cl_ord_id)
        elif update.symbol:
            self._remember_pair(update.symbol, update.order_id, update.cl_ord_id)
        if fill is not None:
            self._account.emit_fill(fill)
        self._emit(OrderEvent(update))
        if unknown:
            self._described[update.order_id] = None
            if len(self._described) > _ORDER_MAPS_KEPT:
                self._described.popitem(last=False)
            self._spawn(self._describe_order(update.order_id))

    def _knows_order(self, update: OrderUpdate) -> bool:
        return update.order_id in self._order_pairs or (
            update.cl_ord_id is not None and update.cl_ord_id in self._order_pairs
        )

    async def _describe_order(self, order_id: str) -> None:
        """A sparse `executions` item about an order we did not place (or placed in an
        earlier run) lacks its side, size and price: QueryOrders has them, so the order
        can be adopted (or its write-ahead record completed) at once."""
        try:
            orders = await self._account.query_order(order_id)
        except ExchangeError as exc:
            logger.warning(
                "QueryOrders {} failed ({}); reconciliation will adopt it", order_id, exc
            )
            return
        for order in orders:
            if order.order_id is None:
                continue
            if order.is_open:
                self._remember_pair(order.symbol, order.order_id, None)
            ts = order.updated_at or order.created_at or datetime.now(UTC)
            self._emit(OrderEvent(order_update(order, order.order_id, "queried", ts)))

    # -- reconnects ------------------------------------------------------------------------

    def _on_public_reconnect(self) -> None:
        """The SDK resubscribes by itself; until fresh snapshots arrive the books are stale."""
        for symbol in self._books.symbols:
            book = self._books.get(symbol)
            if book is not None:
                book.mark_stale("reconnected: awaiting snapshot")
            self._emit(BookChanged(symbol, stale=True))

    def _on_private_reconnect(self) -> None:
        self._spawn(self.reconcile())

    async def reconcile(self) -> None:
        """Recover what happened while the private stream was away (`KrakenAccount`)."""
        await self._account.reconcile()

    # -- helpers ---------------------------------------------------------------------------

    async def _ws_token(self) -> dict[str, Any]:
        result = await self._rest.private("GetWebSocketsToken")
        if not isinstance(result, dict) or "token" not in result:
            raise ExchangeError("GetWebSocketsToken answered without a token")
        register_secret(str(result["token"]))  # the SDK logs it at DEBUG
        return result

    def _pair_of(self, cl_ord_id: str | None, order_id: str | None) -> str:
        """The pair an order trades, for the per-pair trading counter (orders we never saw
        share one conservative bucket)."""
        return self._order_pairs.get(order_id or "") or self._order_pairs.get(
            cl_ord_id or "", "unknown"
        )

    def _remember_pair(self, symbol: str, order_id: str, cl_ord_id: str | None) -> None:
        """Kept only while the order lives (`_forget_order`); the cap bounds what orders we
        never hear the end of (a feed down for days) could leave behind."""
        self._order_pairs[order_id] = symbol
        if cl_ord_id:
            self._order_pairs[cl_ord_id] = symbol
        while len(self._order_pairs) > _ORDER_MAPS_KEPT:
            del self._order_pairs[next(iter(self._order_pairs))]
        while len(self._placed_at) > _ORDER_MAPS_KEPT:
            del self._placed_at[next(iter(self._placed_at))]

    def _forget_order(self, order_id: str, cl_ord_id: str | None) -> None:
        """An ended order needs no pair (for its trading counter) nor age (for the cancel
        penalty): a later cancel of it is refused by the exchange whatever we charge."""
        self._order_pairs.pop(order_id, None)
        if cl_ord_id:
            self._order_pairs.pop(cl_ord_id, None)
            self._placed_at.pop(cl_ord_id, None)

    def _order_age(self, cl_ord_id: str | None) -> float | None:
        placed = self._placed_at.get(cl_ord_id or "")
        return None if placed is None else time.monotonic() - placed

    def _update_status(self) -> None:
        feeds = [f for f in (self._public, self._private) if f is not None]
        if not feeds:
            status = ConnectionStatus(ConnectionState.DISCONNECTED, "not connected")
        else:
            worst = max(feeds, key=lambda f: _SEVERITY[f.status.state])
            latency = self._public.latency_ms if self._public is not None else None
            reason = f"{worst.name}: {worst.status.reason}" if worst.status.reason else ""
            status = ConnectionStatus(worst.status.state, reason, latency, worst.status.since)
        if status != self._status:
            self._status = status
            self._emit(ConnectionEvent(status))

    def _emit(self, event: ExchangeEvent) -> None:
        try:
            self._handler(event)
        except Exception:
            logger.opt(exception=True).error("Event handler failed on {}", type(event).__name__)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


_SEVERITY = {
    ConnectionState.CONNECTED: 0,
    ConnectionState.DEGRADED: 1,
    ConnectionState.CONNECTING: 2,
    ConnectionState.RECONNECTING: 3,
    ConnectionState.STALE: 4,
    ConnectionState.DISCONNECTED: 5,
}


def _drop_event(_event: ExchangeEvent) -> None:
    """Default handler until the engine attaches its own."""
