"""The compiled fast path for bar-driven target strategies on one symbol.

It replays exactly what the event path does for a strategy that only calls
``ctx.target`` (``Strategy.fast_targets``): market orders decided at a bar's
close fill at the next open, a reversal closes first and then sizes the new
position at the fill as ``min(w * equity, available) // (open * (1 + fee))``,
fees are a rate on notional. The arithmetic is written in the same order as
:class:`~core.portfolio.Portfolio` so both paths give bit-identical equity
curves and trades (a test checks this on real data). Anything else (limit,
stop, bracket orders, slippage, volume caps, several symbols) runs on the
event path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NO_DECISION = 2


@njit(cache=True)
def simulate_targets(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, targets: np.ndarray,
                     cash: float, fee_rate: float, weight: float, lot: float):
    """Run the target decisions; return (equity, exposed, trades[n, 10], n_trades, fees_paid, n_unsized).

    Trade columns: entry bar, exit bar, signed quantity, entry price, exit price,
    net P&L, fees, MAE, MFE, return %.
    """
    n = close.shape[0]
    equity = np.empty(n)
    exposed = np.zeros(n, dtype=np.bool_)
    trades = np.empty((max(n // 2 + 1, 1), 10))
    nt = 0
    q = 0.0
    avg = 0.0
    pending = NO_DECISION
    entry_i = -1
    t_fees = 0.0
    mae = 0.0
    mfe = 0.0
    fees_paid = 0.0
    unsized = 0
    for i in range(n):
        if pending != NO_DECISION:
            price = open_[i]
            cur = 0 if q == 0.0 else (1 if q > 0 else -1)
            if cur != 0 and cur != pending:
                closing = abs(q)
                signed = -q
                fee = closing * price * fee_rate + 0.0
                cash -= signed * price + fee
                fees_paid += fee
                pnl = (price - avg) * closing * (1 if q > 0 else -1)
                t_fees += fee * (closing / abs(signed))
                realized = 0.0 + pnl
                exit_price = (0.0 + closing * price) / (0.0 + closing)
                trades[nt, 0] = entry_i
                trades[nt, 1] = i
                trades[nt, 2] = q
                trades[nt, 3] = avg
                trades[nt, 4] = exit_price
                trades[nt, 5] = realized - t_fees
                trades[nt, 6] = t_fees
                trades[nt, 7] = min(mae, realized)
                trades[nt, 8] = max(mfe, realized)
                notional = abs(q) * avg
                trades[nt, 9] = 100.0 * (realized - t_fees) / notional if notional else 0.0
                nt += 1
                q = 0.0
                avg = 0.0
            if pending != 0 and q == 0.0:
                budget = min(weight * (cash + 0), max(0.0, (cash + 0) - 0))
                unit = price + price * fee_rate
                size = max(0.0, ((budget - 0.0) // (unit * lot)) * lot) if unit > 0 else 0.0
                if size > 0:
                    signed = pending * size
                    fee = abs(size) * price * fee_rate + 0.0
                    cash -= signed * price + fee
                    fees_paid += fee
                    avg = (0.0 * 0.0 + abs(signed) * price) / abs(0.0 + signed)
                    q = 0.0 + signed
                    entry_i = i
                    t_fees = 0.0 + fee
                    mae = 0.0
                    mfe = 0.0
                else:
                    unsized += 1
            pending = NO_DECISION
        if q != 0.0:
            at_high = (high[i] - avg) * q
            at_low = (low[i] - avg) * q
            mae = min(mae, at_high, at_low)
            mfe = max(mfe, at_high, at_low)
            exposed[i] = True
        equity[i] = cash + (0 + q * close[i]) if q != 0.0 else cash + 0
        t = targets[i]
        if t != NO_DECISION:
            cur = 0 if q == 0.0 else (1 if q > 0 else -1)
            if cur != t:
                pending = t
    return equity, exposed, trades, nt, fees_paid, unsized
