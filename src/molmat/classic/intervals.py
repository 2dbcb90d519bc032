"""Prediction intervals for any regression model: jackknife+ / CV+ and bootstrap.

Barber, Candès, Ramdas & Tibshirani, "Predictive inference with the
jackknife+", Ann. Statist. 49, 486 (2021). The training set is cut into K
folds; a model is fitted without each fold, and every training point gets an
out-of-fold residual R_i and the fold model mu_{-k(i)}. For a new x the
interval is

    [ q_lo{ mu_{-k(i)}(x) - R_i },  q_hi{ mu_{-k(i)}(x) + R_i } ]

with the floor(alpha (n+1))-th smallest and ceil((1-alpha)(n+1))-th smallest
values over the n training points. K = n is the jackknife+; smaller K is CV+,
which needs only K fits. Coverage is at least 1 - 2 alpha in theory and close
to 1 - alpha in practice.

The bootstrap alternative (:func:`bootstrap_intervals`) fits B models on
resamples and adds each model's out-of-bag residuals to its prediction, so
the interval holds both model variance and noise.

:func:`fit_intervals` also returns a :class:`Calibration`, what intervals for
molecules met later need: the bootstrap models and their out-of-bag
residuals, or for CV+/jackknife+ the ceil((1-alpha)(n+1))-th smallest
out-of-fold residual, added to either side of the fitted model's prediction
(the exact CV+ needs every fold model, kept only while training).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from molmat.classic.assessment import take_rows


def cv_plus_intervals(
    make_model: Callable[[], object],
    X_train: Sequence | np.ndarray,
    y_train: np.ndarray,
    X_test: Sequence | np.ndarray,
    alpha: float = 0.1,
    folds: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(1 - alpha) prediction intervals for ``X_test`` by CV+ (jackknife+ if K = n).

    Args:
        make_model: returns a fresh unfitted model with ``fit(X, y)`` and
            ``predict(X) -> [n]`` (a scikit-learn estimator, a ClassicModel...).
        X_train, y_train: training inputs (array or list, e.g. SMILES) and [n] targets.
        X_test: inputs to predict.
        alpha: miscoverage; 0.1 gives 90% intervals.
        folds: K; ``len(y_train)`` gives the jackknife+.
        seed: seed of the fold assignment.

    Returns:
        ``(lower, upper, median)`` arrays [n_test]; ``median`` is the median of
        the fold models' predictions.
    """
    return _cv_plus(make_model, X_train, y_train, X_test, alpha, folds, seed)[:3]


def _cv_plus(make_model, X_train, y_train, X_test, alpha, folds, seed):
    """:func:`cv_plus_intervals` and the out-of-fold absolute residuals [n]."""
    y_train = np.asarray(y_train, dtype=np.float64).reshape(-1)
    n = len(y_train)
    if not 2 <= folds <= n:
        raise ValueError(f"folds must be between 2 and n = {n}; got {folds}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5); got {alpha}")
    fold_of = np.random.default_rng(seed).permutation(n) % folds
    residual = np.empty(n)
    test_pred = np.empty((folds, len(X_test)))
    for k in range(folds):
        held = np.flatnonzero(fold_of == k)
        kept = np.flatnonzero(fold_of != k)
        model = make_model()
        model.fit(take_rows(X_train, kept), y_train[kept])
        residual[held] = np.abs(
            y_train[held] - np.asarray(model.predict(take_rows(X_train, held)))
        )
        test_pred[k] = np.asarray(model.predict(X_test)).reshape(-1)
    per_point = test_pred[fold_of].T  # [n_test, n]: mu_{-k(i)}(x)
    low_rank = int(np.floor(alpha * (n + 1))) - 1
    high_rank = int(np.ceil((1 - alpha) * (n + 1))) - 1
    if low_rank < 0 or high_rank >= n:
        raise ValueError(f"{n} training points are too few for alpha = {alpha}")
    lower = np.sort(per_point - residual, axis=1)[:, low_rank]
    upper = np.sort(per_point + residual, axis=1)[:, high_rank]
    return lower, upper, np.median(test_pred, axis=0), residual


def bootstrap_intervals(
    make_model: Callable[[], object],
    X_train: Sequence | np.ndarray,
    y_train: np.ndarray,
    X_test: Sequence | np.ndarray,
    alpha: float = 0.1,
    n_boot: int = 20,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(1 - alpha) prediction intervals for ``X_test`` from a bootstrap ensemble.

    Each of ``n_boot`` models is fitted on a resample of the training set; the
    rows it never saw give out-of-bag residuals ``y - mu_b(x)``. The interval is
    the alpha/2 and 1 - alpha/2 quantiles of ``mu_b(x) + r`` over all models b
    and their out-of-bag residuals r.

    Args:
        make_model, X_train, y_train, X_test, alpha: as for
            :func:`cv_plus_intervals`.
        n_boot: number of bootstrap models.
        seed: seed of the resamples.

    Returns:
        ``(lower, upper, mean)`` arrays [n_test]; ``mean`` is the ensemble mean.
    """
    return _bootstrap(make_model, X_train, y_train, X_test, alpha, n_boot, seed)[:3]


def _bootstrap(make_model, X_train, y_train, X_test, alpha, n_boot, seed):
    """:func:`bootstrap_intervals`, the fitted models and their out-of-bag residuals."""
    y_train = np.asarray(y_train, dtype=np.float64).reshape(-1)
    n = len(y_train)
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2; got {n_boot}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5); got {alpha}")
    rng = np.random.default_rng(seed)
    models, residuals = [], []
    for _ in range(n_boot):
        drawn = rng.integers(0, n, n)
        out_of_bag = np.setdiff1d(np.arange(n), drawn)
        if len(out_of_bag) == 0:
            continue
        model = make_model()
        model.fit(take_rows(X_train, drawn), y_train[drawn])
        residuals.append(
            y_train[out_of_bag]
            - np.asarray(model.predict(take_rows(X_train, out_of_bag))).reshape(-1)
        )
        models.append(model)
    calibration = Calibration("bootstrap", alpha, models=models, residuals=residuals)
    lower, upper, mean, _ = calibration.bounds(X_test)
    return lower, upper, mean, calibration


@dataclass
class Calibration:
    """What (1 - ``alpha``) intervals of one target for new inputs need.

    Attributes:
        method: ``gp``, ``cv+``, ``jackknife+`` or ``bootstrap``.
        alpha: miscoverage the intervals were made for.
        half_width: ``cv+``/``jackknife+``: the ceil((1-alpha)(n+1))-th
            smallest out-of-fold absolute residual (units of the target).
        models: ``bootstrap``: the B fitted models (``predict(X) -> [n]``).
        residuals: ``bootstrap``: each model's out-of-bag residuals y - mu_b(x).
    """

    method: str
    alpha: float
    half_width: float = float("nan")
    models: list = field(default_factory=list)
    residuals: list[np.ndarray] = field(default_factory=list)

    def bounds(
        self,
        X: Sequence | np.ndarray,
        pred: np.ndarray | None = None,
        std: np.ndarray | None = None,
        chunk: int = 1024,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(lower, upper, mean, std)`` [n] for inputs ``X``.

        ``gp`` needs the model's ``pred`` and predictive ``std``; ``cv+`` and
        ``jackknife+`` its ``pred``; ``bootstrap`` predicts with its own
        models and returns their mean and spread (``mean``/``std`` are
        ``None`` otherwise). Rows are handled ``chunk`` at a time, so memory
        stays at ``chunk`` x (out-of-bag residuals) floats.
        """
        if self.method == "gp":
            half = stats.norm.ppf(1 - self.alpha / 2) * np.asarray(std)
            return pred - half, pred + half, None, None
        if self.method in ("cv+", "jackknife+"):
            return pred - self.half_width, pred + self.half_width, None, None
        if self.method != "bootstrap":
            raise ValueError(
                f"unknown interval method {self.method!r}; use one of "
                f"{INTERVAL_METHODS}"
            )
        means = np.stack(
            [
                np.asarray(m.predict(X), dtype=np.float64).reshape(-1)
                for m in self.models
            ]
        )  # [B, n]
        lower, upper = np.empty(means.shape[1]), np.empty(means.shape[1])
        for start in range(0, means.shape[1], chunk):
            part = slice(start, start + chunk)
            draws = np.concatenate(
                [
                    mu[part, None] + r[None, :]
                    for mu, r in zip(means, self.residuals, strict=True)
                ],
                axis=1,
            )
            lower[part] = np.quantile(draws, self.alpha / 2, axis=1)
            upper[part] = np.quantile(draws, 1 - self.alpha / 2, axis=1)
        return lower, upper, means.mean(axis=0), means.std(axis=0)


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of ``y`` inside ``[lower, upper]`` (NaN labels ignored)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    known = ~np.isnan(y)
    return float(np.mean((y[known] >= lower[known]) & (y[known] <= upper[known])))


INTERVAL_METHODS = ("bootstrap", "cv+", "jackknife+", "gp")


def fit_intervals(
    method: str,
    make_model: Callable[[], object],
    X_train: Sequence | np.ndarray,
    y_train: np.ndarray,
    X_test: Sequence | np.ndarray,
    alpha: float = 0.1,
    seed: int = 0,
    fitted=None,
    target: int = 0,
) -> tuple[np.ndarray, np.ndarray, Calibration]:
    """``(lower, upper)`` [n_test] (1 - alpha) prediction intervals by
    ``method``, and the :class:`Calibration` for later inputs.

    ``bootstrap`` (20 models), ``cv+`` (10 folds) and ``jackknife+`` (one fit
    per training point) refit ``make_model``; ``gp`` uses the ``fitted``
    Gaussian process's predictive standard deviation of column ``target``
    (mean ± z sigma).
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5); got {alpha}")
    if method == "gp":
        if fitted is None or not hasattr(fitted, "predict_with_std"):
            raise ValueError("gp intervals need a fitted Gaussian-process model")
        mean, std = (np.asarray(a)[:, target] for a in fitted.predict_with_std(X_test))
        calibration = Calibration("gp", alpha)
        return (*calibration.bounds(X_test, mean, std)[:2], calibration)
    if method == "bootstrap":
        lower, upper, _, calibration = _bootstrap(
            make_model, X_train, y_train, X_test, alpha, 20, seed
        )
        return lower, upper, calibration
    if method in ("cv+", "jackknife+"):
        folds = len(y_train) if method == "jackknife+" else min(10, len(y_train))
        lower, upper, _, residual = _cv_plus(
            make_model, X_train, y_train, X_test, alpha, folds, seed
        )
        rank = int(np.ceil((1 - alpha) * (len(residual) + 1))) - 1
        half_width = float(np.sort(residual)[rank])
        return lower, upper, Calibration(method, alpha, half_width=half_width)
    raise ValueError(
        f"unknown interval method {method!r}; use one of {INTERVAL_METHODS}"
    )


def interval_summary(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict:
    """Empirical coverage and mean width of intervals on labelled rows."""
    known = ~np.isnan(np.asarray(y, dtype=np.float64).reshape(-1))
    return {
        "coverage": coverage(y, lower, upper),
        "mean_width": float(np.mean((upper - lower)[known])),
    }
