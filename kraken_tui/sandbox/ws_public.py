"""WebSocket v2 connections and the public channels: instrument, book, ticker, trade, ohlc.

Every outgoing message goes through a connection's outbox, where the fault plan can delay,
reorder or stall it. Market data is coalesced per pacing tick: the venue's level events only
mark a symbol dirty, and `flush()` sends each (symbol, depth) group one update holding every
level that changed on either side since the last one, with the checksum of the result.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, web
from loguru import logger

from kraken_tui.sandbox.errors import unsupported_pair
from kraken_tui.sandbox.events import BookLevelChanged, TradePrinted, VenueEvent
from kraken_tui.sandbox.faults import FaultInjector
from kraken_tui.sandbox.pairs import PairInfo
from kraken_tui.sandbox.records import OhlcBar, TickerStats
from kraken_tui.sandbox.tape import OHLC_INTERVALS
from kraken_tui.sandbox.venue import SandboxVenue
from kraken_tui.sandbox.wire import book_checksum, dumps, rfc3339

BOOK_DEPTHS = (10, 25, 100, 500, 1000)
TICKER_TRIGGERS = ("trades", "bbo")
"""`ticker`'s `event_trigger`: an update on every trade (the default) or on every change of
the best bid or offer (docs.kraken.com/api/docs/websocket-v2/ticker)."""
PUBLIC_CHANNELS = ("book", "instrument", "ohlc", "ticker", "trade")
REORDER_HOLD_S = 1.0
"""How long a message held back for reordering waits for one to swap with."""
OUTBOX_LIMIT = 200_000
"""A client this far behind is disconnected, as Kraken drops connections it cannot feed."""


class WsRequestError(Exception):
    """A request refused with Kraken's wording; `extra` joins the error response."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


def ws_ack(
    method: str,
    time_in: float,
    req_id: object,
    *,
    result: Mapping[str, Any] | None = None,
    error: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Kraken's generic v2 response: method, result or error, success, time_in/out, req_id."""
    message: dict[str, Any] = {"method": method}
    if error is None:
        message["result"] = dict(result or {})
        message["success"] = True
    else:
        message["error"] = error
        message["success"] = False
        message.update(extra or {})
    message["time_in"] = rfc3339(time_in)
    message["time_out"] = rfc3339(time.time())
    if req_id is not None:
        message["req_id"] = req_id
    return message


@dataclass(eq=False)
class WsConnection:
    """One client socket. `send` never blocks the caller (venue listeners are synchronous):
    it queues, and a writer task applies the fault plan and writes in order."""

    ws: web.WebSocketResponse
    connection_id: int
    authenticated_endpoint: bool
    faults: FaultInjector
    account: str | None = None
    token: str | None = None
    has_subscription: bool = False
    _outbox: asyncio.Queue[tuple[float, str]] = field(default_factory=asyncio.Queue)
    _writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-{self.connection_id}")

    def send(self, message: Mapping[str, Any] | str) -> None:
        if self.ws.closed:
            return
        if self._outbox.qsize() >= OUTBOX_LIMIT:
            logger.warning("sandbox ws {}: client too slow, disconnecting", self.connection_id)
            asyncio.get_running_loop().create_task(self.close())
            return
        text = message if isinstance(message, str) else dumps(message)
        self._outbox.put_nowait((time.monotonic(), text))

    async def close(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        await self.ws.close(code=code)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_loop(self) -> None:
        held: str | None = None
        while True:
            released = False
            if held is None:
                queued_at, text = await self._outbox.get()
            else:
                try:
                    queued_at, text = await asyncio.wait_for(self._outbox.get(), REORDER_HOLD_S)
                except TimeoutError:
                    # Nothing to swap with: a reorder fault must not turn into a drop.
                    text, held, released = held, None, True
                    queued_at = time.monotonic()
            stall = self.faults.stall_remaining()
            if stall > 0:
                await asyncio.sleep(stall)
            delay_s = self.faults.plan.ws_delay_ms / 1000
            if delay_s > 0:
                wait = queued_at + delay_s - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            if held is None and not released and self.faults.take_reorder():
                held = text
                continue
            try:
                await self.ws.send_str(text)
                if held is not None:
                    await self.ws.send_str(held)
                    held = None
            except (ConnectionResetError, RuntimeError):
                return


Levels = tuple[tuple[Decimal, Decimal], ...]
"""Best level first, as the venue returns them."""


@dataclass(eq=False)
class BookGroup:
    """Subscribers of one symbol at one depth share what was last sent to them. State is
    kept as Decimals; only changed levels and the top 10 (for the checksum) are formatted,
    which is what keeps deep subscriptions cheap at thousands of updates per second."""

    pair: PairInfo
    depth: int
    members: set[WsConnection] = field(default_factory=set)
    bids: Levels = ()
    asks: Levels = ()

    def load(self, venue: SandboxVenue) -> None:
        book = venue.book(self.pair.symbol, self.depth)
        self.bids, self.asks = book.bids, book.asks

    def _json(self, levels: Iterable[tuple[Decimal, Decimal]]) -> str:
        p, q = self.pair.pair_decimals, self.pair.lot_decimals
        return ",".join(f'{{"price":{price:.{p}f},"qty":{qty:.{q}f}}}' for price, qty in levels)

    def _checksum(self) -> int:
        p, q = self.pair.pair_decimals, self.pair.lot_decimals
        return book_checksum(
            ((f"{price:.{p}f}", f"{qty:.{q}f}") for price, qty in self.asks[:10]),
            ((f"{price:.{p}f}", f"{qty:.{q}f}") for price, qty in self.bids[:10]),
        )

    def snapshot_message(self) -> str:
        return (
            '{"channel":"book","type":"snapshot","data":[{"symbol":"'
            + self.pair.symbol
            + '","bids":['
            + self._json(self.bids)
            + '],"asks":['
            + self._json(self.asks)
            + f'],"checksum":{self._checksum()}}}]}}'
        )

    def update_message(self, venue: SandboxVenue, faults: FaultInjector) -> str | None:
        """Diff the venue's current top `depth` against what members hold. Deleted levels go
        first with qty 0; levels pushed out of scope by better ones are not sent, as on
        Kraken, since clients truncate to their depth after applying each level."""
        book = venue.book(self.pair.symbol, self.depth)
        bid_changes = book_side_changes(self.bids, book.bids, self.depth, descending=True)
        ask_changes = book_side_changes(self.asks, book.asks, self.depth, descending=False)
        self.bids, self.asks = book.bids, book.asks
        if not bid_changes and not ask_changes:
            return None
        checksum = self._checksum()
        if faults.take_corrupt_checksum():
            checksum ^= 0x5A5A5A5A
        return (
            '{"channel":"book","type":"update","data":[{"symbol":"'
            + self.pair.symbol
            + '","bids":['
            + self._json(bid_changes)
            + '],"asks":['
            + self._json(ask_changes)
            + f'],"checksum":{checksum},"timestamp":"{rfc3339(book.timestamp)}"}}]}}'
        )


_ZERO = Decimal(0)


def book_side_changes(
    old_levels: Levels, new_levels: Levels, depth: int, *, descending: bool
) -> list[tuple[Decimal, Decimal]]:
    if old_levels == new_levels:
        return []
    old, new = dict(old_levels), dict(new_levels)
    changes: list[tuple[Decimal, Decimal]] = []
    gone = old.keys() - new.keys()
    if gone:
        # A level that left our top `depth` needs no explicit delete when it lies beyond the
        # worst of a full new top `depth`: the client's truncation after the inserts below
        # drops it, exactly as Kraken expects clients to. Anything else is sent with qty 0.
        full = len(new_levels) >= depth
        worst = new_levels[-1][0] if new_levels else _ZERO
        for price in gone:
            beyond = price < worst if descending else price > worst
            if not (full and beyond):
                changes.append((price, _ZERO))
    changes.extend((price, qty) for price, qty in new_levels if old.get(price) != qty)
    return changes


class PublicChannels:
    """Subscriptions to the public channels and the per-tick coalesced publishing."""

    def __init__(self, venue: SandboxVenue, faults: FaultInjector) -> None:
        self._venue = venue
        self._faults = faults
        self._books: dict[tuple[str, int], BookGroup] = {}
        self._simple: dict[tuple[str, str], set[WsConnection]] = defaultdict(set)
        self._ticker_bbo: dict[str, set[WsConnection]] = defaultdict(set)
        self._last_bbo: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
        self._ohlc: dict[tuple[str, int], set[WsConnection]] = defaultdict(set)
        self._instrument: set[WsConnection] = set()
        self._dirty_books: set[str] = set()
        self._trades: dict[str, list[TradePrinted]] = defaultdict(list)

    def on_venue_event(self, event: VenueEvent) -> None:
        if isinstance(event, BookLevelChanged):
            self._dirty_books.add(event.symbol)
        elif isinstance(event, TradePrinted):
            self._trades[event.symbol].append(event)

    # ---- subscribe / unsubscribe ----------------------------------------------------
    def subscribe(
        self,
        conn: WsConnection,
        channel: str,
        params: Mapping[str, Any],
        time_in: float,
        req_id: object,
    ) -> None:
        if channel == "instrument":
            conn.send(ws_ack("subscribe", time_in, req_id, result=self._instrument_result(params)))
            self._instrument.add(conn)
            conn.has_subscription = True
            if params.get("snapshot", True):
                conn.send(self._instrument_snapshot())
            return
        pairs = self._pairs(params)
        options = self._options(channel, params)
        for pair in pairs:
            if conn in self._members(channel, pair, options):
                raise WsRequestError("Already subscribed", symbol=pair.symbol)
        for pair in pairs:
            result = {"channel": channel, "symbol": pair.symbol, **options}
            conn.send(ws_ack("subscribe", time_in, req_id, result=result))
            self._add(conn, channel, pair, options)
        conn.has_subscription = True

    def unsubscribe(
        self,
        conn: WsConnection,
        channel: str,
        params: Mapping[str, Any],
        time_in: float,
        req_id: object,
    ) -> None:
        if channel == "instrument":
            self._instrument.discard(conn)
            conn.send(ws_ack("unsubscribe", time_in, req_id, result={"channel": channel}))
            return
        pairs = self._pairs(params)
        options = self._options(channel, params)
        options.pop("snapshot", None)
        for pair in pairs:
            members = self._members(channel, pair, options)
            if conn not in members:
                raise WsRequestError("Subscription Not Found", symbol=pair.symbol)
            members.discard(conn)
            result = {"channel": channel, "symbol": pair.symbol, **options}
            conn.send(ws_ack("unsubscribe", time_in, req_id, result=result))

    def drop(self, conn: WsConnection) -> None:
        for group in self._books.values():
            group.members.discard(conn)
        for members in (
            *self._simple.values(),
            *self._ticker_bbo.values(),
            *self._ohlc.values(),
            self._instrument,
        ):
            members.discard(conn)

    def _pairs(self, params: Mapping[str, Any]) -> list[PairInfo]:
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            raise WsRequestError("Missing field: symbol")
        pairs = []
        for symbol in symbols:
            pair = self._venue.pairs.find(symbol) if isinstance(symbol, str) else None
            if pair is None or pair.symbol != symbol:
                raise WsRequestError(unsupported_pair(symbol), symbol=symbol)
            pairs.append(pair)
        return pairs

    @staticmethod
    def _options(channel: str, params: Mapping[str, Any]) -> dict[str, Any]:
        snapshot = params.get("snapshot", True)
        if not isinstance(snapshot, bool):
            raise WsRequestError("Invalid value for field: snapshot")
        if channel == "book":
            depth = params.get("depth", 10)
            if depth not in BOOK_DEPTHS or isinstance(depth, bool):
                raise WsRequestError(f"Invalid depth: {depth}")
            return {"depth": depth, "snapshot": snapshot}
        if channel == "ohlc":
            interval = params.get("interval")
            if interval not in OHLC_INTERVALS or isinstance(interval, bool):
                raise WsRequestError(f"Invalid interval: {interval}")
            return {"interval": interval, "snapshot": snapshot}
        if channel == "ticker":
            trigger = params.get("event_trigger", "trades")
            if trigger not in TICKER_TRIGGERS:
                raise WsRequestError("Invalid value for field: event_trigger")
            return {"event_trigger": trigger, "snapshot": snapshot}
        return {"snapshot": snapshot}

    def _members(
        self, channel: str, pair: PairInfo, options: Mapping[str, Any]
    ) -> set[WsConnection]:
        if channel == "book":
            group = self._books.get((pair.symbol, options["depth"]))
            return group.members if group is not None else set()
        if channel == "ohlc":
            return self._ohlc[(pair.symbol, options["interval"])]
        if channel == "ticker" and options["event_trigger"] == "bbo":
            return self._ticker_bbo[pair.symbol]
        return self._simple[(channel, pair.symbol)]

    def _add(
        self, conn: WsConnection, channel: str, pair: PairInfo, options: Mapping[str, Any]
    ) -> None:
        snapshot = options["snapshot"]
        if channel == "book":
            key = (pair.symbol, options["depth"])
            group = self._books.get(key)
            if group is None:
                group = self._books[key] = BookGroup(pair=pair, depth=options["depth"])
                group.load(self._venue)
            elif group.members:
                # Bring existing members up to date first, so the newcomer's snapshot and
                # everyone's next update start from the same state.
                self._publish_book(group)
            else:
                group.load(self._venue)
            group.members.add(conn)
            if snapshot:
                conn.send(group.snapshot_message())
        elif channel == "ticker":
            self._members(channel, pair, options).add(conn)
            if options["event_trigger"] == "bbo":
                self._last_bbo.setdefault(pair.symbol, self._bbo(pair.symbol))
            if snapshot:
                conn.send(self._ticker_message(pair, "snapshot"))
        elif channel == "trade":
            self._simple[(channel, pair.symbol)].add(conn)
            if snapshot:
                recent = self._venue.recent_trades(pair.symbol, count=50)
                conn.send(self._trade_message(pair, "snapshot", recent))
        elif channel == "ohlc":
            self._ohlc[(pair.symbol, options["interval"])].add(conn)
            if snapshot:
                bars = self._venue.ohlc(pair.symbol, options["interval"])[-720:]
                conn.send(self._ohlc_message(pair, "snapshot", bars))

    # ---- publishing -------------------------------------------------------------------
    def flush(self) -> None:
        """Send one coalesced message per group that changed since the last flush."""
        if self._dirty_books:
            dirty, self._dirty_books = self._dirty_books, set()
            for group in self._books.values():
                if group.pair.symbol in dirty and group.members:
                    self._publish_book(group)
            for symbol in dirty:
                if self._ticker_bbo.get(symbol):
                    self._publish_bbo_ticker(symbol)
        if self._trades:
            trades, self._trades = self._trades, defaultdict(list)
            for symbol, printed in trades.items():
                self._publish_trades(symbol, printed)

    def _publish_book(self, group: BookGroup) -> None:
        message = group.update_message(self._venue, self._faults)
        if message is None:
            return
        for conn in group.members:
            conn.send(message)

    def _bbo(self, symbol: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        stats = self._venue.ticker(symbol)
        return stats.bid, stats.bid_qty, stats.ask, stats.ask_qty

    def _publish_bbo_ticker(self, symbol: str) -> None:
        """A `bbo` subscriber hears of every change of the best bid or offer (price or size),
        and of nothing else: a trade that leaves the top of the book alone is not news."""
        bbo = self._bbo(symbol)
        if self._last_bbo.get(symbol) == bbo:
            return
        self._last_bbo[symbol] = bbo
        message = dumps(self._ticker_message(self._venue.pairs.resolve(symbol), "update"))
        for conn in self._ticker_bbo[symbol]:
            conn.send(message)

    def _publish_trades(self, symbol: str, printed: list[TradePrinted]) -> None:
        pair = self._venue.pairs.resolve(symbol)
        trade_members = self._simple.get(("trade", symbol))
        if trade_members:
            message = dumps(self._trade_message(pair, "update", printed))
            for conn in trade_members:
                conn.send(message)
        ticker_members = self._simple.get(("ticker", symbol))
        if ticker_members:
            message = dumps(self._ticker_message(pair, "update"))
            for conn in ticker_members:
                conn.send(message)
        for (ohlc_symbol, interval), members in self._ohlc.items():
            if ohlc_symbol == symbol and members:
                bars = self._venue.ohlc(symbol, interval)[-1:]
                message = dumps(self._ohlc_message(pair, "update", bars))
                for conn in members:
                    conn.send(message)

    # ---- message bodies ------------------------------------------------------------------
    def _instrument_result(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"channel": "instrument", "snapshot": params.get("snapshot", True)}

    def _instrument_snapshot(self) -> dict[str, Any]:
        registry = self._venue.pairs
        return {
            "channel": "instrument",
            "type": "snapshot",
            "data": {
                "assets": [asset.ws_entry() for asset in registry.assets.values()],
                "pairs": [pair.ws_entry() for pair in registry],
            },
        }

    def _ticker_message(self, pair: PairInfo, kind: str) -> dict[str, Any]:
        stats: TickerStats = self._venue.ticker(pair.symbol)
        p, q = pair.pair_decimals, pair.lot_decimals
        item = {
            "symbol": pair.symbol,
            "bid": _q(stats.bid, p),
            "bid_qty": _q(stats.bid_qty, q),
            "ask": _q(stats.ask, p),
            "ask_qty": _q(stats.ask_qty, q),
            "last": _q(stats.last, p),
            "volume": _q(stats.volume, q),
            "vwap": _q(stats.vwap, p),
            "low": _q(stats.low, p),
            "high": _q(stats.high, p),
            "change": _q(stats.change, p),
            "change_pct": _q(stats.change_pct, 2),
        }
        return {"channel": "ticker", "type": kind, "data": [item]}

    @staticmethod
    def _trade_message(pair: PairInfo, kind: str, trades: Iterable[Any]) -> dict[str, Any]:
        p, q = pair.pair_decimals, pair.lot_decimals
        data = [
            {
                "symbol": pair.symbol,
                "side": str(trade.side),
                "price": _q(trade.price, p),
                "qty": _q(trade.qty, q),
                "ord_type": trade.ord_type,
                "trade_id": trade.trade_id,
                "timestamp": rfc3339(trade.timestamp),
            }
            for trade in trades
        ]
        return {"channel": "trade", "type": kind, "data": data}

    @staticmethod
    def _ohlc_message(pair: PairInfo, kind: str, bars: Iterable[OhlcBar]) -> dict[str, Any]:
        p, q = pair.pair_decimals, pair.lot_decimals
        data = [
            {
                "symbol": pair.symbol,
                "open": _q(bar.open, p),
                "high": _q(bar.high, p),
                "low": _q(bar.low, p),
                "close": _q(bar.close, p),
                "trades": bar.trades,
                "volume": _q(bar.volume, q),
                "vwap": _q(bar.vwap, p),
                "interval_begin": _rfc3339_nanoseconds(bar.interval_begin),
                "interval": bar.interval,
                "timestamp": rfc3339(time.time()),
            }
            for bar in bars
        ]
        return {"channel": "ohlc", "type": kind, "data": data}


def _q(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals))


def _rfc3339_nanoseconds(ts: float) -> str:
    """Kraken writes a candle's `interval_begin` with nine fractional digits
    (`2023-10-04T16:25:00.000000000Z`, docs.kraken.com/api/docs/websocket-v2/ohlc), unlike
    the microsecond `timestamp` beside it. Interval starts fall on whole minutes, so the
    digits beyond the microseconds are always zero."""
    micros = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return f"{micros}000Z"
