import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from kraken_tui.domain import Candle, Execution, Liquidity, Side, Ticker, Trade
from kraken_tui.engine.bus import EventBus
from kraken_tui.exchange.protocol import (
    BookChanged,
    CandleEvent,
    FillEvent,
    TickerEvent,
    TradeEvent,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _fill(n: int) -> FillEvent:
    return FillEvent(
        Execution(
            exec_id=f"T{n}",
            order_id="O1",
            symbol="BTC/USD",
            side=Side.BUY,
            price=Decimal(100),
            qty=Decimal(1),
            fee=Decimal(0),
            fee_ccy="USD",
            liquidity=Liquidity.MAKER,
            ts=T0,
        )
    )


def _ticker(last: int) -> TickerEvent:
    return TickerEvent(Ticker("BTC/USD", Decimal(last), Decimal(last), Decimal(last), Decimal(0)))


def _drain(subscription) -> list[object]:
    events = []
    while (event := subscription.pop()) is not None:
        events.append(event)
    return events


def test_book_and_ticker_events_coalesce_to_latest_per_key() -> None:
    bus = EventBus()
    slow = bus.subscribe("slow", capacity=8)
    for _ in range(1000):
        bus.publish(BookChanged("BTC/USD"))
        bus.publish(BookChanged("ETH/USD"))
    for last in range(1000):
        bus.publish(_ticker(last))
    events = _drain(slow)
    assert events == [BookChanged("BTC/USD"), BookChanged("ETH/USD"), _ticker(999)]
    assert slow.coalesced == 2997


def test_fills_are_never_dropped_and_a_full_queue_flags_lagging() -> None:
    lagging: list[str] = []
    bus = EventBus()
    sub = bus.subscribe("engine", capacity=10, on_lagging=lambda s: lagging.append(s.name))
    for n in range(50):
        bus.publish(_fill(n))
    assert sub.lagging and lagging == ["engine"]
    assert sub.overflowed == 40
    events = _drain(sub)
    assert [e.execution.exec_id for e in events] == [f"T{n}" for n in range(50)]
    assert not sub.lagging


def test_public_trades_beyond_the_bound_are_dropped_and_counted() -> None:
    bus = EventBus()
    sub = bus.subscribe("ui", capacity=5)
    for n in range(8):
        bus.publish(TradeEvent(Trade("BTC/USD", Side.BUY, Decimal(n + 1), Decimal(1), T0)))
    bus.publish(_fill(1))
    events = _drain(sub)
    assert len(events) == 6 and sub.dropped == 3
    assert isinstance(events[-1], FillEvent)


def test_forming_candles_coalesce_but_closed_candles_are_all_kept() -> None:
    def candle(close: int, closed: bool) -> CandleEvent:
        price = Decimal(close)
        return CandleEvent(
            Candle("BTC/USD", 1, T0, price, price, price, price, Decimal(1), closed=closed)
        )

    bus = EventBus()
    sub = bus.subscribe("s")
    for n in range(5):
        bus.publish(candle(n, closed=False))
    bus.publish(candle(10, closed=True))
    bus.publish(candle(11, closed=True))
    closes = [e.candle.close for e in _drain(sub)]
    assert closes == [Decimal(4), Decimal(10), Decimal(11)]


def test_each_subscriber_has_its_own_queue_and_type_filter() -> None:
    bus = EventBus()
    fills_only = bus.subscribe("fills", types=(FillEvent,))
    everything = bus.subscribe("all")
    bus.publish(BookChanged("BTC/USD"))
    bus.publish(_fill(1))
    assert _drain(fills_only) == [_fill(1)]
    assert _drain(everything) == [BookChanged("BTC/USD"), _fill(1)]


async def test_waiting_consumer_wakes_on_publish() -> None:
    bus = EventBus()
    sub = bus.subscribe("waiter")
    waiter = asyncio.create_task(sub.next())
    await asyncio.sleep(0)
    assert not waiter.done()
    bus.publish(_fill(7))
    assert await asyncio.wait_for(waiter, 1) == _fill(7)


async def test_closed_subscription_returns_none_to_waiter() -> None:
    bus = EventBus()
    sub = bus.subscribe("waiter")
    waiter = asyncio.create_task(sub.next())
    await asyncio.sleep(0)
    bus.unsubscribe(sub)
    assert await asyncio.wait_for(waiter, 1) is None
    bus.publish(_fill(1))
    assert len(sub) == 0
