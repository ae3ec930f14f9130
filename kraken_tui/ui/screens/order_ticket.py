"""The order ticket: a modal that checks the order as it is typed (tick size, minimums,
balance), shows its notional and the risk engine's verdict, and sends it only when both pass
(the engine checks again on arrival: the preview is advice, the engine's answer is final).

A refusal (by risk or by the exchange) is shown inside the ticket, which stays open so the
trader can fix the field; an accepted order closes the ticket with the engine's message.

The local checks run on every keystroke (they are pure functions of the snapshot); the engine's
risk preview runs once typing pauses for `PREVIEW_DELAY` and only for an order it has not
previewed yet, since a remote engine answers it over the network. Sending checks the form
again and previews that order first unless it already was: what is sent is always the form as
it reads at that moment, never an earlier check of it.
"""

from __future__ import annotations

from typing import ClassVar

from loguru import logger
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static
from textual.widgets.select import NoSelection
from textual.worker import Worker

from kraken_tui.domain import OrderType, Side, TimeInForce
from kraken_tui.engine.api import CommandResult, EngineApi, ManualOrder, RiskDecision
from kraken_tui.ui.errors import guarded, report_worker_failure
from kraken_tui.ui.formatting import fmt_price
from kraken_tui.ui.order_form import FormCheck, OrderForm, check_order_form, price_label

PREVIEW_DELAY = 0.15
"""Seconds of quiet typing before the ticket asks the engine for a risk preview."""
SIZE_IN_BASE = "base"
SIZE_IN_QUOTE = "quote"


class OrderTicket(ModalScreen[CommandResult | None]):
    DEFAULT_CSS = """
    OrderTicket {
        align: center middle;
    }
    OrderTicket > Vertical {
        width: 64;
        height: auto;
        max-height: 100%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    OrderTicket .ticket-field {
        height: auto;
        margin-top: 1;
    }
    OrderTicket.-short .ticket-field, OrderTicket.-short #ticket-notional {
        margin-top: 0;
    }
    OrderTicket .ticket-field > Label {
        width: 10;
    }
    OrderTicket .ticket-field > Select, OrderTicket .ticket-field > Input {
        width: 1fr;
    }
    OrderTicket #ticket-title {
        text-style: bold;
    }
    OrderTicket #ticket-notional {
        height: 1;
    }
    OrderTicket #ticket-errors {
        color: $error;
        height: auto;
    }
    OrderTicket #ticket-risk {
        height: auto;
    }
    OrderTicket #ticket-risk.-denied {
        color: $error;
        text-style: bold;
    }
    OrderTicket #ticket-risk.-allowed {
        color: $success;
    }
    OrderTicket #ticket-notional {
        margin-top: 1;
    }
    OrderTicket #ticket-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    OrderTicket Button {
        margin-left: 2;
    }
    """

    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [  # type: ignore[misc]  # Textual's annotation reads as an instance variable
        (0, "-short"),
        (30, "-tall"),
    ]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("ctrl+s", "send", "Send order"),
    ]

    def __init__(self, engine: EngineApi, symbol: str | None) -> None:
        super().__init__()
        self._engine = engine
        snapshot = engine.snapshot()
        self._symbols = snapshot.symbols
        self._symbol = symbol if symbol in snapshot.symbols else (snapshot.symbols or ("",))[0]
        self._check: FormCheck | None = None
        self._risk: RiskDecision | None = None
        self._previewed: ManualOrder | None = None
        self._preview_timer: Timer | None = None
        self._sending = False

    def compose(self) -> ComposeResult:
        snapshot = self._engine.snapshot()
        book = snapshot.books.get(self._symbol)
        instrument = snapshot.instruments.get(self._symbol)
        price = ""
        if book is not None and book.best_bid is not None and instrument is not None:
            price = fmt_price(book.best_bid.price, instrument.price_decimals).replace(",", "")
        with Vertical():
            yield Static("New order  -  ctrl+s sends, esc closes", id="ticket-title")
            yield from self._field(
                "Symbol",
                Select(
                    [(s, s) for s in self._symbols],
                    value=self._symbol,
                    allow_blank=False,
                    compact=True,
                    id="ticket-symbol",
                ),
            )
            yield from self._field(
                "Side",
                Select(
                    [("BUY", Side.BUY), ("SELL", Side.SELL)],
                    value=Side.BUY,
                    allow_blank=False,
                    compact=True,
                    id="ticket-side",
                ),
            )
            yield from self._field(
                "Type",
                Select(
                    [(t.value, t) for t in OrderType],
                    value=OrderType.LIMIT,
                    allow_blank=False,
                    compact=True,
                    id="ticket-type",
                ),
            )
            with Horizontal(classes="ticket-field"):
                yield Label("Price", id="ticket-price-label")
                yield Input(price, placeholder="limit price", compact=True, id="ticket-price")
            yield from self._field(
                "Size in",
                Select(
                    [("base (volume)", SIZE_IN_BASE), ("quote (spend)", SIZE_IN_QUOTE)],
                    value=SIZE_IN_BASE,
                    allow_blank=False,
                    compact=True,
                    id="ticket-size-in",
                ),
            )
            with Horizontal(classes="ticket-field"):
                yield Label("Volume", id="ticket-volume-label")
                yield Input(placeholder="base currency amount", compact=True, id="ticket-volume")
            yield from self._field(
                "TIF",
                Select(
                    [(t.value.upper(), t) for t in TimeInForce],
                    value=TimeInForce.GTC,
                    allow_blank=False,
                    compact=True,
                    id="ticket-tif",
                ),
            )
            yield from self._field(
                "",
                Checkbox("post-only (maker, never takes)", compact=True, id="ticket-post-only"),
            )
            yield Static("", id="ticket-notional")
            yield Static("", id="ticket-errors")
            yield Static("", id="ticket-risk")
            with Horizontal(id="ticket-buttons"):
                yield Button("Close (esc)", compact=True, id="ticket-close")
                yield Button("Send (ctrl+s)", variant="primary", compact=True, id="ticket-send")

    @staticmethod
    def _field(label: str, field: Widget) -> ComposeResult:
        with Horizontal(classes="ticket-field"):
            yield Label(label)
            yield field

    def on_mount(self) -> None:
        self.query_one("#ticket-volume", Input).focus()
        self._validate()

    def form(self) -> OrderForm:
        return OrderForm(
            symbol=str(self._choice("#ticket-symbol")),
            side=Side(self._choice("#ticket-side")),
            order_type=OrderType(self._choice("#ticket-type")),
            price=self.query_one("#ticket-price", Input).value,
            volume=self.query_one("#ticket-volume", Input).value,
            time_in_force=TimeInForce(self._choice("#ticket-tif")),
            post_only=self.query_one("#ticket-post-only", Checkbox).value,
            in_quote=self._choice("#ticket-size-in") == SIZE_IN_QUOTE,
        )

    def _choice(self, selector: str) -> str:
        """The ticket's selects are built with allow_blank=False, so one always has a value."""
        value = self.query_one(selector, Select).value
        assert not isinstance(value, NoSelection)
        return value

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @guarded
    def _field_changed(self) -> None:
        self._validate()

    @on(Input.Submitted)
    def _enter_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#ticket-close")
    def _close_pressed(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#ticket-send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self, event)

    def _validate(self) -> None:
        """Check the form as it reads now. A check that fails leaves no earlier one behind,
        since sending takes the last check's order: the ticket must never send an order other
        than the one on screen."""
        if self._preview_timer is not None:
            self._preview_timer.stop()
            self._preview_timer = None
        try:
            self._check_form()
        except Exception as exc:
            self._check, self._risk, self._previewed = None, None, None
            logger.opt(exception=exc).error("order ticket: checking the order failed")
            self.query_one("#ticket-notional", Static).update("Notional: -")
            self.query_one("#ticket-errors", Static).update(
                f"✗ cannot check the order: {type(exc).__name__}: {exc}"
            )
            risk = self.query_one("#ticket-risk", Static)
            risk.update("")
            risk.set_classes("")

    def _check_form(self) -> None:
        snapshot = self._engine.snapshot()
        self._offer_quote_sizing()
        form = self.form()
        label = price_label(form.order_type)
        price_field = self.query_one("#ticket-price", Input)
        price_field.disabled = label is None
        price_field.placeholder = "trigger price" if label == "Trigger" else "limit price"
        self.query_one("#ticket-price-label", Label).update(label or "Price")
        self.query_one("#ticket-post-only", Checkbox).disabled = (
            form.order_type is not OrderType.LIMIT
        )
        instrument = snapshot.instruments.get(form.symbol)
        check = check_order_form(
            form, instrument, snapshot.books.get(form.symbol), snapshot.portfolio.balances
        )
        self._check = check
        quote = instrument.quote if instrument is not None else ""
        self.query_one("#ticket-volume-label", Label).update("Spend" if form.in_quote else "Volume")
        volume_field = self.query_one("#ticket-volume", Input)
        volume_field.placeholder = (
            f"{quote} amount to spend" if form.in_quote else "base currency amount"
        )
        self.query_one("#ticket-notional", Static).update(self._notional_text(form, check, quote))
        self.query_one("#ticket-errors", Static).update("\n".join(f"✗ {e}" for e in check.errors))
        risk = self.query_one("#ticket-risk", Static)
        if check.order is None or check.errors:
            self._risk, self._previewed = None, None
            risk.update("")
            risk.set_classes("")
            return
        if check.order == self._previewed:
            return
        self._risk, self._previewed = None, None
        risk.update("Risk: checking…")
        risk.set_classes("")
        self._preview_timer = self.set_timer(PREVIEW_DELAY, self._preview)

    def _offer_quote_sizing(self) -> None:
        """Only a market buy can be sized in quote: otherwise the choice goes back to base and
        is greyed out, so the form never describes an order the exchange would refuse."""
        market_buy = (
            self._choice("#ticket-type") == OrderType.MARKET
            and self._choice("#ticket-side") == Side.BUY
        )
        size_in = self.query_one("#ticket-size-in", Select)
        size_in.disabled = not market_buy
        if not market_buy and size_in.value == SIZE_IN_QUOTE:
            size_in.value = SIZE_IN_BASE

    def _notional_text(self, form: OrderForm, check: FormCheck, quote: str) -> str:
        if check.notional is None:
            return "Notional: -"
        if not form.in_quote:
            estimate = "" if form.order_type is OrderType.LIMIT else "≈"
            return f"Notional: {estimate}{check.notional:,.2f} {quote}"
        base = form.symbol.partition("/")[0]
        bought = "-" if check.base_estimate is None else f"≈{check.base_estimate} {base}"
        return f"Spend: {check.notional:,.2f} {quote}, buys {bought} at the best ask"

    @guarded
    def _preview(self) -> None:
        """Ask the engine for its risk decision on the order the form describes now."""
        self._preview_timer = None
        check = self._check
        if check is None or check.order is None or check.errors:
            return
        risk = self.query_one("#ticket-risk", Static)
        self._previewed = check.order
        try:
            decision = self._engine.preview_order(check.order)
        except Exception as exc:
            # The preview is advice; the engine still checks the order when it is sent.
            risk.update(f"Risk: preview unavailable ({type(exc).__name__}: {exc})")
            risk.set_classes("")
            return
        self._risk = decision
        if decision.allowed:
            risk.update("Risk: allowed")
            risk.set_classes("-allowed")
        else:
            risk.update(f"Risk: DENIED by {decision.rule}: {decision.reason}")
            risk.set_classes("-denied")

    @guarded
    def action_send(self) -> None:
        """Send exactly what the form shows: checked again here, since a field may have changed
        after the last check, and previewed first unless this very order already was."""
        self._validate()
        if self._preview_timer is not None:
            self._preview_timer.stop()
            self._preview()
        check = self._check
        if check is None or not check.ok or check.order is None:
            self.app.bell()
            self.notify("Fix the order first", severity="warning")
            return
        if self._risk is not None and not self._risk.allowed:
            self.app.bell()
            self.notify(f"Denied by {self._risk.rule}", title="Not sent", severity="warning")
            return
        if not self._sending:
            self._sending = True
            self._send(check)

    @work(exclusive=True, group="order-ticket", exit_on_error=False)
    async def _send(self, check: FormCheck) -> None:
        assert check.order is not None
        try:
            result = await self._engine.submit_manual_order(check.order)
        except Exception as exc:
            result = CommandResult(False, f"{type(exc).__name__}: {exc}")
        finally:
            self._sending = False
        if result.ok:
            self.dismiss(result)
            return
        risk = self.query_one("#ticket-risk", Static)
        risk.update(f"Refused: {result.message}")
        risk.set_classes("-denied")
        self.notify(result.message, title="Order refused", severity="error")
