"""EventBus: fan-out of exchange and engine events to subscribers, each with its own queue.

Every event falls under one delivery policy (see `delivery_of`):

- LATEST: "latest state" events (book changed, ticker, connection, balances, a candle still
  forming) are coalesced per key. A subscriber holds at most one pending event per key, so a slow
  subscriber sees the newest state when it gets there, never a backlog of stale ones. Such
  entries cost one slot per key whatever the feed rate.
- RELIABLE: fills, order updates and closed candles are never dropped. The queue bound is a
  high-water mark: past it the event is still queued, the subscriber is flagged `lagging`
  (counted, logged once per episode) and the owner is expected to degrade. Blocking the producer
  is not an option — exchange adapters deliver from a synchronous callback — and dropping a fill
  would corrupt positions, so the only honest policy is to keep it and say so loudly.
- LOSSY: public trades. When the queue is at its bound the incoming trade is dropped and
  counted (`dropped`), because an old market print is worth less than memory under a flood.

Ordering: events are delivered in publish order, except that a coalesced key keeps the position
of its first pending event and delivers the latest value there.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum

from loguru import logger

from kraken_tui.exchange.protocol import (
    BalancesEvent,
    BookChanged,
    CandleEvent,
    ConnectionEvent,
    FillEvent,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)


class Delivery(Enum):
    LATEST = "latest"
    RELIABLE = "reliable"
    LOSSY = "lossy"


@dataclass(frozen=True, slots=True)
class Routing:
    delivery: Delivery
    key: Hashable = None


def delivery_of(event: object) -> Routing:
    """The policy for one event; unknown event types are RELIABLE (the safe default)."""
    match event:
        case BookChanged(symbol=symbol):
            return Routing(Delivery.LATEST, ("book", symbol))
        case TickerEvent(ticker=ticker):
            return Routing(Delivery.LATEST, ("ticker", ticker.symbol))
        case ConnectionEvent():
            return Routing(Delivery.LATEST, ("connection",))
        case BalancesEvent():
            return Routing(Delivery.LATEST, ("balances",))
        case CandleEvent(candle=candle) if not candle.closed:
            return Routing(Delivery.LATEST, ("candle", candle.symbol, candle.interval))
        case TradeEvent():
            return Routing(Delivery.LOSSY)
        case FillEvent() | OrderEvent() | CandleEvent():
            return Routing(Delivery.RELIABLE)
        case _:
            return Routing(Delivery.RELIABLE)


class _Coalesced:
    """Queue placeholder for a coalesced key; the value lives in `Subscription._latest`."""

    __slots__ = ("key",)

    def __init__(self, key: Hashable) -> None:
        self.key = key


class Subscription:
    """One subscriber's queue. Consume with `await next()` or, in time slices, `pop()` until
    it returns None."""

    def __init__(
        self,
        name: str,
        capacity: int,
        accepts: Callable[[object], bool],
        on_lagging: Callable[[Subscription], None] | None,
    ) -> None:
        if capacity < 1:
            raise ValueError("a subscription needs a capacity of at least 1")
        self.name = name
        self.capacity = capacity
        self._accepts = accepts
        self._on_lagging = on_lagging
        self._queue: deque[object] = deque()
        self._latest: dict[Hashable, object] = {}
        self._ready = asyncio.Event()
        self.dropped = 0
        self.coalesced = 0
        self.overflowed = 0
        self.lagging = False
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, event: object, routing: Routing) -> None:
        if self.closed or not self._accepts(event):
            return
        if routing.delivery is Delivery.LATEST:
            if routing.key in self._latest:
                self.coalesced += 1
            else:
                self._queue.append(_Coalesced(routing.key))
            self._latest[routing.key] = event
        elif len(self._queue) >= self.capacity:
            if routing.delivery is Delivery.LOSSY:
                self.dropped += 1
                return
            self._queue.append(event)
            self.overflowed += 1
            if not self.lagging:
                self.lagging = True
                logger.warning(
                    "bus subscriber {} is lagging: {} events queued (bound {}); "
                    "keeping reliable events, dropping public trades",
                    self.name,
                    len(self._queue),
                    self.capacity,
                )
                if self._on_lagging is not None:
                    self._on_lagging(self)
        else:
            self._queue.append(event)
        self._ready.set()

    def pop(self) -> object | None:
        """Next event, or None when the queue is empty (never waits)."""
        if not self._queue:
            self._ready.clear()
            return None
        item = self._queue.popleft()
        if isinstance(item, _Coalesced):
            item = self._latest.pop(item.key)
        if self.lagging and len(self._queue) < self.capacity // 2:
            self.lagging = False
            logger.info("bus subscriber {} caught up", self.name)
        return item

    async def wait(self) -> None:
        """Return once at least one event is queued (or the subscription is closed)."""
        while not self._queue and not self.closed:
            self._ready.clear()
            await self._ready.wait()

    async def next(self) -> object | None:
        """The next event; None only after `close()` with an empty queue."""
        await self.wait()
        return self.pop()

    def close(self) -> None:
        self.closed = True
        self._ready.set()


class EventBus:
    def __init__(self, default_capacity: int = 10_000) -> None:
        self._default_capacity = default_capacity
        self._subscriptions: list[Subscription] = []
        self.published = 0

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)

    def subscribe(
        self,
        name: str,
        *,
        types: tuple[type, ...] | None = None,
        capacity: int | None = None,
        on_lagging: Callable[[Subscription], None] | None = None,
    ) -> Subscription:
        """`types` filters by event class (None = everything)."""

        def accepts(event: object) -> bool:
            return types is None or isinstance(event, types)

        subscription = Subscription(name, capacity or self._default_capacity, accepts, on_lagging)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        self._subscriptions = [s for s in self._subscriptions if s is not subscription]

    def publish(self, event: object) -> None:
        """Synchronous and non-blocking: safe to call from an exchange adapter's callback."""
        self.published += 1
        routing = delivery_of(event)
        for subscription in self._subscriptions:
            subscription.offer(event, routing)
