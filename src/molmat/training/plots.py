"""PNG plots: parity (regression), ROC (classification), learning curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402


def parity_plot(
    y: np.ndarray, pred: np.ndarray, path: str | Path, label: str, metrics: dict
) -> Path:
    """Predicted vs measured with the y = x line and RMSE/MAE/R² in the corner."""
    known = ~np.isnan(y)
    y, pred = y[known], pred[known]
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.scatter(y, pred, s=10, alpha=0.6, edgecolors="none")
    lo = float(min(y.min(), pred.min())) if len(y) else 0.0
    hi = float(max(y.max(), pred.max())) if len(y) else 1.0
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"{label} (measured)")
    ax.set_ylabel(f"{label} (predicted)")
    ax.set_aspect("equal")
    text = "\n".join(
        f"{name} = {metrics[key]:.3f}"
        for key, name in (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R²"))
        if key in metrics
    )
    ax.text(0.04, 0.96, f"{text}\nn = {len(y)}", transform=ax.transAxes, va="top")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def roc_plot(
    y: np.ndarray, prob: np.ndarray, path: str | Path, names: list[str]
) -> Path:
    """ROC curve of every target (y, prob: [n, T], NaN = missing)."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    for j, name in enumerate(names):
        known = ~np.isnan(y[:, j])
        if len(np.unique(y[known, j])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[known, j].astype(int), prob[known, j])
        auc = float(np.trapezoid(tpr, fpr))
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def learning_curve(
    records: list[dict], path: str | Path, metric: str, best_epoch: int
) -> Path:
    """Training loss and validation metric against epoch; the best epoch marked."""
    epochs = [r["epoch"] for r in records]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(epochs, [r["train_loss"] for r in records], color="C0", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train loss", color="C0")
    ax.set_yscale("log")
    key = f"val_{metric}"
    if any(key in r for r in records):
        ax2 = ax.twinx()
        ax2.plot(
            [r["epoch"] for r in records if key in r],
            [r[key] for r in records if key in r],
            color="C1",
            label=f"validation {metric}",
        )
        ax2.set_ylabel(f"validation {metric}", color="C1")
    if best_epoch > 0:
        ax.axvline(best_epoch, color="grey", ls=":", lw=1)
    ax.set_title(f"learning curve (best epoch {best_epoch})")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def size_curve(points: list[dict], path: str | Path, metric: str = "rmse") -> Path:
    """Test metric against training-set size (log x axis)."""
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot([p["size"] for p in points], [p[metric] for p in points], "o-")
    ax.set_xscale("log")
    ax.set_xlabel("training molecules")
    ax.set_ylabel(f"test {metric}")
    ax.set_title("learning curve")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
