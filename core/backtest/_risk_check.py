"""One pre-trade check of the compiled risk path: :meth:`core.risk.limits.RiskEngine.check` for one symbol, in numba."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from core.backtest._risk_math import EPS, _abs_linear_max, _pairwise_sum, _var_max

NO_DECISION = 2
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
        rows = min(st[4], rets.shape[0] // 2)  # min(returns so far, RETURNS_WINDOW, var_window)
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
            # The last ``rows`` returns, oldest first: one contiguous slice of the doubled ring (no copy).
            n = int(rows)
            end = int(st[5]) + rets.shape[0] // 2
            window = rets[end - n : end]
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
