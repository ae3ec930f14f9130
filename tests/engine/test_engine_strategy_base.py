from decimal import Decimal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from kraken_tui.clock import VirtualClock
from kraken_tui.domain import Instrument, OrderType, Side
from kraken_tui.strategies import (
    AmendOrder,
    BaseStrategy,
    CancelAll,
    CancelOrder,
    PlaceOrder,
    StrategyConfigError,
    StrategyContext,
    register_strategy,
    strategy_registry,
)

BTC = Instrument(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    price_decimals=1,
    lot_decimals=8,
    tick_size=Decimal("0.1"),
    ordermin=Decimal("0.0001"),
    costmin=Decimal("0.5"),
)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fast: int = Field(default=5, gt=0)
    size: Decimal = Decimal("0.01")


@register_strategy("test_base_probe")
class _Probe(BaseStrategy):
    Params = _Params
    params: _Params


def _context() -> StrategyContext:
    return StrategyContext(instrument=BTC, clock=VirtualClock())


def test_params_are_validated_from_config() -> None:
    strategy = _Probe.from_config("p", "BTC/USD", {"fast": 3, "size": "0.5"}, _context())
    assert strategy.params == _Params(fast=3, size=Decimal("0.5"))


def test_invalid_param_error_names_strategy_and_field() -> None:
    with pytest.raises(StrategyConfigError) as info:
        _Probe.from_config("probe1", "BTC/USD", {"fast": 0}, _context())
    assert "probe1" in str(info.value)
    assert "params.fast" in str(info.value)


def test_unknown_param_is_refused() -> None:
    with pytest.raises(StrategyConfigError, match=r"params\.slow"):
        _Probe.from_config("p", "BTC/USD", {"slow": 3}, _context())


def test_helpers_round_onto_instrument_grid() -> None:
    strategy = _Probe.from_config("p", "BTC/USD", {}, _context())
    order = strategy.limit(Side.BUY, Decimal("0.123456789"), Decimal("100.04"), post_only=True)
    assert order == PlaceOrder(
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        volume=Decimal("0.12345678"),
        price=Decimal("100.0"),
        post_only=True,
    )
    assert strategy.sell(Decimal("1")).order_type is OrderType.MARKET
    assert strategy.buy(Decimal("1"), Decimal("5")).order_type is OrderType.LIMIT
    assert strategy.cancel("abc") == CancelOrder("abc")
    assert strategy.cancel_all() == CancelAll()


def test_amend_helper_puts_price_on_the_tick_and_volume_on_the_lot_grid() -> None:
    strategy = _Probe.from_config("p", "BTC/USD", {}, _context())
    amend = strategy.amend("c1", price=Decimal("50000.04"), volume=Decimal("0.123456789"))
    assert amend == AmendOrder("c1", price=Decimal("50000.0"), volume=Decimal("0.12345678"))
    assert strategy.amend("c1", price=Decimal("49999.96")).volume is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "AmendOrder needs a new price, a new volume or both"),
        ({"price": 50_000.5}, "AmendOrder.price must be a Decimal, got 50000.5 (float)"),
        ({"volume": "0.1"}, "AmendOrder.volume must be a Decimal, got '0.1' (str)"),
        (
            {"volume": Decimal(0)},
            "AmendOrder.volume must be a finite Decimal more than zero, got Decimal('0')",
        ),
        (
            {"price": Decimal("Infinity")},
            "AmendOrder.price must be a finite Decimal more than zero, got Decimal('Infinity')",
        ),
    ],
)
def test_a_malformed_amend_is_refused_where_the_strategy_builds_it(
    fields: dict[str, object], error: str
) -> None:
    with pytest.raises((TypeError, ValueError)) as raised:
        AmendOrder("c1", **fields)  # type: ignore[arg-type]
    assert str(raised.value) == error


def test_state_round_trips_through_json() -> None:
    first = _Probe.from_config("p", "BTC/USD", {}, _context())
    first.state = {"last_cross": "up", "count": 3}
    second = _Probe.from_config("p", "BTC/USD", {}, _context())
    second.restore_state(first.dump_state())
    assert second.state == {"last_cross": "up", "count": 3}


def test_unserialisable_state_is_reported_with_strategy_name() -> None:
    strategy = _Probe.from_config("named", "BTC/USD", {}, _context())
    strategy.state = {"px": object()}
    with pytest.raises(TypeError, match="named"):
        strategy.dump_state()


def test_registry_holds_decorated_class_and_refuses_name_clash() -> None:
    assert strategy_registry()["test_base_probe"] is _Probe
    assert _Probe.strategy_name == "test_base_probe"
    with pytest.raises(ValueError, match="already registered"):

        @register_strategy("test_base_probe")
        class _Other(BaseStrategy):
            pass
