"""One malformed file per validation rule, read through the real file loader."""

import numpy as np
import pandas as pd
import pytest

from core.data import DataError, DataValidationError, FileProvider, validate_ohlcv


def _good(n=6):
    return pd.DataFrame(
        {
            "Date": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "Open": np.linspace(10, 15, n),
            "High": np.linspace(11, 16, n),
            "Low": np.linspace(9, 14, n),
            "Close": np.linspace(10.5, 15.5, n),
            "Volume": 100.0,
        }
    )


def _write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def test_good_csv_loads_case_insensitive_and_utc(tmp_path):
    frame = FileProvider(_write(tmp_path, _good(), "x.csv")).bars()
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert str(frame.index.tz) == "UTC" and frame.index.name == "ts"
    assert frame["close"].iloc[0] == 10.5


def test_parquet_loads(tmp_path):
    frame = FileProvider(_write(tmp_path, _good(), "x.parquet")).bars()
    assert len(frame) == 6


@pytest.mark.parametrize(
    ("mutate", "row", "rule"),
    [
        (lambda f: f.assign(High=f["High"].where(f.index != 3, 5.0)), 3, "high >= max(open, close)"),
        (lambda f: f.assign(Low=f["Low"].where(f.index != 2, 100.0)), 2, "low <= min(open, close)"),
        (lambda f: f.assign(Open=f["Open"].where(f.index != 1, -1.0), Low=f["Low"].where(f.index != 1, -2.0)), 1, "prices > 0"),
        (lambda f: f.assign(Volume=f["Volume"].where(f.index != 4, -5.0)), 4, "volume >= 0"),
        (lambda f: f.assign(Close=f["Close"].where(f.index != 5, np.nan)), 5, "no NaN"),
    ],
)
def test_each_rule_names_row_and_rule(tmp_path, mutate, row, rule):
    path = _write(tmp_path, mutate(_good()))
    with pytest.raises(DataValidationError) as err:
        FileProvider(path).bars()
    msg = str(err.value)
    assert f"row {row}" in msg and rule in msg and "bad.csv" in msg
    repaired = FileProvider(path, repair=True)
    assert len(repaired.bars()) == 5
    assert repaired.report.dropped == 1 and rule in repaired.report.repairs[0]


def test_unsorted_and_duplicates(tmp_path):
    f = _good()
    unsorted = pd.concat([f.iloc[[0, 2, 1]], f.iloc[3:]])
    with pytest.raises(DataValidationError, match="row 2 .*sorted by time"):
        FileProvider(_write(tmp_path, unsorted, "u.csv")).bars()
    dup = pd.concat([f, f.iloc[[2]]]).sort_values("Date", kind="stable")
    with pytest.raises(DataValidationError, match="duplicate timestamp"):
        FileProvider(_write(tmp_path, dup, "d.csv")).bars()
    fixed = FileProvider(_write(tmp_path, dup, "d.csv"), repair=True)
    assert len(fixed.bars()) == 6 and "duplicate" in fixed.report.repairs[0]


def test_missing_column_and_bad_time_and_non_numeric(tmp_path):
    with pytest.raises(DataValidationError, match="missing column.*volume"):
        FileProvider(_write(tmp_path, _good().drop(columns="Volume"))).bars()
    with pytest.raises(DataValidationError, match="no time column"):
        FileProvider(_write(tmp_path, _good().drop(columns="Date"))).bars()
    bad_time = _good().astype({"Date": object})
    bad_time.loc[2, "Date"] = "not a date"
    with pytest.raises(DataValidationError, match="cannot parse time column 'date' at row 2"):
        FileProvider(_write(tmp_path, bad_time)).bars()
    bad_num = _good().astype({"Close": object})
    bad_num.loc[3, "Close"] = "abc"
    with pytest.raises(DataValidationError, match="row 3 .*'close' value 'abc' is not a number"):
        FileProvider(_write(tmp_path, bad_num)).bars()


def test_missing_file_and_bad_type(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        FileProvider(tmp_path / "nope.csv").bars()
    other = tmp_path / "x.xlsx"
    other.write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        FileProvider(other).bars()


def test_epoch_milliseconds_and_timezones_are_converted():
    raw = _good(3).drop(columns="Date")
    raw["timestamp"] = [1704067200000, 1704153600000, 1704240000000]  # 2024-01-01..03 UTC in ms
    frame, _ = validate_ohlcv(raw)
    assert frame.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    raw2 = _good(2).assign(Date=["2024-01-01 09:30:00-05:00", "2024-01-02 09:30:00-05:00"])
    frame2, _ = validate_ohlcv(raw2)
    assert frame2.index[0] == pd.Timestamp("2024-01-01 14:30", tz="UTC")


def test_bundled_data_is_valid_and_long_enough(ctx):
    from core import services

    series = {(s.symbol, s.timeframe): s for s in services.list_series()}
    for sym in ("AAPL", "MSFT", "IBM", "GOOG"):
        info = series[(sym, "1d")]
        years = (pd.Timestamp(info.end) - pd.Timestamp(info.start)).days / 365.25
        assert years >= 8.5 if sym == "GOOG" else years >= 10
    assert ("SPX", "1d") in series and ("BTC-USD", "1d") in series and ("BTC-USD", "15m") in series
    aapl = services.load_bars("AAPL")
    # split-adjusted: AAPL's 2:1 splits (2000-06-21, 2005-02-28) must not show as -50% days;
    # the real -52% crash of 2000-09-29 (profit warning) must still be there.
    ret = aapl["close"].pct_change()
    assert abs(ret.loc[pd.Timestamp("2005-02-28", tz="UTC")]) < 0.1 and abs(ret.loc[pd.Timestamp("2000-06-21", tz="UTC")]) < 0.1
    assert ret.loc[pd.Timestamp("2000-09-29", tz="UTC")] < -0.5
    msft = services.load_bars("MSFT")["close"].pct_change()
    assert abs(msft.loc[pd.Timestamp("2003-02-18", tz="UTC")]) < 0.1  # MSFT 2:1 split


def test_times_with_different_offsets_are_converted_exactly_and_noted():
    # New York across the DST change: -05:00 then -04:00; each time is an exact instant.
    raw = _good(3).assign(Date=["2024-03-08 09:30:00-05:00", "2024-03-11 09:30:00-04:00", "2024-03-12 09:30:00-04:00"])
    frame, report = validate_ohlcv(raw)
    assert list(frame.index) == [pd.Timestamp("2024-03-08 14:30", tz="UTC"), pd.Timestamp("2024-03-11 13:30", tz="UTC"),
                                 pd.Timestamp("2024-03-12 13:30", tz="UTC")]
    assert any("different UTC offsets (first change at row 1)" in n for n in report.notes)


def test_zoned_and_unzoned_times_name_the_first_offending_row():
    raw = _good(4).assign(Date=["2024-01-01T00:00:00Z", "2024-01-02T00:00:00+00:00", "2024-01-03", "2024-01-04T00:00:00Z"])
    with pytest.raises(DataValidationError, match=r"row 2 \('2024-01-03'\): the time has no UTC offset but row 0 has one"):
        validate_ohlcv(raw)


def test_bad_tick_is_refused_or_dropped_but_a_level_shift_is_kept():
    f = _good(8)
    spiked = f.assign(**{c: f[c].where(f.index != 4, f[c] * 1000) for c in ("Open", "High", "Low", "Close")})
    with pytest.raises(DataValidationError, match="row 4 .*likely bad tick"):
        validate_ohlcv(spiked)
    kept, report = validate_ohlcv(spiked, repair=True)
    assert len(kept) == 7 and "dropped 1 likely bad tick" in report.repairs[0]
    # An unadjusted 1:100 reverse split moves the level once; it is not a bad tick.
    shifted = f.assign(**{c: f[c].where(f.index < 4, f[c] * 100) for c in ("Open", "High", "Low", "Close")})
    assert len(validate_ohlcv(shifted)[0]) == 8


def _scaled(f, rows, factor):
    return f.assign(**{c: f[c].where(~f.index.isin(rows), f[c] * factor) for c in ("Open", "High", "Low", "Close")})


@pytest.mark.parametrize(("rows", "factor"), [((4, 5), 1000.0), ((3, 4, 5), 0.001), ((5, 6), 60.0)])
def test_a_run_of_two_or_three_bad_ticks_is_found_whole(rows, factor):
    spiked = _scaled(_good(10), rows, factor)
    with pytest.raises(DataValidationError, match=rf"row {rows[0]} .*and the next {len(rows) - 1} bar\(s\).*likely bad tick"):
        validate_ohlcv(spiked)
    kept, report = validate_ohlcv(spiked, repair=True)
    assert len(kept) == 10 - len(rows) and f"dropped {len(rows)} likely bad tick" in report.repairs[0]


@pytest.mark.parametrize("rows", [(4, 5, 6, 7), (0, 1), (8, 9), (7, 8, 9), (0, 1, 2)])
def test_a_level_lasting_four_bars_or_reaching_an_end_is_not_a_tick(rows):
    # four bars at 1000x and back is beyond a feed glitch; a run touching the first or last bar has one side only (a split)
    frame, _ = validate_ohlcv(_scaled(_good(10), rows, 1000.0))
    assert len(frame) == 10


def test_day_first_dates_are_read_day_first_and_ambiguous_ones_refused():
    raw = _good(3).assign(Date=["01/03/2000", "13/03/2000", "14/03/2000"])
    frame, _ = validate_ohlcv(raw)
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2000-03-01", "2000-03-13", "2000-03-14"]
    us = _good(3).assign(Date=["03/01/2000", "03/13/2000", "03/14/2000"])
    assert list(validate_ohlcv(us)[0].index.strftime("%Y-%m-%d")) == ["2000-03-01", "2000-03-13", "2000-03-14"]
    with pytest.raises(DataValidationError, match=r"'01/03/2000' \(row 0\) may be day/month or month/day"):
        validate_ohlcv(_good(2).assign(Date=["01/03/2000", "02/03/2000"]))
    with pytest.raises(DataValidationError, match=r"row 1 \('13/03/2000'\) puts the day first but row 2 \('03/14/2000'\) the month"):
        validate_ohlcv(_good(3).assign(Date=["01/03/2000", "13/03/2000", "03/14/2000"]))


@pytest.mark.parametrize(("dates", "match"), [
    (["03-01", "03-02"], r"row 0: time column 'date' value '03-01' has no 4-digit year"),
    (["09:30", "09:31"], r"value '09:30' has no 4-digit year"),
    (["01/03/99", "13/03/99"], r"value '01/03/99' has no 4-digit year"),
    (["1799-12-31", "1800-01-02"], r"row 0: the time 1799-12-31 .* is outside 1800-01-01 .. 2199-12-31"),
    (["2199-12-31", "2200-01-01"], r"row 1: the time 2200-01-01 .* is outside"),
])
def test_times_a_parser_would_invent_or_no_market_had_are_refused(dates, match):
    with pytest.raises(DataValidationError, match=match):
        validate_ohlcv(_good(2).assign(Date=dates))


def test_epoch_numbers_too_large_for_any_unit_name_the_row():
    with pytest.raises(DataValidationError, match=r"row 1: time column 'date' holds 1e\+300, too large for epoch ns"):
        validate_ohlcv(_good(2).assign(Date=[1.7e9, 1e300]))


@pytest.mark.parametrize(("content", "match"), [
    (b"Date;Open;High;Low;Close;Volume\n2024-01-01;1,0;2,0;0,5;1,5;10\n", "separated by ';'"),
    ("Date,Name,Open\n2024-01-01,Société,1\n".encode("latin-1"), r"x.csv: not UTF-8 text \(byte 0xe9 on line 2\); save it as UTF-8 CSV"),
    (_good().to_parquet(), "a Parquet file named .csv; rename it to .parquet"),
])
def test_unreadable_csv_says_why(tmp_path, content, match):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        FileProvider(path).bars()


def test_text_named_parquet_and_wrongly_typed_columns_are_named(tmp_path):
    (tmp_path / "x.parquet").write_text("Date,Open\n2024-01-01,1\n")
    with pytest.raises(DataError, match=r"x.parquet: not a Parquet file \(it starts like text: if it is CSV, rename it to .csv\)"):
        FileProvider(tmp_path / "x.parquet").bars()
    with pytest.raises(DataValidationError, match="column 'close' holds true/false values, not numbers"):
        validate_ohlcv(_good(3).assign(Close=[True, False, True]))
    with pytest.raises(DataError, match=r"cannot open it \(File name too long\)"):
        FileProvider(tmp_path / ("x" * 5000 + ".csv")).bars()
