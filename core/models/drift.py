"""Model health: feature drift, calibration drift and the live hit rate against the out-of-sample estimate.

Three checks on a window of live bars, each with a bound from ``models.drift``:

* **feature drift**: the population stability index of each feature against the model's
  training window, ``PSI = sum_i (a_i - e_i) ln(a_i / e_i)`` over quantile bins of the
  training values (about 30 live rows a bin, at most 10) (``e_i`` training and ``a_i`` live shares, floored at ``1e-4``).
  0.1–0.25 is the usual "moderate", above 0.25 "major" shift. The alarm goes on when at
  least ``psi_share`` of the features exceed ``psi_max``.
* **calibration drift**: the Brier score and a reliability table of live p(up) against the
  realised outcomes, and Spiegelhalter's z, ``sum (y - p)(1 - 2p) / sqrt(sum (1 - 2p)² p (1 - p))``,
  which is standard normal for calibrated forecasts. Overlapping labels (horizon h) make
  outcomes dependent, so z is divided by ``sqrt(h)``. Alarm when ``|z| > calibration_z``.
* **hit rate**: the share of realised outcomes the model called right (p ≥ 0.5 ⇔ up),
  with a Wilson interval on the effective sample size ``n / h``; alarm when the whole
  interval (at ``hit_rate_confidence``) lies below the model's out-of-sample accuracy.

Only outcomes realised by the evaluation time count (a label needs ``h`` later bars), so
the check never looks ahead.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from core.models.metrics import wilson

FLOOR = 1e-4


def psi(expected: np.ndarray | pd.Series, actual: np.ndarray | pd.Series, bins: int = 10) -> float:
    """Return the population stability index of ``actual`` against ``expected`` over quantile bins of ``expected``."""
    e = np.asarray(pd.Series(expected).dropna(), dtype=float)
    a = np.asarray(pd.Series(actual).dropna(), dtype=float)
    if e.size == 0 or a.size == 0:
        return float("nan")
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1))[1:-1])
    e_share = np.bincount(np.searchsorted(edges, e, side="right"), minlength=edges.size + 1) / e.size
    a_share = np.bincount(np.searchsorted(edges, a, side="right"), minlength=edges.size + 1) / a.size
    e_share, a_share = np.maximum(e_share, FLOOR), np.maximum(a_share, FLOOR)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def psi_bins(n_live: int) -> int:
    """Return the PSI bins for ``n_live`` live rows: ~30 rows a bin, 2 to 10 bins.

    PSI's sampling noise is about ``(bins - 1) / n_live``: ten bins on 60 live rows would
    read 0.15 on a stationary series and cross 0.25 by chance every few checks.
    """
    return int(min(10, max(2, n_live // 30)))


def feature_psi(train: pd.DataFrame, live: pd.DataFrame, bins: int | None = None) -> pd.Series:
    """Return the PSI of every column of ``live`` against the same column of ``train`` (bins: :func:`psi_bins`)."""
    bins = bins or psi_bins(len(live))
    return pd.Series({c: psi(train[c], live[c], bins) for c in live.columns if c in train.columns}, dtype=float)


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Return the Brier score ``mean((p - y)²)``."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


def spiegelhalter_z(p: np.ndarray, y: np.ndarray, overlap: float = 1.0) -> float:
    """Return Spiegelhalter's calibration z, divided by ``sqrt(overlap)`` for overlapping labels."""
    p, y = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9), np.asarray(y, dtype=float)
    var = float(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    if p.size == 0 or var <= 0:
        return 0.0
    return float(np.sum((y - p) * (1 - 2 * p)) / math.sqrt(var) / math.sqrt(max(overlap, 1.0)))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 5) -> list[dict[str, float]]:
    """Return, per equal-width bin of p, the mean forecast, the observed up share and the count."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return [{"p_mean": float(p[idx == b].mean()), "observed": float(y[idx == b].mean()), "n": int((idx == b).sum())}
            for b in range(bins) if (idx == b).any()]  # fmt: skip


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    """Bounds of the health checks (``models.drift`` settings)."""

    psi_max: float = 0.25
    psi_share: float = 0.25
    calibration_z: float = 3.0
    hit_rate_confidence: float = 0.99

    @classmethod
    def from_settings(cls, drift: Any) -> DriftThresholds:
        """Return the thresholds of a :class:`core.config.DriftSettings`."""
        return cls(drift.psi_max, drift.psi_share, drift.calibration_z, drift.hit_rate_confidence)


@dataclass
class HealthReport:
    """The outcome of one health check; ``alarm`` is on when any check left its bound."""

    n_live: int
    n_outcomes: int
    psi: dict[str, float]
    drifted: list[str]
    feature_alarm: bool
    brier: float | None
    brier_oos: float | None
    calibration_z: float | None
    calibration_alarm: bool
    reliability: list[dict[str, float]]
    hit_rate: float | None
    hit_ci: tuple[float, float] | None
    oos_accuracy: float | None
    hit_alarm: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def alarm(self) -> bool:
        """Return True when any check is out of bounds."""
        return self.feature_alarm or self.calibration_alarm or self.hit_alarm

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (top 20 PSI values only)."""
        out = asdict(self)
        out["psi"] = dict(sorted(self.psi.items(), key=lambda kv: -kv[1] if np.isfinite(kv[1]) else 0)[:20])
        out["alarm"] = self.alarm
        out["n_features"] = len(self.psi)
        return out


def assess(
    train_features: pd.DataFrame | None,
    live_features: pd.DataFrame | None,
    p_up: np.ndarray,
    y: np.ndarray,
    *,
    oos_accuracy: float | None,
    oos_brier: float | None = None,
    overlap: float = 1.0,
    thresholds: DriftThresholds | None = None,
    min_outcomes: int = 20,
) -> HealthReport:
    """Check one window: features (``live`` vs ``train``) and the realised outcomes ``y`` of forecasts ``p_up``.

    ``p_up`` and ``y`` hold only forecasts whose outcome is already known. Fewer than
    ``min_outcomes`` of them leave the calibration and hit-rate checks undecided (no alarm).
    """
    th = thresholds or DriftThresholds()
    reasons: list[str] = []
    scores: dict[str, float] = {}
    drifted: list[str] = []
    feature_alarm = False
    if train_features is not None and live_features is not None and len(live_features):
        s = feature_psi(train_features, live_features)
        scores = {k: float(v) for k, v in s.items()}
        drifted = sorted((k for k, v in scores.items() if np.isfinite(v) and v > th.psi_max), key=lambda k: -scores[k])
        share = len(drifted) / max(len(scores), 1)
        feature_alarm = share >= th.psi_share
        if feature_alarm:
            reasons.append(f"feature drift: {len(drifted)}/{len(scores)} features have PSI > {th.psi_max:g} (e.g. {', '.join(drifted[:3])})")
    p, yy = np.asarray(p_up, dtype=float), np.asarray(y, dtype=float)
    n = p.size
    b = z = hit = ci = None
    cal_alarm = hit_alarm = False
    table: list[dict[str, float]] = []
    if n >= min_outcomes:
        b, z, table = brier(p, yy), spiegelhalter_z(p, yy, overlap), reliability(p, yy)
        cal_alarm = abs(z) > th.calibration_z
        if cal_alarm:
            reasons.append(f"calibration drift: Spiegelhalter z = {z:+.2f} (bound ±{th.calibration_z:g}), Brier {b:.3f}"
                           + (f" vs {oos_brier:.3f} out-of-sample" if oos_brier is not None else ""))  # fmt: skip
        hits = float(np.sum((p >= 0.5) == (yy == 1)))
        hit = hits / n
        n_eff = n / max(overlap, 1.0)
        zq = float(NormalDist().inv_cdf(0.5 + th.hit_rate_confidence / 2))
        ci = wilson(hit * n_eff, n_eff, zq)
        if oos_accuracy is not None and ci[1] < oos_accuracy:
            hit_alarm = True
            reasons.append(f"hit rate {hit:.1%} [{ci[0]:.1%}, {ci[1]:.1%}] is below the out-of-sample {oos_accuracy:.1%}")
    return HealthReport(
        n_live=0 if live_features is None else len(live_features), n_outcomes=int(n), psi=scores, drifted=drifted, feature_alarm=feature_alarm,
        brier=b, brier_oos=oos_brier, calibration_z=z, calibration_alarm=cal_alarm, reliability=table, hit_rate=hit, hit_ci=ci,
        oos_accuracy=oos_accuracy, hit_alarm=hit_alarm, reasons=reasons,
    )  # fmt: skip


def monitor(
    train_features: pd.DataFrame,
    live_features: pd.DataFrame,
    p_up: np.ndarray,
    y: np.ndarray,
    *,
    horizon: int,
    window: int,
    oos_accuracy: float | None,
    thresholds: DriftThresholds | None = None,
    step: int = 1,
    start: int | None = None,
) -> pd.DataFrame:
    """Run :func:`assess` at every ``step``-th live bar, as the scheduled check would, and return the alarms.

    Row ``i`` of ``live_features``, ``p_up`` and ``y`` is bar ``i``; at bar ``t`` the check sees
    the features of bars ``t-window+1 .. t`` and the outcomes of bars whose label has been
    realised (``i + horizon <= t``) within the last ``window`` bars. Returns one row per check
    with ``feature``, ``calibration``, ``hit`` and ``alarm`` flags, indexed like ``live_features``.
    """
    p, yy = np.asarray(p_up, dtype=float), np.asarray(y, dtype=float)
    rows, index = [], []
    first = window - 1 if start is None else start
    for t in range(first, len(live_features), step):
        lo = max(0, t - window + 1)
        hi = t - horizon + 1  # outcomes realised by bar t
        sel = slice(max(0, hi - window), max(hi, 0))
        rep = assess(train_features, live_features.iloc[lo : t + 1], p[sel], yy[sel], oos_accuracy=oos_accuracy, overlap=horizon, thresholds=thresholds)
        rows.append({"feature": rep.feature_alarm, "calibration": rep.calibration_alarm, "hit": rep.hit_alarm, "alarm": rep.alarm,
                     "calibration_z": rep.calibration_z, "hit_rate": rep.hit_rate, "drifted": len(rep.drifted)})  # fmt: skip
        index.append(live_features.index[t])
    return pd.DataFrame(rows, index=index)
