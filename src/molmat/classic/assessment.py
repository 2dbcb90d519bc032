"""Honest model assessment: repeated and group-aware cross-validation,
bootstrap confidence intervals, y-randomisation and learning curves.

Works with any model factory ``make_model() -> model`` whose model has
``fit(X, y)`` and ``predict(X)`` (scikit-learn estimators, ClassicModel,
PropertyModel), on arrays or lists of SMILES.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.model_selection import GroupKFold, KFold

from molmat.training.metrics import regression_scores

Factory = Callable[[], object]


def take_rows(X, idx: np.ndarray):
    """Rows ``idx`` of an array, or items of a list (e.g. SMILES)."""
    return X[idx] if isinstance(X, np.ndarray) else [X[i] for i in idx]


def cv_predictions(
    make_model: Factory,
    X: Sequence | np.ndarray,
    y: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    groups: Sequence | None = None,
) -> np.ndarray:
    """Out-of-fold predictions [n]: each row predicted by a model that never saw it.

    ``groups`` (e.g. Bemis-Murcko scaffolds or a user column such as AqSolDB's
    ``Group``) keeps every group inside one fold (GroupKFold, shuffled by seed).
    """
    y = np.asarray(y, dtype=np.float64)
    if groups is None:
        splitter = KFold(folds, shuffle=True, random_state=seed).split(y)
    else:
        splitter = GroupKFold(folds, shuffle=True, random_state=seed).split(
            y, groups=np.asarray(groups)
        )
    out = np.empty(len(y))
    for train, test in splitter:
        model = make_model()
        model.fit(take_rows(X, train), y[train])
        out[test] = np.asarray(model.predict(take_rows(X, test))).reshape(-1)
    return out


def repeated_cv(
    make_model: Factory,
    X,
    y: np.ndarray,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    groups: Sequence | None = None,
) -> list[dict[str, float]]:
    """Regression scores of out-of-fold predictions, one dict per repeat."""
    y = np.asarray(y, dtype=np.float64)
    return [
        regression_scores(y, cv_predictions(make_model, X, y, folds, seed + r, groups))
        for r in range(repeats)
    ]


def bootstrap_ci(
    y: np.ndarray,
    pred: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(value, low, high)``: a metric and its percentile bootstrap interval.

    Molecules are resampled with replacement ``n_boot`` times (vectorised).
    """
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    idx = np.random.default_rng(seed).integers(0, len(y), size=(n_boot, len(y)))
    values = np.array([metric(y[i], pred[i]) for i in idx])
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(metric(y, pred)), float(low), float(high)


def y_randomisation(
    make_model: Factory,
    X,
    y: np.ndarray,
    shuffles: int = 5,
    folds: int = 5,
    seed: int = 0,
) -> dict[str, object]:
    """Cross-validated R² with the real labels and with shuffled labels.

    A model that learns structure-property relations must do much worse on
    shuffled labels (R² near or below 0); similar scores mean chance
    correlation or leakage.
    """
    y = np.asarray(y, dtype=np.float64)
    real = regression_scores(y, cv_predictions(make_model, X, y, folds, seed))["r2"]
    rng = np.random.default_rng(seed)
    shuffled = []
    for _ in range(shuffles):
        fake = rng.permutation(y)
        shuffled.append(
            regression_scores(fake, cv_predictions(make_model, X, fake, folds, seed))[
                "r2"
            ]
        )
    return {"r2": real, "r2_shuffled": shuffled, "r2_shuffled_max": max(shuffled)}


def learning_curve(
    make_model: Factory,
    X_train,
    y_train: np.ndarray,
    X_test,
    y_test: np.ndarray,
    sizes: Sequence[int],
    seed: int = 0,
) -> list[dict[str, float]]:
    """Test scores of models trained on random subsets of each size."""
    y_train = np.asarray(y_train, dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(y_train))
    out = []
    for size in sizes:
        chosen = order[:size]
        model = make_model()
        model.fit(take_rows(X_train, chosen), y_train[chosen])
        pred = np.asarray(model.predict(X_test)).reshape(-1)
        out.append({"size": int(size), **regression_scores(np.asarray(y_test), pred)})
    return out
