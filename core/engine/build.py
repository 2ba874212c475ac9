"""The one wiring function: strategy + broker + order manager + a required risk check.

Backtests (:mod:`core.backtest`), the paper loop (:mod:`core.trading`) and the services'
paper sessions all build their pipeline here, so they run the same objects in the same
order. There is no default risk check: pass a :class:`~core.risk.limits.RiskEngine`
(checked against the engine's own book by :func:`core.engine.risk_gate.engine_risk_hook`),
a ready risk-check callable, or, explicitly, :data:`core.risk.hook.UNLIMITED`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.brokers.base import Broker
from core.clock import Clock
from core.domain import Bar
from core.engine.engine import Engine
from core.engine.protect import StopPolicy
from core.engine.risk_gate import engine_risk_hook
from core.engine.strategy import Strategy
from core.execution.manager import OrderManager
from core.portfolio.portfolio import Portfolio
from core.risk.hook import RiskCheck
from core.risk.limits import RiskEngine
from core.store import Store

RiskArg = RiskEngine | RiskCheck


def risk_check_for(risk: RiskArg, engine: Engine, wrap: Callable[[RiskCheck], RiskCheck] | None = None) -> RiskCheck:
    """Return the order manager's hook for ``risk``: a RiskEngine is bound to ``engine``'s book.

    Raises
    ------
    TypeError
        When ``risk`` is None or neither a RiskEngine nor a callable (there is no approve-all default).
    """
    if isinstance(risk, RiskEngine):
        check = engine_risk_hook(risk, engine)
    elif callable(risk):
        check = risk
    else:
        raise TypeError(f"risk must be a RiskEngine, a risk-check callable or core.risk.hook.UNLIMITED, not {risk!r}")
    return wrap(check) if wrap is not None else check


def build_engine(
    strategy: Strategy,
    symbols: Sequence[str],
    broker: Broker,
    *,
    risk: RiskArg,
    clock: Clock,
    store: Store | None = None,
    account: str = "paper",
    size: float = 1.0,
    capacity: int = 256,
    portfolio: Portfolio | None = None,
    on_bars: Callable[[list[Bar]], None] | None = None,
    wrap_risk: Callable[[RiskCheck], RiskCheck] | None = None,
    reconcile_on_start: bool = False,
    stop: StopPolicy | None = None,
) -> Engine:
    """Return an :class:`Engine` driving ``strategy`` on ``symbols`` through ``broker``, every order risk-checked.

    Parameters
    ----------
    strategy : Strategy
        The decision code.
    symbols : sequence of str
        What it trades.
    broker : Broker
        The venue (the paper broker in backtests and the paper loop).
    risk : RiskEngine or callable
        Required. A :class:`RiskEngine` checks every order against this engine's book
        (pending orders included); a callable is used as is (e.g. the recovery replay's
        recorded decisions); :data:`core.risk.hook.UNLIMITED` runs without limits (logged).
    clock : Clock
        Stamps orders and events.
    store : Store, optional
        Persists orders and events (under ``account``).
    size : float
        Fraction of equity ``ctx.target`` uses (1 = all-in).
    capacity : int
        Initial history length per symbol (grows as needed).
    portfolio : Portfolio, optional
        The ledger (default: the broker's).
    on_bars : callable, optional
        Replaces the broker's bar matcher (e.g. the same matcher wrapped in a timer).
    wrap_risk : callable, optional
        Wraps the risk check (e.g. a timer).
    reconcile_on_start : bool
        Reconcile stored open orders with the broker when the manager starts.
    stop : StopPolicy, optional
        The protective stop every position carries (``risk.stop``; None: no stops).

    Returns
    -------
    Engine
        With ``engine.manager`` (the order manager) and ``engine.broker``.
    """
    if risk is None:
        raise TypeError("build_engine needs risk=: a RiskEngine, a risk-check callable, or core.risk.hook.UNLIMITED")
    holder: list[Engine] = []

    def deferred(order, context=None):  # the engine exists before the first order
        return holder[0].manager.risk_check(order, context)

    manager = OrderManager(broker, clock, risk_check=deferred, store=store, account=account, reconcile_on_start=False)
    engine = Engine(strategy, broker, manager, symbols, size=size, portfolio=portfolio, capacity=capacity, on_bars=on_bars, stop=stop)
    holder.append(engine)
    manager.risk_check = risk_check_for(risk, engine, wrap_risk)
    if reconcile_on_start and manager.orders():
        manager.reconcile()
    return engine
