"""Regression and binary-classification metrics, NaN-masked per target."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn import metrics as skm

REGRESSION_METRICS = ("rmse", "mae", "r2", "pearson", "spearman")
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "accuracy", "mcc", "log_loss")
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
) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), accuracy, MCC and log-loss (1-D arrays).

    ROC-AUC, PR-AUC and MCC are NaN when ``y`` holds one class only.
    """
    labels = (prob >= threshold).astype(int)
    y = y.astype(int)
    out = {
        "roc_auc": float("nan"),
        "pr_auc": float("nan"),
        "accuracy": float(np.mean(labels == y)) if len(y) else float("nan"),
        "mcc": float("nan"),
        "log_loss": float(skm.log_loss(y, prob, labels=[0, 1]))
        if len(y)
        else float("nan"),
    }
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(skm.roc_auc_score(y, prob))
        out["pr_auc"] = float(skm.average_precision_score(y, prob))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["mcc"] = float(skm.matthews_corrcoef(y, labels))
    return out


def score(task: str, y: np.ndarray, pred: np.ndarray, target_names: list[str]) -> dict:
    """Metrics per target and their mean over targets.

    Args:
        task: "regression" or "classification".
        y: [n, T] true values, NaN where missing.
        pred: [n, T] predictions (original units) or probabilities.
        target_names: T names.

    Returns:
        ``{metric: mean over targets, ..., "per_target": {name: {metric: v}}}``.
    """
    fn = regression_scores if task == "regression" else classification_scores
    names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    per_target = {}
    for j, name in enumerate(target_names):
        known = ~np.isnan(y[:, j])
        per_target[name] = (
            fn(y[known, j], pred[known, j])
            if known.any()
            else {m: float("nan") for m in names}
        )
    out: dict = {}
    for m in names:
        values = [per_target[t][m] for t in target_names]
        finite = [v for v in values if np.isfinite(v)]
        out[m] = float(np.mean(finite)) if finite else float("nan")
    out["n"] = int(len(y))
    out["per_target"] = per_target
    return out


def selection_metric(task: str, scores: dict | None = None) -> str:
    """Metric that picks the best epoch: RMSE (regression) or ROC-AUC.

    Given validation ``scores`` whose ROC-AUC is undefined (one class only),
    validation log-loss is used instead.
    """
    if task == "regression":
        return "rmse"
    if scores is not None and not np.isfinite(scores.get("roc_auc", np.nan)):
        return "log_loss"
    return "roc_auc"


def is_better(metric: str, new: float, best: float | None) -> bool:
    if best is None or not np.isfinite(best):
        return bool(np.isfinite(new))
    if not np.isfinite(new):
        return False
    return new < best if metric in LOWER_IS_BETTER else new > best
