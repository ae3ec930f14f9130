"""The sandbox's own SQLite file: accounts, orders, fills and ledger entries survive a restart.

A client that crashes and comes back must find its orders where a real exchange keeps them,
so the venue writes every change here before answering. Writes are batched: one venue call
is one transaction (WAL, `synchronous=NORMAL`), whatever number of rows it touched.
Synthetic liquidity and the public trade tape (recent trades, candles) are not stored: the
market simulator rebuilds the books on start, and public trade ids continue from the last
one recorded here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain.enums import Side, TimeInForce
from kraken_tui.private_files import create_private_sqlite_file
from kraken_tui.sandbox.accounts import Account
from kraken_tui.sandbox.ledger_history import LedgerEntry
from kraken_tui.sandbox.matching import LiveOrder
from kraken_tui.sandbox.records import FillView, OrderState, VenueOrderType

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    api_key TEXT PRIMARY KEY,
    balances TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    txid TEXT PRIMARY KEY,
    api_key TEXT NOT NULL,
    symbol TEXT NOT NULL,
    rest_pair TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    volume TEXT NOT NULL,
    vol_exec TEXT NOT NULL,
    price TEXT,
    trigger_price TEXT,
    cost TEXT NOT NULL,
    fee TEXT NOT NULL,
    status TEXT NOT NULL,
    opentm REAL NOT NULL,
    closetm REAL,
    time_in_force TEXT NOT NULL,
    post_only INTEGER NOT NULL,
    userref INTEGER,
    cl_ord_id TEXT,
    reason TEXT,
    triggered INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    lastupdated REAL NOT NULL,
    volume_in_quote INTEGER NOT NULL DEFAULT 0,
    fee_in_base INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (api_key, status);
CREATE TABLE IF NOT EXISTS fills (
    trade_id TEXT PRIMARY KEY,
    public_trade_id INTEGER NOT NULL,
    order_txid TEXT NOT NULL,
    position_txid TEXT NOT NULL,
    api_key TEXT NOT NULL,
    symbol TEXT NOT NULL,
    rest_pair TEXT NOT NULL,
    time REAL NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    price TEXT NOT NULL,
    cost TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    vol TEXT NOT NULL,
    maker INTEGER NOT NULL,
    cl_ord_id TEXT,
    userref INTEGER
);
CREATE INDEX IF NOT EXISTS fills_by_account ON fills (api_key, time);
CREATE TABLE IF NOT EXISTS ledger (
    ledger_id TEXT PRIMARY KEY,
    api_key TEXT NOT NULL,
    refid TEXT NOT NULL,
    time REAL NOT NULL,
    type TEXT NOT NULL,
    subtype TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount TEXT NOT NULL,
    fee TEXT NOT NULL,
    balance TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_ADDED_ORDER_COLUMNS = {
    "volume_in_quote": "INTEGER NOT NULL DEFAULT 0",
    "fee_in_base": "INTEGER NOT NULL DEFAULT 0",
}
"""Columns added to `orders` after files were first written; `VenueStore` adds them to an
older file on open, so a sandbox upgraded in place keeps its state."""

_ORDER_COLUMNS = (
    "txid, api_key, symbol, rest_pair, side, order_type, volume, vol_exec, price, "
    "trigger_price, cost, fee, status, opentm, closetm, time_in_force, post_only, userref, "
    "cl_ord_id, reason, triggered, seq, lastupdated, volume_in_quote, fee_in_base"
)
_LEDGER_COLUMNS = "ledger_id, api_key, refid, time, type, subtype, asset, amount, fee, balance"
_FILL_COLUMNS = (
    "trade_id, public_trade_id, order_txid, position_txid, api_key, symbol, rest_pair, time, "
    "side, order_type, price, cost, fee, fee_asset, vol, maker, cl_ord_id, userref"
)


@dataclass(frozen=True, slots=True)
class StoredState:
    accounts: dict[str, dict[str, Decimal]]
    orders: list[LiveOrder]
    fills: list[FillView]
    ledger: list[LedgerEntry]
    meta: dict[str, str]


class VenueStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # Balances and orders of the sandbox accounts: private like the app's own database.
        create_private_sqlite_file(self.path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def close(self) -> None:
        self._db.close()

    def _add_missing_columns(self) -> None:
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(orders)")}
        for name, declaration in _ADDED_ORDER_COLUMNS.items():
            if name not in present:
                self._db.execute(f"ALTER TABLE orders ADD COLUMN {name} {declaration}")

    def load(self) -> StoredState:
        accounts = {
            row["api_key"]: {
                asset: Decimal(amount) for asset, amount in json.loads(row["balances"]).items()
            }
            for row in self._db.execute("SELECT api_key, balances FROM accounts")
        }
        orders = [
            _order_from_row(row)
            for row in self._db.execute(f"SELECT {_ORDER_COLUMNS} FROM orders ORDER BY seq, opentm")
        ]
        fills = [
            _fill_from_row(row)
            for row in self._db.execute(f"SELECT {_FILL_COLUMNS} FROM fills ORDER BY time, rowid")
        ]
        ledger = [
            _ledger_from_row(row)
            for row in self._db.execute(
                f"SELECT {_LEDGER_COLUMNS} FROM ledger ORDER BY time, rowid"
            )
        ]
        meta = {row["key"]: row["value"] for row in self._db.execute("SELECT key, value FROM meta")}
        return StoredState(accounts=accounts, orders=orders, fills=fills, ledger=ledger, meta=meta)

    def save(
        self,
        accounts: Iterable[Account],
        orders: Iterable[LiveOrder],
        fills: Iterable[FillView],
        ledger: Iterable[LedgerEntry],
        meta: Mapping[str, str],
    ) -> None:
        """Write one venue call's changes in a single transaction."""
        account_rows = [
            (account.api_key, json.dumps({k: str(v) for k, v in account.balances.items()}))
            for account in accounts
        ]
        order_rows = [_order_row(order) for order in orders]
        fill_rows = [_fill_row(fill) for fill in fills]
        ledger_rows = [_ledger_row(entry) for entry in ledger]
        if not (account_rows or order_rows or fill_rows or ledger_rows or meta):
            return
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO accounts (api_key, balances) VALUES (?, ?)", account_rows
            )
            self._db.executemany(
                f"INSERT OR REPLACE INTO orders ({_ORDER_COLUMNS}) VALUES ({_marks(25)})",
                order_rows,
            )
            self._db.executemany(
                f"INSERT OR IGNORE INTO fills ({_FILL_COLUMNS}) VALUES ({_marks(18)})", fill_rows
            )
            self._db.executemany(
                f"INSERT OR IGNORE INTO ledger ({_LEDGER_COLUMNS}) VALUES ({_marks(10)})",
                ledger_rows,
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(meta.items())
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _order_row(order: LiveOrder) -> tuple[object, ...]:
    return (
        order.txid,
        order.api_key,
        order.symbol,
        order.rest_pair,
        order.side.value,
        order.order_type.value,
        str(order.volume),
        str(order.vol_exec),
        _text(order.price),
        _text(order.trigger_price),
        str(order.cost),
        str(order.fee),
        order.status.value,
        order.opentm,
        order.closetm,
        order.time_in_force.value,
        int(order.post_only),
        order.userref,
        order.cl_ord_id,
        order.reason,
        int(order.triggered),
        order.seq,
        order.lastupdated,
        int(order.volume_in_quote),
        int(order.fee_in_base),
    )


def _order_from_row(row: sqlite3.Row) -> LiveOrder:
    return LiveOrder(
        txid=row["txid"],
        api_key=row["api_key"],
        symbol=row["symbol"],
        rest_pair=row["rest_pair"],
        side=Side(row["side"]),
        order_type=VenueOrderType(row["order_type"]),
        volume=Decimal(row["volume"]),
        price=_dec(row["price"]),
        trigger_price=_dec(row["trigger_price"]),
        opentm=row["opentm"],
        time_in_force=TimeInForce(row["time_in_force"]),
        post_only=bool(row["post_only"]),
        userref=row["userref"],
        cl_ord_id=row["cl_ord_id"],
        vol_exec=Decimal(row["vol_exec"]),
        cost=Decimal(row["cost"]),
        fee=Decimal(row["fee"]),
        status=OrderState(row["status"]),
        closetm=row["closetm"],
        reason=row["reason"],
        triggered=bool(row["triggered"]),
        seq=row["seq"],
        lastupdated=row["lastupdated"],
        volume_in_quote=bool(row["volume_in_quote"]),
        fee_in_base=bool(row["fee_in_base"]),
    )


def _fill_row(fill: FillView) -> tuple[object, ...]:
    return (
        fill.trade_id,
        fill.public_trade_id,
        fill.order_txid,
        fill.position_txid,
        fill.api_key,
        fill.symbol,
        fill.rest_pair,
        fill.time,
        fill.side.value,
        fill.order_type.value,
        str(fill.price),
        str(fill.cost),
        str(fill.fee),
        fill.fee_asset,
        str(fill.vol),
        int(fill.maker),
        fill.cl_ord_id,
        fill.userref,
    )


def _fill_from_row(row: sqlite3.Row) -> FillView:
    return FillView(
        trade_id=row["trade_id"],
        public_trade_id=row["public_trade_id"],
        order_txid=row["order_txid"],
        position_txid=row["position_txid"],
        api_key=row["api_key"],
        symbol=row["symbol"],
        rest_pair=row["rest_pair"],
        time=row["time"],
        side=Side(row["side"]),
        order_type=VenueOrderType(row["order_type"]),
        price=Decimal(row["price"]),
        cost=Decimal(row["cost"]),
        fee=Decimal(row["fee"]),
        fee_asset=row["fee_asset"],
        vol=Decimal(row["vol"]),
        maker=bool(row["maker"]),
        cl_ord_id=row["cl_ord_id"],
        userref=row["userref"],
    )


def _ledger_row(entry: LedgerEntry) -> tuple[object, ...]:
    return (
        entry.ledger_id,
        entry.api_key,
        entry.refid,
        entry.time,
        entry.type,
        entry.subtype,
        entry.asset,
        str(entry.amount),
        str(entry.fee),
        str(entry.balance),
    )


def _ledger_from_row(row: sqlite3.Row) -> LedgerEntry:
    return LedgerEntry(
        ledger_id=row["ledger_id"],
        api_key=row["api_key"],
        refid=row["refid"],
        time=row["time"],
        type=row["type"],
        subtype=row["subtype"],
        asset=row["asset"],
        amount=Decimal(row["amount"]),
        fee=Decimal(row["fee"]),
        balance=Decimal(row["balance"]),
    )
