import time
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import BookLevel, BookSnapshot, Instrument, OrderType, Side, StrategyState
from kraken_tui.engine.strategy_manager import SavedStrategy, StrategyHost, StrategyManager
from kraken_tui.settings import StrategyConfig
from kraken_tui.strategies import BaseStrategy, Intent, Intents, PlaceOrder

D = Decimal
BTC = Instrument(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    price_decimals=1,
    lot_decimals=8,
    tick_size=D("0.1"),
    ordermin=D("0.0001"),
    costmin=D("0.5"),
)
INSTRUMENTS = {"BTC/USD": BTC}


def _book(mid: int = 100, stale: bool = False) -> BookSnapshot:
    return BookSnapshot(
        "BTC/USD",
        bids=(BookLevel(D(mid) - 1, D(1)),),
        asks=(BookLevel(D(mid) + 1, D(1)),),
        stale=stale,
    )


class _EveryBookParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: Decimal = D("0.01")


class _BuysEveryBook(BaseStrategy):
    """Buys on every book and counts the books it saw in its state."""

    Params = _EveryBookParams
    params: _EveryBookParams

    def on_book(self, book: BookSnapshot) -> Intents:
        self.state["books"] = self.state.get("books", 0) + 1
        self.signal = f"books={self.state['books']}"
        return [self.buy(self.params.size, book.mid)]


class _Raises(BaseStrategy):
    def on_book(self, book: BookSnapshot) -> Intents:
        raise ZeroDivisionError("division by zero in my signal")


class _Blocks(BaseStrategy):
    def on_book(self, book: BookSnapshot) -> Intents:
        time.sleep(0.03)
        return None


class _ReturnsJunk(BaseStrategy):
    def on_book(self, book: BookSnapshot) -> Intents:
        return ["buy now"]  # type: ignore[list-item]


MALFORMED: dict[str, tuple[dict[str, object], str]] = {
    "side_as_text": ({"side": "buy"}, "PlaceOrder.side must be a Side, got 'buy' (str)"),
    "volume_as_float": ({"volume": 1.5}, "PlaceOrder.volume must be a Decimal, got 1.5 (float)"),
    "volume_as_text": ({"volume": "1.5"}, "PlaceOrder.volume must be a Decimal, got '1.5' (str)"),
    "price_as_text": ({"price": "abc"}, "PlaceOrder.price must be a Decimal, got 'abc' (str)"),
    "volume_nan": (
        {"volume": D("NaN")},
        "PlaceOrder.volume must be a finite Decimal zero or more, got Decimal('NaN')",
    ),
    "negative_price": (
        {"price": D("-100")},
        "PlaceOrder.price must be a finite Decimal more than zero, got Decimal('-100')",
    ),
}


class _MalformedParams(BaseModel):
    flaw: str


class _Malformed(BaseStrategy):
    """Builds its limit buy by hand, with one field of the wrong type or value."""

    Params = _MalformedParams
    params: _MalformedParams

    def on_book(self, book: BookSnapshot) -> Intents:
        fields: dict[str, object] = {
            "side": Side.BUY,
            "order_type": OrderType.LIMIT,
            "volume": D("0.01"),
            "price": D("100"),
        }
        fields.update(MALFORMED[self.params.flaw][0])
        return [PlaceOrder(**fields)]  # type: ignore[arg-type]


class _Timer(BaseStrategy):
    timer_interval_s = 10.0

    def on_timer(self, now):  # type: ignore[no-untyped-def]
        self.state["ticks"] = self.state.get("ticks", 0) + 1
        return None


def _config(name: str, cls: str, **kw: object) -> StrategyConfig:
    """Test classes are named as `module:Class`, the form settings accept for importable code."""
    spec = cls if ".py:" in cls else f"{__name__}:{cls}"
    return StrategyConfig(name=name, class_name=spec, symbol="BTC/USD", **kw)  # type: ignore[arg-type]


def _manager(
    *configs: StrategyConfig, strategy_dir: Path | None = None, **kw: object
) -> tuple[StrategyManager, list[tuple[str, Intent]]]:
    sent: list[tuple[str, Intent]] = []
    manager = StrategyManager(VirtualClock(), strategy_dir=strategy_dir, **kw)  # type: ignore[arg-type]
    manager.set_sink(lambda host, intent: sent.append((host.name, intent)))
    manager.load(list(configs), INSTRUMENTS)
    manager.start()
    return manager, sent


def _state(manager: StrategyManager, name: str) -> StrategyHost:
    host = manager.host(name)
    assert host is not None
    return host


def test_raising_strategy_goes_to_error_and_the_other_keeps_trading(tmp_path: Path) -> None:
    manager, sent = _manager(
        _config("bad", "_Raises"),
        _config("good", "_BuysEveryBook"),
        strategy_dir=tmp_path,
    )
    manager.on_book(_book())
    manager.on_book(_book(101))
    bad = _state(manager, "bad")
    assert bad.state is StrategyState.ERROR
    assert bad.error is not None and "ZeroDivisionError: division by zero" in bad.error
    assert "Traceback" in bad.error
    assert [name for name, _ in sent] == ["good", "good"]
    snapshot = {s.name: s for s in manager.snapshots}
    assert snapshot["bad"].state is StrategyState.ERROR
    assert snapshot["good"].last_signal == "books=2"


def test_blocking_strategy_is_reported_and_others_are_unaffected(tmp_path: Path) -> None:
    manager, sent = _manager(
        _config("slow", "_Blocks"),
        _config("good", "_BuysEveryBook"),
        strategy_dir=tmp_path,
        call_budget_s=0.01,
    )
    manager.on_book(_book())
    manager.on_book(_book())
    slow = _state(manager, "slow")
    assert slow.slow_calls == 2 and slow.max_call_ms >= 30
    assert slow.state is StrategyState.RUNNING
    assert _state(manager, "good").slow_calls == 0
    assert len(sent) == 2


def test_paused_strategy_sends_nothing_but_keeps_its_state_warm(tmp_path: Path) -> None:
    manager, sent = _manager(_config("s", "_BuysEveryBook"), strategy_dir=tmp_path)
    assert manager.pause("s")
    manager.on_book(_book())
    manager.on_book(_book())
    assert sent == []
    host = _state(manager, "s")
    assert host.dropped_while_paused == 2
    assert host.strategy is not None and host.strategy.state["books"] == 2
    assert manager.resume("s")
    manager.on_book(_book())
    assert len(sent) == 1 and host.strategy.state["books"] == 3


def test_stale_book_is_not_delivered(tmp_path: Path) -> None:
    manager, sent = _manager(_config("s", "_BuysEveryBook"), strategy_dir=tmp_path)
    manager.on_book(_book(stale=True))
    assert sent == []
    host = _state(manager, "s")
    assert host.context is not None and host.context.book is not None
    assert host.context.book.stale


def test_non_intent_return_value_is_a_strategy_error(tmp_path: Path) -> None:
    manager, sent = _manager(_config("junk", "_ReturnsJunk"), strategy_dir=tmp_path)
    manager.on_book(_book())
    assert sent == []
    assert "not an intent" in (_state(manager, "junk").error or "")


@pytest.mark.parametrize("flaw", sorted(MALFORMED))
def test_malformed_intent_puts_only_its_strategy_in_error(tmp_path: Path, flaw: str) -> None:
    manager, sent = _manager(
        _config("bad", "_Malformed", params={"flaw": flaw}),
        _config("good", "_BuysEveryBook"),
        strategy_dir=tmp_path,
    )
    manager.on_book(_book())
    manager.on_book(_book(101))
    bad = _state(manager, "bad")
    assert bad.state is StrategyState.ERROR
    assert bad.error is not None and MALFORMED[flaw][1] in bad.error
    assert [name for name, _ in sent] == ["good", "good"]
    assert _state(manager, "good").state is StrategyState.RUNNING


def test_bad_params_and_unknown_class_load_as_errors_beside_working_ones(
    tmp_path: Path,
) -> None:
    manager, _ = _manager(
        _config("typo", "_BuysEveryBook", params={"sise": 1}),
        _config("missing", "nofile.py:Nope"),
        _config("ok", "_BuysEveryBook"),
        strategy_dir=tmp_path,
    )
    states = {s.name: (s.state, s.error) for s in manager.snapshots}
    assert states["typo"][0] is StrategyState.ERROR
    assert "params.sise" in (states["typo"][1] or "")
    assert "does not exist" in (states["missing"][1] or "")
    assert states["ok"] == (StrategyState.RUNNING, None)


def test_user_strategy_file_is_loaded_from_the_strategy_directory(tmp_path: Path) -> None:
    (tmp_path / "my_momentum.py").write_text(
        "from decimal import Decimal\n"
        "from kraken_tui.strategies import BaseStrategy\n\n"
        "class Momentum(BaseStrategy):\n"
        "    def on_book(self, book):\n"
        "        return [self.sell(Decimal('0.5'), book.mid)]\n"
    )
    (tmp_path / "broken.py").write_text("def oops(:\n")
    manager, sent = _manager(
        _config("mom", "my_momentum.py:Momentum"),
        _config("oops", "broken.py:Oops"),
        strategy_dir=tmp_path,
    )
    manager.on_book(_book(200))
    [(name, intent)] = sent
    assert name == "mom"
    assert isinstance(intent, PlaceOrder)
    assert (intent.side, intent.volume, intent.price) == (Side.SELL, D("0.5"), D("200.0"))
    broken = _state(manager, "oops")
    assert broken.state is StrategyState.ERROR and "SyntaxError" in (broken.error or "")


def test_persisted_state_and_pause_are_restored(tmp_path: Path) -> None:
    saved = {"s": SavedStrategy(StrategyState.PAUSED, {"books": 41})}
    manager = StrategyManager(VirtualClock(), strategy_dir=tmp_path)
    manager.load([_config("s", "_BuysEveryBook")], INSTRUMENTS, saved)
    host = _state(manager, "s")
    assert host.state is StrategyState.PAUSED
    assert host.strategy is not None and host.strategy.state == {"books": 41}
    assert manager.dirty_states() == []
    manager.resume("s")
    manager.on_book(_book())
    assert manager.dirty_states() == [("s", {"books": 42})]
    assert manager.dirty_states() == []


def test_disabled_strategy_is_listed_but_never_called(tmp_path: Path) -> None:
    manager, sent = _manager(_config("off", "_BuysEveryBook", enabled=False), strategy_dir=tmp_path)
    manager.on_book(_book())
    assert sent == []
    assert manager.snapshots[0].state is StrategyState.STOPPED


def test_timer_fires_one_interval_after_start_then_every_interval(tmp_path: Path) -> None:
    clock = VirtualClock()
    manager = StrategyManager(clock, strategy_dir=tmp_path)
    manager.load([_config("t", "_Timer")], INSTRUMENTS)
    manager.start()
    for _ in range(25):
        manager.on_timer()
        clock.advance(1)
    host = _state(manager, "t")
    assert host.strategy is not None and host.strategy.state["ticks"] == 2


@pytest.mark.parametrize("symbol", ["DOGE/USD"])
def test_unknown_symbol_is_a_load_error(tmp_path: Path, symbol: str) -> None:
    manager = StrategyManager(VirtualClock(), strategy_dir=tmp_path)
    config = StrategyConfig(name="x", class_name=f"{__name__}:_BuysEveryBook", symbol=symbol)
    manager.load([config], INSTRUMENTS)
    assert manager.snapshots[0].error == f"unknown symbol {symbol}"
