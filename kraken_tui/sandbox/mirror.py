"""Paper-mode market: Kraken's live public WebSocket v2 feed becomes the sandbox's market.

The reader task only buffers raw frames; `step(now)` (the server's pacing loop) parses them
and touches the venue, so the venue stays single-threaded like with the simulator.

Policy, chosen so users' orders meet real prices without the mirror inventing liquidity:

* Book: each price level of the feed (verified by Kraken's CRC32 through the client's own
  `OrderBook`) is one synthetic order at that price. Only levels whose feed quantity changed
  are rewritten, so liquidity a user took stays taken until Kraken next changes that level
  (the real market never saw the paper order, so it cannot say otherwise). A user's resting
  order keeps its place; when a mirrored level would cross it, the level trades against it
  first (the user is the maker, at the user's price) and only the rest is shown.
* Trades: each feed trade is printed on the venue's tape at its price and size (ticker,
  ohlc and trade channels follow the live market). Like `MarketSimulator.print_trade`, the
  print is a real match: users' orders resting at a better price than the trade, or at the
  trade's price ahead of the mirrored quantity there, fill first, as on the exchange. The
  mirrored levels the print consumed are then put back to the feed's quantity, because the
  feed's own book updates already account for what the trade took.
* While disconnected or resynchronising a pair the venue keeps the last mirrored book
  (`stale` says so); the next snapshot is diffed against it, so nothing flickers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from loguru import logger

from kraken_tui.domain.enums import Side
from kraken_tui.domain.money import ZERO, quantize_down
from kraken_tui.exchange.order_book import OrderBook
from kraken_tui.sandbox.events import BookLevelChanged, VenueEvent
from kraken_tui.sandbox.pairs import PairInfo
from kraken_tui.sandbox.venue import SandboxVenue

DEFAULT_MIRROR_URL = "wss://ws.kraken.com/v2"
MIRROR_DEPTHS = (10, 25)
"""Depths worth mirroring: every level is a synthetic order, and the top 25 is what users trade."""
_HEARTBEAT_S = 30.0


@dataclass
class _PairMirror:
    """One pair: the verified feed book and the synthetic orders standing for its levels."""

    info: PairInfo
    book: OrderBook
    orders: dict[Side, dict[Decimal, str | None]] = field(
        default_factory=lambda: {Side.BUY: {}, Side.SELL: {}}
    )
    """Price -> synthetic order id; None once users consumed the whole level."""
    shown: dict[Side, dict[Decimal, Decimal]] = field(
        default_factory=lambda: {Side.BUY: {}, Side.SELL: {}}
    )
    """The feed quantity each price was last mirrored at (what 'changed' is measured against)."""
    restore: dict[Side, set[Decimal]] = field(
        default_factory=lambda: {Side.BUY: set(), Side.SELL: set()}
    )
    """Prices a trade print consumed that must go back to the feed's quantity."""


class MirrorMarket:
    """A `MarketDriver` fed by Kraken's public `book` and `trade` channels."""

    def __init__(
        self,
        venue: SandboxVenue,
        pairs: Sequence[str],
        *,
        url: str = DEFAULT_MIRROR_URL,
        depth: int = 10,
        reconnect_initial_s: float = 1.0,
        reconnect_max_s: float = 30.0,
    ) -> None:
        """`pairs` are any names the venue resolves (`BTC/USD`, `XBTUSD`); they must be
        pairs the venue lists, since the mirror's prices use the venue's precisions."""
        if depth not in MIRROR_DEPTHS:
            raise ValueError(f"mirror depth must be one of {MIRROR_DEPTHS}, got {depth}")
        if not pairs:
            raise ValueError("mirror needs at least one pair")
        self._venue = venue
        self.url = url
        self.depth = depth
        self._reconnect_initial_s = reconnect_initial_s
        self._reconnect_max_s = reconnect_max_s
        self._pairs: dict[str, _PairMirror] = {}
        for name in pairs:
            info = venue.pairs.resolve(name)
            self._pairs[info.symbol] = _PairMirror(info, OrderBook(info.to_instrument(), depth))
        self._inbox: deque[str] = deque()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._req_ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._connected = False
        self._book_events = 0
        self.connections = 0
        """Successful connections so far (more than one means it reconnected)."""
        self.malformed = 0
        """Frames skipped because they were not a message this mirror understands."""
        self.resyncs: dict[str, int] = {symbol: 0 for symbol in self._pairs}
        """Resubscriptions per pair after a checksum mismatch or a malformed book entry."""
        venue.subscribe(self._count)

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._pairs)

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def stale(self) -> bool:
        """True while the venue shows a book the feed has not confirmed (disconnected, or a
        pair awaiting its snapshot)."""
        return not self._connected or any(p.book.stale for p in self._pairs.values())

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="kraken-mirror")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._connected = False

    # ---- MarketDriver -------------------------------------------------------------------

    def step(self, now: float) -> int:
        """Apply every frame buffered since the last step; returns the book events caused.
        `now` is unused: the feed, not the clock, decides what happens."""
        before = self._book_events
        inbox = self._inbox
        while inbox:
            self._handle(inbox.popleft())
        return self._book_events - before

    # ---- feed messages --------------------------------------------------------------------

    def _handle(self, frame: str) -> None:
        try:
            message = json.loads(frame, parse_float=Decimal)
        except ValueError:
            self._skip(frame, "not JSON")
            return
        if not isinstance(message, dict):
            self._skip(frame, "not an object")
            return
        channel = message.get("channel")
        if channel == "book":
            self._on_book(message, frame)
        elif channel == "trade":
            self._on_trade(message, frame)
        elif "method" in message:
            if message.get("success") is False:
                logger.warning("mirror request refused by the feed: {}", message.get("error"))
        elif channel not in ("heartbeat", "status"):
            self._skip(frame, "unknown channel")

    def _skip(self, frame: str, why: str) -> None:
        self.malformed += 1
        logger.warning("mirror skipped a frame ({}): {:.200}", why, frame)

    def _on_book(self, message: dict[str, Any], frame: str) -> None:
        kind = message.get("type")
        data = message.get("data")
        if kind not in ("snapshot", "update") or not isinstance(data, list):
            self._skip(frame, "bad book message")
            return
        for entry in data:
            symbol = entry.get("symbol") if isinstance(entry, dict) else None
            pair = self._pairs.get(symbol) if isinstance(symbol, str) else None
            if pair is None:
                self._skip(frame, "book entry for no mirrored pair")
                continue
            was_stale = pair.book.stale
            outcome = pair.book.apply(entry, snapshot=kind == "snapshot")
            if outcome.needs_resync:
                if not was_stale:
                    self._resubscribe(pair)
                continue
            self._reconcile(pair)

    def _on_trade(self, message: dict[str, Any], frame: str) -> None:
        if message.get("type") == "snapshot":
            return  # Kraken's recent-trades snapshot is history, not something to print now.
        data = message.get("data")
        if message.get("type") != "update" or not isinstance(data, list):
            self._skip(frame, "bad trade message")
            return
        for entry in data:
            try:
                pair = self._pairs[entry["symbol"]]
                side = Side(entry["side"])
                price = Decimal(entry["price"])
                qty = Decimal(entry["qty"])
            except (KeyError, TypeError, ValueError, InvalidOperation):
                self._skip(frame, "bad trade entry")
                continue
            self._print_trade(pair, side, price, qty)

    # ---- venue side -----------------------------------------------------------------------

    def _print_trade(
        self, pair: _PairMirror, aggressor: Side, price: Decimal, qty: Decimal
    ) -> None:
        """Print the feed's trade by a real match at its price (see the module docstring)."""
        info = pair.info
        qty = quantize_down(qty, info.lot_step)
        if qty <= 0 or price <= 0:
            return
        maker = aggressor.opposite
        symbol = info.symbol
        print_id = self._venue.place_synthetic(symbol, maker, price, qty)
        self._venue.take_synthetic(symbol, aggressor, qty, price)
        if print_id is not None and self._venue.synthetic_remaining(print_id) > 0:
            self._venue.cancel_synthetic(print_id)
        reached = (lambda p: p <= price) if maker is Side.SELL else (lambda p: p >= price)
        pair.restore[maker].update(p for p in pair.orders[maker] if reached(p))
        self._reconcile(pair)

    def _reconcile(self, pair: _PairMirror) -> None:
        """Rewrite the levels whose feed quantity changed (or a print consumed): first every
        withdrawal on both sides, so the synthetic book never crosses itself, then additions."""
        if pair.book.stale:
            return
        wanted = {
            side: {level.price: level.qty for level in pair.book.levels(side)}
            for side in (Side.BUY, Side.SELL)
        }
        changed: dict[Side, list[Decimal]] = {}
        for side, levels in wanted.items():
            shown = pair.shown[side]
            dirty = {p for p in shown.keys() | levels.keys() if shown.get(p) != levels.get(p)}
            dirty |= pair.restore[side]
            pair.restore[side] = set()
            changed[side] = sorted(dirty)
        for side, prices in changed.items():
            for price in prices:
                self._shrink(pair, side, price, wanted[side].get(price, ZERO))
        for side, prices in changed.items():
            for price in prices:
                want = wanted[side].get(price, ZERO)
                if want > 0:
                    self._grow(pair, side, price, want)
                    pair.shown[side][price] = want
                else:
                    pair.shown[side].pop(price, None)

    def _shrink(self, pair: _PairMirror, side: Side, price: Decimal, want: Decimal) -> None:
        orders = pair.orders[side]
        order_id = orders.get(price)
        if want == 0:
            orders.pop(price, None)
            if order_id is not None:
                self._venue.cancel_synthetic(order_id)
        elif order_id is not None and self._venue.synthetic_remaining(order_id) > want:
            self._venue.resize_synthetic(order_id, want)

    def _grow(self, pair: _PairMirror, side: Side, price: Decimal, want: Decimal) -> None:
        orders = pair.orders[side]
        order_id = orders.get(price)
        remaining = self._venue.synthetic_remaining(order_id) if order_id is not None else ZERO
        if remaining == want:
            return
        if remaining > 0 and order_id is not None:
            self._venue.resize_synthetic(order_id, want)
            return
        symbol = pair.info.symbol
        order_id = self._venue.place_synthetic(symbol, side, price, want)
        if order_id is None:
            # Only a user's order can cross a mirrored level: it trades against it first.
            filled = self._venue.take_synthetic(symbol, side, want, price)
            rest = want - filled
            order_id = self._venue.place_synthetic(symbol, side, price, rest) if rest > 0 else None
        orders[price] = order_id

    def _count(self, event: VenueEvent) -> None:
        if isinstance(event, BookLevelChanged):
            self._book_events += 1

    # ---- connection -----------------------------------------------------------------------

    def _resubscribe(self, pair: _PairMirror) -> None:
        symbol = pair.info.symbol
        self.resyncs[symbol] += 1
        logger.warning("mirror resubscribing {} book: {}", symbol, pair.book.stale_reason)
        self._outbox.put_nowait(self._request("unsubscribe", "book", [symbol], depth=self.depth))
        self._outbox.put_nowait(
            self._request("subscribe", "book", [symbol], depth=self.depth, snapshot=True)
        )

    def _request(
        self, method: str, channel: str, symbols: list[str], **params: Any
    ) -> dict[str, Any]:
        return {
            "method": method,
            "params": {"channel": channel, "symbol": symbols, **params},
            "req_id": next(self._req_ids),
        }

    async def _run(self) -> None:
        delay = self._reconnect_initial_s
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.ws_connect(self.url, heartbeat=_HEARTBEAT_S) as ws:
                        self.connections += 1
                        delay = self._reconnect_initial_s
                        await self._session(ws)
                    logger.warning("mirror feed closed the connection")
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    logger.warning("mirror feed connection failed: {}", exc)
                finally:
                    self._connected = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._reconnect_max_s)

    async def _session(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Subscribe, then buffer frames until the socket ends; each pair's book waits for a
        fresh snapshot, while the venue keeps showing the last mirrored one."""
        for pair in self._pairs.values():
            pair.book.reset("awaiting snapshot after connect")
        while not self._outbox.empty():
            self._outbox.get_nowait()
        self._connected = True
        symbols = list(self._pairs)
        await ws.send_json(
            self._request("subscribe", "book", symbols, depth=self.depth, snapshot=True)
        )
        await ws.send_json(self._request("subscribe", "trade", symbols, snapshot=False))
        writer = asyncio.create_task(self._write(ws))
        try:
            async for frame in ws:
                if frame.type is aiohttp.WSMsgType.TEXT:
                    self._inbox.append(frame.data)
                elif frame.type is aiohttp.WSMsgType.ERROR:
                    break
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await ws.send_json(await self._outbox.get())
