"""The malformed inputs of tests/test_bad_input.py: files, arguments, configuration (one table each).

Every file defect is a function of one small real frame (120 daily AAPL bars from the
bundled set) so the good frame is the control: it passes, each defect alone fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SECRET_TOKEN = "Zx9wQ4kLm2Np7Rt5Vy8Bc3Df6Gh1Jk0TOKENPART"  # a fake Discord webhook token
WEBHOOK_PATH = f"/api/webhooks/123456789012345678/{SECRET_TOKEN}"
DB_PASSWORD = "Hunter2DbPassw0rd"  # a fake password that must never be printed


def good_frame() -> pd.DataFrame:
    """Return 120 real daily bars (AAPL, 2000) with a string Date column and capitalised OHLCV names."""
    raw = pd.read_parquet(ROOT / "data/sample/AAPL__1d.parquet").head(120)
    out = pd.DataFrame({
        "Date": raw.index.strftime("%Y-%m-%d"), "Open": raw["open"].to_numpy(), "High": raw["high"].to_numpy(),
        "Low": raw["low"].to_numpy(), "Close": raw["close"].to_numpy(), "Volume": raw["volume"].to_numpy(),
    })  # fmt: skip
    return out


def _set(row: int, **values: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(f: pd.DataFrame) -> pd.DataFrame:
        f = f.copy()
        for col, value in values.items():
            if not isinstance(value, int | float) and f[col].dtype != object:
                f[col] = f[col].astype(object)
            f.loc[row, col] = value
        return f

    return mutate


def _scale(row: int, factor: float, cols: tuple[str, ...] = ("Open", "High", "Low", "Close")) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(f: pd.DataFrame) -> pd.DataFrame:
        f = f.copy()
        for col in cols:
            f.loc[row, col] = f.loc[row, col] * factor
        return f

    return mutate


def _time(values: Callable[[int], object]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(f: pd.DataFrame) -> pd.DataFrame:
        return f.assign(Date=[values(i) for i in range(len(f))])

    return mutate


def _scale_rows(rows: tuple[int, ...], factor: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(f: pd.DataFrame) -> pd.DataFrame:
        for row in rows:
            f = _scale(row, factor)(f)
        return f

    return mutate


def _slashes_both_orders(f: pd.DataFrame) -> pd.DataFrame:
    """DD/MM/YYYY dates (some with day 13+ first), and one late row written MM/DD/YYYY with its day 13+ second."""
    dates = [f"{d[8:10]}/{d[5:7]}/{d[:4]}" for d in f["Date"]]
    row = next(i for i in range(100, len(f)) if int(f["Date"][i][8:10]) > 12)
    dates[row] = f"{f['Date'][row][5:7]}/{f['Date'][row][8:10]}/{f['Date'][row][:4]}"
    return f.assign(Date=dates)


def _slashes_no_day_above_12(f: pd.DataFrame) -> pd.DataFrame:
    """DD/MM/YYYY dates on days 1..12 only: no row tells day/month from month/day."""
    kept = f[f["Date"].str.slice(8, 10).astype(int) <= 12].reset_index(drop=True)
    return kept.assign(Date=[f"{d[8:10]}/{d[5:7]}/{d[:4]}" for d in kept["Date"]])


def _mixed_zones(f: pd.DataFrame) -> pd.DataFrame:
    dates = [f"{d}T09:30:00+00:00" for d in f["Date"]]
    dates[40] = f"{f['Date'][40]}T09:30:00"
    return f.assign(Date=dates)


def _swap_rows(f: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([f.iloc[:30], f.iloc[[31, 30]], f.iloc[32:]], ignore_index=True)


# name -> (mutation, fails on `data show` too (False: only too little for backtest and risk))
FRAME_DEFECTS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], bool]] = {
    "nan_close": (_set(50, Close=np.nan), True),
    "nan_row": (_set(50, Open=np.nan, High=np.nan, Low=np.nan, Close=np.nan, Volume=np.nan), True),
    "inf_high": (_set(50, High=np.inf), True),
    "inf_volume": (_set(50, Volume=np.inf), True),
    "neg_inf_low": (_set(50, Low=-np.inf), True),
    "inf_everywhere": (_set(50, Open=np.inf, High=np.inf, Low=np.inf, Close=np.inf), True),
    "price_1e308": (_set(50, Open=1e308, High=1e308, Low=1e308, Close=1e308), True),
    "price_1e-300": (_set(50, Open=1e-300, High=1e-300, Low=1e-300, Close=1e-300), True),
    "high_1e308_only": (_set(50, High=1e308), True),
    "volume_1e30": (_set(50, Volume=1e30), True),
    "zero_open": (_set(50, Open=0.0), True),
    "negative_close": (_set(50, Close=-3.0, Low=-4.0), True),
    "negative_volume": (_set(50, Volume=-100.0), True),
    "high_below_close": (lambda f: _set(50, High=float(f.loc[50, "Close"]) * 0.9)(f), True),
    "low_above_open": (lambda f: _set(50, Low=float(f.loc[50, "Open"]) * 1.1)(f), True),
    "bad_tick_up_1000x": (_scale(60, 1000.0), True),
    "bad_tick_down_1000x": (_scale(60, 0.001), True),
    "bad_tick_high_only": (_scale(60, 1000.0, ("High",)), True),
    "bad_tick_first_bar": (_scale(0, 1000.0), True),
    "bad_tick_last_bar": (_scale(119, 0.001), True),
    "time_row_counter": (_time(lambda i: i), True),
    "time_row_counter_float": (_time(lambda i: i + 0.5), True),
    "time_negative": (_time(lambda i: -1000 + i), True),
    "time_yyyymmdd_int": (_time(lambda i: 20000101 + i), True),
    "time_mixed_zoned_unzoned": (_mixed_zones, True),
    "time_unparsable": (_set(30, Date="31/02/2000x"), True),
    "time_empty_cell": (_set(30, Date=None), True),
    "time_words": (_time(lambda i: f"day {i}"), True),
    "duplicate_timestamp": (lambda f: _set(31, Date=f.loc[30, "Date"])(f), True),
    "unsorted_rows": (_swap_rows, True),
    "missing_volume": (lambda f: f.drop(columns="Volume"), True),
    "missing_close": (lambda f: f.drop(columns="Close"), True),
    "missing_time": (lambda f: f.drop(columns="Date"), True),
    "duplicate_close_columns": (lambda f: f.assign(close=f["Close"]), True),
    "text_in_close": (_set(70, Close="abc"), True),
    "comma_decimal": (_set(70, Close="12,5"), True),
    "all_prices_text": (lambda f: f.assign(Open="n/a"), True),
    "header_only": (lambda f: f.iloc[:0], True),
    "two_rows": (lambda f: f.iloc[:2], False),
    "fifteen_rows": (lambda f: f.iloc[:15], False),
    # added by a later audit (each was a silent accept, a misleading message or 'a bug' before)
    "one_row": (lambda f: f.iloc[:1], False),
    "high_below_low": (lambda f: f.assign(High=f["Low"] * 0.5), True),
    "all_same_time": (lambda f: f.assign(Date=f["Date"][0]), True),
    "bad_tick_two_bars": (_scale_rows((60, 61), 1000.0), True),
    "bad_tick_three_bars_down": (_scale_rows((60, 61, 62), 0.001), True),
    "time_without_year": (lambda f: f.assign(Date=f["Date"].str.slice(5)), True),
    "time_of_day_only": (_time(lambda i: f"09:{i % 60:02d}"), True),
    "time_year_1": (_set(5, Date="0001-01-01"), True),
    "time_year_3000": (_time(lambda i: f"{3000 + i}-01-02"), True),
    "time_year_99999": (_set(119, Date="99999-01-01"), True),
    "time_feb_30": (_set(3, Date="2000-02-30"), True),
    "time_hour_24": (lambda f: f.assign(Date=f["Date"] + " 24:00"), True),
    "time_slashes_ambiguous": (_slashes_no_day_above_12, True),
    "time_slashes_both_orders": (_slashes_both_orders, True),
    "time_epoch_1e300": (_time(lambda i: 1e300 + i * 1e290), True),
    "trailing_total_row": (lambda f: pd.concat([f, pd.DataFrame([{"Date": "Total"}])], ignore_index=True), True),
    "repeated_header_row": (lambda f: pd.concat([f.iloc[:60], pd.DataFrame([{c: c for c in f.columns}]), f.iloc[60:]], ignore_index=True), True),
    "volume_in_millions": (lambda f: f.assign(Volume=[f"{v / 1e6:.1f}M" for v in f["Volume"]]), True),
    "dollar_prices": (lambda f: f.assign(Close=[f"${v:.2f}" for v in f["Close"]]), True),
}

CSV_ONLY: dict[str, bytes] = {
    "empty_file": b"",
    "binary_garbage": bytes(range(256)) * 4,
    "semicolon_separated": good_frame().head(50).to_csv(index=False, sep=";").encode(),
    "ragged_rows": (good_frame().head(50).to_csv(index=False) + "2000-12-01,1,2,0.5,1.5,10,99,100\n").encode(),
    "html_page": b"<!doctype html><html><body>404 Not Found</body></html>\n",
    "json_text": b'{"bars": [1, 2, 3]}\n',
    "latin1_text": good_frame().head(50).assign(Name="Société").to_csv(index=False).encode("latin-1"),
    "utf16_text": good_frame().head(50).to_csv(index=False).encode("utf-16"),
    "semicolons_and_decimal_commas": good_frame().head(50).to_csv(index=False, sep=";", decimal=",").encode(),
    "tab_separated": good_frame().head(50).to_csv(index=False, sep="\t").encode(),
    "parquet_bytes": b"",  # filled below: a Parquet file named .csv
}


# Parquet files whose columns have the wrong types (a CSV cannot carry these).
PARQUET_ONLY: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "bool_close": lambda f: f.assign(Close=f["Close"] > 3),
    "datetime_close": lambda f: f.assign(Close=pd.to_datetime(f["Date"])),
    "bool_time": lambda f: f.assign(Date=f["Open"] > 3),
    "list_close": lambda f: f.assign(Close=[[v] for v in f["Close"]]),
    "epoch_seconds_as_row_numbers": lambda f: f.assign(Date=np.arange(len(f)) * 86_400 // 1000),
}


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Return ``frame`` as Parquet bytes."""
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


CSV_ONLY["parquet_bytes"] = parquet_bytes(good_frame())


def write(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV or Parquet by ``path``'s suffix (mixed-type columns as text for Parquet)."""
    if path.suffix == ".parquet":
        frame = frame.copy()
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


# Arguments: (argv after `python -m core`, what the message must mention). GOOG is a bundled symbol.
ARG_CASES: list[tuple[list[str], str]] = [
    (["backtest", "--symbol", "GOOG", "--cash", "nan"], "finite"),
    (["backtest", "--symbol", "GOOG", "--cash", "inf"], "finite"),
    (["backtest", "--symbol", "GOOG", "--cash", "-5"], "positive"),
    (["backtest", "--symbol", "GOOG", "--cash", "0"], "positive"),
    (["backtest", "--symbol", "GOOG", "--cash", "1e400"], "finite"),
    (["backtest", "--symbol", "GOOG", "--cash", "ten"], "not a number"),
    (["backtest", "--symbol", "GOOG", "--commission", "5"], "0.1"),
    (["backtest", "--symbol", "GOOG", "--commission", "0.1"], "0.1"),
    (["backtest", "--symbol", "GOOG", "--commission", "-0.01"], "0.1"),
    (["backtest", "--symbol", "GOOG", "--commission", "nan"], "finite"),
    (["backtest", "--symbol", "GOOG", "--lot", "0"], "positive"),
    (["backtest", "--symbol", "GOOG", "--lot", "nan"], "finite"),
    (["backtest", "--symbol", "GOOG", "--size", "0"], "size"),
    (["backtest", "--symbol", "GOOG", "--size", "2"], "size"),
    (["backtest", "--symbol", "GOOG", "--size", "half"], "size"),
    (["backtest", "--symbol", "GOOG", "--start", "2012-01-01", "--end", "2010-01-01"], "after"),
    (["backtest", "--symbol", "GOOG", "--start", "yesterday-ish"], "not a date"),
    (["backtest", "--symbol", "GOOG", "--start", "2030-01-01"], "no bars"),
    (["backtest", "--symbol", "GOOG", "--start", "2010-01-04", "--end", "2010-01-20"], "needs at least"),
    (["backtest", "--symbol", "GOOG", "--param", "fast=abc"], "fast"),
    (["backtest", "--symbol", "GOOG", "--param", "fast=30"], "fast < slow"),
    (["backtest", "--symbol", "GOOG", "--param", "nosuch=1"], "unknown parameter"),
    (["backtest", "--symbol", "GOOG", "--param", "fast"], "NAME=VALUE"),
    (["backtest", "--symbol", "GOOG", "--param", "slow=5000"], "needs at least"),
    (["backtest", "--symbol", "GOOG", "--strategy", "sma_crss"], "did you mean"),
    (["backtest", "--symbol", "GOOG", "--timeframe", "7m"], "timeframe"),
    (["backtest", "--symbol", "NOPE"], "no bundled data"),
    (["backtest"], "--symbol"),
    (["backtest", "--symbol", "GOOG", "--data", "x.csv"], "not both"),
    (["backtest", "--symbol", "GOOG", "--risk", "yolo"], "invalid choice"),
    (["risk", "--symbol", "GOOG", "--risk-free", "50"], "fraction"),
    (["risk", "--symbol", "GOOG", "--risk-free", "nan"], "finite"),
    (["risk", "--symbol", "GOOG", "--risk-free", "-3"], "fraction"),
    (["risk", "--symbol", "GOOG", "--periods-per-year", "0"], "periods-per-year"),
    (["risk", "--symbol", "GOOG", "--periods-per-year", "-252"], "periods-per-year"),
    (["risk", "--symbol", "GOOG", "--periods-per-year", "25.5"], "whole number"),
    (["risk", "--symbol", "GOOG", "--horizon", "0"], "horizon"),
    (["risk"], "--symbol"),
    (["data", "show", "GOOG", "--start", "2012-01-01", "--end", "2010-01-01"], "after"),
    (["data", "show", "GOOG", "--end", "1990-01-01"], "no bars"),
    (["data", "show", "GOOG", "--timeframe", "2d"], "timeframe"),
    (["data", "show", "NOPE"], "no bundled data"),
    (["data", "show"], "SYMBOL"),
    (["train", "--symbols", "AAPL", "--horizon", "0"], "horizon"),
    (["train", "--symbols", "AAPL", "--folds", "1"], "folds"),
    (["train", "--symbols", "AAPL", "--dead-band", "nan"], "finite"),
    (["train", "--symbols", "AAPL", "--barrier", "2"], "barrier"),
    (["train", "--symbols", "AAPL", "--start", "2012-01-01", "--end", "2010-01-01"], "after"),
    (["audit", "--points", "0"], "points"),
    (["train"], "--symbols"),
    (["news", "list", "--limit", "0"], "limit"),
    (["dta", "list"], "did you mean"),
    # added by a later audit (silent accepts, 'a bug' lines or hangs before)
    (["backtest", "--symbol", "GOOG", "--cash", "1e308"], "at most"),
    (["backtest", "--symbol", "GOOG", "--lot", "1e12"], "at most"),
    (["backtest", "--symbol", "GOOG", "--param", "fast=5", "--param", "fast=7"], "twice"),
    (["backtest", "--symbol", "GOOG", "--param", "fast=10.5"], "an int"),
    (["backtest", "--symbol", "GOOG", "--param", "fast=1e400"], "an int"),
    (["backtest", "--symbol", "GOOG", "--param", "mode=sideways"], "long_flat"),
    (["backtest", "--symbol", "GOOG", "--start", "2010-13-45"], "not a date"),
    (["backtest", "--symbol", "GOOG", "--end", "1900-01-01"], "no bars"),
    (["backtest", "--symbol", "GOOG", "--size", "nan"], "size"),
    (["backtest", "--symbol", "GOOG", "--timeframe", ""], "timeframe"),
    (["backtest", "--symbol", ""], "--symbol"),
    (["backtest", "--data", "good.csv", "--timeframe", "7m"], "timeframe"),
    (["risk", "--symbol", "GOOG", "--timeframe", "7m"], "timeframe"),
    (["risk", "--symbol", "GOOG", "--benchmark", "NOPE"], "no bundled data"),
    (["risk", "--weights", "AAPL=abc"], "SYMBOL=FRACTION"),
    (["risk", "--weights", "AAPL=nan"], "finite"),
    (["risk", "--weights", "AAPL=1e308"], "between -10 and 10"),
    (["risk", "--weights", "=0.5"], "SYMBOL=FRACTION"),
    (["risk", "--weights", "AAPL=0.5,aapl=0.3"], "twice"),
    (["risk", "--weights", "AAPL=0"], "empty"),
    (["train", "--symbols", "AAPL", "--jobs", "0"], "--jobs"),
    (["train", "--symbols", ""], "--symbols"),
    (["sweep", "--symbols", "GOOG", "--grid", "fast=5:10:5", "--cash", "nan"], "finite"),
    (["sweep", "--symbols", "GOOG", "--grid", "fast=5:10:5", "--commission", "5"], "0.1"),
    (["sweep", "--symbols", "GOOG", "--grid", "fast=5:1e9:1", "--sequential"], "larger step"),
    (["sweep", "--symbols", "GOOG", "--grid", "fast=5:nan:1", "--sequential"], "finite"),
    (["sweep", "--symbols", "GOOG", "--grid", "fast=5:1000:1", "--grid", "slow=5:10000:1", "--sequential"], "parameter sets"),
    (["sweep", "--symbols", "GOOG", "--grid", "fast=50:5:5", "--sequential"], "start <= stop"),
    (["sweep", "--symbols", "GOOG", "--grid", "fast=5:10:5", "--workers", "-3"], "--workers"),
    (["sweep", "--symbols", "GOOG", "--grid", "fast=5:10:5", "--top", "-1"], "--top"),
]

# Configuration files: (name, YAML text, what the message must mention).
CONFIG_CASES: list[tuple[str, str, str]] = [
    ("unclosed_bracket", "risk: [\n  a: b", "invalid YAML at line"),
    ("tab_indent", "risk:\n\tmax_position_pct: 0.1\n", "invalid YAML at line"),
    ("mapping_in_scalar", "risk: a: b\n", "invalid YAML at line"),
    ("unterminated_quote", "mode: 'paper\n", "invalid YAML"),
    ("bad_indent", "risk:\n  max_position_pct: 0.1\n    kelly_fraction: 0.2\n", "invalid YAML"),
    ("top_level_list", "- risk\n- mode\n", "top level"),
    ("top_level_scalar", "paper\n", "top level"),
    ("unknown_section", "riks:\n  max_position_pct: 0.1\n", "not a known setting"),
    ("unknown_key", "risk:\n  max_positon_pct: 0.1\n", "did you mean 'risk.max_position_pct'"),
    ("misspelt_secret", f"notify:\n  discord_webhook: https://discord.com{WEBHOOK_PATH}\n", "discord_webhook_url"),
    ("out_of_range", "risk:\n  max_position_pct: 7\n", "risk.max_position_pct"),
    ("drawdown_too_wide", "risk:\n  max_drawdown_pct: 0.5\n", "risk.max_drawdown_pct"),
    ("nan_limit", "risk:\n  max_order_notional: .nan\n", "risk.max_order_notional"),
    ("inf_limit", "risk:\n  max_order_notional: .inf\n", "risk.max_order_notional"),
    ("text_number", "risk:\n  kelly_fraction: quarter\n", "risk.kelly_fraction"),
    ("commission_5", "trading:\n  commission: 5\n", "trading.commission"),
    ("negative_cash", "trading:\n  cash: -1\n", "trading.cash"),
    ("unknown_mode", "mode: yolo\n", "mode"),
    ("live_unconfirmed", "mode: live\n", "live_confirmed"),
    ("bad_log_level", "log:\n  level: LOUD\n", "log.level"),
    ("bad_port", "notify:\n  smtp_port: 70000\n", "notify.smtp_port"),
    ("garbage_database", "store:\n  database_url: garbage://x\n", "unsupported database"),
    ("mysql_with_password", f"store:\n  database_url: mysql://bot:{DB_PASSWORD}@db:3306/app\n", "mysql://bot:***@db"),
    ("section_is_list", "risk:\n  - 0.1\n", "risk"),
    # added by a later audit
    ("unknown_timeframe", "trading:\n  timeframe: 7m\n", "trading.timeframe"),
    ("no_symbols", "trading:\n  symbols: []\n", "trading.symbols"),
    ("cash_1e308", "trading:\n  cash: 1e308\n", "trading.cash"),
    ("stop_kind_unknown", "risk:\n  stop:\n    kind: nope\n", "risk.stop.kind"),
    ("stop_percent_100", "risk:\n  stop:\n    percent: 1.0\n", "risk.stop.percent"),
    ("live_confirmed_maybe", "mode: live\nlive_confirmed: maybe\n", "live_confirmed"),
    ("duplicate_key", "risk:\n  kelly_fraction: 0.2\n  kelly_fraction: 7\n", "risk.kelly_fraction"),
]
