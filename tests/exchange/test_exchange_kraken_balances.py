"""The adapter reads Kraken's `balances` channel as Kraken sends it: snapshot entries with
`wallets`, update entries that are ledger entries. Payloads are Kraken's own examples,
quoted with their sources."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kraken_tui.domain import Balance
from kraken_tui.exchange import kraken_parse as parse
from kraken_tui.exchange.instruments import display_asset

# docs.kraken.com/api/docs/websocket-v2/balances, "Example: Snapshot"
DOCS_SNAPSHOT: list[dict[str, Any]] = [
    {
        "asset": "BTC",
        "asset_class": "currency",
        "balance": Decimal("1.2"),
        "wallets": [{"type": "spot", "id": "main", "balance": Decimal("1.2")}],
    },
    {
        "asset": "MATIC",
        "asset_class": "currency",
        "balance": Decimal(500),
        "wallets": [
            {"type": "spot", "id": "main", "balance": Decimal(300)},
            {"type": "earn", "id": "flex", "balance": Decimal(200)},
        ],
    },
]

# krakenfx/kraken-api-sdk rust/src/api/account/ws_types.rs,
# decode_balances_update_entry_with_ledger_fields
SDK_TRADE_UPDATE: dict[str, Any] = {
    "asset": "USDC",
    "asset_class": "currency",
    "balance": Decimal("2.0"),
    "amount": Decimal("0.5"),
    "fee": Decimal("0.0"),
    "ledger_id": "LXYZ001",
    "ref_id": "TRADE-001",
    "timestamp": "2026-06-06T10:05:00Z",
    "type": "trade",
    "subtype": None,
    "category": "trade",
    "wallet_type": "spot",
    "wallet_id": "main",
}


def test_a_snapshot_counts_only_what_sits_in_the_spot_wallets() -> None:
    balances = parse.balances_from_ws(DOCS_SNAPSHOT, display_asset)
    assert balances["BTC"] == Balance("BTC", Decimal("1.2"), Decimal("1.2"))
    assert balances["MATIC"].total == 300  # 200 of the 500 are in Earn, not tradable


def test_a_ledger_update_gives_the_assets_balance_after_the_entry() -> None:
    balances = parse.balances_from_ws([SDK_TRADE_UPDATE], display_asset)
    assert balances == {"USDC": Balance("USDC", Decimal("2.0"), Decimal("2.0"))}


def test_a_ledger_update_of_an_earn_wallet_leaves_the_spot_balance_alone() -> None:
    earn = {**SDK_TRADE_UPDATE, "wallet_type": "earn", "wallet_id": "flex", "type": "transfer"}
    assert parse.balances_from_ws([earn], display_asset) == {}
