"""Run a backtest: the event-driven engine over history, or its compiled twin for simple strategies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.backtest.fast import simulate_targets
from core.backtest.risk_path import LazyFills, decision_table, kernel_decisions, risk_path_ok, simulate
from core.backtest.stats import compute_report
from core.brokers.paper import UNSIZED, PaperBroker
from core.brokers.paper.fill_model import FillModel
from core.clock import FixedClock
from core.domain import Bar, Fill, Instrument, Order
from core.engine import Strategy, build_engine
from core.engine.build import RiskArg
from core.engine.protect import StopPolicy
from core.portfolio.portfolio import ClosedTrade
from core.risk.hook import UNLIMITED
from core.risk.limits import RiskEngine
from core.store import Store
from core.strategies import make_strategy

TRADE_COLUMNS = ["symbol", "quantity", "entry_ts", "exit_ts", "entry_price", "exit_price", "pnl", "fees", "mae", "mfe", "return_pct", "duration"]


@dataclass
class BacktestResult:
    """Everything a backtest produced; ``report`` is JSON-ready."""

    report: dict[str, Any]
    equity: pd.Series
    trades: pd.DataFrame
    path: str
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    baseline: dict[str, Any] | None = None
    unsized: int = 0
    # One row per risk-checked order (time, side, quantity, approve/shrink/veto, reason, what became of it);
    # None without a RiskEngine. See core.backtest.risk_path.
    decisions: pd.DataFrame | None = None


def _frames(data: pd.DataFrame | Mapping[str, pd.DataFrame], symbol: str | None) -> dict[str, pd.DataFrame]:
    frames = {symbol or "ASSET": data} if isinstance(data, pd.DataFrame) else dict(data)
    if not frames:
        raise ValueError("no data to backtest: give at least one OHLCV frame")
    out = {}
    for sym, frame in frames.items():
        cols = {c.lower(): c for c in frame.columns}
        missing = [c for c in ("open", "high", "low", "close") if c not in cols]
        if missing:
            raise ValueError(f"{sym}: bars need columns open, high, low, close (missing {', '.join(missing)})")
        f = frame.rename(columns={v: k for k, v in cols.items()})
        if "volume" not in f:
            f = f.assign(volume=np.inf)
        idx = pd.DatetimeIndex(f.index)
        f.index = idx.tz_localize(UTC) if idx.tz is None else idx.tz_convert(UTC)
        f = f[["open", "high", "low", "close", "volume"]].astype(float)
        if f[["open", "high", "low", "close"]].isna().any().any():
            raise ValueError(f"{sym}: some OHLC values are missing (NaN); drop those rows first, e.g. frame.dropna()")
        if len(f) < 2:
            raise ValueError(f"{sym}: need at least 2 bars to backtest, got {len(f)}")
        out[sym] = f
    return out


def check_amounts(cash: float, size: float, lot_size: float) -> None:
    """Raise ValueError (saying what would be right) for a lot size, cash or size a backtest cannot use."""
    if not lot_size > 0 or not np.isfinite(lot_size):
        raise ValueError(f"lot_size must be positive (1 for whole shares, 0.0001 for fractions), not {lot_size}")
    if not cash > 0 or not np.isfinite(cash):
        raise ValueError(f"cash must be a positive finite amount, not {cash}")
    if not 0 < size <= 1:
        raise ValueError(f"size must be in (0, 1] (a fraction of equity, 1 = all-in), not {size}")


def check_length(strategy: Strategy, frames: Mapping[str, pd.DataFrame], warmup: int, risk: Any = UNLIMITED) -> None:
    """Raise when the warm-up or the number of bars does not fit ``strategy`` (or no risk argument was given)."""
    if warmup < 0 or warmup >= min(len(f) for f in frames.values()):
        raise ValueError(f"warmup must be between 0 and the number of bars - 1, not {warmup}")
    if risk is None:
        raise TypeError("run_backtest needs risk=: a RiskEngine, a risk-check callable, or core.risk.hook.UNLIMITED")
    need = max(strategy.min_bars(), warmup + 2)
    short = {s: len(f) for s, f in frames.items() if len(f) < need}
    if short:
        sym, n = next(iter(short.items()))
        raise ValueError(f"{sym}: {n} bars, but {strategy!r} needs at least {need} to place and fill one order; "
                         "use a longer date range or shorter windows")


def finish_report(report: dict[str, Any], unsized: int, lot_size: float) -> None:
    """Turn the run's count of unsized entries into the report's warning (as every path reports it)."""
    if report.pop("unsized_orders", 0):
        report["warnings"] = [f"{unsized} entries could not be sized: equity was below one lot of {lot_size:g}; "
                              "use a smaller lot size (e.g. --lot 0.0001) to trade fractions"]


def _trades_frame(trades: list[ClosedTrade]) -> pd.DataFrame:
    rows = [(t.symbol, t.quantity, t.entry_ts, t.exit_ts, t.entry_price, t.exit_price, t.pnl, t.fees, t.mae, t.mfe, t.return_pct, t.duration) for t in trades]
    return pd.DataFrame(rows, columns=TRADE_COLUMNS)


def fast_path_ok(strategy: Strategy, frames: dict[str, pd.DataFrame], fill_model: FillModel, risk: RiskArg, store: Store | None,
                 stop: StopPolicy | None = None) -> bool:
    """Return True when the compiled path reproduces the event path for this run (it has no protective stops)."""
    plain = FillModel(maker_fee=fill_model.maker_fee, taker_fee=fill_model.taker_fee, short_margin=fill_model.short_margin)
    return (len(frames) == 1 and fill_model == plain and fill_model.maker_fee == fill_model.taker_fee and fill_model.short_margin == 1.0
            and risk is UNLIMITED and store is None and stop is None and type(strategy).fast_targets is not Strategy.fast_targets)


def run_backtest(
    data: pd.DataFrame | Mapping[str, pd.DataFrame],
    strategy: Strategy | str = "sma_cross",
    *,
    risk: RiskArg,
    symbol: str | None = None,
    params: Mapping[str, Any] | None = None,
    cash: float = 10_000.0,
    commission: float = 0.0,
    size: float = 1.0,
    fill_model: FillModel | None = None,
    path: Literal["auto", "event", "fast"] = "auto",
    store: Store | None = None,
    baseline: bool = True,
    lot_size: float = 1.0,
    warmup: int = 0,
    stop: StopPolicy | None = None,
    lots: Mapping[str, float] | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on ``data`` (one frame, or a dict symbol -> frame aligned on time).

    ``commission`` is a rate on notional charged on every fill (0.002 = 0.2 %);
    ``size`` is the fraction of equity to use (1 = all-in); positions are whole
    multiples of ``lot_size`` (1 = whole shares; e.g. 1e-8 for bitcoin). ``path="auto"``
    picks the compiled path when it gives the same result as the event path.
    ``risk`` (required) is a :class:`core.risk.limits.RiskEngine` that checks every order against
    the backtest's own book (as in paper and live trading), a ready risk-check callable, or
    :data:`core.risk.hook.UNLIMITED` to run without limits (the backtesting.py comparison). The first ``warmup`` timestamps are
    history the strategy can see but never trades (the paper loop's warm-up). ``stop`` gives every
    position a protective stop (:mod:`core.engine.protect`, the paper loop's ``risk.stop``; None: none).
    ``lots`` gives symbols their own lot size (a venue's, e.g. 1e-5 BTC), on the event path only.
    """
    check_amounts(cash, size, lot_size)
    if lots and path != "event":
        raise ValueError("per-symbol lot sizes (lots) need path='event'")
    if isinstance(strategy, str):
        strategy = make_strategy(strategy, **dict(params or {}))
    frames = _frames(data, symbol)
    fill_model = fill_model or FillModel.flat_commission(commission)
    check_length(strategy, frames, warmup, risk)
    fast_ok = fast_path_ok(strategy, frames, fill_model, risk, store, stop) and warmup == 0
    risk_ok = not fast_ok and path != "event" and risk_path_ok(strategy, frames, fill_model, risk, store, stop, warmup)
    if path == "fast" and not (fast_ok or risk_ok):
        raise ValueError("the fast path needs one symbol, a strategy with fast_targets, a plain commission, no store or warm-up, and either "
                         "no risk hook or a fresh RiskEngine (percent, ATR or trailing stops, no take-profit); use path='event'")
    if fast_ok and path != "event":
        result = _run_fast(frames, strategy, cash, fill_model.taker_fee, size, lot_size)
    elif risk_ok:
        result = _run_fast_risk(frames, strategy, cash, fill_model.taker_fee, size, lot_size, risk, stop)  # type: ignore[arg-type]
    else:
        result = _run_event(frames, strategy, cash, fill_model, size, risk, store, lot_size, warmup, stop, lots)
    finish_report(result.report, result.unsized, lot_size)
    if baseline and (strategy.name != "buy_and_hold" or risk is not UNLIMITED):
        # The baseline holds from the first bar without risk limits (a capped or vetoed entry is not "buy & hold").
        base = run_backtest(frames, "buy_and_hold", risk=UNLIMITED, cash=cash, size=size, fill_model=fill_model,
                            baseline=False, lot_size=lot_size, warmup=warmup)
        result.baseline = base.report
        result.report["buy_and_hold_return_pct"] = base.report["return_pct"]
    result.report["strategy"] = strategy.name
    result.report["params"] = strategy.get_params()
    result.report["symbols"] = list(frames)
    result.report["path"] = result.path
    return result


def _run_event(frames: dict[str, pd.DataFrame], strategy: Strategy, cash: float, fill_model: FillModel, size: float,
               risk: RiskArg, store: Store | None, lot_size: float, warmup: int = 0, stop: StopPolicy | None = None,
               lots: Mapping[str, float] | None = None) -> BacktestResult:
    index = frames[next(iter(frames))].index
    for f in list(frames.values())[1:]:
        index = index.union(f.index)
    clock = FixedClock(index[max(warmup - 1, 0)].to_pydatetime())
    broker = PaperBroker(clock, cash=cash, fill_model=fill_model, instruments={s: Instrument(s, tick_size=0.0, lot_size=(lots or {}).get(s, lot_size))
                                                                          for s in frames})
    # A backtest's orders live under their own account, never mixed with the paper account's.
    if isinstance(risk, RiskEngine):
        risk.clock = risk.state.clock = clock  # halts by simulated day, rate limits in simulated time
    engine = build_engine(strategy, list(frames), broker, risk=risk, clock=clock, store=store, account="backtest", size=size, capacity=len(index) + 1,
                          stop=stop)
    manager = engine.manager
    columns = {s: (f.index.asi8.tolist(), f.to_numpy().tolist()) for s, f in frames.items()}
    pointers = dict.fromkeys(frames, 0)
    exposed = np.zeros(len(index), dtype=bool)
    stamps = index.asi8.tolist()
    for k, when in enumerate(index.to_pydatetime()):
        ts = stamps[k]
        if k >= warmup:
            clock.set(when)
        bars = []
        for sym, (idx, arr) in columns.items():
            p = pointers[sym]
            if p < len(idx) and idx[p] == ts:
                o, h, lo, c, v = arr[p]
                bars.append(Bar(sym, when, o, h, lo, c, v))
                pointers[sym] = p + 1
        if k < warmup:  # history only: seen by the strategy later, never traded
            engine.warm_up(bars)
            continue
        engine.step(bars)
        exposed[k] = engine.portfolio.equity_curve[-1].gross_exposure > 0  # the step's own snapshot
    pf = broker.portfolio
    equity = pd.Series([p.equity for p in pf.equity_curve], index=pd.DatetimeIndex([p.ts for p in pf.equity_curve], name="ts"), name="equity")
    trades = _trades_frame(pf.trades)
    report = compute_report(equity, trades, cash, pf.fees_paid, exposed[warmup:])
    unsized = sum(1 for o in manager.orders() if o.reason == UNSIZED)
    report["unsized_orders"] = unsized
    decisions = decision_table(risk.store.entries, broker.orders(), broker.fills()) if isinstance(risk, RiskEngine) else None
    return BacktestResult(report, equity, trades, "event", manager.orders(), broker.fills(), unsized=unsized, decisions=decisions)


def _trades_from(raw: np.ndarray, nt: int, index: pd.DatetimeIndex, sym: str) -> pd.DataFrame:
    raw = raw[:nt]
    entry_i, exit_i = raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64)
    trades = pd.DataFrame({
        "symbol": sym, "quantity": raw[:, 2], "entry_ts": index[entry_i], "exit_ts": index[exit_i], "entry_price": raw[:, 3],
        "exit_price": raw[:, 4], "pnl": raw[:, 5], "fees": raw[:, 6], "mae": raw[:, 7], "mfe": raw[:, 8], "return_pct": raw[:, 9],
    }, columns=TRADE_COLUMNS[:-1])
    trades["duration"] = trades["exit_ts"] - trades["entry_ts"]
    return trades


def _run_fast_risk(frames: dict[str, pd.DataFrame], strategy: Strategy, cash: float, fee_rate: float, size: float, lot: float,
                   risk: RiskEngine, stop: StopPolicy | None) -> BacktestResult:
    sym, frame = next(iter(frames.items()))
    targets = strategy.fast_targets(np.ascontiguousarray(frame["close"].to_numpy(dtype=np.float64)))
    eq, exposed, raw, nt, fees, unsized, rec, nr = simulate(frame, targets, cash, fee_rate, size, lot, risk.limits, stop)
    index = frame.index
    equity = pd.Series(eq, index=index.rename("ts"), name="equity")
    trades = _trades_from(raw, nt, index, sym)
    report = compute_report(equity, trades, cash, fees, exposed)
    report["unsized_orders"] = int(unsized)
    decisions = kernel_decisions(rec[:nr], index, risk.limits, sym)
    fills = LazyFills(decisions, strategy.name, sym)  # Fill values only if someone reads them
    return BacktestResult(report, equity, trades, "fast_risk", fills=fills, unsized=int(unsized), decisions=decisions)  # type: ignore[arg-type]


def _run_fast(frames: dict[str, pd.DataFrame], strategy: Strategy, cash: float, fee_rate: float, size: float, lot: float) -> BacktestResult:
    sym, frame = next(iter(frames.items()))
    o, h, lo, c = (np.ascontiguousarray(frame[k].to_numpy(dtype=np.float64)) for k in ("open", "high", "low", "close"))
    targets = strategy.fast_targets(c)
    eq, exposed, raw, nt, fees, unsized = simulate_targets(o, h, lo, c, targets, float(cash), float(fee_rate), float(size), float(lot))
    index = frame.index
    equity = pd.Series(eq, index=index.rename("ts"), name="equity")
    trades = _trades_from(raw, nt, index, sym)
    report = compute_report(equity, trades, cash, fees, exposed)
    report["unsized_orders"] = int(unsized)
    return BacktestResult(report, equity, trades, "fast", unsized=int(unsized))
