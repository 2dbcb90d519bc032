"""PNG plots: parity (regression; energies and forces of potentials), ROC,
precision-recall and confusion matrices (classification), learning curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    precision_recall_curve,
    roc_curve,
)

from molmat.data.structures import Frame  # noqa: E402
from molmat.training.metrics import regression_scores  # noqa: E402


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


def potential_parity_plots(
    frames: list[Frame], pred: dict, out: Path, prefix: str
) -> list[Path]:
    """Energy-per-atom and force-component parity PNGs for ``frames``.

    Args:
        frames: S labelled structures (eV, eV/Å); frames without forces are
            left out of the force plot.
        pred: their predictions, as ``PotentialModel.predict`` gives them:
            ``energy`` [S] (eV) and ``forces`` (S arrays [n, 3], eV/Å).
        out: folder of the PNGs.
        prefix: file-name prefix (``<prefix>_parity_energy.png`` and
            ``<prefix>_parity_forces.png``).

    Returns:
        The paths written.
    """
    n = np.array([f.n_atoms for f in frames])
    e_ref = np.array([f.energy for f in frames]) / n
    e_pred = pred["energy"] / n
    paths = [
        parity_plot(
            e_ref,
            e_pred,
            out / f"{prefix}_parity_energy.png",
            "energy per atom [eV]",
            regression_scores(e_ref, e_pred),
        )
    ]
    has_f = [i for i, f in enumerate(frames) if f.forces is not None]
    if has_f:
        f_ref = np.concatenate([frames[i].forces.ravel() for i in has_f])
        f_pred = np.concatenate([pred["forces"][i].ravel() for i in has_f])
        paths.append(
            parity_plot(
                f_ref,
                f_pred,
                out / f"{prefix}_parity_forces.png",
                "force component [eV/Å]",
                regression_scores(f_ref, f_pred),
            )
        )
    return paths


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


def pr_plot(
    y: np.ndarray, prob: np.ndarray, path: str | Path, names: list[str]
) -> Path:
    """Precision-recall curve of every target (y, prob: [n, T], NaN = missing).

    The dotted line of each target's colour is its positive rate: the
    precision of a random ranking.
    """
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    for j, name in enumerate(names):
        known = ~np.isnan(y[:, j])
        labels = y[known, j].astype(int)
        if len(np.unique(labels)) < 2:
            continue
        precision, recall, _ = precision_recall_curve(labels, prob[known, j])
        ap = average_precision_score(labels, prob[known, j])
        (line,) = ax.plot(recall, precision, label=f"{name} (AP {ap:.3f})")
        ax.axhline(labels.mean(), color=line.get_color(), ls=":", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def confusion_plot(per_target: dict, path: str | Path, max_targets: int = 12) -> Path:
    """Confusion matrices (counts and row shares) of up to ``max_targets`` targets.

    ``per_target`` maps a target name to its classification scores holding
    ``confusion`` ({"tn", "fp", "fn", "tp"}) and ``threshold``.
    """
    items = [(k, v) for k, v in per_target.items() if "confusion" in v][:max_targets]
    cols = min(4, max(1, len(items)))
    rows = -(-max(1, len(items)) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3 * cols, 3 * rows), dpi=120, squeeze=False
    )
    for ax in axes.ravel()[len(items) :]:
        ax.axis("off")
    for ax, (name, scores) in zip(axes.ravel(), items, strict=False):
        c = scores["confusion"]
        counts = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]])
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for i in range(2):
            for k in range(2):
                ax.text(
                    k,
                    i,
                    f"{counts[i, k]}\n{shares[i, k]:.0%}",
                    ha="center",
                    va="center",
                    color="white" if shares[i, k] > 0.5 else "black",
                )
        ax.set_xticks([0, 1], ["pred 0", "pred 1"])
        ax.set_yticks([0, 1], ["true 0", "true 1"])
        ax.set_title(f"{name[:28]}\n(threshold {scores['threshold']:.2f})", fontsize=9)
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


def size_curve(
    points: list[dict], path: str | Path, metric: str = "rmse", label: str = ""
) -> Path:
    """Test metric against training-set size (log x axis); ``label`` names y."""
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot([p["size"] for p in points], [p[metric] for p in points], "o-")
    ax.set_xscale("log")
    ax.set_xlabel("training molecules")
    ax.set_ylabel(label or f"test {metric}")
    ax.set_title("learning curve")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def comparison_bars(rows: list[dict], metric: str, path: str | Path) -> Path:
    """Bar per model of ``metric`` mean with its standard deviation over runs.

    ``rows`` are :func:`molmat.tasks.compare.compare_models` rows, each with
    ``model``, ``runs`` and ``metric: (mean, std)``.
    """
    names = [r["model"] for r in rows]
    means = np.array([r[metric][0] for r in rows])
    stds = np.array([r[metric][1] for r in rows])
    fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 2, 4), dpi=120)
    ax.bar(names, means, yerr=stds, capsize=4, color="C0", alpha=0.8)
    for i, (m, s) in enumerate(zip(means, stds, strict=True)):
        ax.text(i, m + s, f"{m:.3f}", ha="center", va="bottom", fontsize=8)
    runs = sorted({r["runs"] for r in rows})
    ax.set_ylabel(f"test {metric} (mean ± std over {'/'.join(map(str, runs))} runs)")
    ax.set_title(f"model comparison: {metric}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
