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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    return lower, upper, np.median(test_pred, axis=0)


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
    y_train = np.asarray(y_train, dtype=np.float64).reshape(-1)
    n = len(y_train)
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2; got {n_boot}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5); got {alpha}")
    rng = np.random.default_rng(seed)
    means, samples = [], []  # samples: [n_test, k] predictive draws of each model
    for _ in range(n_boot):
        drawn = rng.integers(0, n, n)
        out_of_bag = np.setdiff1d(np.arange(n), drawn)
        if len(out_of_bag) == 0:
            continue
        model = make_model()
        model.fit(take_rows(X_train, drawn), y_train[drawn])
        residual = y_train[out_of_bag] - np.asarray(
            model.predict(take_rows(X_train, out_of_bag))
        ).reshape(-1)
        pred = np.asarray(model.predict(X_test)).reshape(-1)
        means.append(pred)
        samples.append(pred[:, None] + residual[None, :])
    draws = np.concatenate(samples, axis=1)
    lower = np.quantile(draws, alpha / 2, axis=1)
    upper = np.quantile(draws, 1 - alpha / 2, axis=1)
    return lower, upper, np.mean(means, axis=0)


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of ``y`` inside ``[lower, upper]`` (NaN labels ignored)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    known = ~np.isnan(y)
    return float(np.mean((y[known] >= lower[known]) & (y[known] <= upper[known])))


INTERVAL_METHODS = ("bootstrap", "cv+", "jackknife+", "gp")


def prediction_intervals(
    method: str,
    make_model: Callable[[], object],
    X_train: Sequence | np.ndarray,
    y_train: np.ndarray,
    X_test: Sequence | np.ndarray,
    alpha: float = 0.1,
    seed: int = 0,
    fitted=None,
    target: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` [n_test] (1 - alpha) prediction intervals by ``method``.

    ``bootstrap`` (20 models), ``cv+`` (10 folds) and ``jackknife+`` (one fit
    per training point) refit ``make_model``; ``gp`` uses the ``fitted``
    Gaussian process's predictive standard deviation of column ``target``
    (mean ± z sigma).
    """
    if method == "gp":
        if fitted is None or not hasattr(fitted, "predict_with_std"):
            raise ValueError("gp intervals need a fitted Gaussian-process model")
        mean, std = (np.asarray(a)[:, target] for a in fitted.predict_with_std(X_test))
        half = stats.norm.ppf(1 - alpha / 2) * std
        return mean - half, mean + half
    if method == "bootstrap":
        return bootstrap_intervals(
            make_model, X_train, y_train, X_test, alpha, seed=seed
        )[:2]
    if method in ("cv+", "jackknife+"):
        folds = len(y_train) if method == "jackknife+" else min(10, len(y_train))
        return cv_plus_intervals(
            make_model, X_train, y_train, X_test, alpha, folds, seed
        )[:2]
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
