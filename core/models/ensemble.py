"""The ensemble classifier: random forest, gradient boosting, MLP and CatBoost, soft-voted or stacked.

Stacking and calibration are learned on out-of-sample predictions only: the
members are first fitted on the older part of the training rows, predict the
newest ``holdout`` fraction (after a ``gap`` of rows that purges overlapping
labels), and the meta-learner or calibrator is fitted on those predictions.
The members are then refitted on all rows (``refit=True``). Rows must be in
time order.
"""

# X is the scikit-learn name for a feature matrix.
# ruff: noqa: N803, N806
from __future__ import annotations

import sys
import warnings
from contextlib import AbstractContextManager

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

MEMBERS = ("rf", "gb", "mlp", "cat")
MIN_HOLDOUT = 30  # fewer out-of-sample rows than this cannot calibrate anything


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


_CONTROLLER: tuple[int, ThreadpoolController] | None = None


def _controller() -> ThreadpoolController:
    """Return a controller of the loaded BLAS/OpenMP libraries, found again only after new modules were imported.

    ``threadpool_limits`` looks the libraries up on every call (~3 ms, once per prediction of
    the trading loop); a native library arrives with an import, so the module count says when to look again.
    """
    global _CONTROLLER
    loaded = len(sys.modules)
    if _CONTROLLER is None or _CONTROLLER[0] != loaded:
        _CONTROLLER = (loaded, ThreadpoolController())
    return _CONTROLLER[1]


class EnsembleClassifier(ClassifierMixin, BaseEstimator):
    """Soft-voting or stacking ensemble with time-ordered calibration.

    Parameters
    ----------
    members
        Which members to use: any of ``"rf"``, ``"gb"``, ``"mlp"``, ``"cat"``
        and ``"torch"`` (needs PyTorch; see :mod:`core.models.torch_member`).
    method
        ``"soft"`` averages the members' probabilities; ``"stacking"`` fits a
        logistic regression on their out-of-sample logits.
    calibration
        ``"sigmoid"`` (Platt), ``"isotonic"`` or ``None``; applied to the
        soft vote (stacking's logistic meta-learner is itself a sigmoid fit).
    holdout
        Fraction of the newest rows used for out-of-sample calibration/stacking.
    gap
        Rows dropped between the fitting part and the holdout (purge: at least
        horizon × symbols for pooled overlapping labels).
    refit
        Refit members on all rows after calibration (more data, standard practice).
    n_estimators, max_depth, min_samples_leaf, rf_max_samples
        Random forest size; ``rf_max_samples`` bootstraps a fraction of the rows per tree.
    gb_max_iter, learning_rate
        Gradient boosting (sklearn HistGradientBoosting) iterations and rate; CatBoost uses the same rate.
    mlp_hidden, mlp_max_iter, mlp_alpha, mlp_batch_size
        MLP architecture, epochs, L2 penalty and minibatch size (inputs are standardised in a pipeline).
    cat_iterations, cat_depth
        CatBoost size.
    torch_params
        Keyword arguments for the PyTorch member.
    n_jobs
        Threads for the forest and CatBoost.
    random_state
        Seed for every member.
    """

    def __init__(
        self,
        members: tuple[str, ...] = MEMBERS,
        method: str = "soft",
        calibration: str | None = "sigmoid",
        holdout: float = 0.2,
        gap: int = 0,
        refit: bool = True,
        n_estimators: int = 200,
        max_depth: int | None = 6,
        min_samples_leaf: int = 20,
        gb_max_iter: int = 100,
        learning_rate: float = 0.05,
        mlp_hidden: tuple[int, ...] = (32,),
        mlp_max_iter: int = 200,
        mlp_alpha: float = 1e-3,
        mlp_batch_size: int = 256,
        rf_max_samples: float | None = None,
        cat_iterations: int = 200,
        cat_depth: int = 4,
        torch_params: dict | None = None,
        n_jobs: int = 1,
        random_state: int | None = 0,
    ) -> None:
        self.members = members
        self.method = method
        self.calibration = calibration
        self.holdout = holdout
        self.gap = gap
        self.refit = refit
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.gb_max_iter = gb_max_iter
        self.learning_rate = learning_rate
        self.mlp_hidden = mlp_hidden
        self.mlp_max_iter = mlp_max_iter
        self.mlp_alpha = mlp_alpha
        self.mlp_batch_size = mlp_batch_size
        self.rf_max_samples = rf_max_samples
        self.cat_iterations = cat_iterations
        self.cat_depth = cat_depth
        self.torch_params = torch_params
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- members ------------------------------------------------------------------------------
    def _make(self, name: str) -> BaseEstimator:
        rs = self.random_state
        if name == "rf":
            return RandomForestClassifier(
                n_estimators=self.n_estimators, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                max_features="sqrt", max_samples=self.rf_max_samples, n_jobs=self.n_jobs, random_state=rs,
            )  # fmt: skip
        if name == "gb":
            return HistGradientBoostingClassifier(max_iter=self.gb_max_iter, learning_rate=self.learning_rate, early_stopping=False, random_state=rs)
        if name == "mlp":
            mlp = MLPClassifier(
                hidden_layer_sizes=tuple(self.mlp_hidden), alpha=self.mlp_alpha, max_iter=self.mlp_max_iter,
                batch_size=self.mlp_batch_size, random_state=rs,
            )  # fmt: skip
            return make_pipeline(StandardScaler(), mlp)
        if name == "cat":
            from catboost import CatBoostClassifier

            return CatBoostClassifier(
                iterations=self.cat_iterations, depth=self.cat_depth, learning_rate=self.learning_rate, verbose=False,
                allow_writing_files=False, thread_count=self.n_jobs if self.n_jobs and self.n_jobs > 0 else -1, random_seed=rs or 0,
            )  # fmt: skip
        if name == "torch":
            from core.models.torch_member import TorchSequenceClassifier

            return TorchSequenceClassifier(**(self.torch_params or {}), random_state=rs)
        raise ValueError(f"unknown ensemble member {name!r}: choose from {', '.join((*MEMBERS, 'torch'))}")

    def _threads(self) -> AbstractContextManager:
        """Run OpenMP and BLAS single-threaded inside the members.

        Measured on the shared 2-core machine: HistGradientBoosting with two
        OpenMP threads took 5-24 s where one thread took 2.3 s, and the MLP's
        small matrix products ran 5-10x slower with several BLAS threads. The
        forest and CatBoost still use ``n_jobs`` threads of their own.
        """
        return _controller().limit(limits={"blas": 1, "openmp": 1})

    def _fit_members(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> list[BaseEstimator]:
        fitted = []
        for name in self.members:
            est = self._make(name)
            n_classes = len(np.unique(y))
            if n_classes < 2:
                est = _Constant()
            elif name == "mlp":
                # sklearn warns (and clips) when a minibatch is larger than the data.
                est.set_params(mlpclassifier__batch_size=min(self.mlp_batch_size, len(X)))
            with warnings.catch_warnings():
                # A short MLP run on noisy returns rarely "converges"; its early stop is deliberate.
                warnings.simplefilter("ignore", ConvergenceWarning)
                if name == "torch" and not isinstance(est, _Constant):
                    est.fit(X, y, groups=groups)
                else:
                    est.fit(X, y)
            fitted.append(est)
        return fitted

    def _member_proba(self, members: list[BaseEstimator], X: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Return member probabilities, shape (n_members, n_samples, n_classes)."""
        k = len(self.classes_)
        out = np.zeros((len(members), X.shape[0], k))
        for i, est in enumerate(members):
            seq = self.members[i] == "torch" and not isinstance(est, _Constant)
            proba = np.asarray(est.predict_proba(X, groups=groups) if seq else est.predict_proba(X), dtype=np.float64)
            cls = np.asarray(getattr(est, "classes_", np.arange(proba.shape[1]))).astype(int)
            out[i][:, cls] = proba  # a member may have seen fewer classes than the ensemble
        return out

    # -- sklearn API ------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> EnsembleClassifier:
        """Fit the members, then the calibrator or meta-learner on the time-ordered holdout.

        ``groups`` (the symbol of each row) only matters to the sequence member:
        its windows never cross from one symbol's rows into another's.
        """
        with self._threads():
            return self._fit(X, y, None if groups is None else np.asarray(groups))

    def _fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> EnsembleClassifier:
        if self.method not in ("soft", "stacking"):
            raise ValueError(f"method must be 'soft' or 'stacking', got {self.method!r}")
        if self.calibration not in (None, "sigmoid", "isotonic"):
            raise ValueError(f"calibration must be 'sigmoid', 'isotonic' or None, got {self.calibration!r}")
        if not self.members:
            raise ValueError("the ensemble needs at least one member")
        X, y = validate_data(self, X, y, ensure_min_samples=2, dtype=np.float64)
        check_classification_targets(y)
        self._le = LabelEncoder().fit(y)
        self.classes_ = self._le.classes_
        yi = self._le.transform(y)
        n = len(yi)
        n_hold = int(n * self.holdout)
        n_fit = n - n_hold - self.gap
        self.calibrator_ = None
        self.meta_ = None
        can_calibrate = (
            (self.method == "stacking" or self.calibration is not None)
            and len(self.classes_) == 2
            and n_hold >= MIN_HOLDOUT
            and n_fit >= MIN_HOLDOUT
            and len(np.unique(yi[:n_fit])) == 2
            and len(np.unique(yi[n - n_hold :])) == 2
        )
        if can_calibrate:
            g_fit = None if groups is None else groups[:n_fit]
            g_hold = None if groups is None else groups[n - n_hold :]
            first = self._fit_members(X[:n_fit], yi[:n_fit], g_fit)
            hold_p = self._member_proba(first, X[n - n_hold :], g_hold)[:, :, 1]
            y_hold = yi[n - n_hold :]
            if self.method == "stacking":
                self.meta_ = LogisticRegression(C=1.0).fit(_logit(hold_p).T, y_hold)
            elif self.calibration == "sigmoid":
                self.calibrator_ = LogisticRegression(C=1e4).fit(_logit(hold_p.mean(axis=0))[:, None], y_hold)
            else:
                self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(hold_p.mean(axis=0), y_hold)
            self.members_ = self._fit_members(X, yi, groups) if self.refit else first
        else:
            self.members_ = self._fit_members(X, yi, groups)
        self.calibrated_ = can_calibrate
        # Rows of history a prediction needs: 1, or the sequence member's window.
        self.context_rows_ = max([1, *(getattr(m, "window", 1) for name, m in zip(self.members, self.members_, strict=True) if name == "torch")])
        return self

    def predict_proba(self, X: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Return class probabilities, shape (n_samples, n_classes).

        With the sequence member, each row's prediction uses the previous
        ``context_rows_ - 1`` rows of ``X`` (of the same group): pass history along.
        """
        check_is_fitted(self, "members_")
        with self._threads():
            return self._predict_proba(X, None if groups is None else np.asarray(groups))

    def _predict_proba(self, X: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        X = validate_data(self, X, reset=False, dtype=np.float64)
        member_p = self._member_proba(self.members_, X, groups)
        if self.meta_ is not None:
            p1 = self.meta_.predict_proba(_logit(member_p[:, :, 1]).T)[:, 1]
        elif self.calibrator_ is not None:
            avg = member_p[:, :, 1].mean(axis=0)
            if isinstance(self.calibrator_, IsotonicRegression):
                p1 = self.calibrator_.predict(avg)
            else:
                p1 = self.calibrator_.predict_proba(_logit(avg)[:, None])[:, 1]
        else:
            return member_p.mean(axis=0)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Return the most probable class of each row."""
        check_is_fitted(self, "members_")
        return self.classes_[np.argmax(self.predict_proba(X, groups), axis=1)]

    def member_proba(self, X: np.ndarray, groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Return each member's probability of the last class (for diagnostics and the UI)."""
        check_is_fitted(self, "members_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        p = self._member_proba(self.members_, X, groups)
        return {name: p[i, :, -1] for i, name in enumerate(self.members)}


class _Constant(BaseEstimator):
    """Predicts the only class seen in training (a member fitted on a one-class slice)."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Constant:
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.ones((len(X), 1))
