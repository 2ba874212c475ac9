"""The feature set: TA-Lib studies made scale-free, plus returns, volatility, volume, calendar.

Every column at row t is a function of bars[0..t] only: TA-Lib and the rolling
statistics below run forward over the series, and nothing is normalised with
statistics of the whole sample (z-scores use trailing windows). Prices enter
as ratios to the close and volumes as z-scores of log volume, so one model can
be trained across symbols of very different price levels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from core.features._ta import TaCalls
from core.features.config import FeatureConfig

OHLCV = ("open", "high", "low", "close", "volume")
CONSOLIDATE_MAX_CELLS = 20_000_000  # ~160 MB: below this the frame is returned as one block

# Candlestick patterns with a documented meaning and enough occurrences on daily equities.
CANDLES = (
    "CDLDOJI", "CDLHAMMER", "CDLENGULFING", "CDLHARAMI", "CDLMORNINGSTAR", "CDLEVENINGSTAR",
    "CDLSHOOTINGSTAR", "CDL3WHITESOLDIERS", "CDL3BLACKCROWS", "CDLMARUBOZU", "CDLSPINNINGTOP",
    "CDLHANGINGMAN", "CDLINVERTEDHAMMER", "CDLPIERCING", "CDLDARKCLOUDCOVER", "CDLLONGLINE",
)  # fmt: skip


def _div(num: np.ndarray, den: np.ndarray, inplace: bool = False) -> np.ndarray:
    """Return num / den with 0 where the denominator is 0 (flat bars, zero volume); NaN stays NaN.

    ``inplace`` writes into ``num`` (a fresh TA-Lib output we own): at a million bars
    allocating a new array per column costs as much as the division. The caller holds
    ``np.errstate(divide="ignore", invalid="ignore")`` (:func:`compute` sets it once, not per column).
    """
    out = np.divide(num, den, out=num if inplace else None)
    zero = den == 0
    if zero.any():  # rare: only flat bars or zero volume pay for the fix-up
        out[zero & ~np.isnan(out)] = 0.0
    return out


def _lag(x: np.ndarray, w: int) -> np.ndarray:
    """Return x shifted w bars later (x[t - w] at t), NaN where there is no past yet."""
    out = np.full(len(x), np.nan)
    if w < len(x):
        out[w:] = x[: len(x) - w]
    return out


def _arrays(bars: pd.DataFrame) -> tuple[np.ndarray, ...]:
    missing = [c for c in OHLCV if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lack columns {missing}: features need open, high, low, close, volume")
    # TA-Lib's function API rejects anything but contiguous float64.
    if tuple(bars.columns) == OHLCV:  # the usual frame: one array, transposed so that each series is contiguous
        return tuple(np.ascontiguousarray(bars.to_numpy(dtype=np.float64).T))
    return tuple(np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64)) for c in OHLCV)


def _calendar_fields(idx: pd.DatetimeIndex) -> tuple[np.ndarray, ...]:
    """Return day of week (Monday 0), month, day of month, hour and minute of each stamp, as floats.

    UTC and naive stamps are split with datetime64 arithmetic (pandas' field accessors cost
    ~50 µs each, more than the rest of a bar's calendar columns); other zones use pandas.
    """
    if idx.tz is not None and str(idx.tz) != "UTC":
        return tuple(np.asarray(f, dtype=np.float64) for f in (idx.day_of_week, idx.month, idx.day, idx.hour, idx.minute))
    stamps = idx.tz_localize(None).to_numpy() if idx.tz is not None else idx.to_numpy()
    days = stamps.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    minutes = (stamps - days).astype("timedelta64[m]").astype(np.int64)
    day_number = days.astype(np.int64)
    return (
        ((day_number + 3) % 7).astype(np.float64),  # 1970-01-01 was a Thursday
        (months.astype(np.int64) % 12 + 1).astype(np.float64),
        ((days - months.astype("datetime64[D]")).astype(np.int64) + 1).astype(np.float64),
        (minutes // 60).astype(np.float64),
        (minutes % 60).astype(np.float64),
    )


def _lag_tail(x: np.ndarray, w: int, start: int) -> np.ndarray:
    """Return ``_lag(x, w)[start:]`` without shifting the whole array."""
    n = len(x)
    out = np.full(n - start, np.nan)
    lo = max(w - start, 0)
    if lo < n - start:
        out[lo:] = x[start + lo - w : n - w]
    return out


def compute(bars: pd.DataFrame, config: FeatureConfig | None = None, *, last: int | None = None, _ta: TaCalls | None = None) -> pd.DataFrame:
    """Return the feature frame of ``bars`` (same index, float64 columns).

    Parameters
    ----------
    bars
        OHLCV bars, oldest first (a ``ts`` index and float columns).
    config
        Windows to use (default :class:`FeatureConfig`).
    last
        Return only the last ``last`` rows: exactly ``compute(bars).iloc[-last:]``, bit for
        bit. TA-Lib still runs over all of ``bars`` (a recursive study such as an EMA depends
        on where its input starts), but everything after it is element-wise and is done on
        those rows only: the trading loop needs the newest row (or a sequence model's few).

    Returns
    -------
    DataFrame
        At least 100 columns; rows before ``config.warmup`` may hold NaN.
    """
    cfg = config or FeatureConfig()
    ta = _ta or TaCalls()
    series = _arrays(bars)
    n = len(series[3])
    s = 0 if last is None else max(n - max(int(last), 0), 0)
    logs = np.log(series[3]), np.log1p(series[4])  # outside the errstate below: a non-positive close or volume still warns
    with np.errstate(divide="ignore", invalid="ignore"):  # what _div needs, set once for all columns
        cols = _columns(series, logs, cfg, ta, s)
    # --- calendar (known in advance, so causal) -------------------------------------------------------
    index = bars.index if s == 0 else bars.index[s:]
    dow, month, day, hour, minute = _calendar_fields(pd.DatetimeIndex(index))
    tau = 2.0 * np.pi
    for name, value, period in (
        ("dow", dow, 7.0),
        ("month", month - 1.0, 12.0),
        ("dom", day - 1.0, 31.0),
        ("hour", hour + minute / 60.0, 24.0),
    ):
        cols[f"{name}_sin"] = np.sin(tau * value / period)
        cols[f"{name}_cos"] = np.cos(tau * value / period)
    rows = n - s
    columns = _column_index(tuple(cols))
    if rows * len(cols) <= CONSOLIDATE_MAX_CELLS:
        # One block, so callers can add columns without pandas' fragmentation warning.
        data = np.empty((rows, len(cols)), dtype=np.float64, order="F")
        for j, col in enumerate(cols.values()):
            data[:, j] = col
        # TA-Lib edge cases (e.g. a zero close) can leave inf; models must never see it. (The candle,
        # trend-mode and calendar columns are bounded, so cleaning the whole block changes only the others.)
        data[np.isinf(data)] = np.nan
        return pd.DataFrame(data, index=index, columns=columns, copy=False)
    # Huge inputs keep one array per column: a consolidated copy would be another ~1 GB per million bars.
    skip_inf_check = {n.lower() for n in CANDLES} | {"ht_trendmode"} | {c for c in cols if c.endswith(("_sin", "_cos"))}
    for name, col in cols.items():
        if col.dtype != np.float64 or col.base is not None:
            cols[name] = col = np.array(col, dtype=np.float64)
        if name not in skip_inf_check:
            col[np.isinf(col)] = np.nan
    return pd.DataFrame(cols, index=index, columns=columns, copy=False)


@lru_cache(maxsize=16)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    """Return the feature columns as one shared Index (building 138 labels per call costs more than a bar's arithmetic)."""
    return pd.Index(list(names))


def _columns(series: tuple[np.ndarray, ...], logs: tuple[np.ndarray, np.ndarray], cfg: FeatureConfig, ta: TaCalls, s: int) -> dict[str, np.ndarray]:
    """Return the TA-Lib and price columns from row ``s`` on (TA-Lib always sees the whole series)."""
    o_, h_, low_, c_, v_ = series
    logc, logv = logs
    # Full series feed TA-Lib; their tails (views) feed the element-wise arithmetic.
    o, h, low, c = (o_, h_, low_, c_) if s == 0 else (o_[s:], h_[s:], low_[s:], c_[s:])
    cols: dict[str, np.ndarray] = {}

    def t(x: np.ndarray) -> np.ndarray:
        return x if s == 0 else x[s:]

    def lag(x: np.ndarray, w: int) -> np.ndarray:
        return _lag_tail(x, w, s)

    def ratio(name: str, level: np.ndarray) -> None:
        out = _div(t(level), c, inplace=True)
        out -= 1.0
        cols[name] = out

    # --- overlap studies: distance of each average from the close ----------------------
    for w in cfg.ma_windows:
        ratio(f"sma_{w}", ta("SMA", c_, timeperiod=w))
        ratio(f"ema_{w}", ta("EMA", c_, timeperiod=w))
    ratio("dema_20", ta("DEMA", c_, timeperiod=20))
    ratio("tema_20", ta("TEMA", c_, timeperiod=20))
    ratio("trima_20", ta("TRIMA", c_, timeperiod=20))
    ratio("wma_20", ta("WMA", c_, timeperiod=20))
    ratio("kama_30", ta("KAMA", c_, timeperiod=30))
    ratio("t3_5", ta("T3", c_, timeperiod=5))
    ratio("ht_trendline", ta("HT_TRENDLINE", c_))
    ratio("midpoint_14", ta("MIDPOINT", c_, timeperiod=14))
    ratio("midprice_14", ta("MIDPRICE", h_, low_, timeperiod=14))
    ratio("sar", ta("SAR", h_, low_))
    mama, fama = ta("MAMA", c_)
    ratio("mama", mama)
    ratio("fama", fama)
    upper, middle, lower = (t(x) for x in ta("BBANDS", c_, timeperiod=20, nbdevup=2.0, nbdevdn=2.0))
    cols["bb_pctb"] = _div(c - lower, upper - lower, inplace=True)
    cols["bb_width"] = _div(upper - lower, middle, inplace=True)
    # --- momentum ------------------------------------------------------------------------
    cols["adx_14"] = t(ta("ADX", h_, low_, c_, timeperiod=14))
    cols["adxr_14"] = t(ta("ADXR", h_, low_, c_, timeperiod=14))
    cols["apo"] = _div(t(ta("APO", c_, fastperiod=12, slowperiod=26)), c, inplace=True)
    aroon_dn, aroon_up = ta("AROON", h_, low_, timeperiod=14)
    cols["aroon_down"], cols["aroon_up"] = t(aroon_dn), t(aroon_up)
    cols["aroonosc_14"] = t(ta("AROONOSC", h_, low_, timeperiod=14))
    cols["bop"] = t(ta("BOP", o_, h_, low_, c_))
    cols["cci_14"] = t(ta("CCI", h_, low_, c_, timeperiod=14))
    cols["cci_20"] = t(ta("CCI", h_, low_, c_, timeperiod=20))
    cols["cmo_14"] = t(ta("CMO", c_, timeperiod=14))
    cols["dx_14"] = t(ta("DX", h_, low_, c_, timeperiod=14))
    macd, signal, hist = (t(x) for x in ta("MACD", c_, fastperiod=12, slowperiod=26, signalperiod=9))
    cols["macd"], cols["macd_signal"], cols["macd_hist"] = _div(macd, c, True), _div(signal, c, True), _div(hist, c, True)
    cols["mfi_14"] = t(ta("MFI", h_, low_, c_, v_, timeperiod=14))
    cols["minus_di_14"] = t(ta("MINUS_DI", h_, low_, c_, timeperiod=14))
    cols["plus_di_14"] = t(ta("PLUS_DI", h_, low_, c_, timeperiod=14))
    atr14 = t(ta("ATR", h_, low_, c_, timeperiod=14))
    cols["minus_dm_14"] = _div(t(ta("MINUS_DM", h_, low_, timeperiod=14)), atr14, inplace=True)
    cols["plus_dm_14"] = _div(t(ta("PLUS_DM", h_, low_, timeperiod=14)), atr14, inplace=True)
    cols["mom_10"] = _div(t(ta("MOM", c_, timeperiod=10)), c, inplace=True)
    cols["ppo"] = t(ta("PPO", c_, fastperiod=12, slowperiod=26))
    for w in (5, 10, 20):
        cols[f"roc_{w}"] = t(ta("ROC", c_, timeperiod=w))
    for w in (7, 14, 21):
        cols[f"rsi_{w}"] = t(ta("RSI", c_, timeperiod=w))
    slowk, slowd = ta("STOCH", h_, low_, c_)
    cols["stoch_k"], cols["stoch_d"] = t(slowk), t(slowd)
    fastk, fastd = ta("STOCHF", h_, low_, c_)
    cols["stochf_k"], cols["stochf_d"] = t(fastk), t(fastd)
    srsi_k, srsi_d = ta("STOCHRSI", c_, timeperiod=14)
    cols["stochrsi_k"], cols["stochrsi_d"] = t(srsi_k), t(srsi_d)
    cols["trix_15"] = t(ta("TRIX", c_, timeperiod=15))
    cols["ultosc"] = t(ta("ULTOSC", h_, low_, c_))
    cols["willr_14"] = t(ta("WILLR", h_, low_, c_, timeperiod=14))
    # --- volatility ------------------------------------------------------------------------
    cols["natr_7"] = t(ta("NATR", h_, low_, c_, timeperiod=7))
    cols["natr_14"] = _div(atr14, c) * 100.0
    cols["natr_28"] = t(ta("NATR", h_, low_, c_, timeperiod=28))
    cols["trange"] = _div(t(ta("TRANGE", h_, low_, c_)), c, inplace=True)
    # --- volume: cumulative indicators enter as changes over a window, per unit of volume ----
    vsum10 = t(ta("SUM", v_, timeperiod=10))
    ad = ta("AD", h_, low_, c_, v_)
    cols["ad_flow_10"] = _div(t(ad) - lag(ad, 10), vsum10, inplace=True)
    obv = ta("OBV", c_, v_)
    cols["obv_flow_10"] = _div(t(obv) - lag(obv, 10), vsum10, inplace=True)
    cols["adosc"] = _div(t(ta("ADOSC", h_, low_, c_, v_, fastperiod=3, slowperiod=10)), vsum10 / 10.0, inplace=True)
    # --- cycle ------------------------------------------------------------------------------
    cols["ht_dcperiod"] = t(ta("HT_DCPERIOD", c_))
    cols["ht_dcphase"] = t(ta("HT_DCPHASE", c_))
    inphase, quad = (t(x) for x in ta("HT_PHASOR", c_))
    cols["ht_inphase"], cols["ht_quadrature"] = _div(inphase, c, True), _div(quad, c, True)
    sine, leadsine = ta("HT_SINE", c_)
    cols["ht_sine"], cols["ht_leadsine"] = t(sine), t(leadsine)
    cols["ht_trendmode"] = t(ta("HT_TRENDMODE", c_)).astype(np.float64)
    # --- price transforms ---------------------------------------------------------------------
    ratio("avgprice", ta("AVGPRICE", o_, h_, low_, c_))
    ratio("medprice", ta("MEDPRICE", h_, low_))
    ratio("typprice", ta("TYPPRICE", h_, low_, c_))
    ratio("wclprice", ta("WCLPRICE", h_, low_, c_))
    # --- statistics ---------------------------------------------------------------------------
    cols["linreg_slope_14"] = _div(t(ta("LINEARREG_SLOPE", c_, timeperiod=14)), c, inplace=True)
    ratio("linreg_14", ta("LINEARREG", c_, timeperiod=14))
    ratio("tsf_14", ta("TSF", c_, timeperiod=14))
    cols["stddev_20"] = _div(t(ta("STDDEV", c_, timeperiod=20)), c, inplace=True)
    # --- candlestick patterns (+1 bullish, -1 bearish, 0 none) ----------------------------------
    if cfg.candles:
        for name in CANDLES:
            cols[name.lower()] = t(ta(name, o_, h_, low_, c_)) * 0.01  # int32 -> float64 in one pass
    # --- returns, realized volatility, range, volume z-scores ------------------------------------
    for w in cfg.return_windows:
        cols[f"ret_{w}"] = t(logc) - lag(logc, w)
    r1 = logc - _lag(logc, 1)
    rv = {}
    for w in cfg.vol_windows:
        rv[w] = t(ta("STDDEV", r1, timeperiod=w, nbdev=1.0))
        cols[f"rv_{w}"] = rv[w]
        cols[f"ret_z_{w}"] = _div(t(r1) - t(ta("SMA", r1, timeperiod=w)), rv[w], inplace=True)
    ws = sorted(cfg.vol_windows)
    cols["rv_ratio_short_long"] = _div(rv[ws[0]], rv[ws[-1]])
    for w in (20, 60):
        cols[f"dd_{w}"] = _div(c, t(ta("MAX", h_, timeperiod=w))) - 1.0
        cols[f"du_{w}"] = _div(c, t(ta("MIN", low_, timeperiod=w))) - 1.0
    rng = _div(h_ - low_, c_, inplace=True)
    cols["range"] = t(rng)
    cols["range_z_20"] = _div(t(rng) - t(ta("SMA", rng, timeperiod=20)), t(ta("STDDEV", rng, timeperiod=20)), inplace=True)
    cols["close_in_range"] = _div(c - low, h - low, inplace=True)
    cols["gap"] = _div(o, lag(c_, 1)) - 1.0
    cols["upper_shadow"] = _div(h - np.maximum(o, c), c, inplace=True)
    cols["lower_shadow"] = _div(np.minimum(o, c) - low, c, inplace=True)
    cols["body"] = _div(c - o, c, inplace=True)
    for w in cfg.volume_windows:
        cols[f"vol_z_{w}"] = _div(t(logv) - t(ta("SMA", logv, timeperiod=w)), t(ta("STDDEV", logv, timeperiod=w)), inplace=True)
    cols["vol_chg_1"] = t(logv) - lag(logv, 1)
    cols["corr_ret_vol_20"] = t(ta("CORREL", r1, logv, timeperiod=20))
    return cols
