"""The compiled risk-checked path: :mod:`core.backtest.fast` with the one-symbol rules of the risk engine inside the loop.

It replays what the event path does for a single-symbol strategy that only calls
``ctx.target`` when every order passes :class:`core.risk.limits.RiskEngine`
(``run_backtest(..., risk=RiskEngine)``, the path ``services.backtest`` takes by default):

* each order the event path would check is checked here, in the same order and on the same
  book: the strategy's closing order, its entry, and the protective stop the
  :class:`~core.engine.protect.Protector` places after an entry fills;
* the rules are those of :meth:`RiskEngine._decide` that can apply to one symbol: validity,
  the drawdown halt from the running peak and the daily loss cap from the start-of-day
  equity (the portfolio's definitions: UTC days, the last equity point of the day before),
  both latched as in :class:`~core.risk.state.RiskState`, the orders-per-minute limit over
  simulated time, the order notional cap, the return-history minimum, the position cap,
  gross and net exposure, and the parametric VaR budget over the last ``var_window`` returns
  (mean and variance computed as numpy's ``mean`` and ``cov`` do, bit for bit); the
  correlation and cluster rules need a second held symbol and never bind here;
* approve, shrink (the largest quantity every rule allows, floored to whole lots) or veto,
  with a bit per rule that bound (the reasons are written in Python afterwards);
* an approved entry is sized at its fill like the paper broker does, a shrunk one keeps its
  size and must pass the broker's funds checks; stops (percent, ATR or trailing) fill at
  the open when gapped through, else at the stop price.

The arithmetic follows :class:`~core.portfolio.Portfolio`, the paper broker and
:mod:`core.risk._bounds` operation by operation, so both paths give the same decisions,
fills and equity (tests compare them on real and synthetic data).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from core.backtest._risk_check import (  # noqa: F401 (the record layout is read through this module)
    APPROVE,
    B_DAILY,
    B_DD_NEW,
    B_DD_ON,
    B_EQUITY,
    B_GROSS,
    B_HISTORY,
    B_INVALID,
    B_NET,
    B_NOTIONAL,
    B_POSITION,
    B_RATE,
    B_VAR,
    CLOSE,
    ENTRY,
    N_COLS,
    NO_DECISION,
    R_ACTION,
    R_APPROVED,
    R_BAR,
    R_EQUITY,
    R_FEE,
    R_FILL_BAR,
    R_FILL_PRICE,
    R_FILL_QTY,
    R_KIND,
    R_MASK,
    R_PEAK,
    R_PRICE,
    R_QTY,
    R_RATE,
    R_SIDE,
    R_STATUS,
    R_STOP,
    RETURNS_WINDOW,
    S_CANCELED,
    S_FILLED,
    S_NO_CASH,
    S_NONE,
    S_OPEN,
    S_REJECTED,
    S_UNSIZED,
    SHRINK,
    STOP,
    STOP_ATR,
    STOP_NONE,
    STOP_PERCENT,
    STOP_TRAILING,
    TRAIL,
    VETO,
    _check,
    _grow,
)
from core.backtest._risk_math import _floor_to_lot, _mean_true_range


@njit(cache=True)
def simulate_risk_targets(open_, high, low, close, stamps, days, targets, cash, fee_rate, weight, lot, lim, z,
                          stop_kind, stop_pct, atr_multiple, atr_window):
    """Run the target decisions with every order risk-checked; see the module docstring.

    Returns (equity, exposed, trades[n, 10], n_trades, fees_paid, unsized, records[k, N_COLS], k).
    """
    n = close.shape[0]
    equity_curve = np.empty(n)
    exposed = np.zeros(n, dtype=np.bool_)
    trades = np.empty((n + 1, 10))  # a reversal every bar closes a trade every bar
    rec = np.empty((max(n // 8, 64), N_COLS))
    sent = np.empty(64, dtype=np.int64)
    cap = int(min(RETURNS_WINDOW, lim[8]))
    rets = np.zeros(2 * cap)  # each return twice (slot and slot + cap): the window is always one slice
    st = np.zeros(6)
    st[1] = -(2**62)  # no daily halt yet
    nr = 0
    nt = 0
    q = 0.0
    avg = 0.0
    entry_i = -1
    t_fees = 0.0
    mae = 0.0
    mfe = 0.0
    fees_paid = 0.0
    unsized = 0
    pend_close = -1
    pend_entry = -1
    stop_rec = -1  # the record of the resting protective stop
    stop_price = 0.0
    extreme = 0.0
    trail = stop_pct * 100 / 100.0
    peak_all = -math.inf
    day_ref = math.nan
    eq_first = 0.0
    for i in range(n):
        o, h, lo_, c = open_[i], high[i], low[i], close[i]
        if i > 0:
            r = (c - close[i - 1]) / close[i - 1]
            slot = int(st[5])
            rets[slot] = r
            rets[slot + cap] = r
            st[4] += 1
            st[5] = slot + 1 if slot + 1 < cap else 0
        # -- the broker sees the bar: mark at the open, match, mark at the close ----------------------------
        if q != 0.0:
            at = (o - avg) * q
            mae = min(mae, at, at)
            mfe = max(mfe, at, at)
        fills_stop = -1
        fill_price = 0.0
        if stop_rec >= 0:
            s_side = rec[stop_rec, R_SIDE]
            hi, lo = max(h, o), min(lo_, o)
            if s_side < 0:
                at_open, inside = o <= stop_price, lo <= stop_price
            else:
                at_open, inside = o >= stop_price, hi >= stop_price
            if at_open:
                fills_stop, fill_price = stop_rec, o
            elif inside:
                fills_stop, fill_price = stop_rec, stop_price
            elif stop_kind == STOP_TRAILING:
                if s_side < 0:
                    extreme = max(extreme, hi)
                    new = extreme * (1 - trail)
                    if new > stop_price:
                        stop_price = new
                else:
                    extreme = min(extreme, lo)
                    new = extreme * (1 + trail)
                    if new < stop_price:
                        stop_price = new
        for which in range(3):
            r = fills_stop if which == 0 else (pend_close if which == 1 else pend_entry)
            if r < 0:
                continue
            price = fill_price if which == 0 else o
            if which == 2:  # the entry: sized at the fill unless the risk engine shrank it
                equity_f = cash + q * price if q != 0.0 else cash + 0
                available = max(0.0, equity_f - abs(q * price))
                if rec[r, R_ACTION] == APPROVE:
                    budget = min(weight * equity_f, available)
                    unit = price + price * fee_rate
                    size = max(0.0, ((budget - 0.0) // (unit * lot)) * lot) if unit > 0 else 0.0
                    if size <= 0:
                        rec[r, R_STATUS] = S_UNSIZED
                        unsized += 1
                        continue
                else:
                    size = rec[r, R_APPROVED]
                signed = rec[r, R_SIDE] * size
                opening = abs(q + signed) - abs(q)
                if opening > 1e-12 and (opening * price + (size * price * fee_rate + 0.0)) * 1.0 > available + 1e-6:
                    rec[r, R_STATUS] = S_NO_CASH
                    continue
            else:
                size = abs(q)
                signed = -q
            fee = abs(size) * price * fee_rate + 0.0
            cash -= signed * price + fee
            fees_paid += fee
            rec[r, R_STATUS] = S_FILLED
            rec[r, R_FILL_BAR] = i
            rec[r, R_FILL_QTY] = size
            rec[r, R_FILL_PRICE] = price
            rec[r, R_FEE] = fee
            if which < 2:
                closing = abs(q)
                pnl = (price - avg) * closing * (1 if q > 0 else -1)
                t_fees += fee * (closing / abs(signed))
                realized = 0.0 + pnl
                trades[nt, 0] = entry_i
                trades[nt, 1] = i
                trades[nt, 2] = q
                trades[nt, 3] = avg
                trades[nt, 4] = (0.0 + closing * price) / (0.0 + closing)
                trades[nt, 5] = realized - t_fees
                trades[nt, 6] = t_fees
                trades[nt, 7] = min(mae, realized)
                trades[nt, 8] = max(mfe, realized)
                notional = abs(q) * avg
                trades[nt, 9] = 100.0 * (realized - t_fees) / notional if notional else 0.0
                nt += 1
                q = 0.0
                avg = 0.0
                if which == 0:
                    stop_rec = -1
            else:
                avg = (0.0 * 0.0 + abs(signed) * price) / abs(0.0 + signed)
                q = 0.0 + signed
                entry_i = i
                t_fees = 0.0 + fee
                mae = 0.0
                mfe = 0.0
        pend_close = -1
        pend_entry = -1
        if q != 0.0:
            at_high = (h - avg) * q
            at_low = (lo_ - avg) * q
            mae = min(mae, at_high, at_low)
            mfe = max(mfe, at_high, at_low)
        # -- the book the risk engine sees at this bar's close ----------------------------------------------
        eq_now = cash + q * c if q != 0.0 else cash + 0
        peak = max(peak_all, eq_now)
        if i == 0:
            day_start = eq_now
        elif days[i - 1] < days[i]:
            day_start = equity_curve[i - 1]
        else:
            day_start = day_ref if not math.isnan(day_ref) else eq_first
        # -- the strategy decides (ctx.target) ---------------------------------------------------------------
        t = targets[i]
        cur = 0 if q == 0.0 else (1 if q > 0 else -1)
        book = q
        if t != NO_DECISION and cur != t:
            if cur != 0:
                if stop_rec >= 0:  # the exit first releases the protective stop
                    rec[stop_rec, R_STATUS] = S_CANCELED
                    stop_rec = -1
                rec = _grow(rec, nr)
                sent = _check(rec, nr, st, sent, rets, i, stamps[i], days[i], CLOSE, -cur, abs(q), c, book, eq_now, peak, day_start, lim, lot, z)
                if rec[nr, R_ACTION] != VETO:
                    pend_close = nr
                    rec[nr, R_STATUS] = S_OPEN
                    book = q + (-cur) * abs(q)
                nr += 1
            if t != 0:
                unit = c * (1 + fee_rate)
                estimate = (weight * eq_now // (unit * lot)) * lot if unit > 0 else 0.0
                rec = _grow(rec, nr)
                sent = _check(rec, nr, st, sent, rets, i, stamps[i], days[i], ENTRY, t, estimate if estimate > 0 else lot, c, book, eq_now, peak,
                              day_start, lim, lot, z)
                action = rec[nr, R_ACTION]
                if action == SHRINK:
                    fixed = _floor_to_lot(rec[nr, R_APPROVED], lot)
                    rec[nr, R_APPROVED] = fixed
                    opening = abs(q + t * fixed) - abs(q)
                    free = max(0.0, eq_now - abs(q * c))
                    if opening > 1e-12 and (opening * c + (fixed * c * fee_rate + 0.0)) * 1.0 > free + 1e-6:
                        rec[nr, R_STATUS] = S_REJECTED
                        action = VETO
                if action != VETO:
                    pend_entry = nr
                    rec[nr, R_STATUS] = S_OPEN
                nr += 1
        # -- the protector keeps the position's stop --------------------------------------------------------
        if stop_kind != STOP_NONE and abs(q) > 1e-12:
            after = q
            if pend_close >= 0:
                after += rec[pend_close, R_SIDE] * rec[pend_close, R_QTY]
            if pend_entry >= 0:
                after += rec[pend_entry, R_SIDE] * rec[pend_entry, R_APPROVED]
            keep = 0.0 if after * q <= 0 else min(abs(q), abs(after))
            s_side = -1 if q > 0 else 1
            if not (keep > 1e-12 and stop_rec >= 0 and rec[stop_rec, R_SIDE] == s_side and abs(rec[stop_rec, R_QTY] - keep) <= 1e-12):
                if stop_rec >= 0:
                    rec[stop_rec, R_STATUS] = S_CANCELED
                    stop_rec = -1
                if keep > 1e-12:
                    distance = atr_multiple * _mean_true_range(high, low, close, i, atr_window) if stop_kind == STOP_ATR else avg * stop_pct
                    if distance > 0:  # Protector._place places nothing at a zero distance
                        sp = avg - (-s_side) * distance
                        kind = TRAIL if stop_kind == STOP_TRAILING else STOP
                        rec = _grow(rec, nr)
                        sent = _check(rec, nr, st, sent, rets, i, stamps[i], days[i], kind, s_side, keep, c if kind == TRAIL else sp,
                                      after, eq_now, peak, day_start, lim, lot, z)
                        if rec[nr, R_ACTION] != VETO:
                            stop_rec = nr
                            rec[nr, R_STATUS] = S_OPEN
                            if kind == TRAIL:
                                extreme = c
                                sp = extreme * (1 - trail) if s_side < 0 else extreme * (1 + trail)
                            stop_price = sp
                            rec[nr, R_STOP] = sp
                        nr += 1
        # -- the equity point (running peak of the points so far, the last point of the day before) ---------
        if i > 0 and days[i - 1] < days[i]:
            day_ref = equity_curve[i - 1]
        eq = cash + (0 + q * c) if q != 0.0 else cash + 0
        if i == 0:
            eq_first = eq
        equity_curve[i] = eq
        peak_all = max(peak_all, eq)
        exposed[i] = q != 0.0 and q * c != 0.0
    return equity_curve, exposed, trades, nt, fees_paid, unsized, rec, nr
