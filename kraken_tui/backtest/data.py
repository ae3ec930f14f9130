"""Historical Kraken data for backtests: OHLCVT and time-and-sales CSVs read with polars.

Kraken publishes full trade history as ZIP archives of header-less CSV files:

* OHLCVT bars, one file per pair and interval, named ``<PAIR>_<minutes>.csv`` (for example
  ``XBTUSD_1.csv``, ``XBTUSD_1440.csv``), with the columns timestamp (Unix seconds, the bar's
  open time), open, high, low, close, volume, trades;
* time and sales, one file per pair (``XBTUSD.csv``), with timestamp (Unix seconds, possibly
  fractional), price, volume.

Every line is validated (field count, numbers, consistent high/low, time order) and a file with
bad lines is refused as a whole with a `DataError` naming the first few bad lines, because a
backtest over silently skipped rows would be quietly wrong. Parsed files are cached as Parquet,
keyed by path, size and modification time, so a year of minute bars loads in tens of
milliseconds the second time.

Gap policy: Kraken writes no bar for a minute without trades. By default missing bars stay
missing (the backtest simply sees no candle, as live trading would); `fill_gaps` inserts them as
flat bars at the previous close with zero volume and zero trades, for consumers that need a
regular grid. Filling invents at most `MAX_FILLED_PER_REAL_BAR` bars per real one, or it is
refused with a `DataError` naming the widest gap: the number of bars a gap creates comes from two
timestamps, not from the size of the data, so one bad timestamp (a bar dated years away) would
otherwise allocate millions of rows; and a series that is mostly invented bars tests the filler,
not the market (a longer interval, via `resample_to`, is then the honest grid).

Prices and volumes are float64 here (backtest arrays); `to_candles` converts to the domain's
Decimal `Candle` using the shortest repr of each float, which gives back the CSV's digits.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
from loguru import logger
from polars.expr.whenthen import ChainedThen, Then

from kraken_tui.domain.market import Candle

OHLCVT_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume", "trades")
TRADES_COLUMNS = ("timestamp", "price", "volume")
BAR_SCHEMA = pl.Schema(
    {
        "ts": pl.Datetime("us", "UTC"),
        "open": pl.Float64(),
        "high": pl.Float64(),
        "low": pl.Float64(),
        "close": pl.Float64(),
        "volume": pl.Float64(),
        "trades": pl.Int64(),
    }
)
TRADES_SCHEMA = pl.Schema(
    {"ts": pl.Datetime("us", "UTC"), "price": pl.Float64(), "volume": pl.Float64()}
)
MAX_REPORTED_BAD_LINES = 10
MAX_FILLED_PER_REAL_BAR = 10
KRAKEN_INTERVALS = frozenset({1, 5, 15, 30, 60, 240, 720, 1440, 10080, 21600})
"""Bar lengths (minutes) Kraken publishes OHLCVT files for: a file name carrying another
number (`prices_2024.csv`) is not taken to contradict a given interval."""

_INTERVAL_IN_NAME = re.compile(r"_(\d+)$")
_LINE_SEPARATOR = "\x1f"  # a byte that never occurs in the CSVs, so polars yields whole lines
_CACHE_FORMAT_VERSION = "1"


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str
    text: str


class DataError(Exception):
    """Historical data that cannot be used: missing file, wrong layout or malformed lines.

    The CLI reports it with exit code 2 (bad input), so the message must say what to fix.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        bad_lines: Sequence[BadLine] = (),
        bad_line_count: int = 0,
    ) -> None:
        self.message = message
        self.path = path
        self.bad_lines = tuple(bad_lines)
        self.bad_line_count = bad_line_count
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [self.message]
        for bad in self.bad_lines:
            lines.append(f"  line {bad.line}: {bad.reason}: {bad.text[:80]!r}")
        hidden = self.bad_line_count - len(self.bad_lines)
        if hidden > 0:
            lines.append(f"  … and {hidden} more bad lines")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True, eq=False)
class Bars:
    """OHLCV bars (`BAR_SCHEMA`, sorted by open time `ts`) with the interval they are on."""

    frame: pl.DataFrame
    interval: int
    source: Path | None = None

    def __len__(self) -> int:
        return self.frame.height


def interval_from_filename(path: str | Path) -> int | None:
    """The bar interval in minutes encoded in a Kraken file name (`XBTUSD_15.csv` → 15)."""
    match = _INTERVAL_IN_NAME.search(Path(path).stem)
    return int(match.group(1)) if match else None


def default_cache_dir() -> Path:
    """Where parsed files are cached when the caller has no better place: the XDG cache."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kraken-tui" / "data"


def load_ohlcvt(
    path: str | Path,
    *,
    interval: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    resample_to: int | None = None,
    fill_gaps: bool = False,
    cache_dir: Path | None = None,
) -> Bars:
    """Load a Kraken OHLCVT CSV as bars.

    `interval` (minutes) defaults to the one in the file name; a given one must agree with a
    Kraken file name and with the bars' spacing (no finer than the data). Bars whose open time
    lies in [start, end) are kept (naive datetimes are taken as UTC); with `resample_to` each
    kept bar is built from all of its source bars, even those before `start`. `fill_gaps`
    inserts missing bars (see the module's gap policy). `cache_dir` enables the Parquet cache.
    """
    source = _existing_file(path)
    named = interval_from_filename(source)
    given = interval is not None
    if interval is None:
        if named is None:
            raise DataError(
                f"cannot tell the bar interval of {source.name}: Kraken names files like "
                "XBTUSD_1.csv (1-minute bars); pass --interval MINUTES",
                path=source,
            )
        interval = named
    _check_interval(interval, "--interval" if given else "interval")
    if given and named in KRAKEN_INTERVALS and named != interval:
        raise DataError(
            f"--interval {interval} conflicts with the file name {source.name}, which Kraken "
            f"gives to {named}-minute bars",
            path=source,
        )
    target = interval if resample_to is None else resample_to
    _check_resample(interval, target)
    frame = _cached_parse(source, "ohlcvt", _parse_ohlcvt, cache_dir)
    _check_spacing(frame, interval, source, given=given)
    bars = _select(frame.lazy(), interval, target, start, end)
    result = Bars(bars.collect(), target, source)
    return _fill(result) if fill_gaps else result


def load_trades(
    path: str | Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    cache_dir: Path | None = None,
) -> pl.DataFrame:
    """Load a Kraken time-and-sales CSV (`TRADES_SCHEMA`), trades timed in [start, end)."""
    source = _existing_file(path)
    trades = _cached_parse(source, "trades", _parse_trades, cache_dir).lazy()
    return trades.filter(_time_range(pl.col("ts"), start, end)).collect()


def trades_to_bars(trades: pl.DataFrame, interval: int, *, fill_gaps: bool = False) -> Bars:
    """Aggregate trades into `interval`-minute bars; bars without trades stay missing unless
    `fill_gaps`."""
    _check_interval(interval, "interval")
    frame = (
        trades.lazy()
        .group_by_dynamic("ts", every=f"{interval}m", closed="left", label="left")
        .agg(
            pl.col("price").first().alias("open"),
            pl.col("price").max().alias("high"),
            pl.col("price").min().alias("low"),
            pl.col("price").last().alias("close"),
            pl.col("volume").sum().alias("volume"),
            pl.len().cast(pl.Int64).alias("trades"),
        )
        .collect()
    )
    bars = Bars(frame, interval)
    return _fill(bars) if fill_gaps else bars


def resample(bars: Bars, interval: int) -> Bars:
    """Aggregate bars to a longer interval, a whole multiple of theirs (windows aligned to the
    Unix epoch, so daily bars start at 00:00 UTC)."""
    frame = _resample(bars.frame.lazy(), bars.interval, interval).collect()
    return Bars(frame, interval, bars.source)


def fill_gaps(bars: Bars) -> Bars:
    """Insert each missing bar as a flat bar at the previous close with zero volume/trades."""
    return _fill(bars)


def find_gaps(bars: Bars) -> pl.DataFrame:
    """One row per run of missing bars: first missing open time, the next present bar's open
    time, and how many bars are missing; for reporting data quality."""
    step = bars.interval * 60_000_000
    return (
        bars.frame.lazy()
        .select(
            (pl.col("ts").shift(1) + pl.duration(minutes=bars.interval)).alias("gap_start"),
            pl.col("ts").alias("gap_end"),
            (pl.col("ts").diff().dt.total_microseconds() // step - 1).alias("missing"),
        )
        .filter(pl.col("missing") > 0)
        .collect()
    )


def to_candles(bars: Bars, symbol: str) -> Iterator[Candle]:
    """The bars as closed domain candles; floats become Decimals through their shortest repr,
    so a price written as 30000.1 in the CSV is Decimal("30000.1"), not a binary expansion."""
    for ts, open_, high, low, close, volume, trades in bars.frame.iter_rows():
        yield Candle(
            symbol=symbol,
            interval=bars.interval,
            ts=ts,
            open=Decimal(repr(open_)),
            high=Decimal(repr(high)),
            low=Decimal(repr(low)),
            close=Decimal(repr(close)),
            volume=Decimal(repr(volume)),
            trades=trades,
        )


def _existing_file(path: str | Path) -> Path:
    source = Path(path).expanduser()
    if not source.exists():
        raise DataError(f"data file not found: {source}", path=source)
    if not source.is_file():
        raise DataError(f"not a regular file: {source}", path=source)
    return source


def _check_interval(interval: int, name: str) -> None:
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise DataError(f"{name} must be a positive number of minutes, got {interval!r}")


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _time_range(ts: pl.Expr, start: datetime | None, end: datetime | None) -> pl.Expr:
    condition = pl.lit(True)
    if start is not None:
        condition &= ts >= _as_utc(start)
    if end is not None:
        condition &= ts < _as_utc(end)
    return condition


def _floor_to(moment: datetime, minutes: int) -> datetime:
    seconds = int(_as_utc(moment).timestamp()) // (minutes * 60) * (minutes * 60)
    return datetime.fromtimestamp(seconds, UTC)


def _ceil_to(moment: datetime, minutes: int) -> datetime:
    step = minutes * 60
    seconds = -(-int(_as_utc(moment).timestamp()) // step) * step
    return datetime.fromtimestamp(seconds, UTC)


def _select(
    frame: pl.LazyFrame,
    interval: int,
    target: int,
    start: datetime | None,
    end: datetime | None,
) -> pl.LazyFrame:
    if target == interval:
        return frame.filter(_time_range(pl.col("ts"), start, end))
    # Widen the source range to whole target bars first, so the edge bars are complete.
    wide_start = None if start is None else _floor_to(start, target)
    wide_end = None if end is None else _ceil_to(end, target)
    source = frame.filter(_time_range(pl.col("ts"), wide_start, wide_end))
    return _resample(source, interval, target).filter(_time_range(pl.col("ts"), start, end))


def _check_resample(interval: int, target: int) -> None:
    _check_interval(target, "resample interval")
    if target % interval:
        raise DataError(
            f"cannot resample {interval}-minute bars to {target} minutes: "
            f"the new interval must be a whole multiple of {interval}"
        )


def _resample(frame: pl.LazyFrame, interval: int, target: int) -> pl.LazyFrame:
    _check_resample(interval, target)
    if target == interval:
        return frame
    return frame.group_by_dynamic("ts", every=f"{target}m", closed="left", label="left").agg(
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        pl.col("volume").sum(),
        pl.col("trades").sum(),
    )


def _fill(bars: Bars) -> Bars:
    if bars.frame.is_empty():
        return bars
    _check_fill_size(bars)
    close = pl.col("close").forward_fill()
    frame = (
        bars.frame.upsample("ts", every=f"{bars.interval}m")
        .with_columns(
            pl.col("open").fill_null(close),
            pl.col("high").fill_null(close),
            pl.col("low").fill_null(close),
            close,
            pl.col("volume").fill_null(0.0),
            pl.col("trades").fill_null(0),
        )
        .select(BAR_SCHEMA.names())
    )
    return Bars(frame, bars.interval, bars.source)


def _check_fill_size(bars: Bars) -> None:
    gaps = find_gaps(bars)
    invented = int(gaps["missing"].sum())
    if invented <= MAX_FILLED_PER_REAL_BAR * len(bars):
        return
    first_missing, next_bar, missing = gaps.sort("missing", descending=True).row(0)
    last_bar = first_missing - timedelta(minutes=bars.interval)
    where = bars.source.name if bars.source is not None else "bars"
    raise DataError(
        f"{where}: filling gaps would invent {invented:,} bars beside {len(bars):,} real ones, "
        f"more than {MAX_FILLED_PER_REAL_BAR} per real bar; the widest gap runs from the bar at "
        f"{last_bar:%Y-%m-%d %H:%M} to the bar at {next_bar:%Y-%m-%d %H:%M} UTC ({missing:,} "
        f"missing {bars.interval}-minute bars, {missing * bars.interval / 1440:,.1f} days). "
        "Check those timestamps, resample to a longer interval, or leave the gaps unfilled",
        path=bars.source,
    )


def _check_spacing(frame: pl.DataFrame, interval: int, source: Path, *, given: bool) -> None:
    """Catch a wrong interval before it silently corrupts resampling. A given interval must
    also not be finer than the data: 5-minute bars read as 1-minute ones pass the grid test
    but would be replayed as a market that trades one minute in five."""
    option = f"--interval {interval}: " if given else ""
    step = interval * 60_000_000
    gaps = frame.select(pl.col("ts"), pl.col("ts").diff().dt.total_microseconds().alias("gap"))
    off_grid = gaps.filter(pl.col("gap") % step != 0)
    if off_grid.height:
        ts = off_grid.item(0, "ts")
        raise DataError(
            f"{option}{source.name}: bars are not {interval} minute(s) apart (first off-grid "
            f"bar at {ts:%Y-%m-%d %H:%M:%S} UTC); is the interval right?",
            path=source,
        )
    minutes = (gaps["gap"].drop_nulls() // 60_000_000).to_numpy()
    if given and minutes.size and (spacing := int(np.gcd.reduce(minutes))) > interval:
        raise DataError(
            f"{option}{source.name}: every bar is a multiple of {spacing} minutes after the "
            f"one before, so these are {spacing}-minute bars; pass --interval {spacing}",
            path=source,
        )


def _cached_parse(
    source: Path,
    kind: str,
    parse: Callable[[Path], pl.DataFrame],
    cache_dir: Path | None,
) -> pl.DataFrame:
    if cache_dir is None:
        return parse(source)
    stat = source.stat()
    identity = f"{_CACHE_FORMAT_VERSION}|{kind}|{source.resolve()}"
    prefix = f"{source.stem}.{kind}.{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
    cached = cache_dir / f"{prefix}.{stat.st_size}-{stat.st_mtime_ns}.parquet"
    if cached.is_file():
        try:
            return pl.read_parquet(cached)
        except (pl.exceptions.PolarsError, OSError) as error:
            logger.warning("ignoring unreadable data cache {}: {}", cached, error)
    frame = parse(source)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(f"{prefix}.*.parquet"):
        if stale != cached:
            stale.unlink(missing_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    frame.write_parquet(partial)
    os.replace(partial, cached)
    return frame


def _scan_fields(source: Path, columns: Sequence[str]) -> pl.LazyFrame:
    """Every non-blank line with its 1-based line number, field count and fields as floats
    (null where a field is missing or not a number)."""
    lines = pl.scan_csv(
        source,
        has_header=False,
        separator=_LINE_SEPARATOR,
        quote_char=None,
        schema={"text": pl.String},
    ).with_row_index("line", offset=1)
    fields = pl.col("text").str.split(",")
    numbers = [
        fields.list.get(i, null_on_oob=True)
        .str.strip_chars()
        .cast(pl.Float64, strict=False)
        .alias(name)
        for i, name in enumerate(columns)
    ]
    return lines.filter(pl.col("text").str.strip_chars().str.len_bytes() > 0).with_columns(
        fields.list.len().alias("field_count"), *numbers
    )


def _field_problems(columns: Sequence[str]) -> Then | ChainedThen:
    expected = len(columns)
    reason: Then | ChainedThen = pl.when(pl.col("field_count") != expected).then(
        pl.format(f"expected {expected} fields, found {{}}", pl.col("field_count"))
    )
    for name in columns:
        reason = reason.when(~pl.col(name).is_finite().fill_null(False)).then(
            pl.lit(f"{name} is not a number")
        )
    return reason


def _collect_checked(
    source: Path,
    kind: str,
    columns: Sequence[str],
    checked: pl.LazyFrame,
) -> pl.DataFrame:
    frame = checked.collect()
    if frame.is_empty():
        raise DataError(f"{source.name} holds no data lines", path=source)
    bad = frame.filter(pl.col("reason").is_not_null())
    if bad.height:
        counts = frame["field_count"].unique()
        if counts.len() == 1 and counts[0] != len(columns):
            raise DataError(
                f"{source.name} has {counts[0]} columns per line but a Kraken {kind} file has "
                f"{len(columns)} ({', '.join(columns)}); is this the right kind of file?",
                path=source,
            )
        raise DataError(
            f"{source.name}: {bad.height} malformed line(s); fix or remove them",
            path=source,
            bad_lines=[
                BadLine(line, reason, text)
                for line, reason, text in bad.head(MAX_REPORTED_BAD_LINES)
                .select("line", "reason", "text")
                .iter_rows()
            ],
            bad_line_count=bad.height,
        )
    return frame


def _epoch_seconds_to_ts() -> pl.Expr:
    return (
        (pl.col("timestamp") * 1_000_000)
        .round()
        .cast(pl.Int64)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
        .alias("ts")
    )


def _parse_ohlcvt(source: Path) -> pl.DataFrame:
    o, h, lo, c = pl.col("open"), pl.col("high"), pl.col("low"), pl.col("close")
    previous = pl.col("timestamp").shift(1)
    reason = (
        _field_problems(OHLCVT_COLUMNS)
        .when((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0))
        .then(pl.lit("prices must be positive"))
        .when(lo > h)
        .then(pl.lit("low is above high"))
        .when((o > h) | (o < lo) | (c > h) | (c < lo))
        .then(pl.lit("open or close outside the high-low range"))
        .when(pl.col("volume") < 0)
        .then(pl.lit("volume is negative"))
        .when((pl.col("trades") < 0) | (pl.col("trades") != pl.col("trades").floor()))
        .then(pl.lit("trades is not a non-negative whole number"))
        .when(pl.col("timestamp") <= previous)
        .then(pl.lit("timestamp is not after the previous line's"))
        .otherwise(None)
        .alias("reason")
    )
    frame = _collect_checked(
        source, "OHLCVT", OHLCVT_COLUMNS, _scan_fields(source, OHLCVT_COLUMNS).with_columns(reason)
    )
    return frame.select(
        _epoch_seconds_to_ts(),
        "open",
        "high",
        "low",
        "close",
        "volume",
        pl.col("trades").cast(pl.Int64),
    )


def _parse_trades(source: Path) -> pl.DataFrame:
    reason = (
        _field_problems(TRADES_COLUMNS)
        .when(pl.col("price") <= 0)
        .then(pl.lit("price must be positive"))
        .when(pl.col("volume") < 0)
        .then(pl.lit("volume is negative"))
        .when(pl.col("timestamp") < pl.col("timestamp").shift(1))
        .then(pl.lit("timestamp is before the previous line's"))
        .otherwise(None)
        .alias("reason")
    )
    frame = _collect_checked(
        source,
        "time-and-sales",
        TRADES_COLUMNS,
        _scan_fields(source, TRADES_COLUMNS).with_columns(reason),
    )
    return frame.select(_epoch_seconds_to_ts(), "price", "volume")
