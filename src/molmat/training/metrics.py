"""Regression and binary-classification metrics, NaN-masked per target."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn import metrics as skm

REGRESSION_METRICS = ("rmse", "mae", "r2", "pearson", "spearman")
CLASSIFICATION_METRICS = (
    "roc_auc",
    "pr_auc",
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "mcc",
    "log_loss",
)
LOWER_IS_BETTER = {"rmse", "mae", "log_loss"}


def regression_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, R², Pearson r and Spearman ρ for 1-D arrays (no NaN)."""
    err = pred - y
    out = {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": float("nan"),
        "pearson": float("nan"),
        "spearman": float("nan"),
    }
    if len(y) > 1 and np.std(y) > 0:
        out["r2"] = float(1.0 - np.sum(err**2) / np.sum((y - y.mean()) ** 2))
        if np.std(pred) > 0:
            out["pearson"] = float(np.corrcoef(y, pred)[0, 1])
            out["spearman"] = float(stats.spearmanr(y, pred).statistic)
    return out


def classification_scores(
    y: np.ndarray, prob: np.ndarray, threshold: float = 0.5
) -> dict:
    """Scores of positive-class probabilities ``prob`` against 0/1 ``y`` (1-D).

    ROC-AUC, PR-AUC (average precision) and log-loss use the probabilities;
    accuracy, balanced accuracy, precision, recall, F1, MCC and the confusion
    matrix (``{"tn", "fp", "fn", "tp"}``) use labels ``prob >= threshold``.
    ROC-AUC, PR-AUC and MCC are NaN when ``y`` holds one class only.
    """
    labels = (prob >= threshold).astype(int)
    y = y.astype(int)
    nan = float("nan")
    out = {m: nan for m in CLASSIFICATION_METRICS}
    if not len(y):
        return out
    tn, fp, fn, tp = skm.confusion_matrix(y, labels, labels=[0, 1]).ravel()
    recall = tp / (tp + fn) if tp + fn else nan
    specificity = tn / (tn + fp) if tn + fp else nan
    precision = tp / (tp + fp) if tp + fp else nan
    out.update(
        accuracy=float(np.mean(labels == y)),
        balanced_accuracy=float(np.nanmean([recall, specificity])),
        precision=float(precision),
        recall=float(recall),
        f1=float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else nan,
        log_loss=float(skm.log_loss(y, prob, labels=[0, 1])),
        threshold=float(threshold),
        confusion={"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    )
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(skm.roc_auc_score(y, prob))
        out["pr_auc"] = float(skm.average_precision_score(y, prob))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["mcc"] = float(skm.matthews_corrcoef(y, labels))
    return out


def choose_threshold(y: np.ndarray, prob: np.ndarray) -> float:
    """Decision threshold that maximises MCC on (validation) data, else 0.5.

    Candidates are the midpoints between consecutive distinct probabilities;
    ties go to the one closest to 0.5. With one class in ``y``, 0.5.
    """
    known = ~np.isnan(y)
    y, prob = y[known].astype(int), prob[known]
    if len(np.unique(y)) < 2:
        return 0.5
    levels = np.unique(prob)
    candidates = np.concatenate([(levels[1:] + levels[:-1]) / 2, [0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mcc = np.array(
            [skm.matthews_corrcoef(y, (prob >= t).astype(int)) for t in candidates]
        )
    best = np.flatnonzero(mcc >= mcc.max() - 1e-12)
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def score(
    task: str,
    y: np.ndarray,
    pred: np.ndarray,
    target_names: list[str],
    thresholds: dict[str, float] | None = None,
) -> dict:
    """Metrics per target and their mean over targets.

    Args:
        task: "regression" or "classification".
        y: [n, T] true values, NaN where missing.
        pred: [n, T] predictions (original units) or probabilities.
        target_names: T names.
        thresholds: decision threshold per target (classification; default 0.5).

    Returns:
        ``{metric: mean over targets, ..., "per_target": {name: {metric: v}}}``.
    """
    names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    per_target = {}
    for j, name in enumerate(target_names):
        # Molecules without a prediction (e.g. no 3D conformer) are left out.
        known = ~np.isnan(y[:, j]) & ~np.isnan(pred[:, j])
        if not known.any():
            per_target[name] = {m: float("nan") for m in names}
        elif task == "regression":
            per_target[name] = regression_scores(y[known, j], pred[known, j])
        else:
            threshold = (thresholds or {}).get(name, 0.5)
            per_target[name] = classification_scores(
                y[known, j], pred[known, j], threshold
            )
    out: dict = {}
    for m in names:
        values = [per_target[t][m] for t in target_names]
        finite = [v for v in values if np.isfinite(v)]
        out[m] = float(np.mean(finite)) if finite else float("nan")
    out["n"] = int(len(y))
    out["per_target"] = per_target
    return out


SELECT_BY = ("metric", "loss")


def selection_metric(
    task: str, scores: dict | None = None, select_by: str = "metric"
) -> str:
    """Metric that picks the best epoch: RMSE (regression) or ROC-AUC.

    ``select_by="loss"`` picks classification epochs by validation log-loss,
    a proper score that rewards calibrated probabilities: on a small
    validation set ROC-AUC saturates within a few epochs, while the
    probabilities are still near the base rate. Given validation ``scores``
    whose ROC-AUC is undefined (one class only), log-loss is used either way.
    """
    if select_by not in SELECT_BY:
        raise ValueError(f"select_by must be one of {SELECT_BY}, not {select_by!r}")
    if task == "regression":
        return "rmse"
    if select_by == "loss":
        return "log_loss"
    if scores is not None and not np.isfinite(scores.get("roc_auc", np.nan)):
        return "log_loss"
    return "roc_auc"
