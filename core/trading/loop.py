"""The trading loop: one tick runs the one pipeline on every newly released bar.

bars (replay feed) -> engine.step: paper broker matching, strategy (features, ensemble
p(up) + regime, signal processor, Kelly sizer) -> risk engine -> order manager -> broker
-> fills -> portfolio -> store -> notifications.

Crash safety
------------
Everything one bar changes (orders, order events, fills, trades, positions, cash, the
equity point, the risk audit, signals and the "last processed bar" marker) is written in
ONE database transaction (:meth:`core.store.Store.transaction`). A crash mid-bar leaves
no trace of that bar, and the next tick processes it again. The paper venue is a
deterministic simulation, so a restarted host rebuilds its state (resting orders,
trailing-stop extremes, the strategy's cooldowns) by replaying the processed bars with
the risk decisions and external inputs (manual orders, cancels, kill switch) recorded
at the time, then checks the rebuilt cash, positions and orders against the store.
Client order IDs are deterministic (strategy, symbol, bar, sequence), so processing a
bar twice can never double an order.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.brokers.paper import PaperBroker
from core.brokers.paper.fill_model import FillModel
from core.clock import FixedClock
from core.config import TradingSettings
from core.domain import Bar, Instrument, Order
from core.engine import StopPolicy, Strategy, build_engine, default_lot, engine_risk_hook, recorded_decisions
from core.execution import repo as order_repo
from core.notify.events import NotifyEvent, data_halt_event
from core.portfolio import repo as portfolio_repo
from core.risk.hook import RiskCheck
from core.risk.limits import RiskEngine, RiskLimits
from core.store import Store
from core.trading import inputs, toggle
from core.trading._timer import Timer as _Timer
from core.trading.alerts import LoopAlerts
from core.trading.feeds import Feed, data_gate
from core.trading.lease import Lease, host_id
from core.trading.venue import reconcile_tick, recover_from_venue, venue_book, venue_session

log = logging.getLogger("core.trading")
_HOST = host_id()


class RecoveryMismatch(RuntimeError):
    """The rebuilt paper state differs from the stored one (recorded in the audit log)."""


@dataclass
class TickReport:
    """What one tick did."""

    state: str
    bars: list[str] = field(default_factory=list)
    orders: int = 0
    fills: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    equity: float | None = None


@dataclass(frozen=True)
class LoopPorts:
    """What the loop needs from the application; ``core.services.trading_loop`` provides it.

    Attributes
    ----------
    load_bars : callable
        ``load_bars(symbol)`` returns the symbol's OHLCV frame (the replay feed's source).
    risk_limits : callable
        ``risk_limits()`` returns the risk settings in force (config plus Settings-page overrides).
    build_strategy : callable
        ``build_strategy(name, params)`` returns the strategy, given whatever it needs (models, limits).
    pin_params : callable
        ``pin_params(name, params, frames, cutoff)`` fixes what a new session trades (e.g. the model version).
    notify : callable
        ``notify(events)`` queues notifications (fills, risk vetoes, halts, daily summaries).
    build_feed : callable
        ``build_feed(session, account)`` returns the session's feed (``core.trading.feeds.build_feed``).
    provider : callable
        ``provider()`` names the feed a new session pins (``data.provider``).
    venue : callable
        ``venue()`` names the venue a new session pins (``brokers.default``: paper, binance, alpaca, zerodha, router).
    build_venue : callable
        ``build_venue(session)`` returns the venue adapter (``core.services.venue_broker``); unused for paper.
    """

    load_bars: Callable[[str], pd.DataFrame]
    risk_limits: Callable[[], Any]
    build_strategy: Callable[[str, dict[str, Any]], Strategy]
    pin_params: Callable[[str, dict[str, Any], dict[str, pd.DataFrame], pd.Timestamp], dict[str, Any]]
    notify: Callable[[list[NotifyEvent]], None]
    build_feed: Callable[[dict[str, Any], str], Feed]
    provider: Callable[[], str] = lambda: "replay"
    venue: Callable[[], str] = lambda: "paper"
    build_venue: Callable[[dict[str, Any]], Any] | None = None


def session_fill_model(session: dict[str, Any]) -> FillModel:
    """Return the fill model a session trades with (``trading.commission``, ``slippage_bps``, ``max_volume_share`` at its start)."""
    return FillModel.from_costs(float(session["commission"]), float(session.get("slippage_bps", 0.0)), float(session.get("max_volume_share", 0.0)))


class TradingLoop:
    """The paper-trading loop of one account, rebuilt from the store on first use in a process."""

    def __init__(self, ctx: Any, ports: LoopPorts, settings: TradingSettings | None = None, holder: str | None = None) -> None:
        self.ctx = ctx
        self.ports = ports
        self.store: Store = ctx.store
        self.cfg = settings or ctx.settings.trading
        self.account = self.cfg.account
        self.lease = Lease(self.store, f"account:{self.account}", holder or _HOST, ttl=pd.Timedelta(seconds=self.cfg.lease_seconds).to_pytimedelta())
        self._load = ports.load_bars
        self._key = f"loop.{self.account}"
        self.timer = _Timer()
        self.ready = False
        self._done: pd.Timestamp | None = None
        self.halt: str | None = None  # "stale data" or "market closed": set from the feed's status every tick
        self._halt_reason = ""

    # -- session -------------------------------------------------------------------
    def session(self) -> dict[str, Any]:
        """Return the stored session (what is traded, since when), creating it from the settings once."""
        stored = self.store.get_setting(f"{self._key}.session")
        if stored:
            return stored
        session = {
            "symbols": [s.upper() for s in self.cfg.symbols], "timeframe": self.cfg.timeframe, "strategy": self.cfg.strategy,
            "params": dict(self.cfg.params), "cash": self.cfg.cash, "commission": self.cfg.commission,
            "slippage_bps": self.cfg.slippage_bps, "max_volume_share": self.cfg.max_volume_share,
            "warmup_bars": self.cfg.warmup_bars, "bars_per_tick": self.cfg.bars_per_tick, "feed": self.ports.provider(),
        }  # fmt: skip
        session.update(venue_session(self.ports, session))
        session["params"] = self._pin_params(session)
        limits = self.ports.risk_limits()  # the limits at the start: what the backtest-vs-live diff re-runs with
        session["risk_limits"] = limits.model_dump(mode="json") if hasattr(limits, "model_dump") else None
        # Fixed for the session like the costs: a replay after a restart re-arms the same stops.
        session["stop"] = limits.stop.model_dump(mode="json") if hasattr(limits, "stop") else {"enabled": False}
        self.store.set_setting(f"{self._key}.session", session)
        self.store.audit("loop", f"paper session started for {', '.join(session['symbols'])} with {session['strategy']}", session)
        return session

    def _pin_params(self, session: dict[str, Any]) -> dict[str, Any]:
        """Let the application fix what the strategy needs at session start (e.g. which model version it trades)."""
        feed = self.ports.build_feed(session, self.account)
        session["warmup_end"] = feed.start.isoformat()  # the last bar before the first traded one (model windows are checked against it)
        # Pinning may train the session's first model (about a minute): the status strip says so instead of "waiting".
        toggle.report_status(self.store, preparing=f"fixing what {session['strategy']} trades from {feed.start:%Y-%m-%d} on "
                                                   "(a first ensemble session trains its model on the bars before that)")
        try:
            return self.ports.pin_params(session["strategy"], session["params"], feed.frames, feed.start)
        finally:
            toggle.report_status(self.store, preparing=None)

    @property
    def last_processed(self) -> pd.Timestamp | None:
        """Return the last bar whose effects are stored (None before the first)."""
        value = self.store.get_setting(f"{self._key}.last_bar")
        return pd.Timestamp(value) if value else None

    # -- building and recovery -------------------------------------------------------
    def _build(self, risk: RiskCheck) -> None:
        s = self.session()
        self.symbols = s["symbols"]
        self.feed = self.ports.build_feed(s, self.account)
        start = self.feed.start
        self.clock = FixedClock(start.to_pydatetime())
        instruments = {sym: Instrument(sym, tick_size=0.0, lot_size=default_lot(sym)) for sym in self.symbols}
        self.venue = s.get("broker", "paper") != "paper"  # a real venue: the source of truth, recovered by reconciliation
        if self.venue:
            start = self.last_processed or start  # no replay: the strategy sees every stored bar as history
            self.clock.set(start.to_pydatetime())
            self.broker = venue_book(self, s)
        else:
            self.broker = PaperBroker(self.clock, cash=s["cash"], fill_model=session_fill_model(s), account=self.account, instruments=instruments)
        self.strategy = self.ports.build_strategy(s["strategy"], s["params"])
        self.engine = build_engine(self.strategy, self.symbols, self.broker, risk=risk, clock=self.clock, account=self.account,
                                   capacity=len(self.feed.calendar) + 1, on_bars=self.timer.wrap("match", self.broker.on_bars),
                                   stop=StopPolicy.from_settings(s.get("stop")))
        self.manager = self.engine.manager
        # Warm-up history: visible to the strategy, never traded.
        for symbol in self.symbols:
            frame = self.feed.frames[symbol]
            self.engine.warm_up([Bar(symbol, ts.to_pydatetime(), *row) for ts, row in zip(frame.index[frame.index <= start],
                                 frame.loc[frame.index <= start, ["open", "high", "low", "close", "volume"]].itertuples(index=False), strict=True)])
        self.risk = RiskEngine(RiskLimits.from_settings(self.ports.risk_limits()), store=self.store, clock=self.clock)
        self.alerts = LoopAlerts(self)

    def recover(self) -> None:
        """Rebuild the in-memory state by replaying the processed bars, then check it against the store.

        On a real venue: reconcile with the venue instead (it is the source of truth; see :mod:`core.trading.venue`).
        """
        if self.ports.build_venue is not None and self.session().get("broker", "paper") != "paper":
            recover_from_venue(self)
            return
        stored_orders = {o.client_order_id: o for o in order_repo.load_orders(self.store, self.account)}
        # Replay with the decisions taken at the time (typed OrderDenied records, stored quantities).
        self._build(recorded_decisions(stored_orders, order_repo.load_denials(self.store, stored_orders)))
        last = self.last_processed
        if last is not None:
            for ts in self.feed.calendar[(self.feed.calendar > self.clock.now()) & (self.feed.calendar <= last)]:
                self._process(ts, replay=True)
        self._verify(stored_orders, last)
        self.manager.store = self.store
        self.manager.risk_check = self.timer.wrap("risk", data_gate(engine_risk_hook(self.risk, self.engine), lambda: self.halt,
                                                                   self.broker.portfolio))
        self.recorder = portfolio_repo.PortfolioRecorder(self.store, self.broker.portfolio, fills_seen=len(self.broker.fill_log))
        drain = getattr(self.strategy, "drain_signals", None)
        if drain is not None:
            drain()  # the replayed bars' signals were stored when those bars were first processed
        self._done = last  # the last bar this process's memory reflects
        self.ready = True

    def _verify(self, stored_orders: dict[str, Order], last: pd.Timestamp | None) -> None:
        if last is None:
            return
        problems = []
        state = portfolio_repo.load_state(self.store, self.account)
        pf = self.broker.portfolio
        if state is not None:
            if not math.isclose(state.cash, pf.cash, rel_tol=1e-9, abs_tol=1e-6):
                problems.append(f"cash: stored {state.cash:.6f}, rebuilt {pf.cash:.6f}")
            held = {s: p.quantity for s, p in pf.positions.items() if p.quantity}
            stored = {s: p.quantity for s, p in state.positions.items() if p.quantity}
            if held != stored:
                problems.append(f"positions: stored {stored}, rebuilt {held}")
        rebuilt = {o.client_order_id: o for o in self.manager.orders()}
        for cid, order in stored_orders.items():
            other = rebuilt.get(cid)
            if other is None:
                problems.append(f"order {cid} stored but not rebuilt")
            elif other.status != order.status or not math.isclose(other.filled_quantity, order.filled_quantity, abs_tol=1e-9):
                problems.append(f"order {cid}: stored {order.status}/{order.filled_quantity}, rebuilt {other.status}/{other.filled_quantity}")
        extra = set(rebuilt) - set(stored_orders)
        if extra:
            problems.append(f"orders rebuilt but not stored: {sorted(extra)[:5]}")
        if problems:
            self.store.audit("recovery_mismatch", "rebuilt paper state differs from the store", {"problems": problems[:50]})
            raise RecoveryMismatch("; ".join(problems[:5]))
        self.store.audit("recovery", f"paper state rebuilt up to {last.isoformat()}", {"orders": len(stored_orders)})

    # -- one bar ---------------------------------------------------------------------
    def _bars(self, ts: pd.Timestamp) -> list[Bar]:
        rows = ((symbol, self.feed.row(symbol, ts)) for symbol in self.symbols)
        return [Bar(symbol, ts.to_pydatetime(), *row) for symbol, row in rows if row is not None]

    def _process(self, ts: pd.Timestamp, replay: bool = False) -> None:
        self.clock.set(ts.to_pydatetime())
        bars = self._bars(ts)
        if not bars:
            return
        self.risk.state.hold()  # halts and the kill switch are read once per bar, not four times per order
        try:
            self.engine.step(bars)
            for item in inputs.drain(self, ts, replay):
                inputs.apply(self.manager, item)
            if self.venue and self.broker.unpolled:
                self.broker.poll()  # fills of this bar's orders that did not come back filled, stored in this bar's transaction
        finally:
            self.risk.state.release()

    # -- the tick ----------------------------------------------------------------------
    def tick(self) -> TickReport:
        """Process every bar released since the last tick (nothing while the toggle is off)."""
        if not toggle.is_enabled(self.store):
            self.lease.release()
            return TickReport("stopped")
        if not self.lease.acquire():
            holder = self.lease.current()
            toggle.report_status(self.store, waiting_for_lease=holder.holder if holder else "?")
            return TickReport("waiting")
        self.timer.ms.clear()
        t_all = time.perf_counter()
        if self.ready and self.last_processed != self._done:
            # Another host traded this account while we had lost the lease (paused, partitioned):
            # our memory is stale, so rebuild from the store before trading again.
            self.store.audit("recovery", "lease regained after another host traded: rebuilding from the store",
                             {"ours": self._done.isoformat() if self._done is not None else None,
                              "stored": self.last_processed.isoformat() if self.last_processed is not None else None})
            self.ready = False
        recovered = not self.ready
        if recovered:
            t0 = time.perf_counter()
            self.recover()
            self.timer.add("recover", (time.perf_counter() - t0) * 1000)
        # Everything the tick writes is one transaction: one commit per bar, the last bar's also holding the status.
        with self.store.transaction():
            self._refresh_limits()
            if self.venue and not recovered:  # a recovery on a venue has just reconciled: a second round trip would find nothing new
                reconcile_tick(self)
                self.store.commit()  # the venue's view is stored whether or not a bar follows
            target = self.feed.advance()
            feed_status = self._watch_feed()
            last = self.last_processed or self.clock.now()
            pending = self.feed.pending(pd.Timestamp(last), target)
            report = TickReport(self.halt or "running")
            n_orders, n_fills = len(self.manager), len(self.broker.fill_log)  # counts, not copies: a tick's cost must not grow with history
            done = self._done
            for ts in pending:
                if report.bars:
                    self._commit_bar()  # the previous bar is durable before this one starts
                    self._done = done
                t0 = time.perf_counter()
                self._process(ts)
                t1 = time.perf_counter()
                self.recorder.flush(self.broker.fill_log, ts.to_pydatetime())
                self._save_signals()
                self.store.set_setting(f"{self._key}.last_bar", ts.isoformat())
                done = ts  # becomes _done once committed
                self.timer.add("store", (time.perf_counter() - t1) * 1000)
                self.timer.add("bars", (time.perf_counter() - t0) * 1000)
                report.bars.append(ts.isoformat())
            report.orders = len(self.manager) - n_orders
            report.fills = len(self.broker.fill_log) - n_fills
            report.equity = self.broker.portfolio.equity()
            events = self.alerts.collect(n_orders, n_fills)  # fills, risk vetoes, new halts, daily summaries: sent once committed
            if self.feed.exhausted:
                report.state = "exhausted"
                inputs.cancel_queue_at_end(self.store, self.feed.calendar[-1])
            self.timer.add("total", (time.perf_counter() - t_all) * 1000)
            toggle.report_status(
                self.store, last_tick_at=self.ctx.clock.now().isoformat(), last_bar=report.bars[-1] if report.bars else None,
                equity=report.equity, timings_ms={k: round(v, 3) for k, v in self.timer.ms.items()}, waiting_for_lease=None,
                host=self.lease.holder, exhausted=self.feed.exhausted, last_error=None, halt=self.halt, feed_status=feed_status,
                feed=feed_status["provider"] if feed_status["live"] else "replay",
                feed_detail=f"live · {feed_status['error'] or feed_status.get('mode') or 'polling'}" if feed_status["live"] else None,
                stale=self._halt_reason if self.halt == "stale data" else None,
                market_closed=self._halt_reason if self.halt == "market closed" else None,
            )  # fmt: skip
            t_commit = time.perf_counter()
        commit_ms = (time.perf_counter() - t_commit) * 1000  # the last bar's writes are sent and committed here
        if report.bars:
            self._done = done
        self.timer.add("store", commit_ms)
        self.timer.add("total", commit_ms)
        report.timings_ms = {k: round(v, 3) for k, v in self.timer.ms.items()}
        self.alerts.send(events)
        return report

    def _commit_bar(self) -> None:
        t0 = time.perf_counter()
        self.store.commit()
        ms = (time.perf_counter() - t0) * 1000
        self.timer.add("store", ms)
        self.timer.add("bars", ms)

    def _watch_feed(self) -> dict[str, Any]:
        """Raise or lift the data halts from the feed's status (audited; a stale-data change is notified)."""
        status = self.feed.status()
        halt = "market closed" if not status.market_open else "stale data" if status.stale else None
        if halt != self.halt:
            was, self.halt = self.halt, halt
            reason = (f"no new closed bar since {status.last_bar} ({status.age_seconds:.0f} s)" if halt == "stale data"
                      else "market closed" if halt else f"bars resume: last bar {status.last_bar}")
            self._halt_reason = reason
            self.store.audit("data_halt", f"{halt or 'no data halt'} ({status.provider}): {reason}",
                             {"halt": halt, "previous": was, **status.to_dict()})
            if "stale data" in (halt, was):
                try:
                    self.ports.notify([data_halt_event(halt == "stale data", reason, self.ctx.clock.now())])
                except Exception as exc:
                    log.warning("could not queue the data-halt notification: %s", exc)
        return status.to_dict()

    def _refresh_limits(self) -> None:
        """Use the risk limits in force now (saved on the Settings page) from this tick on."""
        self.risk.limits = RiskLimits.from_settings(self.ports.risk_limits())

    def _save_signals(self) -> None:
        drain = getattr(self.strategy, "drain_signals", None)
        if drain is None:
            return
        from core.store.tables import SignalRow

        self.store.insert(SignalRow, [{"symbol": sig.symbol, "ts": sig.ts, "p_up": sig.p_up, "regime": sig.regime.value if sig.regime else None,
                                       "model_id": sig.model_id, "direction": sig.direction, "confidence": sig.confidence, "reason": sig.reason}
                                      for sig in drain()])
