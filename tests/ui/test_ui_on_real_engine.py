"""The console's trading keys on a real `TradingEngine` trading on a real sandbox process:
each test presses the keys an operator would and asserts on the engine's state and on what
the sandbox's REST API says is open, not on the fixture engine's bookkeeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from engine_on_sandbox import QUIET_SMA, WIDE_MAKER, EngineOnSandbox, engine_on_sandbox
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select

from kraken_tui.domain import Mode, OrderStatus, OrderType, StrategyState, TradingState
from kraken_tui.engine.engine import TradingEngine
from kraken_tui.ui.app import KrakenTuiApp
from kraken_tui.ui.screens.amend_ticket import AmendTicket
from kraken_tui.ui.screens.confirm_screen import ConfirmScreen
from kraken_tui.ui.screens.main_screen import MainScreen
from kraken_tui.ui.screens.order_ticket import SIZE_IN_QUOTE, OrderTicket
from kraken_tui.ui.widgets.status_bar import StatusBar

SIZE = (120, 40)
PATIENCE_S = 10.0
"""How long a test waits for the engine or the sandbox before it fails instead of hanging."""


def console_on(engine: TradingEngine) -> KrakenTuiApp:
    """The console as the runtime builds it around a running engine."""
    return KrakenTuiApp(engine, mode=Mode.SANDBOX, backtests=engine.store.backtests)


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, f"never true: {what}"
        await pilot.pause(0.05)


async def until_on_sandbox(
    pilot: Pilot[None], run: EngineOnSandbox, condition: Callable[[set[str]], bool], what: str
) -> set[str]:
    """Poll the sandbox's open orders (REST) until `condition` holds for them."""
    deadline = time.monotonic() + PATIENCE_S
    while not condition(open_ids := await run.open_on_sandbox()):
        assert time.monotonic() < deadline, f"never true on the sandbox: {what} ({open_ids})"
        await pilot.pause(0.2)
    return open_ids


async def place_resting_bids(run: EngineOnSandbox, count: int) -> list[str]:
    """`count` manual bids below the market, acknowledged by the exchange: their txids."""
    bid = await run.resting_bid()
    txids = []
    for _ in range(count):
        placed = await run.engine.submit_manual_order(bid)
        assert placed.ok, placed.message
        txids.append(placed.detail["order_id"])
    return txids


def strategy_states(engine: TradingEngine) -> dict[str, StrategyState]:
    return {s.name: s.state for s in engine.snapshot().strategies}


def status_of(engine: TradingEngine, cl_ord_id: str) -> OrderStatus | None:
    order = engine.orders.get(cl_ord_id)
    return None if order is None else order.status


def state_cell(app: KrakenTuiApp, name: str) -> str:
    return str(app.screen.query_one("#strategies", DataTable).get_cell(name, "state"))


def order_rows(app: KrakenTuiApp) -> set[str]:
    table = app.screen.query_one("#orders", DataTable)
    return {str(row.value) for row in table.rows}


def status_bar(app: KrakenTuiApp) -> str:
    return app.screen.query_one(StatusBar).plain


async def test_k_then_y_halts_the_engine_pauses_every_strategy_and_empties_the_sandbox(
    tmp_path: Path,
) -> None:
    async with engine_on_sandbox(tmp_path, [QUIET_SMA, WIDE_MAKER]) as run:
        engine = run.engine
        manual = set(await place_resting_bids(run, 2))
        app = console_on(engine)
        async with app.run_test(size=SIZE) as pilot:
            # the market maker's two quotes rest beside the manual bids
            resting = await until_on_sandbox(
                pilot, run, lambda ids: manual < ids and len(ids) >= 4, "orders resting"
            )
            await until(
                pilot,
                lambda: order_rows(app) >= {o.cl_ord_id for o in engine.snapshot().open_orders},
                "orders shown",
            )
            assert app.active_bindings["k"].binding.description == "Kill"

            await pilot.press("k")
            assert isinstance(app.screen, ConfirmScreen)
            assert engine.risk.trading_state is TradingState.ACTIVE
            await pilot.press("y")
            await until(pilot, lambda: engine.snapshot().open_orders == (), "engine has no orders")
            assert engine.risk.trading_state is TradingState.HALTED
            assert set(strategy_states(engine).values()) == {StrategyState.PAUSED}
            assert await run.open_on_sandbox() == set(), f"still open of {resting}"
            await until(pilot, lambda: "HALTED" in status_bar(app), "HALTED shown")
            await until(pilot, lambda: order_rows(app) == set(), "orders table emptied")
            assert "PAUSED" in state_cell(app, "mm_eth")
            assert app.active_bindings["k"].binding.description == "Reset kill"

            await pilot.press("k")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(pilot, lambda: engine.risk.trading_state is TradingState.ACTIVE, "reset")
            assert set(strategy_states(engine).values()) == {StrategyState.PAUSED}
            await until(pilot, lambda: "ACTIVE" in status_bar(app), "ACTIVE shown")
            assert await run.open_on_sandbox() == set()


async def test_p_pauses_and_resumes_the_selected_strategy_and_shift_p_all_of_them(
    tmp_path: Path,
) -> None:
    async with engine_on_sandbox(tmp_path, [QUIET_SMA, WIDE_MAKER]) as run:
        engine = run.engine
        app = console_on(engine)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "RUNNING" in state_cell(app, "sma_btc"), "table drawn")
            assert app.focused is not None and app.focused.id == "strategies"

            await pilot.press("p")
            await until(
                pilot,
                lambda: strategy_states(engine)["sma_btc"] is StrategyState.PAUSED,
                "sma_btc paused",
            )
            assert strategy_states(engine)["mm_eth"] is StrategyState.RUNNING
            await until(pilot, lambda: "PAUSED" in state_cell(app, "sma_btc"), "PAUSED shown")
            assert any("sma_btc paused" in n.message for n in app._notifications)

            await pilot.press("p")
            await until(
                pilot,
                lambda: strategy_states(engine)["sma_btc"] is StrategyState.RUNNING,
                "sma_btc resumed",
            )
            await until(pilot, lambda: "RUNNING" in state_cell(app, "sma_btc"), "RUNNING shown")

            await pilot.press("P")
            await until(
                pilot,
                lambda: set(strategy_states(engine).values()) == {StrategyState.PAUSED},
                "all paused",
            )
            await until(pilot, lambda: "PAUSED" in state_cell(app, "mm_eth"), "PAUSED shown")
            await pilot.press("P")
            await until(
                pilot,
                lambda: set(strategy_states(engine).values()) == {StrategyState.RUNNING},
                "all resumed",
            )


async def test_c_cancels_the_selected_order_on_the_sandbox_and_shift_c_cancels_the_rest(
    tmp_path: Path,
) -> None:
    async with engine_on_sandbox(tmp_path) as run:
        engine = run.engine
        placed = await place_resting_bids(run, 3)
        app = console_on(engine)
        async with app.run_test(size=SIZE) as pilot:
            await until_on_sandbox(pilot, run, lambda ids: ids == set(placed), "bids resting")
            await until(pilot, lambda: len(order_rows(app)) == 3, "three orders shown")
            await pilot.press("tab", "tab")
            assert app.focused is not None and app.focused.id == "orders"
            await pilot.press("down")
            table = app.screen.query_one("#orders", DataTable)
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            order = engine.orders.get(str(selected))
            assert order is not None and order.order_id in placed

            await pilot.press("c")
            await until(
                pilot,
                lambda: status_of(engine, order.cl_ord_id) is OrderStatus.CANCELED,
                "selected order cancelled",
            )
            rest = await until_on_sandbox(
                pilot, run, lambda ids: order.order_id not in ids, "selected order gone"
            )
            assert rest == set(placed) - {order.order_id}
            await until(pilot, lambda: selected not in order_rows(app), "row removed")
            assert len(order_rows(app)) == 2

            await pilot.press("C")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(pilot, lambda: engine.snapshot().open_orders == (), "all cancelled")
            await until_on_sandbox(pilot, run, lambda ids: ids == set(), "none open")
            await until(pilot, lambda: order_rows(app) == set(), "orders table emptied")
            assert engine.risk.trading_state is TradingState.ACTIVE


async def test_the_order_ticket_places_an_order_shown_in_the_orders_table_and_on_the_sandbox(
    tmp_path: Path,
) -> None:
    async with engine_on_sandbox(tmp_path) as run:
        engine = run.engine
        bid = await run.resting_bid()
        app = console_on(engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("o")
            assert isinstance(app.screen, OrderTicket)
            # the volume field has the focus; the price field before it starts at the best bid
            await pilot.press(*"0.001", "shift+tab", *str(bid.price))
            await until(
                pilot,
                lambda: "Risk: allowed" in str(app.screen.query_one("#ticket-risk").render()),
                "risk preview",
            )
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "ticket closed")
            (placed,) = engine.snapshot().open_orders
            assert (placed.symbol, placed.side, placed.volume, placed.price) == (
                "BTC/USD",
                "buy",
                Decimal("0.001"),
                bid.price,
            )
            assert placed.strategy is None and placed.order_id is not None
            await until(pilot, lambda: order_rows(app) == {placed.cl_ord_id}, "order shown")
            await until_on_sandbox(pilot, run, lambda ids: ids == {placed.order_id}, "resting")


async def test_the_ticket_spends_a_quote_amount_at_market_and_the_position_is_what_it_bought(
    tmp_path: Path,
) -> None:
    async with engine_on_sandbox(tmp_path) as run:
        engine = run.engine
        await run.resting_bid()  # the book has arrived
        app = console_on(engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("o")
            ticket = app.screen
            assert isinstance(ticket, OrderTicket)
            assert ticket.query_one("#ticket-size-in", Select).disabled, "a limit is sized in base"
            ticket.query_one("#ticket-type", Select).value = OrderType.MARKET
            await pilot.pause()
            size_in = ticket.query_one("#ticket-size-in", Select)
            assert not size_in.disabled
            size_in.value = SIZE_IN_QUOTE
            ticket.query_one("#ticket-volume", Input).focus()
            await pilot.press(*"50")
            await until(
                pilot,
                lambda: "Risk: allowed" in str(ticket.query_one("#ticket-risk").render()),
                "risk preview",
            )
            assert "Spend: 50.00 USD, buys ≈0.000" in str(
                ticket.query_one("#ticket-notional").render()
            )
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "ticket closed")
            await until(
                pilot, lambda: engine.positions.position("BTC/USD").qty > 0, "bought with USD"
            )
            await engine.store.writer.flush()
            [order] = await engine.store.orders.recent()
            assert (order.order_type, order.quote_volume, order.volume) == (
                OrderType.MARKET,
                Decimal(50),
                Decimal(0),
            )
            book = engine.snapshot().books["BTC/USD"]
            assert book.best_ask is not None
            bought = engine.positions.position("BTC/USD").qty
            assert bought * book.best_ask.price * Decimal("0.9") < 50


async def test_a_amends_the_selected_resting_order_in_place_after_a_preview(
    tmp_path: Path,
) -> None:
    async with engine_on_sandbox(tmp_path) as run:
        engine = run.engine
        [txid] = await place_resting_bids(run, 1)
        [resting] = engine.snapshot().open_orders
        assert resting.price is not None
        tick = engine.snapshot().instruments["BTC/USD"].tick_size
        new_price = resting.price - 20 * tick
        app = console_on(engine)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: order_rows(app) == {resting.cl_ord_id}, "order shown")
            await pilot.press("tab", "tab", "a")
            ticket = app.screen
            assert isinstance(ticket, AmendTicket)
            price = ticket.query_one("#amend-price", Input)
            assert app.focused is price and price.value == str(resting.price)
            price.value = ""
            await pilot.press(*str(new_price), "tab", "ctrl+u", *"0.002")
            await until(
                pilot,
                lambda: "Risk: allowed" in str(ticket.query_one("#amend-risk").render()),
                "risk preview",
            )
            assert f"Becomes: BUY 0.002 BTC/USD @ {new_price:,}" in str(
                ticket.query_one("#amend-change").render()
            )
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "ticket closed")
            amended = engine.orders.get(resting.cl_ord_id)
            assert amended is not None
            assert (amended.price, amended.volume, amended.order_id) == (
                new_price,
                Decimal("0.002"),
                txid,
            )
            assert await run.open_on_sandbox() == {txid}, "amended in place, not replaced"
            table = app.screen.query_one("#orders", DataTable)
            await until(
                pilot,
                lambda: str(table.get_cell(resting.cl_ord_id, "volume")) == "0.0020",
                "new volume shown",
            )
