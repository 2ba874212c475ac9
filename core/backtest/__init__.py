"""Backtesting: the driver of :mod:`core.engine` over history, its compiled twin, reports.

``run_backtest(data, "sma_cross", params={...}, cash=..., commission=...)`` drives
:class:`core.engine.Engine` over history through the paper broker and the order manager, the
very objects paper trading steps bar by bar. Strategies see only bars up to now.

Conventions (they make the built-in ``sma_cross`` reproduce backtesting.py's README
example trade for trade, see the backtesting.py parity test):

* decisions are taken at a bar's close; market orders fill at the next bar's open
  (``FillModel(market_fill="close")`` fills at that close instead);
* ``size`` 1 ("all-in") sizes an entry at the fill as
  ``min(size * equity, available) // (open * (1 + commission))`` whole lots;
* commission is a rate on notional charged on entry and on exit;
* a reversal closes the position first, then opens the other way;
* the position still open at the end counts in final equity, not in trade statistics,
  and its exit commission is never charged.

The statistics follow empyrical's definitions (see :mod:`core.backtest.stats`).
"""

from core.backtest.run import BacktestResult, run_backtest

__all__ = ["BacktestResult", "run_backtest"]
