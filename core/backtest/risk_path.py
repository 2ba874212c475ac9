"""When the compiled risk-checked path applies, how to run it, and one decision table for both paths.

``run_backtest(path="auto")`` takes :func:`core.backtest.fast_risk.simulate_risk_targets` only when
:func:`risk_path_ok` says the kernel reproduces the event path for this run; anything it does not
model (several symbols, a fill model with slippage or volume caps, a store, a warm-up, a risk
engine with forecast VaR or state from before the run, take-profit legs, unsorted bars) runs on
the event path as before.

:func:`decision_table` reads the event path's risk audit, orders and fills into the table the
compiled path returns, so the two can be compared row by row: one row per risk-checked order with
its time, side, quantity, the decision (approve, shrink, veto), the reason naming the limits that
bound, and what became of the order (filled at what price, canceled, never sized).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.backtest import fast_risk as fr
from core.brokers.paper import UNSIZED
from core.brokers.paper.fill_model import FillModel
from core.domain import Fill, Order, OrderStatus, Side
from core.engine.protect import StopPolicy
from core.engine.strategy import Strategy
from core.risk._window import norm_ppf
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import DRIFT_HALT_KEY, KEY_DAILY, KEY_DRAWDOWN, KEY_KILL, MemoryStore

DECISION_COLUMNS = ["ts", "order_type", "side", "quantity", "price", "action", "approved", "reason", "status", "fill_ts", "fill_quantity",
                    "fill_price", "fee"]
_KIND_CODES = np.array([0, 0, 2, 4])  # close, entry, stop, trailing stop -> CATEGORIES["order_type"]
_ACTIONS = np.array(["approve", "shrink", "veto"])
_STATUSES = np.array(["vetoed", "filled", "canceled", "unsized", "no_cash", "rejected", "open"])
# Fixed-vocabulary columns are categoricals (no string conversion of 100,000s of rows); reasons stay Python strings.
CATEGORIES = {"order_type": ["market", "limit", "stop", "stop_limit", "trailing_stop"], "side": ["buy", "sell"], "action": list(_ACTIONS),
              "status": list(_STATUSES)}
_STOP_KINDS = {"percent": fr.STOP_PERCENT, "atr": fr.STOP_ATR, "trailing": fr.STOP_TRAILING}


def risk_path_ok(strategy: Strategy, frames: Mapping[str, pd.DataFrame], fill_model: FillModel, risk: Any, store: Any,
                 stop: StopPolicy | None, warmup: int) -> bool:
    """Return True when the compiled risk-checked path gives the event path's result for this run."""
    plain = FillModel(maker_fee=fill_model.maker_fee, taker_fee=fill_model.taker_fee, short_margin=fill_model.short_margin)
    if not (len(frames) == 1 and fill_model == plain and fill_model.maker_fee == fill_model.taker_fee and fill_model.short_margin == 1.0
            and store is None and warmup == 0 and type(strategy).fast_targets is not Strategy.fast_targets):
        return False
    if type(risk) is not RiskEngine or risk.forecaster is not None or risk.limits.forecast_var or risk._sent:
        return False
    if not isinstance(risk.store, MemoryStore) or any(risk.store.get_setting(k) for k in (KEY_KILL, KEY_DRAWDOWN, KEY_DAILY, DRIFT_HALT_KEY)):
        return False  # halts or a kill switch from before the run: the event path reads them
    lim = risk.limits
    if lim.var_window < 1 or not 0 < lim.var_level < 1:
        return False
    if stop is not None and (stop.kind not in _STOP_KINDS or stop.take_profit_r > 0):
        return False
    frame = next(iter(frames.values()))
    close = frame["close"].to_numpy()
    return bool(frame.index.is_monotonic_increasing and frame.index.is_unique and np.all(np.isfinite(close)) and np.all(close > 0))


def limits_vector(limits: RiskLimits) -> np.ndarray:
    """Return the limits the kernel reads, in its order."""
    return np.array([limits.max_position_pct, limits.max_gross_exposure, limits.max_net_exposure, limits.max_drawdown_pct, limits.daily_loss_cap_pct,
                     limits.var_budget_pct, limits.max_order_notional, limits.max_orders_per_minute, limits.var_window, limits.min_history], dtype=np.float64)


def simulate(frame: pd.DataFrame, targets: np.ndarray, cash: float, fee_rate: float, weight: float, lot: float, limits: RiskLimits,
             stop: StopPolicy | None) -> tuple:
    """Run the kernel on one symbol's bars; return its raw outputs (see :func:`simulate_risk_targets`)."""
    return simulate_arrays(kernel_inputs(frame), targets, cash, fee_rate, weight, lot, limits, stop)


def kernel_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Return the kernel's view of one symbol's bars: open, high, low, close, times in ns and UTC day numbers."""
    o, h, lo, c = (np.ascontiguousarray(frame[k].to_numpy(dtype=np.float64)) for k in ("open", "high", "low", "close"))
    stamps = np.ascontiguousarray(frame.index.asi8, dtype=np.int64)
    per_second = _per_second(frame.index)
    days = np.floor_divide(stamps, 86_400 * per_second)
    stamps_ns = stamps * (1_000_000_000 // per_second)
    return o, h, lo, c, stamps_ns, days


def simulate_arrays(inputs: tuple[np.ndarray, ...], targets: np.ndarray, cash: float, fee_rate: float, weight: float, lot: float,
                    limits: RiskLimits, stop: StopPolicy | None) -> tuple:
    """Run the kernel on :func:`kernel_inputs` (prepared once for many runs on the same bars); return its raw outputs."""
    o, h, lo, c, stamps_ns, days = inputs
    kind = _STOP_KINDS[stop.kind] if stop is not None else fr.STOP_NONE
    pct, mult, window = (stop.percent, stop.atr_multiple, stop.atr_window) if stop is not None else (0.05, 3.0, 14)
    return fr.simulate_risk_targets(o, h, lo, c, stamps_ns, days, np.ascontiguousarray(targets, dtype=np.int8), float(cash), float(fee_rate), float(weight),
                                    float(lot), limits_vector(limits), norm_ppf(1 - limits.var_level), kind, float(pct), float(mult), int(window))


def _per_second(index: pd.DatetimeIndex) -> int:
    """Return how many ticks of ``index.asi8`` make a second (pandas 3 indexes may be in s, ms, us or ns)."""
    unit = getattr(index, "unit", "ns")
    return {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]


def kernel_decisions(rec: np.ndarray, index: pd.DatetimeIndex, limits: RiskLimits, symbol: str) -> pd.DataFrame:
    """Return the kernel's records as the decision table (reasons written as the risk engine writes them)."""
    bars = rec[:, fr.R_BAR].astype(np.int64)
    fill_bar = rec[:, fr.R_FILL_BAR].astype(np.int64)
    filled = fill_bar >= 0
    stamps = index.asi8
    fill_ts = np.where(filled, stamps[np.maximum(fill_bar, 0)], np.iinfo(np.int64).min)  # int64 min is NaT
    return pd.DataFrame({
        "ts": index[bars], "order_type": _codes("order_type", _KIND_CODES[rec[:, fr.R_KIND].astype(np.int64)]),
        "side": _codes("side", (rec[:, fr.R_SIDE] < 0).astype(np.int64)), "quantity": rec[:, fr.R_QTY], "price": rec[:, fr.R_PRICE],
        "action": _codes("action", rec[:, fr.R_ACTION].astype(np.int64)), "approved": rec[:, fr.R_APPROVED],
        "reason": pd.Series(_reasons(rec, limits, symbol), dtype=object), "status": _codes("status", rec[:, fr.R_STATUS].astype(np.int64)),
        "fill_ts": pd.DatetimeIndex(fill_ts.view(stamps.dtype if stamps.dtype.kind == "M" else f"M8[{getattr(index, 'unit', 'ns')}]"))
        .tz_localize(index.tz),
        "fill_quantity": rec[:, fr.R_FILL_QTY], "fill_price": np.where(filled, rec[:, fr.R_FILL_PRICE], np.nan), "fee": rec[:, fr.R_FEE],
    }, columns=DECISION_COLUMNS)


def _codes(column: str, codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=CATEGORIES[column])


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Give a decision table its column types (categoricals, reasons as Python strings)."""
    for column, cats in CATEGORIES.items():
        table[column] = pd.Categorical(table[column], categories=cats)
    table["reason"] = table["reason"].astype(object)
    return table


def _reasons(rec: np.ndarray, limits: RiskLimits, symbol: str) -> np.ndarray:
    """Write each row's reason from its rule bits, formatting each distinct (bits, values) once."""
    out = np.full(len(rec), "", dtype=object)
    changed = np.flatnonzero(rec[:, fr.R_ACTION] != fr.APPROVE)
    if not len(changed):
        return out
    sub = rec[changed]
    mask = sub[:, fr.R_MASK].astype(np.int64)
    texts = np.empty(len(changed), dtype=object)
    valued = fr.B_INVALID | fr.B_EQUITY | fr.B_RATE | fr.B_DD_NEW
    for m in np.unique(mask):
        rows = np.flatnonzero(mask == m)
        if m & valued:  # rare (a halt's first check, a rate limit, a broken order): one text per row
            for r in rows:
                x = sub[r]
                eq = x[fr.R_EQUITY]
                texts[r] = _reason(limits, symbol, int(m), (limits.max_position_pct * eq * 1.0 * 1.0) / eq, eq, x[fr.R_PEAK], x[fr.R_QTY],
                                   x[fr.R_PRICE], x[fr.R_RATE])
        elif m & fr.B_POSITION:  # the cap's share of equity is computed per check (equal to the limit up to rounding)
            eq = sub[rows, fr.R_EQUITY]
            ratio = (limits.max_position_pct * eq * 1.0 * 1.0) / eq
            uniq, inverse = np.unique(ratio, return_inverse=True)
            texts[rows] = np.array([_reason(limits, symbol, int(m), u, 0.0, 0.0, 0.0, 0.0, 0.0) for u in uniq], dtype=object)[inverse]
        else:
            texts[rows] = _reason(limits, symbol, int(m), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    out[changed] = texts
    return out


def _reason(lim: RiskLimits, symbol: str, mask: int, ratio: float, equity: float, peak: float, qty: float, price: float, rate: float) -> str:
    # The texts of core.risk.limits.RiskEngine._decide and _halts, in the order it lists them.
    if mask & fr.B_INVALID:
        return f"invalid order: quantity {qty} and price {price} must be positive numbers"
    if mask & fr.B_EQUITY:
        return f"equity is {equity}: no new risk without positive equity"
    if mask & fr.B_RATE:
        return f"{int(rate)} orders in the last minute reach max_orders_per_minute={lim.max_orders_per_minute}, wait a minute"
    parts = []
    if mask & fr.B_NOTIONAL:
        parts.append(f"order notional capped at max_order_notional={lim.max_order_notional:,.0f}")
    if mask & fr.B_DD_ON:
        parts.append(f"trading halted by the {lim.max_drawdown_pct:.0%} drawdown limit: a person must reset it")
    if mask & fr.B_DD_NEW:
        parts.append(f"equity {1 - equity / peak:.2%} below peak breaches max_drawdown_pct={lim.max_drawdown_pct:.0%}: halted until reset")
    if mask & fr.B_DAILY:
        parts.append(f"daily loss cap {lim.daily_loss_cap_pct:.1%} hit: halted for the rest of the UTC day")
    if mask & fr.B_HISTORY:
        parts.append(f"no return history ({lim.min_history}+ rows) for {symbol}: VaR and correlation cannot be checked")
    if mask & fr.B_POSITION:
        parts.append(f"position capped at {ratio:.2%} of equity")
    if mask & fr.B_GROSS:
        parts.append(f"gross exposure capped at {lim.max_gross_exposure:.0%} of equity")
    if mask & fr.B_NET:
        parts.append(f"net exposure capped at {lim.max_net_exposure:.0%} of equity")
    if mask & fr.B_VAR:
        parts.append(f"1-day {lim.var_level:.0%} VaR kept under var_budget_pct={lim.var_budget_pct:.1%} of equity")
    return "; ".join(parts) or "vetoed"


def decision_table(audit: Sequence[Mapping[str, Any]], orders: Sequence[Order], fills: Sequence[Fill]) -> pd.DataFrame:
    """Return the event path's decision table from the risk audit log, the broker's orders and its fills."""
    by_id = {o.client_order_id: o for o in orders}
    done: dict[str, list[Fill]] = {}
    for f in fills:
        done.setdefault(f.client_order_id, []).append(f)
    rows = []
    for entry in audit:
        data = entry.get("data") or {}
        if "action" not in data:
            continue
        intent = data["intent"]
        cid = intent.get("client_order_id")
        order = by_id.get(cid)
        got = done.get(cid, [])
        qty = sum(f.quantity for f in got)
        rows.append((entry["ts"], intent["order_type"], intent["side"], intent["quantity"], intent["price"], data["action"], data["quantity"],
                     data["reason"], _status(data["action"], order), got[0].ts if got else pd.NaT, qty,
                     (got[0].price if len(got) == 1 else sum(f.price * f.quantity for f in got) / qty) if got else np.nan, sum(f.fee for f in got)))
    table = pd.DataFrame(rows, columns=DECISION_COLUMNS)
    table["ts"] = pd.DatetimeIndex(table["ts"])
    table["fill_ts"] = pd.DatetimeIndex(table["fill_ts"])
    return _typed(table)


def _status(action: str, order: Order | None) -> str:
    if action == "veto" or order is None:
        return "vetoed"
    if order.status is OrderStatus.FILLED:
        return "filled"
    if order.status is OrderStatus.REJECTED:
        return "rejected"
    if order.status is OrderStatus.CANCELED:
        if order.reason == UNSIZED:
            return "unsized"
        return "no_cash" if (order.reason or "").startswith("insufficient cash at fill") else "canceled"
    return "open"


def risk_changes_from(decisions: pd.DataFrame) -> dict[str, Any]:
    """Return ``services.backtest.risk_changes``' summary from a decision table: shrinks and vetoes by reason."""
    changed = decisions[decisions["action"].isin(["shrink", "veto"])]
    counts = changed.groupby(["action", "reason"], sort=False, observed=True).size()
    return {"shrink": int((changed["action"] == "shrink").sum()), "veto": int((changed["action"] == "veto").sum()),
            "reasons": {(a, r or "no reason given"): int(n) for (a, r), n in counts.items()}}


class LazyFills(Sequence):
    """The compiled path's fills as :class:`~core.domain.Fill` values, built on first access (most runs never read them).

    Client order IDs and fill IDs are the event path's: ``{strategy}-{symbol}-{bar time}-{n}`` with ``n`` counting the
    bar's orders, ``-sl`` for a protective stop, and ``{order id}-{k}`` for the k-th fill of the run.
    """

    def __init__(self, decisions: pd.DataFrame, strategy: str, symbol: str) -> None:
        self._decisions, self._strategy, self._symbol = decisions, strategy, symbol
        self._fills: list[Fill] | None = None

    def _build(self) -> list[Fill]:
        if self._fills is None:
            d = self._decisions
            seq = d.groupby("ts", sort=False).cumcount() + 1
            done = d[d["status"] == "filled"].assign(seq=seq).sort_values(["fill_ts"], kind="stable")
            out = []
            for k, row in enumerate(done.itertuples(index=False), start=1):
                cid = f"{self._strategy}-{self._symbol}-{row.ts.strftime('%Y%m%dT%H%M%S')}-{row.seq}"
                if row.order_type != "market":
                    cid += "-sl"
                out.append(Fill(f"{cid}-{k}", cid, self._symbol, Side(row.side), float(row.fill_quantity), float(row.fill_price), float(row.fee),
                                row.fill_ts.to_pydatetime(), "paper", "taker"))
            self._fills = out
        return self._fills

    def __getitem__(self, i):  # type: ignore[override]
        return self._build()[i]

    def __len__(self) -> int:
        return len(self._build())

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented
