"""Prediction intervals for any regression model: jackknife+ / CV+.

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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

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


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of ``y`` inside ``[lower, upper]`` (NaN labels ignored)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    known = ~np.isnan(y)
    return float(np.mean((y[known] >= lower[known]) & (y[known] <= upper[known])))
