"""Messages that cross panels: a command's outcome and a change of the selected symbol."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from kraken_tui.engine.api import CommandResult


@dataclass
class CommandFinished(Message):
    """An engine command returned; `action` is what the user asked for, in words."""

    action: str
    result: CommandResult


@dataclass
class CommandFailed(Message):
    """An engine command raised: shown to the user as text, never as a traceback."""

    action: str
    error: str


@dataclass
class SymbolSelected(Message):
    """The ladder and chart should now show `symbol`."""

    symbol: str
