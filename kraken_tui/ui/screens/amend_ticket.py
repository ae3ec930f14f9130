"""The amend ticket: a modal that changes the selected open order's limit price or volume in
place (the order keeps its id and, where the exchange allows, its queue position) instead of a
cancel and a new order.

As in the order ticket, the fields are checked on every keystroke, the change is shown side by
side with the order as it is, the engine's risk verdict on the order as it would be is fetched
once typing pauses, and sending checks again and sends exactly what the fields read. A refusal
is shown inside the ticket, which stays open; an accepted amend closes it with the engine's
message.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, Static
from textual.worker import Worker

from kraken_tui.domain import Instrument, Order, OrderType
from kraken_tui.engine.api import CommandResult, EngineApi, RiskDecision
from kraken_tui.ui.errors import guarded, report_worker_failure
from kraken_tui.ui.formatting import fmt_price
from kraken_tui.ui.order_form import AmendCheck, check_amend_form
from kraken_tui.ui.screens.order_ticket import PREVIEW_DELAY

Change = tuple[Decimal | None, Decimal | None]
"""(new price, new volume), None where unchanged: what the engine is asked to amend."""


class AmendTicket(ModalScreen[CommandResult | None]):
    DEFAULT_CSS = """
    AmendTicket {
        align: center middle;
    }
    AmendTicket > Vertical {
        width: 64;
        height: auto;
        max-height: 100%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    AmendTicket #amend-title {
        text-style: bold;
    }
    AmendTicket .amend-field {
        height: auto;
        margin-top: 1;
    }
    AmendTicket .amend-field > Label {
        width: 10;
    }
    AmendTicket .amend-field > Input {
        width: 1fr;
    }
    AmendTicket #amend-errors {
        color: $error;
        height: auto;
    }
    AmendTicket #amend-risk.-denied {
        color: $error;
        text-style: bold;
    }
    AmendTicket #amend-risk.-allowed {
        color: $success;
    }
    AmendTicket #amend-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    AmendTicket Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("ctrl+s", "send", "Send amend"),
    ]

    def __init__(self, engine: EngineApi, order: Order) -> None:
        super().__init__()
        self._engine = engine
        self._order = order
        self._instrument: Instrument | None = engine.snapshot().instruments.get(order.symbol)
        self._check: AmendCheck | None = None
        self._risk: RiskDecision | None = None
        self._previewed: Change | None = None
        self._preview_timer: Timer | None = None
        self._sending = False

    def compose(self) -> ComposeResult:
        order = self._order
        decimals = self._instrument.price_decimals if self._instrument else 2
        price = "" if order.price is None else fmt_price(order.price, decimals).replace(",", "")
        with Vertical():
            yield Static(f"Amend {order.cl_ord_id}  -  ctrl+s sends, esc closes", id="amend-title")
            yield Static(self._describe(order.price, order.volume), id="amend-order")
            with Horizontal(classes="amend-field"):
                yield Label("Price")
                yield Input(
                    price,
                    placeholder="new limit price",
                    compact=True,
                    disabled=order.order_type is not OrderType.LIMIT,
                    id="amend-price",
                )
            with Horizontal(classes="amend-field"):
                yield Label("Volume")
                yield Input(
                    "" if order.quote_volume is not None else str(order.volume),
                    placeholder="new total volume (base)",
                    compact=True,
                    disabled=order.quote_volume is not None,
                    id="amend-volume",
                )
            yield Static("", id="amend-change")
            yield Static("", id="amend-errors")
            yield Static("", id="amend-risk")
            with Horizontal(id="amend-buttons"):
                yield Button("Close (esc)", compact=True, id="amend-close")
                yield Button("Amend (ctrl+s)", variant="primary", compact=True, id="amend-send")

    def on_mount(self) -> None:
        field = "#amend-price" if self._order.order_type is OrderType.LIMIT else "#amend-volume"
        self.query_one(field, Input).focus()
        self._validate()

    def _describe(self, price: Decimal | None, volume: Decimal) -> str:
        order = self._order
        decimals = self._instrument.price_decimals if self._instrument else 2
        at = "" if price is None else f" @ {fmt_price(price, decimals)}"
        filled = f", {order.filled} filled" if order.filled else ""
        return f"{order.side.value.upper()} {volume} {order.symbol}{at} {order.order_type}{filled}"

    @on(Input.Changed)
    @guarded
    def _field_changed(self) -> None:
        self._validate()

    @on(Input.Submitted)
    def _enter_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#amend-close")
    def _close_pressed(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#amend-send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self, event)

    def _validate(self) -> None:
        """Check the fields as they read now; a failed check leaves no earlier one to send."""
        if self._preview_timer is not None:
            self._preview_timer.stop()
            self._preview_timer = None
        order = self._order
        check = check_amend_form(
            order,
            self._instrument,
            self.query_one("#amend-price", Input).value,
            self.query_one("#amend-volume", Input).value,
        )
        self._check = check
        new_price = order.price if check.price is None else check.price
        new_volume = order.volume if check.volume is None else check.volume
        change = "" if not check.ok else f"Becomes: {self._describe(new_price, new_volume)}"
        self.query_one("#amend-change", Static).update(change)
        self.query_one("#amend-errors", Static).update("\n".join(f"✗ {e}" for e in check.errors))
        risk = self.query_one("#amend-risk", Static)
        if not check.ok:
            self._risk, self._previewed = None, None
            risk.update("")
            risk.set_classes("")
            return
        if (check.price, check.volume) == self._previewed:
            return
        self._risk, self._previewed = None, None
        risk.update("Risk: checking…")
        risk.set_classes("")
        self._preview_timer = self.set_timer(PREVIEW_DELAY, self._preview)

    @guarded
    def _preview(self) -> None:
        self._preview_timer = None
        check = self._check
        if check is None or not check.ok:
            return
        risk = self.query_one("#amend-risk", Static)
        self._previewed = (check.price, check.volume)
        try:
            decision = self._engine.preview_amend(
                self._order.cl_ord_id, price=check.price, volume=check.volume
            )
        except Exception as exc:
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
        self._validate()
        if self._preview_timer is not None:
            self._preview_timer.stop()
            self._preview()
        check = self._check
        if check is None or not check.ok:
            self.app.bell()
            self.notify("Fix the amend first", severity="warning")
            return
        if self._risk is not None and not self._risk.allowed:
            self.app.bell()
            self.notify(f"Denied by {self._risk.rule}", title="Not sent", severity="warning")
            return
        if not self._sending:
            self._sending = True
            self._send((check.price, check.volume))

    @work(exclusive=True, group="amend-ticket", exit_on_error=False)
    async def _send(self, change: Change) -> None:
        price, volume = change
        try:
            result = await self._engine.amend_order(
                self._order.cl_ord_id, price=price, volume=volume
            )
        except Exception as exc:
            result = CommandResult(False, f"{type(exc).__name__}: {exc}")
        finally:
            self._sending = False
        if result.ok:
            self.dismiss(result)
            return
        risk = self.query_one("#amend-risk", Static)
        risk.update(f"Refused: {result.message}")
        risk.set_classes("-denied")
        self.notify(result.message, title="Amend refused", severity="error")
