"""`kraken-tui replay`: a recording through the real adapter and engine, with no network.

The adapter (`KrakenExchange`) runs unchanged except for its two clients: REST calls are
answered with the envelopes the recording holds for that method, in recorded order (the
last one again once they run out), and the WebSocket connections deliver the recorded
messages, in recorded order, to the adapter's own dispatch. The engine runs on a fresh
SQLite store with no strategies, so what it stores comes from the exchange alone: orders
are adopted from the `executions` feed, fills are deduplicated and applied, books are
rebuilt and checksummed. Whatever the adapter could not use (a checksum mismatch, a
malformed message) is reported as a problem.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from kraken_tui.domain import Balance, ConnectionState, Execution, Mode, Order
from kraken_tui.engine.engine import EngineConfig, TradingEngine
from kraken_tui.exchange.kraken import KrakenEndpoints, KrakenExchange
from kraken_tui.exchange.kraken_rest import KrakenApiError, KrakenRest
from kraken_tui.exchange.kraken_ws import WsFeed
from kraken_tui.exchange.protocol import BalancesEvent, EventHandler, ExchangeError, ExchangeEvent
from kraken_tui.recording.recording_file import Recording, RestEntry, WsEntry, read_recording
from kraken_tui.store import Store

REPLAY_URL = "replay://recording"
"""What the adapter is told its endpoints are: nothing connects to them."""
ALL_ORDERS = 1_000_000
DELIVERY_SLICE = 200
_ADAPTER_MODULES = ("kraken_tui.exchange",)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    recording: Path
    orders: tuple[Order, ...]
    fills: tuple[Execution, ...]
    balances: Mapping[str, Balance]
    problems: tuple[str, ...]
    messages: int = 0
    rest_answers: int = 0
    unanswered: tuple[str, ...] = field(default_factory=tuple)
    """REST methods the engine asked for that the recording does not hold."""


class RecordedRest(KrakenRest):
    """REST answered from the recording: each method's envelopes in recorded order."""

    def __init__(self, entries: Sequence[RestEntry]) -> None:
        super().__init__(REPLAY_URL, api_key="recorded", api_secret="recorded")
        self._answers: dict[str, deque[Mapping[str, Any]]] = defaultdict(deque)
        self._last: dict[str, Mapping[str, Any]] = {}
        for entry in entries:
            self._answers[entry.method].append(entry.envelope)
        self.unanswered: set[str] = set()

    async def close(self) -> None:
        """Nothing was opened."""

    async def _send(self, method: str, uri: str, params: dict[str, Any], *, auth: bool) -> Any:
        name = uri.rsplit("/", 1)[-1]
        queue = self._answers.get(name)
        if queue:
            self._last[name] = queue.popleft()
        envelope = self._last.get(name)
        if envelope is None:
            self.unanswered.add(name)
            raise ExchangeError(f"{name} is not in the recording")
        errors = envelope.get("error") or []
        if errors:
            first = str(errors[0])
            raise KrakenApiError(f"{name}: {first}", kraken_error=first)
        return envelope.get("result")


class RecordedFeed(WsFeed):
    """A connection that is up at once and carries what `deliver` hands it."""

    async def start(self, timeout_s: float = 15.0) -> None:
        self._set_status(ConnectionState.CONNECTED, "replaying a recording")

    async def close(self) -> None:
        self._set_status(ConnectionState.DISCONNECTED, "replay ended")

    async def subscribe(self, params: dict[str, Any]) -> None:
        """The recording already holds what the subscription brought."""

    async def resubscribe(self, params: dict[str, Any]) -> None:
        """A fresh snapshot cannot be asked of a recording; the mismatch is reported."""

    async def send(self, message: dict[str, Any]) -> None:
        """Nothing is sent anywhere."""

    def deliver(self, message: Mapping[str, Any]) -> None:
        self._dispatch(dict(message))


class _ReplayedKraken(KrakenExchange):
    """The adapter on recorded clients, keeping the balances the feed last reported."""

    def __init__(self, recording: Recording) -> None:
        self.feeds: dict[str, RecordedFeed] = {}
        self.rest = RecordedRest([e for e in recording.entries if isinstance(e, RestEntry)])
        self.last_balances: Mapping[str, Balance] = {}
        super().__init__(
            KrakenEndpoints(REPLAY_URL, REPLAY_URL, REPLAY_URL),
            api_key="recorded",
            api_secret="recorded",
            rest=self.rest,
            open_feed=self._open_recorded_feed,
        )

    def _open_recorded_feed(self, name: str, **kwargs: Any) -> WsFeed:
        feed = RecordedFeed(name, **kwargs)
        self.feeds[name] = feed
        return feed

    def set_event_handler(self, handler: EventHandler) -> None:
        def observe(event: ExchangeEvent) -> None:
            if isinstance(event, BalancesEvent):
                self.last_balances = dict(event.balances)
            handler(event)

        super().set_event_handler(observe)


async def replay_report(path: Path, db_path: Path | None = None) -> ReplayReport:
    """Replay `path` into the store at `db_path` (a temporary one by default)."""
    recording = read_recording(path)
    if db_path is not None:
        return await _replay(recording, path, db_path)
    with tempfile.TemporaryDirectory(prefix="kraken-tui-replay-") as directory:
        return await _replay(recording, path, Path(directory) / "replay.sqlite3")


async def _replay(recording: Recording, path: Path, db_path: Path) -> ReplayReport:
    problems: list[str] = []
    sink = logger.add(
        lambda message: problems.append(str(message.record["message"])),
        level="WARNING",
        filter=lambda record: (record["name"] or "").startswith(_ADAPTER_MODULES),
        format="{message}",
    )
    exchange = _ReplayedKraken(recording)
    store = await Store.open(db_path)
    try:
        engine = TradingEngine(exchange, store, _config(recording))
        await engine.start()
        messages = await _deliver(recording, exchange.feeds, engine)
        await engine.stop(cancel_open_orders=False)
        orders = tuple(sorted(await store.orders.recent(ALL_ORDERS), key=_order_key))
        fills = tuple(await store.executions.since(None))
    finally:
        await store.close()
        logger.remove(sink)
    rest_answers = sum(isinstance(entry, RestEntry) for entry in recording.entries)
    return ReplayReport(
        recording=path,
        orders=orders,
        fills=fills,
        balances=exchange.last_balances,
        problems=tuple(problems),
        messages=messages,
        rest_answers=rest_answers,
        unanswered=tuple(sorted(exchange.rest.unanswered)),
    )


def _config(recording: Recording) -> EngineConfig:
    """No strategies and no dead man's switch: only what the exchange said is applied."""
    header = recording.header
    return EngineConfig(
        mode=Mode(header.mode) if header.mode in set(Mode) else Mode.SANDBOX,
        symbols=header.symbols,
        book_depth=header.book_depth,
        strategies=(),
        dead_man_timeout_s=0,
        cancel_on_shutdown=False,
    )


async def _deliver(
    recording: Recording, feeds: Mapping[str, RecordedFeed], engine: TradingEngine
) -> int:
    """In slices the engine works off before the next, as a live feed would pace them: the
    bus's queues are bounded, and a recording is longer than any of them."""
    delivered = 0
    for entry in recording.entries:
        if isinstance(entry, WsEntry) and entry.feed in feeds:
            feeds[entry.feed].deliver(entry.message)
            delivered += 1
            if delivered % DELIVERY_SLICE == 0:
                await _drained(engine)
    await _drained(engine)
    return delivered


async def _drained(engine: TradingEngine) -> None:
    """The bus signals nothing when emptied; the engine empties it in slices, yielding."""
    while any(len(subscription) for subscription in engine.bus.subscriptions):  # noqa: ASYNC110
        await asyncio.sleep(0)


def _order_key(order: Order) -> tuple[str, str]:
    return (order.created_at.isoformat() if order.created_at else "", order.order_id or "")


def replay_text(report: ReplayReport) -> str:
    lines = [
        f"replayed {report.recording}: {report.messages} WebSocket messages, "
        f"{report.rest_answers} REST answers, no network",
        f"orders ({len(report.orders)}):",
    ]
    lines += [f"  {_order_line(order)}" for order in report.orders]
    lines.append(f"fills ({len(report.fills)}):")
    lines += [f"  {_fill_line(fill)}" for fill in report.fills]
    lines.append("balances:")
    lines += [
        f"  {asset} {balance.total} (available {balance.available})"
        for asset, balance in sorted(report.balances.items())
    ]
    if report.unanswered:
        lines.append(f"not in the recording: {', '.join(report.unanswered)}")
    lines.append(f"problems ({len(report.problems)}):" if report.problems else "problems: none")
    lines += [f"  {problem}" for problem in report.problems]
    return "\n".join(lines)


def _order_line(order: Order) -> str:
    price = f" @ {order.price}" if order.price is not None else ""
    return (
        f"{order.order_id} {order.symbol} {order.side} {order.volume}{price} "
        f"{order.status} filled {order.filled}"
    )


def _fill_line(fill: Execution) -> str:
    return (
        f"{fill.exec_id} {fill.order_id} {fill.symbol} {fill.side} {fill.qty} @ {fill.price} "
        f"fee {fill.fee} {fill.fee_ccy}"
    )
