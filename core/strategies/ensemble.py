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

import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.domain import Regime, Side, Signal
from core.engine import Strategy, StrategyContext, StrategyError, lot_for
from core.engine.risk_gate import market_state
from core.risk.forecast import VarForecaster, scale_targets
from core.signals.processor import SignalConfig, SignalProcessor
from core.sizing import KellySizer
from core.strategies.registry import register


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
    cooldown_bars : int
        The signal processor's cooldown in bars (``signals.cooldown_bars``): a symbol and direction
        traded less than this many bars ago is a duplicate and the position is held as it is; 0 = off.
    conflict_margin : float
        ``signals.conflict_margin``: a signal against the direction traded within the cooldown must
        beat that signal's edge by more than this, else the position is held (no whipsaw).

    A signal the processor suppresses as a duplicate, a conflict or by the regime gate holds the
    position; one below the threshold or without a Kelly size targets flat. Each stored signal's
    note says which (``suppressed · <kind>: <why>``).
    """

    name = "ensemble"
    defaults: ClassVar[dict[str, Any]] = {
        "model_id": "", "min_probability": 0.55, "allow_short": False, "payoff_ratio": 1.0, "window": 300, "rebalance_band": 0.25,
        "model_schedule": [], "cooldown_bars": 5, "conflict_margin": 0.05,
    }  # fmt: skip

    def validate(self) -> None:
        """Check the threshold and window."""
        p = self.params
        if not 0.5 <= p["min_probability"] < 1:
            raise StrategyError(f"min_probability must lie in [0.5, 1), not {p['min_probability']}")
        if p["window"] < 120:
            raise StrategyError(f"window must be at least 120 bars (features need a warm-up), not {p['window']}")
        if p["cooldown_bars"] < 0 or p["conflict_margin"] < 0:
            raise StrategyError(f"cooldown_bars and conflict_margin must be >= 0, not {p['cooldown_bars']} and {p['conflict_margin']}")

    def min_bars(self) -> int:
        """Return 61: features need at least 60 bars of history (more with a longer warm-up), then one bar to fill."""
        return 61

    def __init__(self, *, artifact: Any = None, limits: Any = None, regime_for: Callable[[Any, str, pd.DataFrame], Any] | None = None,
                 news: pd.DataFrame | None = None, load_artifact: Callable[[str], Any] | None = None, **params: Any) -> None:
        """Store the parameters and what the caller (``core.services``) provides.

        Parameters
        ----------
        artifact : ModelArtifact
            The trained ensemble to trade (its ``model_id`` should match ``params["model_id"]``).
        limits : RiskSettings
            The limits in force; the Kelly sizer reads its caps from them.
        regime_for : callable, optional
            ``regime_for(artifact, symbol, bars)`` returns a regime model for a symbol the
            artifact has none for (None: such symbols trade without a regime).
        news : DataFrame, optional
            Stored headlines (published, symbols, sentiment), needed by a model with sentiment features.
        load_artifact : callable, optional
            ``load_artifact(model_id)`` returns a scheduled replacement model (``model_schedule``).
        """
        super().__init__(**params)
        self.artifact = artifact
        self.limits = limits
        self.regime_for = regime_for
        self.news = news
        self.load_artifact = load_artifact

    # -- set-up ---------------------------------------------------------------------------
    def on_start(self, ctx: StrategyContext) -> None:
        """Build the signal processor from the given model and risk limits."""
        if self.artifact is None or self.limits is None:
            raise StrategyError("the ensemble strategy needs its model artifact and risk limits: build it with core.services.build_strategy('ensemble', ...)")
        self.artifact_ = self.artifact
        # Forecast-driven exposure (risk.forecast_var): the targets are scaled to the VaR budget before trading.
        fv = getattr(self.limits, "forecast_var", False)
        self.forecast_ = (VarForecaster(self.limits.forecast_model, 0.99, 250), self.limits.var_budget_pct) if fv else None
        sizer = KellySizer.from_settings(self.limits)
        # The cooldown is in bars; its length in time is set from the bar interval on the first bar.
        self.config_ = SignalConfig(min_probability=self.params["min_probability"], cooldown=timedelta(0), payoff_ratio=self.params["payoff_ratio"],
                                    allow_short=self.params["allow_short"], conflict_margin=self.params["conflict_margin"],
                                    reversal_margin=self.params["conflict_margin"])
        self.processor_ = SignalProcessor(self.config_, sizer)
        self.cooldown_set_ = self.params["cooldown_bars"] == 0
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
        if rc is None and self.regime_for is not None:
            rc = self.regime_for(art, symbol, bars)
        if rc is None:
            return None
        return rc.classify_last(bars)

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
            # Only the last ``context`` rows are needed: TA-Lib still sees the whole window, the rest runs on those rows.
            full = model_features(bars, art.feature_config, symbol, self.news, last=context)
            # The model's columns of the last ``context`` rows, as arrays (no frame per selection).
            feats = full.to_numpy(dtype=np.float64)[-context:, self._positions(art, full.columns)]
            if np.isnan(feats[-1]).any():
                continue
            feats = feats[~np.isnan(feats).any(axis=1)]
            rows.append(feats)
            groups.extend([symbol] * len(feats))
            meta.append((symbol, float(bars["close"].iloc[-1])))
            t0 = self._tick("features", t0)
            regimes[symbol] = self._regime(symbol, bars)
            t0 = self._tick("regime", t0)
        if not rows:
            return
        if not self.cooldown_set_:
            self._set_cooldown(ctx, meta[0][0])
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
            # No new risk in a blocked regime, no re-trade of a duplicate, no whipsaw on a conflict: hold, no forced exit either.
            if rej.kind in ("regime", "duplicate", "conflict"):
                targets[rej.signal.symbol] = ctx.position(rej.signal.symbol)
        for intent in result.intents:
            targets[intent.symbol] = intent.quantity * (1 if intent.side is Side.BUY else -1)
        notes = {i.symbol: i.reason for i in result.intents} | {r.signal.symbol: f"suppressed · {r.kind}: {r.reason}" for r in result.rejected}
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

    def _positions(self, art: Any, columns: pd.Index) -> np.ndarray:
        """Return where the model's columns sit in the feature frame (computed once per model and column set)."""
        key = (tuple(art.columns), tuple(columns))
        cache = self.__dict__.setdefault("_column_positions", {})
        pos = cache.get(key)
        if pos is None:
            pos = columns.get_indexer(list(art.columns))
            if (pos < 0).any():
                missing = [c for c, p in zip(art.columns, pos, strict=True) if p < 0]
                raise KeyError(f"the features lack the model's columns {missing[:5]}: retrain the model on this feature set")
            cache.clear()
            cache[key] = pos
        return pos

    def _set_cooldown(self, ctx: StrategyContext, symbol: str) -> None:
        """Fix the cooldown's length: ``cooldown_bars`` times the bar interval (the smallest gap of the last bars; a weekend inside it counts as time)."""
        stamps = ctx.history(symbol).timestamps(last=11)
        if len(stamps) < 2:
            return
        bar = min(b - a for a, b in itertools.pairwise(stamps))
        # Just under n bars: the bar n intervals after an entry may trade again.
        cooldown = bar * self.params["cooldown_bars"] - timedelta(microseconds=1)
        self.processor_.config = replace(self.config_, cooldown=cooldown)
        self.cooldown_set_ = True

    def _artifact_at(self, now: Any) -> Any:
        """Return the model in force at ``now`` (the pinned one, or a scheduled replacement)."""
        wanted = self.params["model_id"] or self.artifact_.model_id
        for start, model_id in self.params["model_schedule"]:
            if pd.Timestamp(now) > pd.Timestamp(start):
                wanted = model_id
        if wanted != self.artifact_.model_id:
            if self.load_artifact is None:
                raise StrategyError(f"model {wanted} is scheduled but no load_artifact was given: build the strategy with core.services.build_strategy")
            self.artifact_ = self.load_artifact(wanted)
        return self.artifact_

    def drain_signals(self) -> list[Signal]:
        """Return and forget the signals of the bars processed since the last call (the loop stores them)."""
        out, self.pending_signals_ = getattr(self, "pending_signals_", []), []  # nothing before on_start
        return out
