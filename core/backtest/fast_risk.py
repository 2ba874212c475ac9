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

NO_DECISION = 2
EPS = 1e-9
RETURNS_WINDOW = 260  # core.engine.risk_gate.RETURNS_WINDOW
MINUTE_NS = 60_000_000_000

# Record columns (one row per risk-checked order).
R_BAR, R_KIND, R_SIDE, R_QTY, R_PRICE, R_ACTION, R_APPROVED, R_MASK, R_EQUITY, R_PEAK, R_RATE = range(11)
R_STATUS, R_FILL_BAR, R_FILL_QTY, R_FILL_PRICE, R_FEE, R_STOP = range(11, 17)
N_COLS = 17
# Kinds, actions, statuses.
CLOSE, ENTRY, STOP, TRAIL = 0, 1, 2, 3
APPROVE, SHRINK, VETO = 0, 1, 2
S_NONE, S_FILLED, S_CANCELED, S_UNSIZED, S_NO_CASH, S_REJECTED, S_OPEN = 0, 1, 2, 3, 4, 5, 6
# Reason bits, in the order the engine lists its reasons.
B_INVALID, B_EQUITY, B_RATE, B_NOTIONAL, B_DD_ON, B_DD_NEW, B_DAILY, B_HISTORY, B_POSITION, B_GROSS, B_NET, B_VAR = (1 << k for k in range(12))
# Stop kinds.
STOP_NONE, STOP_PERCENT, STOP_ATR, STOP_TRAILING = 0, 1, 2, 3


@njit(cache=True)
def _block_sum(a, lo, n):
    """Numpy's pairwise-sum leaf (n <= 128): eight running sums, then the rest in order."""
    if n < 8:
        r = 0.0
        for k in range(n):
            r += a[lo + k]
        return r
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    k = 8
    stop = n - (n % 8)
    while k < stop:
        r0 += a[lo + k]
        r1 += a[lo + k + 1]
        r2 += a[lo + k + 2]
        r3 += a[lo + k + 3]
        r4 += a[lo + k + 4]
        r5 += a[lo + k + 5]
        r6 += a[lo + k + 6]
        r7 += a[lo + k + 7]
        k += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while k < n:
        res += a[lo + k]
        k += 1
    return res


@njit(cache=True)
def _split(n):
    n2 = n // 2
    return n2 - n2 % 8


@njit(cache=True)
def _sum_256(a, lo, n):
    if n <= 128:
        return _block_sum(a, lo, n)
    h = _split(n)
    return _block_sum(a, lo, h) + _block_sum(a, lo + h, n - h)


@njit(cache=True)
def _pairwise_sum(a, lo, n):
    """Sum ``a[lo:lo+n]`` (n <= 512) in numpy's pairwise order, so the mean is numpy's to the last bit.

    Written without recursion: numba's on-disk cache of a recursive function crashes when loaded.
    """
    if n <= 128:
        return _block_sum(a, lo, n)
    h = _split(n)
    return _sum_256(a, lo, h) + _sum_256(a, lo + h, n - h)


@njit(cache=True)
def _abs_linear_max(a, b, c, limit, hi):
    """:func:`core.risk._bounds.abs_linear_max`."""
    radius = limit - c
    tol = EPS * max(1.0, abs(limit))
    if abs(a + b * hi) <= radius + tol:
        return hi
    if radius < 0:
        return min(hi, max(-a / b, 0.0))
    x1 = (-radius - a) / b
    x2 = (radius - a) / b
    lo_s, hi_s = (x1, x2) if x1 <= x2 else (x2, x1)
    if hi < lo_s:
        return hi
    if hi_s < 0:
        return 0.0
    return min(hi, hi_s)


@njit(cache=True)
def _var_at(x, w0, d, mu, var, z):
    w = w0 + x * d
    return -(w * mu) - z * math.sqrt(max((w * var) * w, 0.0))


@njit(cache=True)
def _var_max(limit, hi, w0, d, mu, var, z):
    """:func:`core.risk._bounds.band_max` on the one-symbol parametric VaR (golden section, then bisection)."""
    tol = EPS * max(1.0, abs(limit))
    if _var_at(hi, w0, d, mu, var, z) <= limit + tol:
        return hi
    lo_, hi_ = 0.0, hi
    g = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        x1, x2 = hi_ - g * (hi_ - lo_), lo_ + g * (hi_ - lo_)
        if _var_at(x1, w0, d, mu, var, z) <= _var_at(x2, w0, d, mu, var, z):
            hi_ = x2
        else:
            lo_ = x1
    argmin = 0.5 * (lo_ + hi_)
    argmin = min(max(argmin, 0.0), hi)
    if hi - argmin <= EPS * max(1.0, hi):
        argmin = hi
    if _var_at(argmin, w0, d, mu, var, z) > limit + tol:
        return argmin
    if _var_at(0.0, w0, d, mu, var, z) > limit + tol and argmin >= hi:
        return hi
    lo, up = argmin, hi
    for _ in range(100):
        mid = 0.5 * (lo + up)
        if _var_at(mid, w0, d, mu, var, z) <= limit + tol:
            lo = mid
        else:
            up = mid
    return lo


@njit(cache=True)
def _floor_to_lot(quantity, lot):
    """:func:`core.portfolio.portfolio.floor_to_lot`."""
    units = quantity / lot
    if abs(units - round(units)) <= 1e-9 * max(1.0, abs(units)):
        return quantity
    return math.floor(units) * lot


@njit(cache=True)
def _grow(rec, k):
    if k < rec.shape[0]:
        return rec
    out = np.empty((rec.shape[0] * 2, rec.shape[1]))
    out[: rec.shape[0]] = rec
    return out


@njit(cache=True)
def _decided(rec, k, action, quantity, mask):
    rec[k, R_ACTION] = action
    rec[k, R_APPROVED] = quantity
    rec[k, R_MASK] = mask


@njit(cache=True)
def _check(rec, k, st, sent, rets, i, ts, day, kind, side, iq, price, pos0, equity, peak, day_start, lim, lot, z):
    """Decide one order as :meth:`RiskEngine.check` would; write row ``k`` of ``rec``; return the (maybe grown) sent ring.

    ``st``: [drawdown latched, daily-halt day, sent head, sent tail, returns count, returns write slot].
    ``lim``: [max_position_pct, max_gross, max_net, max_drawdown_pct, daily_loss_cap_pct, var_budget_pct,
    max_order_notional, max_orders_per_minute, var_window, min_history].
    """
    rec[k, R_BAR] = i
    rec[k, R_KIND] = kind
    rec[k, R_SIDE] = side
    rec[k, R_QTY] = iq
    rec[k, R_PRICE] = price
    rec[k, R_EQUITY] = equity
    rec[k, R_PEAK] = math.nan
    rec[k, R_RATE] = 0.0
    rec[k, R_STATUS] = S_NONE
    rec[k, R_FILL_BAR] = -1.0
    rec[k, R_FILL_QTY] = 0.0
    rec[k, R_FILL_PRICE] = math.nan
    rec[k, R_FEE] = 0.0
    rec[k, R_STOP] = math.nan
    mask = 0
    if abs(pos0) <= 1e-12:
        pos0 = 0.0  # the risk view drops dust positions
    if not (math.isfinite(iq) and iq > 0 and math.isfinite(price) and price > 0):
        _decided(rec, k, VETO, 0.0, B_INVALID)
        return sent
    if not (math.isfinite(equity) and equity > 0):
        _decided(rec, k, VETO, 0.0, B_EQUITY)
        return sent
    # Halts, detected on every check (closing orders included), latched.
    dd_bit = 0
    if st[0] > 0:
        dd_bit = B_DD_ON
    else:
        pk = max(peak, equity)
        if equity <= pk * (1 - lim[3]):
            st[0] = 1.0
            dd_bit = B_DD_NEW
            rec[k, R_PEAK] = pk
    daily = st[1] == day
    if not daily and day_start > 0 and equity <= day_start * (1 - lim[4]):
        st[1] = day
        daily = True
    close_qty = abs(pos0) if pos0 * side < 0 else 0.0
    q = iq
    done = False
    if iq <= close_qty + EPS:
        done = True  # reducing: always approved
    if not done:
        head, tail = int(st[2]), int(st[3])
        while head < tail and ts - sent[head] >= MINUTE_NS:
            head += 1
        st[2] = head
        if tail - head >= lim[7]:
            q = close_qty
            mask = B_RATE
            rec[k, R_RATE] = tail - head
            done = True
    if not done:
        allowed = max(lim[6] / price, close_qty)
        if allowed < q - EPS * max(1.0, q):
            q = allowed
            mask |= B_NOTIONAL
        if dd_bit:
            q = min(q, close_qty)
            mask |= dd_bit
        if daily:
            q = min(q, close_qty)
            mask |= B_DAILY
        if q <= close_qty + EPS:
            done = True
    if not done:
        rows = min(st[4], rets.shape[0])  # min(returns so far, RETURNS_WINDOW, var_window)
        if i < 1 or rows < lim[9]:
            allowed = close_qty
            if allowed < q - EPS * max(1.0, q):
                q = allowed
                mask |= B_HISTORY
            if q <= close_qty + EPS:
                done = True
    if not done:
        v0 = pos0 * price if abs(pos0) > 1e-12 else 0.0
        step = side * price
        allowed = max(_abs_linear_max(v0, step, 0.0, lim[0] * equity * 1.0 * 1.0, q), close_qty)
        if allowed < q - EPS * max(1.0, q):
            q = allowed
            mask |= B_POSITION
        allowed = max(_abs_linear_max(v0, step, 0.0, lim[1] * equity, q), close_qty)
        if allowed < q - EPS * max(1.0, q):
            q = allowed
            mask |= B_GROSS
        allowed = max(_abs_linear_max(v0, step, 0.0, lim[2] * equity, q), close_qty)
        if allowed < q - EPS * max(1.0, q):
            q = allowed
            mask |= B_NET
        if q > close_qty + EPS:
            # The last ``rows`` returns, oldest first, as the contiguous column the event path reduces.
            n = int(rows)
            cap = rets.shape[0]
            window = np.empty(n)
            start = int(st[5]) - n
            for j in range(n):
                window[j] = rets[(start + j) % cap]
            if n == 0:
                mu, var = 0.0, 0.0
            else:
                mu = _pairwise_sum(window, 0, n) / n
                var = 0.0
                if n >= 2:
                    dev = window - mu
                    var = np.dot(dev, dev) * (1.0 / (n - 1))
            allowed = max(_var_max(lim[5], q, v0 / equity, step / equity, mu, var, z), close_qty)
            if allowed < q - EPS * max(1.0, q):
                q = allowed
                mask |= B_VAR
    if q < iq:
        q = math.floor(q / lot + EPS) * lot
    if q <= EPS:
        action, q = VETO, 0.0
    elif q < iq * (1 - 1e-12):
        action = SHRINK
    else:
        action, q = APPROVE, iq
    _decided(rec, k, action, q, mask)
    if action != VETO:
        tail = int(st[3])
        if tail >= sent.shape[0]:
            head = int(st[2])
            grown = np.empty(max(2 * (tail - head), 64), dtype=np.int64)
            grown[: tail - head] = sent[head:tail]
            sent = grown
            st[2], st[3], tail = 0.0, float(tail - head), tail - head
        sent[tail] = ts
        st[3] = tail + 1
    return sent


@njit(cache=True)
def _mean_true_range(high, low, close, i, window):
    """:func:`core.engine.protect.mean_true_range` of bars ``0..i``."""
    n = i + 1
    start = max(0, n - window)
    total = 0.0
    for j in range(start, n):
        tr = high[j] - low[j]
        if j > 0:
            tr = max(tr, abs(high[j] - close[j - 1]), abs(low[j] - close[j - 1]))
        total += tr
    return total / (n - start)


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
    rets = np.empty(int(min(RETURNS_WINDOW, lim[8])))
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
            st[4] += 1
            rets[int(st[5]) % rets.shape[0]] = (c - close[i - 1]) / close[i - 1]
            st[5] += 1
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
