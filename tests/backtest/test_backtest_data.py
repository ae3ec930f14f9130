import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from kraken_tui.backtest.data import (
    BAR_SCHEMA,
    MAX_FILLED_PER_REAL_BAR,
    MAX_REPORTED_BAD_LINES,
    TRADES_SCHEMA,
    Bars,
    DataError,
    fill_gaps,
    find_gaps,
    interval_from_filename,
    load_ohlcvt,
    load_trades,
    resample,
    to_candles,
    trades_to_bars,
)

T0 = 1_704_067_200  # 2024-01-01 00:00:00 UTC


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def minute_lines(count: int, *, skip: frozenset[int] = frozenset()) -> list[str]:
    """`count` one-minute bars with easily checked values: bar i opens at 100 + i."""
    lines = []
    for i in range(count):
        if i in skip:
            continue
        o = 100 + i
        lines.append(f"{T0 + 60 * i},{o},{o + 2},{o - 1},{o + 1},{i + 1}.5,{i + 2}")
    return lines


def test_ohlcvt_csv_is_parsed_into_typed_bars(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(3))
    bars = load_ohlcvt(path)
    assert bars.interval == 1
    assert bars.source == path
    assert bars.frame.schema == BAR_SCHEMA
    assert bars.frame.row(0) == (at(T0), 100.0, 102.0, 99.0, 101.0, 1.5, 2)
    assert bars.frame["ts"].to_list() == [at(T0), at(T0 + 60), at(T0 + 120)]


def test_interval_is_inferred_from_kraken_file_names() -> None:
    assert interval_from_filename("XBTUSD_1.csv") == 1
    assert interval_from_filename("/data/ETHEUR_1440.csv") == 1440
    assert interval_from_filename("XBTUSD.csv") is None


def test_file_without_interval_in_name_needs_an_explicit_interval(tmp_path: Path) -> None:
    path = write(tmp_path / "bars.csv", minute_lines(3))
    with pytest.raises(DataError, match="pass --interval MINUTES"):
        load_ohlcvt(path)
    assert load_ohlcvt(path, interval=1).interval == 1


def test_wrong_interval_is_caught_from_bar_spacing(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_5.csv", minute_lines(3))
    with pytest.raises(DataError, match="not 5 minute"):
        load_ohlcvt(path)


def test_date_range_keeps_bars_opening_from_start_up_to_end(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(10))
    bars = load_ohlcvt(path, start=at(T0 + 120), end=at(T0 + 300))
    assert bars.frame["ts"].to_list() == [at(T0 + 120), at(T0 + 180), at(T0 + 240)]


def test_naive_datetimes_in_date_range_are_taken_as_utc(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(10))
    naive_start = datetime(2024, 1, 1, 0, 8)
    assert load_ohlcvt(path, start=naive_start).frame["ts"].to_list() == [
        at(T0 + 480),
        at(T0 + 540),
    ]


def test_resampling_aggregates_ohlcv_like_a_hand_computation(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(7))
    bars = load_ohlcvt(path, resample_to=5)
    assert bars.interval == 5
    # Minutes 0-4: open of bar 0, max high of bars 0-4 (104 + 2), min low (100 - 1), close of
    # bar 4, volumes 1.5 + 2.5 + 3.5 + 4.5 + 5.5, trades 2 + 3 + 4 + 5 + 6.
    assert bars.frame.row(0) == (at(T0), 100.0, 106.0, 99.0, 105.0, 17.5, 20)
    assert bars.frame.row(1) == (at(T0 + 300), 105.0, 108.0, 104.0, 107.0, 14.0, 15)


def test_resampled_edge_bars_are_complete_even_when_start_is_mid_bar(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(15))
    bars = load_ohlcvt(path, resample_to=5, start=at(T0 + 120), end=at(T0 + 660))
    assert bars.frame["ts"].to_list() == [at(T0 + 300), at(T0 + 600)]
    assert bars.frame.row(1) == (at(T0 + 600), 110.0, 116.0, 109.0, 115.0, 67.5, 70)


def test_resample_rejects_intervals_that_are_not_whole_multiples(tmp_path: Path) -> None:
    bars = load_ohlcvt(write(tmp_path / "XBTUSD_5.csv", [f"{T0},1,1,1,1,1,1"]))
    with pytest.raises(DataError, match="whole multiple of 5"):
        resample(bars, 7)
    assert resample(bars, 15).interval == 15


@pytest.mark.parametrize(
    ("target", "message"),
    [(0, "resample interval must be a positive"), (7, "whole multiple of 2")],
)
def test_load_rejects_bad_resample_interval_before_reading(
    tmp_path: Path, target: int, message: str
) -> None:
    path = write(tmp_path / "bars.csv", minute_lines(3))
    with pytest.raises(DataError, match=message):
        load_ohlcvt(path, interval=2, resample_to=target)


def test_gaps_stay_missing_by_default_and_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(8, skip=frozenset({2, 3, 6})))
    bars = load_ohlcvt(path)
    assert len(bars) == 5
    gaps = find_gaps(bars)
    assert gaps.rows() == [(at(T0 + 120), at(T0 + 240), 2), (at(T0 + 360), at(T0 + 420), 1)]


def test_fill_gaps_inserts_flat_zero_volume_bars_at_previous_close(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(5, skip=frozenset({2, 3})))
    filled = load_ohlcvt(path, fill_gaps=True)
    assert filled.frame.schema == BAR_SCHEMA
    assert filled.frame.rows() == [
        (at(T0), 100.0, 102.0, 99.0, 101.0, 1.5, 2),
        (at(T0 + 60), 101.0, 103.0, 100.0, 102.0, 2.5, 3),
        (at(T0 + 120), 102.0, 102.0, 102.0, 102.0, 0.0, 0),
        (at(T0 + 180), 102.0, 102.0, 102.0, 102.0, 0.0, 0),
        (at(T0 + 240), 104.0, 106.0, 103.0, 105.0, 5.5, 6),
    ]
    assert find_gaps(filled).is_empty()
    assert fill_gaps(filled).frame.equals(filled.frame)


def test_filling_a_gap_of_a_year_is_refused_naming_the_gap_instead_of_inventing_it(
    tmp_path: Path,
) -> None:
    year = 365 * 24 * 60
    lines = [*minute_lines(3), f"{T0 + 60 * year},100,101,99,100,1,1"]
    path = write(tmp_path / "XBTUSD_1.csv", lines)
    assert len(load_ohlcvt(path)) == 4
    with pytest.raises(DataError) as refused:
        load_ohlcvt(path, fill_gaps=True)
    message = str(refused.value)
    assert message.startswith(
        f"XBTUSD_1.csv: filling gaps would invent {year - 3:,} bars beside 4 real ones, "
        f"more than {MAX_FILLED_PER_REAL_BAR} per real bar"
    )
    assert (
        "the widest gap runs from the bar at 2024-01-01 00:02 to the bar at 2024-12-31 00:00 UTC "
        f"({year - 3:,} missing 1-minute bars, 365.0 days)"
    ) in message
    assert refused.value.path == path


def two_bars_apart(missing: int) -> Bars:
    """Two one-minute bars with `missing` minutes between them, not read from any file."""
    frame = pl.DataFrame(
        {
            "ts": [at(T0), at(T0 + 60 * (missing + 1))],
            "open": [1.0, 2.0],
            "high": [1.0, 2.0],
            "low": [1.0, 2.0],
            "close": [1.0, 2.0],
            "volume": [1.0, 1.0],
            "trades": [1, 1],
        },
        schema=BAR_SCHEMA,
    )
    return Bars(frame, 1)


def test_filling_invents_up_to_the_limit_of_bars_per_real_bar_and_no_more() -> None:
    at_limit = 2 * MAX_FILLED_PER_REAL_BAR
    assert len(fill_gaps(two_bars_apart(at_limit))) == at_limit + 2
    with pytest.raises(DataError, match=f"^bars: filling gaps would invent {at_limit + 1} bars"):
        fill_gaps(two_bars_apart(at_limit + 1))


def test_malformed_lines_are_reported_with_line_numbers_and_reasons(tmp_path: Path) -> None:
    good = minute_lines(8)
    lines = [
        good[0],
        f"{T0 + 60},abc,102,100,101,2,4",
        f"{T0 + 120},100.5,99,100,101,2,4",
        f"{T0 + 180},1,2,3",
        "",
        f"{T0 + 170},100,100,100,100,1,1",
        f"{T0 + 300},100,100,100,100,-1,1",
        f"{T0 + 360},100,100,100,100,1,2.5",
        f"{T0 + 420},100,101,99,102,1,1",
    ]
    path = write(tmp_path / "XBTUSD_1.csv", lines)
    with pytest.raises(DataError) as caught:
        load_ohlcvt(path)
    error = caught.value
    assert error.path == path
    assert error.bad_line_count == 7
    assert [(bad.line, bad.reason) for bad in error.bad_lines] == [
        (2, "open is not a number"),
        (3, "low is above high"),
        (4, "expected 7 fields, found 4"),
        (6, "timestamp is not after the previous line's"),
        (7, "volume is negative"),
        (8, "trades is not a non-negative whole number"),
        (9, "open or close outside the high-low range"),
    ]
    assert "line 4: expected 7 fields, found 4" in str(error)


def test_only_the_first_bad_lines_are_listed_with_a_count_of_the_rest(tmp_path: Path) -> None:
    lines = [f"{T0 + 60 * i},x,1,1,1,1,1" for i in range(25)]
    with pytest.raises(DataError) as caught:
        load_ohlcvt(write(tmp_path / "XBTUSD_1.csv", lines))
    assert len(caught.value.bad_lines) == MAX_REPORTED_BAD_LINES
    assert caught.value.bad_line_count == 25
    assert "and 15 more bad lines" in str(caught.value)


def test_missing_file_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data file not found"):
        load_ohlcvt(tmp_path / "XBTUSD_1.csv")
    with pytest.raises(DataError, match="data file not found"):
        load_trades(tmp_path / "XBTUSD.csv")


def test_directory_instead_of_file_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a regular file"):
        load_ohlcvt(tmp_path, interval=1)


def test_empty_file_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no data lines"):
        load_ohlcvt(write(tmp_path / "XBTUSD_1.csv", []))


def test_trades_file_passed_as_ohlcvt_names_the_column_mismatch(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", [f"{T0}.5,100.1,0.5", f"{T0 + 1},100.2,0.25"])
    with pytest.raises(DataError, match="has 3 columns per line but a Kraken OHLCVT file has 7"):
        load_ohlcvt(path)


def test_ohlcvt_file_passed_as_trades_names_the_column_mismatch(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(2))
    with pytest.raises(DataError, match="has 7 columns per line but a Kraken time-and-sales"):
        load_trades(path)


def test_trades_csv_with_fractional_timestamps_is_parsed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "XBTUSD.csv",
        [f"{T0}.25,100.1,0.5", f"{T0}.25,100.3,0.1", f"{T0 + 61},99.9,2"],
    )
    trades = load_trades(path)
    assert trades.schema == TRADES_SCHEMA
    assert trades.rows() == [
        (datetime(2024, 1, 1, 0, 0, 0, 250_000, UTC), 100.1, 0.5),
        (datetime(2024, 1, 1, 0, 0, 0, 250_000, UTC), 100.3, 0.1),
        (at(T0 + 61), 99.9, 2.0),
    ]
    assert load_trades(path, start=at(T0 + 1)).height == 1


def test_trades_going_back_in_time_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD.csv", [f"{T0 + 5},100,1", f"{T0 + 4},100,1", f"{T0},0,1"])
    with pytest.raises(DataError) as caught:
        load_trades(path)
    assert [(b.line, b.reason) for b in caught.value.bad_lines] == [
        (2, "timestamp is before the previous line's"),
        (3, "price must be positive"),
    ]


def test_trades_aggregate_into_bars_like_a_hand_computation(tmp_path: Path) -> None:
    path = write(
        tmp_path / "XBTUSD.csv",
        [
            f"{T0 + 1},100,1",
            f"{T0 + 20},103,0.5",
            f"{T0 + 59.9},99,0.25",
            f"{T0 + 59.95},101,2",
            f"{T0 + 185},110,3",
        ],
    )
    bars = trades_to_bars(load_trades(path), 1)
    assert bars.interval == 1
    assert bars.frame.schema == BAR_SCHEMA
    assert bars.frame.rows() == [
        (at(T0), 100.0, 103.0, 99.0, 101.0, 3.75, 4),
        (at(T0 + 180), 110.0, 110.0, 110.0, 110.0, 3.0, 1),
    ]
    filled = trades_to_bars(load_trades(path), 1, fill_gaps=True)
    assert filled.frame["volume"].to_list() == [3.75, 0.0, 0.0, 3.0]
    assert filled.frame["close"].to_list() == [101.0, 101.0, 101.0, 110.0]


def test_candles_carry_the_csv_digits_as_decimals(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", [f"{T0},30000.1,30000.3,29999.9,30000.2,0.1,3"])
    (candle,) = to_candles(load_ohlcvt(path), "XBT/USD")
    assert candle.symbol == "XBT/USD"
    assert candle.interval == 1
    assert candle.ts == at(T0)
    assert candle.open == Decimal("30000.1")
    assert candle.close == Decimal("30000.2")
    assert candle.volume == Decimal("0.1")
    assert candle.trades == 3
    assert candle.closed


def test_parquet_cache_is_written_then_reused(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(5))
    cache = tmp_path / "cache"
    first = load_ohlcvt(path, cache_dir=cache)
    (cached,) = cache.glob("*.parquet")
    assert cached.name.startswith("XBTUSD_1.ohlcvt.")
    # Corrupting the CSV without changing size or mtime proves the second load reads the cache.
    stat = path.stat()
    path.write_text(path.read_text().replace("100,102", "abc,102"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = load_ohlcvt(path, cache_dir=cache)
    assert second.frame.equals(first.frame)


def test_parquet_cache_is_invalidated_when_the_file_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(5))
    cache = tmp_path / "cache"
    load_ohlcvt(path, cache_dir=cache)
    write(path, minute_lines(6))
    assert len(load_ohlcvt(path, cache_dir=cache)) == 6
    assert len(list(cache.glob("*.parquet"))) == 1


def test_unreadable_cache_entry_is_rebuilt_from_the_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "XBTUSD_1.csv", minute_lines(5))
    cache = tmp_path / "cache"
    load_ohlcvt(path, cache_dir=cache)
    (cached,) = cache.glob("*.parquet")
    cached.write_bytes(b"not parquet")
    assert len(load_ohlcvt(path, cache_dir=cache)) == 5
    assert pl.read_parquet(cached).height == 5


def test_cache_keeps_ohlcvt_and_trades_of_one_file_apart(tmp_path: Path) -> None:
    trades_dir = tmp_path / "trades"
    trades_dir.mkdir()
    bars_dir = tmp_path / "bars"
    bars_dir.mkdir()
    trades_path = write(trades_dir / "XBTUSD.csv", [f"{T0},100,1"])
    ohlcvt_path = write(bars_dir / "XBTUSD.csv", minute_lines(2))
    cache = tmp_path / "cache"
    assert load_trades(trades_path, cache_dir=cache).height == 1
    assert len(load_ohlcvt(ohlcvt_path, interval=1, cache_dir=cache)) == 2
    assert len(list(cache.glob("*.parquet"))) == 2


def test_bars_report_their_length() -> None:
    assert len(Bars(pl.DataFrame(schema=BAR_SCHEMA), 1)) == 0
