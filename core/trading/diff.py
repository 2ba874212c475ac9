"""Backtest-vs-live diff: re-run the backtester over exactly the bars a session saw and compare, bar by bar.

The comparison works on what the session *stored* (orders, risk denials, fills, equity
points, signals and the external inputs it applied), so it covers any venue: the paper
broker on a replay feed or a real exchange. The backtest gets the session's pinned
strategy parameters, cash, commission, warm-up and the risk limits in force when the
session started; everything the live side did differently shows up as a divergence,
matched by client order ID (deterministic: strategy, symbol, bar, sequence) and
classified by its most likely cause.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from core.backtest.run import BacktestResult, run_backtest
from core.data.providers import TIMEFRAMES
from core.domain import Fill, Order, OrderStatus
from core.engine import StopPolicy, Strategy, default_lot
from core.execution import repo as order_repo
from core.portfolio import repo as portfolio_repo
from core.risk.limits import RiskEngine, RiskLimits
from core.risk.state import MemoryStore
from core.store import Store
from core.trading.loop import session_fill_model

CAUSES = {
    "fill_price": "slippage or fill price",
    "partial_fill": "partial fill",
    "venue_reject": "venue reject",
    "missed_bar": "latency / missed bar",
    "risk_decision": "risk decision",
    "manual_action": "manual action",
    "data_difference": "data difference",
}
PRICE_TOL = 1e-9  # relative: two fills at the same price differ by rounding only
_STAMP = re.compile(r"-(\d{8}T\d{6})-\d+$")  # the bar in a strategy's client order ID (core.engine StrategyContext.next_id)


class NoSession(LookupError):
    """The account has no trading session (or it has not processed a bar yet)."""


@dataclass(frozen=True)
class Divergence:
    """One difference between the session and its backtest, at bar ``ts``."""

    ts: pd.Timestamp
    cause: str
    detail: str
    client_order_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``label`` is the cause in words)."""
        return {"ts": self.ts.isoformat(), "cause": self.cause, "label": CAUSES[self.cause], "detail": self.detail,
                "client_order_id": self.client_order_id}


@dataclass
class SessionDiff:
    """The result of one diff run (see :func:`diff_session`)."""

    account: str
    first_bar: pd.Timestamp
    last_bar: pd.Timestamp
    bars: int
    orders_live: int
    orders_backtest: int
    matched: int
    total: int
    divergences: list[Divergence]
    live_equity: pd.Series
    backtest_equity: pd.Series
    days: list[dict[str, Any]] = field(default_factory=list)
    signals: int = 0  # model signals (symbol, bar) either side produced
    signals_matched: int = 0

    @property
    def match_pct(self) -> float:
        """Matching orders as a percentage of all orders either side placed (100 with none)."""
        return 100.0 if self.total == 0 else 100.0 * self.matched / self.total

    @property
    def pnl_diff(self) -> float:
        """Live minus backtest P&L over the compared bars."""
        return float(self.live_equity.iloc[-1] - self.backtest_equity.iloc[-1]) if len(self.live_equity) and len(self.backtest_equity) else 0.0

    def summary(self) -> dict[str, Any]:
        """Return the JSON-ready totals, the first divergence and every divergence (first 500)."""
        first = self.divergences[0].to_dict() if self.divergences else None
        return {"account": self.account, "first_bar": self.first_bar.isoformat(), "last_bar": self.last_bar.isoformat(), "bars": self.bars,
                "orders_live": self.orders_live, "orders_backtest": self.orders_backtest, "matched": self.matched,
                "match_pct": round(self.match_pct, 6), "pnl_diff": self.pnl_diff, "n_divergences": len(self.divergences),
                "signals": self.signals, "signals_matched": self.signals_matched,
                "first_divergence": first, "divergences": [d.to_dict() for d in self.divergences[:500]]}  # fmt: skip


def _ts(t: Any) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def is_venue(session: dict[str, Any]) -> bool:
    """Return True when the session traded a real venue (its fills are the venue's, timed by the wall clock)."""
    return session.get("broker", "paper") != "paper"


def replay_backtest(session: dict[str, Any], last: pd.Timestamp, load: Callable[[str], pd.DataFrame], strategy: Strategy,
                    risk_settings: Any) -> BacktestResult:
    """Backtest ``strategy`` over the session's bars up to ``last`` with its cash, commission, lot and warm-up.

    On a venue the loop sends a market order right after the bar closes and the venue fills it at
    its price then: the backtest fills market orders at that bar's close, with the venue's lot sizes.
    """
    frames = {s: load(s).loc[:last] for s in session["symbols"]}
    risk = RiskEngine(RiskLimits.from_settings(risk_settings), store=MemoryStore())
    fill_model = session_fill_model(session)
    if is_venue(session):
        fill_model = replace(fill_model, market_fill="close")
    return run_backtest(frames, strategy, risk=risk, cash=float(session["cash"]), fill_model=fill_model,
                        warmup=int(session["warmup_bars"]), baseline=False, lot_size=default_lot(session["symbols"][0]), path="event",
                        stop=StopPolicy.from_settings(session.get("stop")), lots=session.get("lots") or None)


def bar_of(order: Order, externals: dict[str, pd.Timestamp]) -> pd.Timestamp:
    """Return the bar ``order`` was decided on: an outside input's bar, the bar in a strategy's client ID, else its creation time.

    On the paper broker the creation time is the bar; at a venue it is the wall clock when the
    order went out, which may be later than the bar (a tick that caught up on several bars).
    """
    if order.client_order_id in externals:
        return externals[order.client_order_id]
    m = _STAMP.search(order.client_order_id)
    return pd.Timestamp(m.group(1)).tz_localize("UTC") if m else _ts(order.created_at)


def venue_fill_bars(fills: list[Fill], calendar: pd.DatetimeIndex, timeframe: str) -> list[Fill]:
    """Return venue ``fills`` timed by the bar they follow: the last bar that had closed when the venue filled (its backtest fill bar)."""
    step = pd.Timedelta(TIMEFRAMES.get(timeframe, "1D"))
    closes = calendar + step
    out = []
    for f in fills:
        i = int(closes.searchsorted(_ts(f.ts), side="right")) - 1
        out.append(replace(f, ts=calendar[i].to_pydatetime()) if i >= 0 else f)
    return out


def external_ids(store: Store, account: str) -> dict[str, pd.Timestamp]:
    """Return the client order IDs of the outside inputs (manual tickets, kill switch, cancels) the loop applied, by bar."""
    from sqlmodel import select

    from core.store.tables import SettingRow

    prefix = f"loop.{account}.external."
    out: dict[str, pd.Timestamp] = {}
    with store.session() as s:
        rows = s.exec(select(SettingRow.key, SettingRow.value).where(SettingRow.key.startswith(prefix))).all()
    for key, items in rows:
        for item in items or []:
            out[item["client_order_id"]] = _ts(key[len(prefix):])
    return out


def _first_fill(fills: Iterable[Fill]) -> dict[str, Fill]:
    out: dict[str, Fill] = {}
    for f in fills:
        out.setdefault(f.client_order_id, f)
    return out


def _is_external(cid: str, order: Order, externals: dict[str, pd.Timestamp]) -> bool:
    if cid in externals or cid.startswith("kill-") or order.tags.get("source") in ("manual", "external"):
        return True
    return any(cid.startswith(f"{e}-") or cid.startswith(f"{e}.") for e in externals)  # bracket legs of a ticket


def _compare_order(live: Order, bt: Order, lf: Fill | None, bf: Fill | None, denied: bool, n_fills: tuple[int, int]) -> tuple[str, str] | None:
    """Return (cause, detail) for one order both sides placed, or None when they agree (fill causes date from the first fill)."""
    rej = OrderStatus.REJECTED
    if (live.status == rej) != (bt.status == rej):
        if live.status == rej and not denied:
            return "venue_reject", f"the venue rejected it ({live.reason or 'no reason given'}); the backtest filled it"
        return "risk_decision", (f"live risk engine: {live.reason}" if live.status == rej else f"backtest risk engine: {bt.reason}")
    if not math.isclose(live.quantity, bt.quantity, rel_tol=1e-9, abs_tol=1e-12):
        shrunk = (live.tags.get("risk_shrunk_from"), bt.tags.get("risk_shrunk_from"))
        if shrunk != (None, None):
            return "risk_decision", (f"the risk engine sized it to {live.quantity:g} live vs {bt.quantity:g} in the backtest "
                                     f"(from {shrunk[0] or live.quantity:g} vs {shrunk[1] or bt.quantity:g})")
        return "data_difference", f"quantity {live.quantity:g} live vs {bt.quantity:g} backtest"
    if n_fills[0] > n_fills[1] and live.filled_quantity > 0:
        return "partial_fill", f"filled in {n_fills[0]} pieces live ({live.filled_quantity:g} of {live.quantity:g}), in {n_fills[1]} in the backtest"
    if not math.isclose(live.filled_quantity, bt.filled_quantity, rel_tol=1e-9, abs_tol=1e-12):
        if (live.filled_quantity < bt.filled_quantity and live.filled_quantity > 0) or live.status == OrderStatus.PARTIALLY_FILLED:
            return "partial_fill", f"filled {live.filled_quantity:g} of {live.quantity:g} live, {bt.filled_quantity:g} in the backtest"
        if lf is None and bf is not None:
            return "missed_bar", f"not filled live; the backtest filled it at {bf.ts:%Y-%m-%d %H:%M}"
        return "partial_fill", f"filled {live.filled_quantity:g} live vs {bt.filled_quantity:g} backtest"
    if lf is not None and bf is not None and _ts(lf.ts) != _ts(bf.ts):
        return "missed_bar", f"filled at {_ts(lf.ts):%Y-%m-%d %H:%M} live vs {_ts(bf.ts):%Y-%m-%d %H:%M} in the backtest"
    lp, bp = live.avg_fill_price or 0.0, bt.avg_fill_price or 0.0
    if not math.isclose(lp, bp, rel_tol=PRICE_TOL, abs_tol=1e-12):
        return "fill_price", f"filled at {lp:.6g} live vs {bp:.6g} in the backtest ({(lp / bp - 1) * 1e4 if bp else float('nan'):+.1f} bp)"
    return None


def compare(live_orders: list[Order], live_fills: list[Fill], denials: Iterable[str], live_bars: pd.DatetimeIndex,
            externals: dict[str, pd.Timestamp], bt: BacktestResult, start: pd.Timestamp) -> tuple[list[Divergence], set[str], set[str]]:
    """Compare the session's orders and bars with the backtest's; return (divergences by bar, matched IDs, all IDs)."""
    denied = set(denials)
    bt_bars = pd.DatetimeIndex([_ts(t) for t in bt.equity.index])
    bt_bars = bt_bars[bt_bars > start]
    missed = set(live_bars).symmetric_difference(set(bt_bars))
    out = [Divergence(ts, "missed_bar", "the session processed a bar the stored data no longer has" if ts in set(live_bars)
                      else "the stored data has a bar the session never processed") for ts in sorted(missed)]  # fmt: skip
    live = {o.client_order_id: o for o in live_orders}
    theirs = {o.client_order_id: o for o in bt.orders}
    lf, bf = _first_fill(live_fills), _first_fill(bt.fills)
    nl, nb = Counter(f.client_order_id for f in live_fills), Counter(f.client_order_id for f in bt.fills)
    matched: set[str] = set()
    for cid in list(dict.fromkeys([*live, *theirs])):
        mine, other = live.get(cid), theirs.get(cid)
        ts = _ts(other.created_at) if other is not None else bar_of(mine, externals)  # type: ignore[arg-type]
        if mine is not None and other is None:
            if _is_external(cid, mine, externals):
                out.append(Divergence(ts, "manual_action", f"{mine.side.value} {mine.quantity:g} {mine.symbol} placed from outside the strategy "
                                      f"({mine.reason or mine.tags.get('source', 'manual')})", cid))
            elif ts in missed:
                out.append(Divergence(ts, "missed_bar", f"{mine.side.value} {mine.quantity:g} {mine.symbol} on a bar the backtest did not see", cid))
            else:
                out.append(Divergence(ts, "data_difference", f"the strategy placed {mine.side.value} {mine.quantity:g} {mine.symbol} live only", cid))
        elif mine is None and other is not None:
            cause = "missed_bar" if ts in missed else "data_difference"
            out.append(Divergence(ts, cause, f"the backtest placed {other.side.value} {other.quantity:g} {other.symbol}; the session did not", cid))
        else:
            found = _compare_order(mine, other, lf.get(cid), bf.get(cid), cid in denied, (nl.get(cid, 0), nb.get(cid, 0)))  # type: ignore[arg-type]
            if found is None:
                matched.add(cid)
                continue
            first = [f for f in (lf.get(cid), bf.get(cid)) if f is not None]
            if found[0] in ("fill_price", "partial_fill", "missed_bar") and first:
                ts = min(_ts(f.ts) for f in first)  # the bar the fills part ways
            out.append(Divergence(ts, found[0], found[1], cid))
    out.sort(key=_rank)
    return out, matched, set(live) | set(theirs)


# At one bar the upstream cause explains the others: an outside input or a missed bar, then the model's signal (decided before
# any order of the bar), then the venue, the risk engine and the fills.
_PRIO = {"manual_action": 0, "missed_bar": 1, "venue_reject": 2, "risk_decision": 3, "partial_fill": 4, "fill_price": 5, "data_difference": 6}


def _rank(d: Divergence) -> tuple[pd.Timestamp, float]:
    signal = d.cause == "data_difference" and d.client_order_id is None and "signal" in d.detail
    return d.ts, 1.5 if signal else _PRIO[d.cause]


def live_signals(store: Store, symbols: list[str], start: pd.Timestamp, last: pd.Timestamp) -> list[tuple[str, pd.Timestamp, float, int, str | None]]:
    """Return the stored model signals of ``symbols`` on the bars in ``(start, last]``: (symbol, bar, p_up, direction, model)."""
    from sqlmodel import select

    from core.store.tables import SignalRow

    with store.session() as s:
        rows = s.exec(select(SignalRow.symbol, SignalRow.ts, SignalRow.p_up, SignalRow.direction, SignalRow.model_id)
                      .where(SignalRow.symbol.in_(symbols), SignalRow.ts > start.to_pydatetime(), SignalRow.ts <= last.to_pydatetime())).all()
    return [(sym, _ts(ts), float(p), int(d), m) for sym, ts, p, d, m in rows]


def compare_signals(live: Iterable[tuple], backtest: Iterable[tuple], missed: set[pd.Timestamp]) -> tuple[list[Divergence], int, int]:
    """Compare the model signals (p_up, direction, model) bar by bar; return the divergences, the signals compared and those that match."""
    mine = {(s, t): (p, d, m) for s, t, p, d, m in live}
    theirs = {(s, t): (p, d, m) for s, t, p, d, m in backtest}
    out, ok = [], 0
    for key in sorted(set(mine) | set(theirs), key=lambda k: (k[1], k[0])):
        a, b = mine.get(key), theirs.get(key)
        if a is not None and b is not None and math.isclose(a[0], b[0], rel_tol=1e-9, abs_tol=1e-12) and a[1:] == b[1:]:
            ok += 1
        elif key[1] in missed:
            continue  # the bar itself is the divergence
        elif a is None or b is None:
            out.append(Divergence(key[1], "data_difference", f"{key[0]}: a model signal only {'live' if b is None else 'in the backtest'}"))
        else:
            out.append(Divergence(key[1], "data_difference", f"{key[0]}: signal p(up) {a[0]:.4f} live vs {b[0]:.4f} in the backtest "
                                                              f"(direction {a[1]:+d} vs {b[1]:+d}, model {a[2]} vs {b[2]})"))
    return out, len(set(mine) | set(theirs)), ok


def _days(live_eq: pd.Series, bt_eq: pd.Series, divs: list[Divergence], live: dict[str, Order], theirs: dict[str, Order],
          matched: set[str], cash: float, externals: dict[str, pd.Timestamp]) -> list[dict[str, Any]]:
    """Return one row per UTC day: orders, matching %, P&L live/backtest/difference, that day's first divergence."""
    rows = []
    def by_day(orders: dict[str, Order]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for cid, o in orders.items():
            out.setdefault(f"{bar_of(o, externals):%Y-%m-%d}", set()).add(cid)
        return out

    lday, bday = by_day(live), by_day(theirs)
    le = live_eq.groupby(live_eq.index.strftime("%Y-%m-%d")).last()
    be = bt_eq.groupby(bt_eq.index.strftime("%Y-%m-%d")).last()
    days = sorted(set(le.index) | set(be.index) | set(lday) | set(bday) | {f"{d.ts:%Y-%m-%d}" for d in divs})
    prev_l = prev_b = cash
    first = {}
    for d in divs:
        first.setdefault(f"{d.ts:%Y-%m-%d}", d)
    count: dict[str, int] = {}
    for d in divs:
        count[f"{d.ts:%Y-%m-%d}"] = count.get(f"{d.ts:%Y-%m-%d}", 0) + 1
    for day in days:
        ids = lday.get(day, set()) | bday.get(day, set())
        ok = len(ids & matched)
        el, eb = float(le.get(day, prev_l)), float(be.get(day, prev_b))
        div = first.get(day)
        rows.append({"day": day, "orders_live": len(lday.get(day, ())), "orders_backtest": len(bday.get(day, ())), "matched": ok,
                     "match_pct": 100.0 if not ids else 100.0 * ok / len(ids), "pnl_live": el - prev_l, "pnl_backtest": eb - prev_b,
                     "pnl_diff": (el - prev_l) - (eb - prev_b), "divergences": count.get(day, 0),
                     "first_ts": div.ts.isoformat() if div else None, "first_cause": div.cause if div else None,
                     "first_order": div.client_order_id if div else None, "first_detail": div.detail if div else None})  # fmt: skip
        prev_l, prev_b = el, eb
    return rows


def diff_session(store: Store, account: str, load: Callable[[str], pd.DataFrame], build_strategy: Callable[[str, dict[str, Any]], Strategy],
                 risk_settings: Any) -> SessionDiff:
    """Re-run the backtester over the bars ``account``'s session processed and compare everything it stored.

    ``load(symbol)`` returns the stored bars; ``build_strategy(name, params)`` the strategy from the
    session's pinned parameters; ``risk_settings`` the limits the backtest applies (those in force at
    the session's start). Raises :class:`NoSession` when there is nothing to compare yet.
    """
    session = store.get_setting(f"loop.{account}.session")
    last_raw = store.get_setting(f"loop.{account}.last_bar")
    if not session or not last_raw:
        raise NoSession(f"account {account!r} has no trading session with a processed bar yet; start paper trading first")
    last = _ts(last_raw)
    strategy = build_strategy(session["strategy"], dict(session["params"]))
    bt = replay_backtest(session, last, load, strategy, risk_settings)
    calendar = pd.DatetimeIndex(sorted(set().union(*(load(s).loc[:last].index for s in session["symbols"]))))
    start = _ts(calendar[int(session["warmup_bars"]) - 1])
    live_orders = order_repo.load_orders(store, account)
    live_fills = portfolio_repo.load_fills(store, account)
    if is_venue(session):
        live_fills = venue_fill_bars(live_fills, calendar, session.get("timeframe", "1d"))
    denials = order_repo.load_denials(store, [o.client_order_id for o in live_orders])
    points = portfolio_repo.load_equity(store, account)
    live_eq = pd.Series([p.equity for p in points], index=pd.DatetimeIndex([_ts(p.ts) for p in points]), dtype=float)
    live_eq = live_eq[(live_eq.index > start) & (live_eq.index <= last)]
    bt_eq = bt.equity.copy()
    bt_eq.index = pd.DatetimeIndex([_ts(t) for t in bt_eq.index])
    bt_eq = bt_eq[bt_eq.index > start]
    externals = external_ids(store, account)
    divs, matched, union = compare(live_orders, live_fills, denials, pd.DatetimeIndex(live_eq.index), externals, bt, start)
    drain = getattr(strategy, "drain_signals", None)
    n_sig = sig_ok = 0
    if drain is not None:
        theirs_sig = [(g.symbol, _ts(g.ts), float(g.p_up), int(g.direction), g.model_id) for g in drain() if _ts(g.ts) > start]
        missed = set(live_eq.index).symmetric_difference(set(bt_eq.index))
        sig_divs, n_sig, sig_ok = compare_signals(live_signals(store, session["symbols"], start, last), theirs_sig, missed)
        divs = sorted([*divs, *sig_divs], key=_rank)
    live = {o.client_order_id: o for o in live_orders}
    theirs = {o.client_order_id: o for o in bt.orders}
    result = SessionDiff(account, start, last, len(set(live_eq.index) | set(bt_eq.index)), len(live), len(theirs), len(matched), len(union),
                         divs, live_eq, bt_eq)
    result.days = _days(live_eq, bt_eq, divs, live, theirs, matched, float(session["cash"]), externals)
    result.signals, result.signals_matched = n_sig, sig_ok
    return result


