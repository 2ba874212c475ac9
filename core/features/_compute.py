"""The feature set: TA-Lib studies made scale-free, plus returns, volatility, volume, calendar.

Every column at row t is a function of bars[0..t] only: TA-Lib and the rolling
statistics below run forward over the series, and nothing is normalised with
statistics of the whole sample (z-scores use trailing windows). Prices enter
as ratios to the close and volumes as z-scores of log volume, so one model can
be trained across symbols of very different price levels.
"""

from __future__ import annotations

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
    allocating a new array per column costs as much as the division.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
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
    return tuple(np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64)) for c in OHLCV)


def compute(bars: pd.DataFrame, config: FeatureConfig | None = None, *, _ta: TaCalls | None = None) -> pd.DataFrame:
    """Return the feature frame of ``bars`` (same index, float64 columns).

    Parameters
    ----------
    bars
        OHLCV bars, oldest first (a ``ts`` index and float columns).
    config
        Windows to use (default :class:`FeatureConfig`).

    Returns
    -------
    DataFrame
        At least 100 columns; rows before ``config.warmup`` may hold NaN.
    """
    cfg = config or FeatureConfig()
    ta = _ta or TaCalls()
    o, h, low, c, v = _arrays(bars)
    cols: dict[str, np.ndarray] = {}

    def ratio(name: str, level: np.ndarray) -> None:
        out = _div(level, c, inplace=True)
        out -= 1.0
        cols[name] = out

    # --- overlap studies: distance of each average from the close ----------------------
    for w in cfg.ma_windows:
        ratio(f"sma_{w}", ta("SMA", c, timeperiod=w))
        ratio(f"ema_{w}", ta("EMA", c, timeperiod=w))
    ratio("dema_20", ta("DEMA", c, timeperiod=20))
    ratio("tema_20", ta("TEMA", c, timeperiod=20))
    ratio("trima_20", ta("TRIMA", c, timeperiod=20))
    ratio("wma_20", ta("WMA", c, timeperiod=20))
    ratio("kama_30", ta("KAMA", c, timeperiod=30))
    ratio("t3_5", ta("T3", c, timeperiod=5))
    ratio("ht_trendline", ta("HT_TRENDLINE", c))
    ratio("midpoint_14", ta("MIDPOINT", c, timeperiod=14))
    ratio("midprice_14", ta("MIDPRICE", h, low, timeperiod=14))
    ratio("sar", ta("SAR", h, low))
    mama, fama = ta("MAMA", c)
    ratio("mama", mama)
    ratio("fama", fama)
    upper, middle, lower = ta("BBANDS", c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    cols["bb_pctb"] = _div(c - lower, upper - lower, inplace=True)
    cols["bb_width"] = _div(upper - lower, middle, inplace=True)
    # --- momentum ------------------------------------------------------------------------
    cols["adx_14"] = ta("ADX", h, low, c, timeperiod=14)
    cols["adxr_14"] = ta("ADXR", h, low, c, timeperiod=14)
    cols["apo"] = _div(ta("APO", c, fastperiod=12, slowperiod=26), c, inplace=True)
    aroon_dn, aroon_up = ta("AROON", h, low, timeperiod=14)
    cols["aroon_down"], cols["aroon_up"] = aroon_dn, aroon_up
    cols["aroonosc_14"] = ta("AROONOSC", h, low, timeperiod=14)
    cols["bop"] = ta("BOP", o, h, low, c)
    cols["cci_14"] = ta("CCI", h, low, c, timeperiod=14)
    cols["cci_20"] = ta("CCI", h, low, c, timeperiod=20)
    cols["cmo_14"] = ta("CMO", c, timeperiod=14)
    cols["dx_14"] = ta("DX", h, low, c, timeperiod=14)
    macd, signal, hist = ta("MACD", c, fastperiod=12, slowperiod=26, signalperiod=9)
    cols["macd"], cols["macd_signal"], cols["macd_hist"] = _div(macd, c, True), _div(signal, c, True), _div(hist, c, True)
    cols["mfi_14"] = ta("MFI", h, low, c, v, timeperiod=14)
    cols["minus_di_14"] = ta("MINUS_DI", h, low, c, timeperiod=14)
    cols["plus_di_14"] = ta("PLUS_DI", h, low, c, timeperiod=14)
    atr14 = ta("ATR", h, low, c, timeperiod=14)
    cols["minus_dm_14"] = _div(ta("MINUS_DM", h, low, timeperiod=14), atr14, inplace=True)
    cols["plus_dm_14"] = _div(ta("PLUS_DM", h, low, timeperiod=14), atr14, inplace=True)
    cols["mom_10"] = _div(ta("MOM", c, timeperiod=10), c, inplace=True)
    cols["ppo"] = ta("PPO", c, fastperiod=12, slowperiod=26)
    for w in (5, 10, 20):
        cols[f"roc_{w}"] = ta("ROC", c, timeperiod=w)
    for w in (7, 14, 21):
        cols[f"rsi_{w}"] = ta("RSI", c, timeperiod=w)
    slowk, slowd = ta("STOCH", h, low, c)
    cols["stoch_k"], cols["stoch_d"] = slowk, slowd
    fastk, fastd = ta("STOCHF", h, low, c)
    cols["stochf_k"], cols["stochf_d"] = fastk, fastd
    srsi_k, srsi_d = ta("STOCHRSI", c, timeperiod=14)
    cols["stochrsi_k"], cols["stochrsi_d"] = srsi_k, srsi_d
    cols["trix_15"] = ta("TRIX", c, timeperiod=15)
    cols["ultosc"] = ta("ULTOSC", h, low, c)
    cols["willr_14"] = ta("WILLR", h, low, c, timeperiod=14)
    # --- volatility ------------------------------------------------------------------------
    cols["natr_7"] = ta("NATR", h, low, c, timeperiod=7)
    cols["natr_14"] = _div(atr14, c) * 100.0
    cols["natr_28"] = ta("NATR", h, low, c, timeperiod=28)
    cols["trange"] = _div(ta("TRANGE", h, low, c), c, inplace=True)
    # --- volume: cumulative indicators enter as changes over a window, per unit of volume ----
    vsum10 = ta("SUM", v, timeperiod=10)
    ad = ta("AD", h, low, c, v)
    cols["ad_flow_10"] = _div(ad - _lag(ad, 10), vsum10, inplace=True)
    obv = ta("OBV", c, v)
    cols["obv_flow_10"] = _div(obv - _lag(obv, 10), vsum10, inplace=True)
    cols["adosc"] = _div(ta("ADOSC", h, low, c, v, fastperiod=3, slowperiod=10), vsum10 / 10.0, inplace=True)
    # --- cycle ------------------------------------------------------------------------------
    cols["ht_dcperiod"] = ta("HT_DCPERIOD", c)
    cols["ht_dcphase"] = ta("HT_DCPHASE", c)
    inphase, quad = ta("HT_PHASOR", c)
    cols["ht_inphase"], cols["ht_quadrature"] = _div(inphase, c, True), _div(quad, c, True)
    sine, leadsine = ta("HT_SINE", c)
    cols["ht_sine"], cols["ht_leadsine"] = sine, leadsine
    cols["ht_trendmode"] = ta("HT_TRENDMODE", c).astype(np.float64)
    # --- price transforms ---------------------------------------------------------------------
    ratio("avgprice", ta("AVGPRICE", o, h, low, c))
    ratio("medprice", ta("MEDPRICE", h, low))
    ratio("typprice", ta("TYPPRICE", h, low, c))
    ratio("wclprice", ta("WCLPRICE", h, low, c))
    # --- statistics ---------------------------------------------------------------------------
    cols["linreg_slope_14"] = _div(ta("LINEARREG_SLOPE", c, timeperiod=14), c, inplace=True)
    ratio("linreg_14", ta("LINEARREG", c, timeperiod=14))
    ratio("tsf_14", ta("TSF", c, timeperiod=14))
    cols["stddev_20"] = _div(ta("STDDEV", c, timeperiod=20), c, inplace=True)
    # --- candlestick patterns (+1 bullish, -1 bearish, 0 none) ----------------------------------
    if cfg.candles:
        for name in CANDLES:
            cols[name.lower()] = ta(name, o, h, low, c) * 0.01  # int32 -> float64 in one pass
    # --- returns, realized volatility, range, volume z-scores ------------------------------------
    logc = np.log(c)
    for w in cfg.return_windows:
        cols[f"ret_{w}"] = logc - _lag(logc, w)
    r1 = logc - _lag(logc, 1)
    rv = {}
    for w in cfg.vol_windows:
        rv[w] = ta("STDDEV", r1, timeperiod=w, nbdev=1.0)
        cols[f"rv_{w}"] = rv[w]
        cols[f"ret_z_{w}"] = _div(r1 - ta("SMA", r1, timeperiod=w), rv[w], inplace=True)
    ws = sorted(cfg.vol_windows)
    cols["rv_ratio_short_long"] = _div(rv[ws[0]], rv[ws[-1]])
    for w in (20, 60):
        cols[f"dd_{w}"] = _div(c, ta("MAX", h, timeperiod=w)) - 1.0
        cols[f"du_{w}"] = _div(c, ta("MIN", low, timeperiod=w)) - 1.0
    rng = _div(h - low, c, inplace=True)
    cols["range"] = rng
    cols["range_z_20"] = _div(rng - ta("SMA", rng, timeperiod=20), ta("STDDEV", rng, timeperiod=20), inplace=True)
    cols["close_in_range"] = _div(c - low, h - low, inplace=True)
    cols["gap"] = _div(o, _lag(c, 1)) - 1.0
    cols["upper_shadow"] = _div(h - np.maximum(o, c), c, inplace=True)
    cols["lower_shadow"] = _div(np.minimum(o, c) - low, c, inplace=True)
    cols["body"] = _div(c - o, c, inplace=True)
    logv = np.log1p(v)
    for w in cfg.volume_windows:
        cols[f"vol_z_{w}"] = _div(logv - ta("SMA", logv, timeperiod=w), ta("STDDEV", logv, timeperiod=w), inplace=True)
    cols["vol_chg_1"] = logv - _lag(logv, 1)
    cols["corr_ret_vol_20"] = ta("CORREL", r1, logv, timeperiod=20)
    skip_inf_check = {n.lower() for n in CANDLES} | {"ht_trendmode"}  # bounded integer outputs
    # --- calendar (known in advance, so causal) -------------------------------------------------------
    idx = pd.DatetimeIndex(bars.index)
    tau = 2.0 * np.pi
    for name, value, period in (
        ("dow", idx.day_of_week, 7.0),
        ("month", idx.month - 1, 12.0),
        ("dom", idx.day - 1, 31.0),
        ("hour", idx.hour + idx.minute / 60.0, 24.0),
    ):
        arr = np.asarray(value, dtype=np.float64)
        cols[f"{name}_sin"] = np.sin(tau * arr / period)
        cols[f"{name}_cos"] = np.cos(tau * arr / period)
        skip_inf_check.update({f"{name}_sin", f"{name}_cos"})
    for name, col in cols.items():
        if col.dtype != np.float64 or col.base is not None:
            cols[name] = col = np.array(col, dtype=np.float64)
        # TA-Lib edge cases (e.g. a zero close) can leave inf; models must never see it.
        if name not in skip_inf_check:
            col[np.isinf(col)] = np.nan
    if len(c) * len(cols) <= CONSOLIDATE_MAX_CELLS:
        # One block, so callers can add columns without pandas' fragmentation warning.
        data = np.empty((len(c), len(cols)), dtype=np.float64, order="F")
        for j, col in enumerate(cols.values()):
            data[:, j] = col
        return pd.DataFrame(data, index=bars.index, columns=list(cols), copy=False)
    # Huge inputs keep one array per column: a consolidated copy would be another ~1 GB per million bars.
    return pd.DataFrame(cols, index=bars.index, copy=False)
