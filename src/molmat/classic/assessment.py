"""Honest model assessment: repeated and group-aware cross-validation,
bootstrap confidence intervals, y-randomisation and learning curves.

Works with any model factory ``make_model() -> model`` whose model has
``fit(X, y)`` and ``predict(X)`` (scikit-learn estimators, ClassicModel,
PropertyModel), on arrays or lists of SMILES. With ``task="classification"``
models are scored on ``predict_proba`` (positive-class probabilities), folds
are stratified, and the headline metric is ROC-AUC instead of R².
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from molmat.training.metrics import classification_scores, regression_scores

Factory = Callable[[], object]
HEADLINE = {"regression": "r2", "classification": "roc_auc"}


def predictions(model, X, task: str = "regression") -> np.ndarray:
    """Values [n] (regression) or positive-class probabilities [n]."""
    if task == "regression":
        return np.asarray(model.predict(X), np.float64).reshape(-1)
    prob = np.asarray(model.predict_proba(X), np.float64)
    return prob[:, 1] if prob.ndim == 2 else prob


def scores(y: np.ndarray, pred: np.ndarray, task: str = "regression") -> dict:
    """Regression or classification scores of 1-D arrays."""
    if task == "regression":
        return regression_scores(y, pred)
    return classification_scores(y, pred)


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
    task: str = "regression",
) -> np.ndarray:
    """Out-of-fold predictions [n]: each row predicted by a model that never saw it.

    ``groups`` (e.g. Bemis-Murcko scaffolds or a user column such as AqSolDB's
    ``Group``) keeps every group inside one fold (shuffled by seed).
    Classification folds keep the class balance (stratified).
    """
    y = np.asarray(y, dtype=np.float64)
    stratified = task == "classification"
    if groups is None:
        kind = StratifiedKFold if stratified else KFold
        splitter = kind(folds, shuffle=True, random_state=seed).split(y, y)
    else:
        kind = StratifiedGroupKFold if stratified else GroupKFold
        splitter = kind(folds, shuffle=True, random_state=seed).split(
            y, y, groups=np.asarray(groups)
        )
    out = np.empty(len(y))
    for train, test in splitter:
        model = make_model()
        model.fit(take_rows(X, train), y[train])
        out[test] = predictions(model, take_rows(X, test), task)
    return out


def repeated_cv(
    make_model: Factory,
    X,
    y: np.ndarray,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    groups: Sequence | None = None,
    task: str = "regression",
) -> list[dict[str, float]]:
    """Scores of out-of-fold predictions, one dict per repeat."""
    y = np.asarray(y, dtype=np.float64)
    return [
        scores(y, cv_predictions(make_model, X, y, folds, seed + r, groups, task), task)
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

    Molecules are resampled with replacement ``n_boot`` times. Resamples on
    which the metric is undefined (NaN, e.g. ROC-AUC of one class) are left out.
    """
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    idx = np.random.default_rng(seed).integers(0, len(y), size=(n_boot, len(y)))
    values = np.array([metric(y[i], pred[i]) for i in idx])
    tail = (1 - level) / 2
    low, high = np.nanquantile(values, [tail, 1 - tail])
    return float(metric(y, pred)), float(low), float(high)


def y_randomisation(
    make_model: Factory,
    X,
    y: np.ndarray,
    shuffles: int = 5,
    folds: int = 5,
    seed: int = 0,
    task: str = "regression",
) -> dict[str, object]:
    """Cross-validated R² (ROC-AUC) with the real labels and with shuffled labels.

    A model that learns structure-property relations must do much worse on
    shuffled labels (R² near or below 0, ROC-AUC near 0.5); similar scores
    mean chance correlation or leakage.

    Returns:
        ``{"metric", "real", "shuffled": [per shuffle], "shuffled_best"}``.
    """
    y = np.asarray(y, dtype=np.float64)
    metric = HEADLINE[task]

    def cv_score(labels):
        pred = cv_predictions(make_model, X, labels, folds, seed, task=task)
        return scores(labels, pred, task)[metric]

    rng = np.random.default_rng(seed)
    shuffled = [cv_score(rng.permutation(y)) for _ in range(shuffles)]
    return {
        "metric": metric,
        "real": cv_score(y),
        "shuffled": shuffled,
        "shuffled_best": max(shuffled),
    }


def learning_curve(
    make_model: Factory,
    X_train,
    y_train: np.ndarray,
    X_test,
    y_test: np.ndarray,
    sizes: Sequence[int],
    seed: int = 0,
    task: str = "regression",
) -> list[dict[str, float]]:
    """Test scores of models trained on random subsets of each size.

    Subsets are nested; for classification they keep the class balance.
    """
    y_train = np.asarray(y_train, dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(y_train))
    if task == "classification":  # interleave classes by within-class rank
        share = np.empty(len(order))
        for label in np.unique(y_train):
            members = order[y_train[order] == label]
            share[members] = (np.arange(len(members)) + 0.5) / len(members)
        order = order[np.argsort(share[order], kind="stable")]
    out = []
    for size in sizes:
        chosen = order[:size]
        model = make_model()
        model.fit(take_rows(X_train, chosen), y_train[chosen])
        pred = predictions(model, X_test, task)
        out.append({"size": int(size), **scores(np.asarray(y_test), pred, task)})
    return out
