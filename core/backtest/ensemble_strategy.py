"""The "ensemble" strategy: the AI pipeline as a strategy, the same in backtests and the paper loop.

On every bar, per symbol: features over the last ``window`` bars (causal, audited) ->
the ensemble's calibrated p(up) and the regime -> the signal processor (threshold, regime
gate, conflicts, priority by edge) -> fractional Kelly size -> a market order for the
difference to the target position. The order then passes the risk engine like any other.

The feature window is fixed (``window`` bars), so a prediction never depends on how much
older history the host happened to load: a backtest and the paper loop compute exactly
the same numbers.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.backtest.engine import StrategyContext
from core.backtest.strategy import Strategy, StrategyError, register
from core.domain import Regime, Side, Signal
from core.risk.forecast import VarForecaster, scale_targets
from core.signals.processor import SignalConfig, SignalProcessor
from core.sizing import KellySizer
from core.trading.pipeline import lot_for, market_state

TRAIN_HORIZON = 5  # label horizon (bars) of a model a session trains for itself; also its embargo
MIN_TRAIN_BARS = 300  # bars a symbol needs before the session to join that training


def _day(ts: Any) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d") if ts is not None else "?"


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t


def _ends_before(row: Any, limit: pd.Timestamp) -> bool:
    """Return True when the model's training data ends no later than ``limit`` (the last bar before the embargo)."""
    return row.data_end is not None and _utc(row.data_end) <= _utc(limit)


@register
class EnsembleStrategy(Strategy):
    """Trade the ensemble's probability of an up-move, sized by fractional Kelly.

    Parameters
    ----------
    model_id : str
        Model version to trade ("" = the latest; a paper session pins one at its start).
    min_probability : float
        Minimum win probability of a signal (the signal processor's threshold).
    allow_short : bool
        Also go short when p(up) is low enough.
    payoff_ratio : float
        Kelly's ``b`` (win size / loss size).
    window : int
        Bars of history the features and the regime are computed on.
    rebalance_band : float
        Trade only when the target differs from the position by more than this fraction of the target.
    model_schedule : list
        ``[[bar, model_id], ...]``: from the bar after ``bar`` on, trade ``model_id`` (the retrain
        job's replacements, see ``models.replace_rule``); earlier bars keep their model.
    """

    name = "ensemble"
    defaults: ClassVar[dict[str, Any]] = {
        "model_id": "", "min_probability": 0.55, "allow_short": False, "payoff_ratio": 1.0, "window": 300, "rebalance_band": 0.25,
        "model_schedule": [],
    }  # fmt: skip

    def validate(self) -> None:
        """Check the threshold and window."""
        p = self.params
        if not 0.5 <= p["min_probability"] < 1:
            raise StrategyError(f"min_probability must lie in [0.5, 1), not {p['min_probability']}")
        if p["window"] < 120:
            raise StrategyError(f"window must be at least 120 bars (features need a warm-up), not {p['window']}")

    # -- set-up ---------------------------------------------------------------------------
    def pin(self, ctx: Any, feed: Any, session: dict[str, Any]) -> dict[str, Any]:
        """Fix the model version for a paper session: one trained only on bars before the session.

        A model may trade only bars after its training data ends plus an embargo of its label
        horizon. The newest stored model that ends early enough is pinned; when there is none,
        one is trained (preset ``tiny``) on the pre-session bars of every symbol that has enough
        of them (a symbol listed later, such as GOOG from 2004, is traded with the pooled model
        and a regime filter fitted on its own first bars).

        Raises
        ------
        ValueError
            When the given ``model_id`` was trained on bars the session trades, or no symbol
            has enough history before the session to train on.
        """
        from core import services
        from core.models.registry import ModelNotFound, get_run, list_runs

        params = dict(self.params)
        first_traded = pd.Timestamp(feed.calendar[session["warmup_bars"]]) if len(feed.calendar) > session["warmup_bars"] else None
        if first_traded is None:
            raise ValueError(f"no bar left to trade after {session['warmup_bars']} warm-up bars: lower trading.warmup_bars")
        train_end = pd.Timestamp(feed.calendar[max(session["warmup_bars"] - 1 - TRAIN_HORIZON, 0)])

        def ends_in_time(row: Any) -> bool:
            return _ends_before(row, train_end)

        if params["model_id"]:
            try:
                row = get_run(ctx.store, params["model_id"])
            except ModelNotFound as exc:
                raise ValueError(str(exc)) from exc
            if not ends_in_time(row):
                raise ValueError(f"model {row.id} was trained on data up to {_day(row.data_end)}, which overlaps the session's traded bars "
                                 f"(from {_day(first_traded)}, after an embargo of {TRAIN_HORIZON} bars): "
                                 "pin a model trained before that, or leave model_id empty to train one")
            return params
        usable = [r for r in list_runs(ctx.store, limit=200, kind="ensemble") if ends_in_time(r)]
        if usable:
            params["model_id"] = usable[0].id
            return params
        bars = {s: f.loc[:train_end] for s, f in feed.frames.items()}  # nothing the session will trade on
        enough = {s: b for s, b in bars.items() if len(b) >= MIN_TRAIN_BARS}
        if not enough:
            raise ValueError(f"no symbol has {MIN_TRAIN_BARS} bars before the session's first traded bar ({_day(first_traded)}): "
                             "raise trading.warmup_bars or train a model on earlier data")
        report = services.train(list(enough), horizon=TRAIN_HORIZON, embargo=TRAIN_HORIZON, preset="tiny", bars=enough, ctx=ctx)
        params["model_id"] = report["model_id"]
        return params

    def on_start(self, ctx: StrategyContext) -> None:
        """Load the model and build the signal processor from the configured risk settings."""
        from core import services

        context = services.get_context()
        self.artifact_ = services.load_model(self.params["model_id"] or None, context)
        self.news_ = services.news_frame(context) if self.artifact_.feature_config.extra.get("sentiment") else None
        limits = services.risk_limits(context)
        sizer = KellySizer.from_settings(limits)
        config = SignalConfig(min_probability=self.params["min_probability"], cooldown=timedelta(0), payoff_ratio=self.params["payoff_ratio"],
                              allow_short=self.params["allow_short"])
        self.processor_ = SignalProcessor(config, sizer)
        # Forecast-driven exposure (risk.forecast_var): the targets are scaled to the VaR budget before trading.
        self.forecast_ = (VarForecaster(limits.forecast_model, 0.99, 250), limits.var_budget_pct) if limits.forecast_var else None
        self.regimes_: dict[str, Any] = {}
        self.pending_signals_: list[Signal] = []
        self.timings_: dict[str, float] = {}

    # -- per bar ---------------------------------------------------------------------------
    def _window(self, ctx: StrategyContext, symbol: str) -> pd.DataFrame | None:
        hist = ctx.history(symbol)
        if len(hist) < max(self.artifact_.feature_config.warmup + 2, 60):
            return None
        return hist.frame(last=self.params["window"])

    def _regime(self, symbol: str, bars: pd.DataFrame) -> Regime | None:
        art = self.artifact_
        if art.params.get("regime") is None:
            return None
        rc = art.regimes.get(symbol)
        if rc is None:
            from core import services

            rc = services.models._regime_for(art, symbol, bars, services.get_context())
        return Regime(rc.classify(bars).iloc[-1])

    def _tick(self, name: str, t0: float) -> float:
        now = time.perf_counter()
        self.timings_[name] = self.timings_.get(name, 0.0) + (now - t0) * 1000
        return now

    def on_bar(self, ctx: StrategyContext) -> None:
        """Score every symbol, turn signals into Kelly-sized targets and trade the differences."""
        from core.models.model_features import model_features

        art = self._artifact_at(ctx.now)
        rows, meta, groups = [], [], []
        # A sequence member reads each row's predecessors (of the same symbol) as context.
        context = max(int(getattr(art.model, "context_rows_", 1) or 1), 1)
        regimes: dict[str, Regime | None] = {}
        t0 = time.perf_counter()
        for symbol in ctx.symbols:
            bars = self._window(ctx, symbol)
            if bars is None or bars.index[-1] != ctx.now:
                continue
            feats = model_features(bars, art.feature_config, symbol, self.news_)[art.columns].iloc[-context:]
            if feats.iloc[-1].isna().any():
                continue
            feats = feats[feats.notna().all(axis=1)]
            rows.append(feats.to_numpy(dtype=np.float64))
            groups.extend([symbol] * len(feats))
            meta.append((symbol, float(bars["close"].iloc[-1])))
            t0 = self._tick("features", t0)
            regimes[symbol] = self._regime(symbol, bars)
            t0 = self._tick("regime", t0)
        if not rows:
            return
        all_p = art.model.predict_proba(np.vstack(rows), groups=np.asarray(groups))[:, list(art.model.classes_).index(1)]
        proba = all_p[np.cumsum([len(r) for r in rows]) - 1]  # the newest row of each symbol
        t0 = self._tick("model", t0)
        signals = [
            Signal(sym, ctx.now, float(p), regimes[sym], art.model_id, direction=1 if p >= 0.5 else -1, confidence=float(abs(p - 0.5) * 2))
            for (sym, _), p in zip(meta, proba, strict=True)
        ]
        prices = dict(meta)
        result = self.processor_.process(signals, equity=ctx.equity(), prices=prices)
        t0 = self._tick("signals", t0)
        targets = {s: 0.0 for s, _ in meta}
        for rej in result.rejected:
            if "regime" in rej.reason:  # no new risk in a blocked regime, but no forced exit either
                targets[rej.signal.symbol] = ctx.position(rej.signal.symbol)
        for intent in result.intents:
            targets[intent.symbol] = intent.quantity * (1 if intent.side is Side.BUY else -1)
        notes = {i.symbol: i.reason for i in result.intents} | {r.signal.symbol: r.reason for r in result.rejected}
        self.pending_signals_.extend(
            Signal(s.symbol, s.ts, s.p_up, s.regime, s.model_id, int(np.sign(targets[s.symbol])), s.confidence, notes.get(s.symbol, "")[:500])
            for s in signals
        )
        if self.forecast_ is not None:
            targets = scale_targets(targets, prices, ctx.equity(), market_state(ctx._engine).returns, *self.forecast_)
        band = self.params["rebalance_band"]
        for symbol, target in targets.items():
            lot = lot_for(symbol, ctx._engine.broker)
            target = np.trunc(target / lot) * lot
            current = ctx.position(symbol)
            delta = target - current
            if abs(delta) < lot or (target != 0 and np.sign(target) == np.sign(current) and abs(delta) <= band * abs(target)):
                continue
            if delta > 0:
                ctx.buy(symbol, float(abs(delta)), reason="ensemble")
            else:
                ctx.sell(symbol, float(abs(delta)), reason="ensemble")
        self._tick("orders", t0)

    def _artifact_at(self, now: Any) -> Any:
        """Return the model in force at ``now`` (the pinned one, or a scheduled replacement)."""
        from core import services

        wanted = self.params["model_id"] or self.artifact_.model_id
        for start, model_id in self.params["model_schedule"]:
            if pd.Timestamp(now) > pd.Timestamp(start):
                wanted = model_id
        if wanted != self.artifact_.model_id:
            context = services.get_context()
            self.artifact_ = services.load_model(wanted, context)
            self.news_ = services.news_frame(context) if self.artifact_.feature_config.extra.get("sentiment") else None
        return self.artifact_

    def drain_signals(self) -> list[Signal]:
        """Return and forget the signals of the bars processed since the last call (the loop stores them)."""
        out, self.pending_signals_ = getattr(self, "pending_signals_", []), []  # nothing before on_start
        return out
