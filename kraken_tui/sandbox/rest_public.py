"""REST `/0/public/*`: Kraken's market-data endpoints, results shaped as Kraken's.

Result keys follow Kraken: the REST pair name (`XXBTZUSD`) when the client asked with a
REST spelling, and the client's own spelling when it asked with a `BASE/QUOTE` name (the
SDK's book client looks AssetPairs up by the exact string it passed)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kraken_tui.sandbox.errors import VenueError, invalid_argument
from kraken_tui.sandbox.pairs import PairInfo
from kraken_tui.sandbox.tape import OHLC_INTERVALS
from kraken_tui.sandbox.venue import SandboxVenue
from kraken_tui.sandbox.wire import fixed

UNKNOWN_METHOD = "EGeneral:Unknown method"
MAX_OHLC_ROWS = 720

Params = Mapping[str, str]


def parse_int(params: Params, name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise VenueError(invalid_argument(name)) from exc


def parse_float(params: Params, name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise VenueError(invalid_argument(name)) from exc


class PublicRest:
    def __init__(self, venue: SandboxVenue, system_status: Callable[[], str]) -> None:
        self._venue = venue
        self._system_status = system_status
        self._methods: dict[str, Callable[[Params], Any]] = {
            "Time": self._time,
            "SystemStatus": self._status,
            "Assets": self._assets,
            "AssetPairs": self._asset_pairs,
            "Ticker": self._ticker,
            "Depth": self._depth,
            "OHLC": self._ohlc,
            "Trades": self._trades,
            "Spread": self._spread,
        }

    def handle(self, method: str, params: Params) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise VenueError(UNKNOWN_METHOD)
        return handler(params)

    # ---- helpers ----------------------------------------------------------------------
    def _requested_pairs(self, params: Params, *, required: bool) -> list[tuple[str, PairInfo]]:
        """(result key, pair) for each requested name; every pair when none is given."""
        text = params.get("pair", "")
        if not text:
            if required:
                raise VenueError(invalid_argument("pair"))
            return [(pair.rest_name, pair) for pair in self._venue.pairs]
        result = []
        for name in text.split(","):
            pair = self._venue.pairs.resolve(name.strip())
            result.append((name.strip() if "/" in name else pair.rest_name, pair))
        return result

    def _single_pair(self, params: Params) -> tuple[str, PairInfo]:
        pairs = self._requested_pairs(params, required=True)
        if len(pairs) != 1:
            raise VenueError(invalid_argument("pair"))
        return pairs[0]

    # ---- endpoints --------------------------------------------------------------------------
    @staticmethod
    def _time(_: Params) -> dict[str, Any]:
        now = time.time()
        stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%a, %d %b %y %H:%M:%S +0000")
        return {"unixtime": int(now), "rfc1123": stamp}

    def _status(self, _: Params) -> dict[str, Any]:
        stamp = datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"status": self._system_status(), "timestamp": stamp}

    def _assets(self, params: Params) -> dict[str, Any]:
        registry = self._venue.pairs
        names = [n for n in params.get("asset", "").split(",") if n]
        assets = [registry.asset(n) for n in names] if names else list(registry.assets.values())
        return {asset.code: asset.rest_entry() for asset in assets}

    def _asset_pairs(self, params: Params) -> dict[str, Any]:
        info = params.get("info", "info")
        if info not in ("info", "leverage", "fees", "margin"):
            raise VenueError(invalid_argument("info"))
        result: dict[str, Any] = {}
        for key, pair in self._requested_pairs(params, required=False):
            entry = pair.rest_entry()
            if info == "leverage":
                entry = {k: entry[k] for k in ("leverage_buy", "leverage_sell")}
            elif info == "fees":
                entry = {k: entry[k] for k in ("fees", "fee_volume_currency")}
            elif info == "margin":
                entry = {k: entry[k] for k in ("margin_call", "margin_stop")}
            result[key] = entry
        return result

    def _ticker(self, params: Params) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, pair in self._requested_pairs(params, required=False):
            s = self._venue.ticker(pair.symbol)
            p, q = pair.pair_decimals, pair.lot_decimals
            result[key] = {
                "a": [fixed(s.ask, p), str(int(s.ask_qty)), fixed(s.ask_qty, q)],
                "b": [fixed(s.bid, p), str(int(s.bid_qty)), fixed(s.bid_qty, q)],
                "c": [fixed(s.last, p), fixed(s.last_qty, q)],
                "v": [fixed(s.volume_today, q), fixed(s.volume, q)],
                "p": [fixed(s.vwap_today, p), fixed(s.vwap, p)],
                "t": [s.trades_today, s.trades],
                "l": [fixed(s.low_today, p), fixed(s.low, p)],
                "h": [fixed(s.high_today, p), fixed(s.high, p)],
                "o": fixed(s.open_today, p),
            }
        return result

    def _depth(self, params: Params) -> dict[str, Any]:
        key, pair = self._single_pair(params)
        count = parse_int(params, "count", 100) or 100
        if not 1 <= count <= 500:
            raise VenueError(invalid_argument("count"))
        book = self._venue.book(pair.symbol, count)
        stamp = int(book.timestamp)
        p, q = pair.pair_decimals, pair.lot_decimals

        def rows(levels: tuple[tuple[Decimal, Decimal], ...]) -> list[list[Any]]:
            return [[fixed(price, p), fixed(qty, q), stamp] for price, qty in levels]

        return {key: {"asks": rows(book.asks), "bids": rows(book.bids)}}

    def _ohlc(self, params: Params) -> dict[str, Any]:
        key, pair = self._single_pair(params)
        interval = parse_int(params, "interval", 1) or 1
        if interval not in OHLC_INTERVALS:
            raise VenueError(invalid_argument("interval"))
        since = parse_int(params, "since")
        bars = self._venue.ohlc(pair.symbol, interval, since=since)[-MAX_OHLC_ROWS:]
        p, q = pair.pair_decimals, pair.lot_decimals
        rows = [
            [
                bar.interval_begin,
                fixed(bar.open, p),
                fixed(bar.high, p),
                fixed(bar.low, p),
                fixed(bar.close, p),
                fixed(bar.vwap, p),
                fixed(bar.volume, q),
                bar.trades,
            ]
            for bar in bars
        ]
        last = (
            bars[-2].interval_begin if len(bars) > 1 else (bars[-1].interval_begin if bars else 0)
        )
        return {key: rows, "last": last}

    def _trades(self, params: Params) -> dict[str, Any]:
        key, pair = self._single_pair(params)
        since_raw = parse_int(params, "since")
        count = parse_int(params, "count", 1000) or 1000
        if not 1 <= count <= 1000:
            raise VenueError(invalid_argument("count"))
        since = _since_seconds(since_raw)
        trades = self._venue.recent_trades(pair.symbol, since=since, count=count)
        p, q = pair.pair_decimals, pair.lot_decimals
        rows = [
            [
                fixed(t.price, p),
                fixed(t.qty, q),
                round(t.timestamp, 4),
                "b" if t.side == "buy" else "s",
                "m" if t.ord_type == "market" else "l",
                "",
                t.trade_id,
            ]
            for t in trades
        ]
        last = int(trades[-1].timestamp * 1_000_000_000) if trades else (since_raw or 0)
        return {key: rows, "last": str(last)}

    def _spread(self, params: Params) -> dict[str, Any]:
        key, pair = self._single_pair(params)
        since = parse_float(params, "since")
        samples = self._venue.spread(pair.symbol, since=since)
        p = pair.pair_decimals
        rows = [[int(s.time), fixed(s.bid, p), fixed(s.ask, p)] for s in samples]
        return {key: rows, "last": int(samples[-1].time) if samples else int(since or 0)}


def _since_seconds(since: int | None) -> float | None:
    """Kraken's Trades `since` is nanoseconds; older clients send seconds. Both work."""
    if since is None:
        return None
    return since / 1_000_000_000 if since > 10**12 else float(since)
