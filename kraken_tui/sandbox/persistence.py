"""What of the venue survives a restart (accounts, orders, fills, ledger entries, fee
income, trade ids)
and how it comes back.

Each step's changes are written in one transaction; on load, open orders go back into their
books in their original time priority and waiting stop orders back under their triggers.
Books hold no synthetic liquidity after a load: the market simulation quotes again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from loguru import logger

from kraken_tui.domain.enums import Side
from kraken_tui.sandbox.journal import StepChanges
from kraken_tui.sandbox.ledger import Ledger
from kraken_tui.sandbox.matching import OrderBook
from kraken_tui.sandbox.order_records import OrderRecords
from kraken_tui.sandbox.pairs import PairRegistry
from kraken_tui.sandbox.state import VenueStore
from kraken_tui.sandbox.tape import TradeTape
from kraken_tui.sandbox.triggers import TriggerBook

_META_FEES = "fee_income"
_META_TRADE_IDS = "last_trade_ids"


def save_step(
    store: VenueStore, changes: StepChanges, ledger: Ledger, tapes: Mapping[str, TradeTape]
) -> None:
    if not (changes.accounts or changes.orders or changes.fills or changes.ledger_entries):
        return
    fees = {asset: str(amount) for asset, amount in ledger.fee_income.items()}
    trade_ids = {symbol: tape.last_trade_id for symbol, tape in tapes.items()}
    store.save(
        accounts=[ledger.accounts[key] for key in changes.accounts],
        orders=list(changes.orders.values()),
        fills=changes.fills,
        ledger=changes.ledger_entries,
        meta={_META_FEES: json.dumps(fees), _META_TRADE_IDS: json.dumps(trade_ids)},
    )


def restore(
    store: VenueStore,
    *,
    pairs: PairRegistry,
    ledger: Ledger,
    records: OrderRecords,
    books: Mapping[str, OrderBook],
    triggers: TriggerBook,
    tapes: Mapping[str, TradeTape],
) -> None:
    stored = store.load()
    for api_key, balances in stored.accounts.items():
        ledger.add(api_key, balances)
        records.add_account(api_key)
    for order in stored.orders:
        info = pairs.resolve(order.symbol)
        order.hold_asset = (info.quote if order.side is Side.BUY else info.base).code
        if not order.status.is_open:
            continue
        records.register_open(order)
        ledger.update_hold(order)
        if order.belongs_in_book:
            books[order.symbol].add(order, keep_seq=True)
        elif order.order_type.is_triggered and not order.triggered:
            triggers.restore(order)
    closed = sorted(
        (o for o in stored.orders if not o.status.is_open), key=lambda o: o.closetm or 0
    )
    for order in closed:
        records.register_closed(order)
    for fill in stored.fills:
        records.add_fill(fill)
    for entry in stored.ledger:
        ledger.history.add(entry)
    fees = json.loads(stored.meta.get(_META_FEES, "{}"))
    ledger.fee_income.update({asset: Decimal(amount) for asset, amount in fees.items()})
    for symbol, last_id in json.loads(stored.meta.get(_META_TRADE_IDS, "{}")).items():
        if symbol in tapes:
            tapes[symbol].last_trade_id = int(last_id)
    logger.info(
        "sandbox state loaded: {} accounts, {} orders, {} fills, {} ledger entries",
        len(stored.accounts),
        len(stored.orders),
        len(stored.fills),
        len(stored.ledger),
    )
