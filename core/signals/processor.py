"""Turn model signals into trade intents, deterministically.

Steps, in order, for one batch of signals:

1. direction and probability: ``direction`` from the signal, else the sign of
   ``p_up - 0.5``; the win probability ``p_win`` is ``p_up`` for a long and
   ``1 - p_up`` for a short;
2. threshold: ``p_win >= min_probability`` and confidence (the signal's, else
   ``p_win``) ``>= min_confidence``;
3. regime gate: no new entries in ``blocked_regimes`` (crisis by default), and
   only the sides in ``allowed_directions[regime]`` when configured;
4. conflicts: per symbol the best signal of each direction is kept; opposite
   directions resolve to the one whose expected edge is larger by more than
   ``conflict_margin``, else both are dropped;
5. cooldown: a symbol and direction emitted less than ``cooldown`` ago is a duplicate;
   with ``reversal_margin`` set, a signal against the direction emitted less than
   ``cooldown`` ago is a conflict unless its edge beats that one's by more than the
   margin (no whipsaw on noise);
6. sizing: fractional Kelly (:class:`~core.sizing.KellySizer`); a zero size is dropped;
7. priority: when capital is short, intents are funded by descending expected
   edge ``p_win * b - (1 - p_win)`` (ties by symbol); the last one funded may be
   partial, the rest are dropped.

Every dropped signal comes back with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.domain import Regime, Side, Signal
from core.sizing import KellySizer, SizingDecision


@dataclass(frozen=True)
class SignalConfig:
    """The processor's rules (see the module docstring)."""

    min_probability: float = 0.55
    min_confidence: float = 0.0
    cooldown: timedelta = timedelta(hours=1)
    conflict_margin: float = 0.0
    payoff_ratio: float = 1.0
    allow_short: bool = True
    blocked_regimes: frozenset[Regime] = frozenset({Regime.CRISIS})
    allowed_directions: Mapping[Regime, frozenset[int]] = field(default_factory=dict)
    min_notional: float = 0.0
    reversal_margin: float | None = None


@dataclass(frozen=True, slots=True)
class TradeIntent:
    """A sized intent to trade, ready for the risk engine."""

    symbol: str
    ts: datetime
    side: Side
    p_win: float
    payoff_ratio: float
    expected_edge: float
    notional: float
    quantity: float
    sizing: SizingDecision
    regime: Regime | None = None
    model_id: str | None = None
    reason: str = ""

    @property
    def direction(self) -> int:
        """Return +1 for a long entry and -1 for a short one."""
        return self.side.sign


@dataclass(frozen=True, slots=True)
class Rejection:
    """A signal that did not become an intent, and why (``kind``: threshold, regime, duplicate, conflict, size or capital)."""

    signal: Signal
    reason: str
    kind: str = ""


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """The intents of one batch (funding order) and the rejected signals (input order)."""

    intents: tuple[TradeIntent, ...]
    rejected: tuple[Rejection, ...]


@dataclass
class _Cand:
    signal: Signal
    direction: int
    p_win: float
    b: float
    edge: float


def _direction(sig: Signal) -> int:
    if sig.direction:
        return 1 if sig.direction > 0 else -1
    return 1 if sig.p_up > 0.5 else (-1 if sig.p_up < 0.5 else 0)


class SignalProcessor:
    """Filter, deduplicate, resolve, gate, size and prioritise signals.

    ``last_emitted_`` maps ``(symbol, direction)`` to the time of the last intent
    emitted, for the cooldown; it is the only state.
    """

    def __init__(self, config: SignalConfig | None = None, sizer: KellySizer | None = None) -> None:
        self.config = config or SignalConfig()
        self.sizer = sizer or KellySizer()
        self.last_emitted_: dict[tuple[str, int], datetime] = {}
        self.last_edge_: dict[tuple[str, int], float] = {}

    def process(
        self,
        signals: Iterable[Signal],
        equity: float,
        available_capital: float | None = None,
        prices: Mapping[str, float] | None = None,
        payoff_ratios: Mapping[str, float] | None = None,
    ) -> ProcessResult:
        """Return the intents for ``signals`` and the reasons for the others.

        Parameters
        ----------
        signals
            Model outputs of one decision time (any order: they are sorted first).
        equity
            Account equity; Kelly fractions are of equity.
        available_capital
            Money free for new positions (default: unlimited).
        prices
            Last price per symbol, to turn notional into quantity (0 when unknown).
        payoff_ratios
            Payoff ratio ``b`` per symbol (e.g. from its bracket distances); default ``config.payoff_ratio``.
        """
        cfg = self.config
        prices = prices or {}
        payoff_ratios = payoff_ratios or {}
        rejected: list[Rejection] = []
        ordered = sorted(signals, key=lambda s: (s.ts, s.symbol, s.model_id or "", s.p_up))
        cands: list[_Cand] = []
        for sig in ordered:
            why = self._screen(sig)
            if why:
                rejected.append(Rejection(sig, why, "regime" if why.startswith("regime") else "threshold"))
                continue
            d = _direction(sig)
            p = sig.p_up if d > 0 else 1.0 - sig.p_up
            b = float(payoff_ratios.get(sig.symbol, cfg.payoff_ratio))
            cands.append(_Cand(sig, d, p, b, p * b - (1.0 - p)))
        cands = self._resolve(cands, rejected)
        funded: list[tuple[_Cand, SizingDecision]] = []
        for c in cands:
            last = self.last_emitted_.get((c.signal.symbol, c.direction))
            if last is not None and c.signal.ts - last < cfg.cooldown:
                side = "long" if c.direction > 0 else "short"
                why = f"duplicate: {c.signal.symbol} {side} emitted at {last.isoformat()}, within the {cfg.cooldown} cooldown"
                rejected.append(Rejection(c.signal, why, "duplicate"))
                continue
            opposite = self.last_emitted_.get((c.signal.symbol, -c.direction))
            if cfg.reversal_margin is not None and opposite is not None and c.signal.ts - opposite < cfg.cooldown:
                need = self.last_edge_.get((c.signal.symbol, -c.direction), 0.0) + cfg.reversal_margin
                if c.edge <= need:
                    was = "short" if c.direction > 0 else "long"
                    why = (f"conflict: reverses the {c.signal.symbol} {was} emitted at {opposite.isoformat()} within the {cfg.cooldown} cooldown; "
                           f"needs an edge above {need:.3f}, has {c.edge:.3f}")
                    rejected.append(Rejection(c.signal, why, "conflict"))
                    continue
            size = self.sizer.size_binary(c.p_win, c.b, equity, prices.get(c.signal.symbol), c.signal.regime)
            if size.fraction <= 0:
                rejected.append(Rejection(c.signal, f"zero Kelly size: {size.explanation.text()}", "size"))
                continue
            funded.append((c, size))
        funded.sort(key=lambda cs: (-cs[0].edge, cs[0].signal.symbol))
        remaining = float("inf") if available_capital is None else max(available_capital, 0.0)
        intents: list[TradeIntent] = []
        for c, size in funded:
            notional = min(size.notional, remaining)
            if notional <= 0 or notional < cfg.min_notional:
                rejected.append(Rejection(c.signal, f"insufficient capital: {remaining:,.2f} left after higher-edge intents", "capital"))
                continue
            remaining -= notional
            price = prices.get(c.signal.symbol)
            qty = notional / price if price else 0.0
            if size.quantity and notional == size.notional:
                qty = size.quantity
            side = Side.BUY if c.direction > 0 else Side.SELL
            note = "" if notional == size.notional else f"; partially funded {notional:,.2f} of {size.notional:,.2f}"
            intents.append(
                TradeIntent(
                    c.signal.symbol,
                    c.signal.ts,
                    side,
                    c.p_win,
                    c.b,
                    c.edge,
                    notional,
                    qty,
                    size,
                    c.signal.regime,
                    c.signal.model_id,
                    size.explanation.text() + note,
                )
            )
            self.last_emitted_[(c.signal.symbol, c.direction)] = c.signal.ts
            self.last_edge_[(c.signal.symbol, c.direction)] = c.edge
        return ProcessResult(tuple(intents), tuple(rejected))

    def _screen(self, sig: Signal) -> str:
        cfg = self.config
        d = _direction(sig)
        if d == 0:
            return "no direction: p_up is exactly 0.5"
        if d < 0 and not cfg.allow_short:
            return "short signals are disabled (allow_short=False)"
        p = sig.p_up if d > 0 else 1.0 - sig.p_up
        if p < cfg.min_probability:
            return f"below threshold: p_win {p:.3f} < min_probability {cfg.min_probability:.3f}"
        conf = sig.confidence if sig.confidence > 0 else p
        if conf < cfg.min_confidence:
            return f"below threshold: confidence {conf:.3f} < min_confidence {cfg.min_confidence:.3f}"
        if sig.regime is not None:
            if sig.regime in cfg.blocked_regimes:
                return f"regime gate: no new entries in {sig.regime} regime"
            allowed = cfg.allowed_directions.get(sig.regime)
            if allowed is not None and d not in allowed:
                return f"regime gate: {'long' if d > 0 else 'short'} entries not allowed in {sig.regime} regime"
        return ""

    def _resolve(self, cands: list[_Cand], rejected: list[Rejection]) -> list[_Cand]:
        by_symbol: dict[str, dict[int, list[_Cand]]] = {}
        for c in cands:
            by_symbol.setdefault(c.signal.symbol, {}).setdefault(c.direction, []).append(c)
        kept: list[_Cand] = []
        for symbol in sorted(by_symbol):
            best: dict[int, _Cand] = {}
            for d, group in sorted(by_symbol[symbol].items()):
                group = sorted(group, key=lambda c: (-c.edge, c.signal.ts, c.signal.model_id or ""))
                best[d] = group[0]
                rejected.extend(Rejection(c.signal, f"duplicate in batch: a stronger {symbol} signal in the same direction was kept", "duplicate")
                                for c in group[1:])
            if len(best) == 2:
                long_, short = best[1], best[-1]
                if abs(long_.edge - short.edge) <= self.config.conflict_margin:
                    rejected.extend(Rejection(c.signal, f"conflict: opposite {symbol} signals with similar edge cancel", "conflict") for c in (long_, short))
                    continue
                win, lose = (long_, short) if long_.edge > short.edge else (short, long_)
                rejected.append(Rejection(lose.signal, f"conflict: the opposite {symbol} signal has the larger edge ({win.edge:.3f} vs {lose.edge:.3f})",
                                          "conflict"))
                kept.append(win)
            else:
                kept.extend(best.values())
        return kept
