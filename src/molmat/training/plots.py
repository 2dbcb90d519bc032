"""PNG plots: parity (regression; energies and forces of potentials), ROC,
precision-recall and confusion matrices (classification), learning curves.

Every plot is a :class:`matplotlib.figure.Figure` of its own: nothing here
touches pyplot's global state or the matplotlib backend, so plotting works
headless and leaves a notebook's backend alone. Titles name the data set the
plot shows (e.g. ``"test set, scaffold split"``) and its size; axes carry
units where they are known (``units=""``: the quantity's name alone).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_curve,
)

from molmat.data.structures import Frame
from molmat.training.metrics import regression_scores

# Display names of metrics; those with units are in the target's units.
METRIC_NAMES = {
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "log_loss": "log-loss",
    "mcc": "MCC",
}
METRICS_WITH_UNITS = ("rmse", "mae")
# Learning-curve panels of potentials: record key suffix, quantity, units.
POTENTIAL_CURVES = (
    ("energy_rmse_meV_per_atom", "energy RMSE", "meV/atom"),
    ("forces_rmse_meV_per_A", "force RMSE", "meV/Å"),
    ("stress_rmse_meV_per_A3", "stress RMSE", "meV/Å³"),
)
CURVE_PARTS = (("train", "C0", "train"), ("val", "C1", "validation"))


def with_units(name: str, units: str = "") -> str:
    """``name [units]``, or ``name`` when the units are unknown."""
    return f"{name} [{units}]" if units else name


def metric_label(metric: str, units: str = "") -> str:
    """Display name of a metric, with ``units`` if it has the target's units."""
    name = METRIC_NAMES.get(metric, metric)
    return with_units(name, units if metric in METRICS_WITH_UNITS else "")


def titled(title: str, n: int) -> str:
    return f"{title} (n = {n})" if title else f"n = {n}"


def save_figure(fig: Figure, path: str | Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def parity_plot(
    y: np.ndarray,
    pred: np.ndarray,
    path: str | Path,
    label: str,
    metrics: dict,
    *,
    units: str = "",
    title: str = "",
    metric_units: str | None = None,
) -> Path:
    """Predicted vs measured with the y = x line; RMSE/MAE/R² in the legend.

    Args:
        y, pred: [n] measured and predicted values; pairs with a NaN are left out.
        path: PNG to write.
        label: the quantity (e.g. the target column).
        metrics: ``rmse``, ``mae`` and ``r2`` (those present are shown).
        units: units of ``y`` and ``pred`` (empty: unknown).
        title: the set shown, e.g. ``"test set, scaffold split"``; the number
            of points is added.
        metric_units: units of the RMSE and MAE in ``metrics`` (default ``units``).
    """
    known = ~np.isnan(y) & ~np.isnan(pred)
    y, pred = y[known], pred[known]
    shown_units = units if metric_units is None else metric_units
    text = "\n".join(
        f"{METRIC_NAMES[key]} = {metrics[key]:.3g}"
        + (f" {shown_units}" if key in METRICS_WITH_UNITS and shown_units else "")
        for key in ("rmse", "mae", "r2")
        if key in metrics
    )
    fig = Figure(figsize=(5.5, 5.5), dpi=120)
    ax = fig.subplots()
    ax.scatter(y, pred, s=10, alpha=0.6, edgecolors="none", label=text or "molecules")
    lo = float(min(y.min(), pred.min())) if len(y) else 0.0
    hi = float(max(y.max(), pred.max())) if len(y) else 1.0
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=1, label="y = x")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"{with_units(label, units)}, measured")
    ax.set_ylabel(f"{with_units(label, units)}, predicted")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(titled(title, len(y)), fontsize=10)
    return save_figure(fig, path)


def potential_parity_plots(
    frames: list[Frame], pred: dict, out: Path, prefix: str, title: str = ""
) -> list[Path]:
    """Energy-per-atom and force-component parity PNGs for ``frames``.

    Axes are in eV/atom and eV/Å, the RMSE and MAE in meV/atom and meV/Å.

    Args:
        frames: S labelled structures (eV, eV/Å); frames without forces are
            left out of the force plot.
        pred: their predictions, as ``PotentialModel.predict`` gives them:
            ``energy`` [S] (eV) and ``forces`` (S arrays [n, 3], eV/Å).
        out: folder of the PNGs.
        prefix: file-name prefix (``<prefix>_parity_energy.png`` and
            ``<prefix>_parity_forces.png``).
        title: the set shown (default ``"<prefix> set"``).

    Returns:
        The paths written.
    """
    title = title or f"{prefix} set"

    def plot(ref, predicted, name, label, units, shown):
        return parity_plot(
            ref,
            predicted,
            out / f"{prefix}_parity_{name}.png",
            label,
            _in_milli(regression_scores(ref, predicted)),
            units=units,
            title=f"{title}, {shown}",
            metric_units=f"m{units}",
        )

    n = np.array([f.n_atoms for f in frames])
    e_ref = np.array([f.energy for f in frames]) / n
    paths = [
        plot(
            e_ref,
            pred["energy"] / n,
            "energy",
            "energy per atom",
            "eV/atom",
            "structures",
        )
    ]
    has_f = [i for i, f in enumerate(frames) if f.forces is not None]
    if has_f:
        f_ref = np.concatenate([frames[i].forces.ravel() for i in has_f])
        f_pred = np.concatenate([pred["forces"][i].ravel() for i in has_f])
        paths.append(
            plot(f_ref, f_pred, "forces", "force component", "eV/Å", "force components")
        )
    return paths


def _in_milli(scores: dict) -> dict:
    """RMSE and MAE × 1000 (eV -> meV); the other scores as they are."""
    return {k: v * 1000 if k in METRICS_WITH_UNITS else v for k, v in scores.items()}


def roc_plot(
    y: np.ndarray, prob: np.ndarray, path: str | Path, names: list[str], title: str = ""
) -> Path:
    """ROC curve of every target (y, prob: [n, T], NaN = missing).

    ``title`` names the set shown; the number of molecules is added.
    """
    fig = Figure(figsize=(5.5, 5.5), dpi=120)
    ax = fig.subplots()
    for j, name in enumerate(names):
        known = ~np.isnan(y[:, j]) & ~np.isnan(prob[:, j])
        if len(np.unique(y[known, j])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[known, j].astype(int), prob[known, j])
        auc = float(np.trapezoid(tpr, fpr))
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f}, n = {known.sum()})")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="random (AUC 0.5)")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"ROC: {titled(title, len(y))}", fontsize=10)
    return save_figure(fig, path)


def pr_plot(
    y: np.ndarray, prob: np.ndarray, path: str | Path, names: list[str], title: str = ""
) -> Path:
    """Precision-recall curve of every target (y, prob: [n, T], NaN = missing).

    The dotted line of each target's colour is its positive rate: the
    precision of a random ranking. ``title`` names the set shown.
    """
    fig = Figure(figsize=(5.5, 5.5), dpi=120)
    ax = fig.subplots()
    for j, name in enumerate(names):
        known = ~np.isnan(y[:, j]) & ~np.isnan(prob[:, j])
        labels = y[known, j].astype(int)
        if len(np.unique(labels)) < 2:
            continue
        precision, recall, _ = precision_recall_curve(labels, prob[known, j])
        ap = average_precision_score(labels, prob[known, j])
        (line,) = ax.plot(recall, precision, label=f"{name} (AP {ap:.3f})")
        ax.axhline(
            labels.mean(),
            color=line.get_color(),
            ls=":",
            lw=1,
            label=f"{name}: positive rate {labels.mean():.2f}",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"precision-recall: {titled(title, len(y))}", fontsize=10)
    return save_figure(fig, path)


def confusion_plot(
    per_target: dict, path: str | Path, max_targets: int = 12, title: str = ""
) -> Path:
    """Confusion matrices (counts and row shares) of up to ``max_targets`` targets.

    ``per_target`` maps a target name to its classification scores holding
    ``confusion`` ({"tn", "fp", "fn", "tp"}) and ``threshold``; ``title``
    names the set shown.
    """
    items = [(k, v) for k, v in per_target.items() if "confusion" in v][:max_targets]
    cols = min(4, max(1, len(items)))
    rows = -(-max(1, len(items)) // cols)
    fig = Figure(figsize=(3 * cols, 3 * rows + 0.4), dpi=120)
    axes = fig.subplots(rows, cols, squeeze=False)
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
        ax.set_title(
            f"{name[:28]}\n(threshold {scores['threshold']:.2f}, n = {counts.sum()})",
            fontsize=9,
        )
    heading = f"confusion matrices: {title}" if title else "confusion matrices"
    fig.suptitle(textwrap.fill(heading, 34 * cols), fontsize=10)  # 3 inch per column
    return save_figure(fig, path)


def learning_curve(
    records: list[dict],
    path: str | Path,
    metric: str,
    best_epoch: int,
    *,
    units: str = "",
    loss_label: str = "train loss",
    title: str = "",
    log_loss: bool = True,
) -> Path:
    """Validation metric and training loss against epoch; the best epoch marked.

    Args:
        records: one dict per epoch with ``epoch``, ``train_loss`` and (with
            validation data) ``val_<metric>``.
        path: PNG to write.
        metric: the validation metric (``rmse``, ``roc_auc``...).
        best_epoch: the epoch whose model was kept (0: none marked).
        units: units of the targets (RMSE and MAE are in them).
        loss_label: what the training loss is (its own, log-scale axis).
        title: the run, e.g. ``"esol, mpnn"``.
        log_loss: draw the loss on a log scale (not for losses that can be
            negative, such as a negative log-likelihood).
    """
    epochs = [r["epoch"] for r in records]
    key = f"val_{metric}"
    fig = Figure(figsize=(6.5, 4), dpi=120)
    ax = fig.subplots()
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    lines = []
    loss_ax = ax
    if any(key in r for r in records):
        lines += ax.plot(
            [r["epoch"] for r in records if key in r],
            [r[key] for r in records if key in r],
            color="C1",
            label=f"validation {metric_label(metric, units)}",
        )
        ax.set_ylabel(f"validation {metric_label(metric, units)}", color="C1")
        loss_ax = ax.twinx()
    lines += loss_ax.plot(
        epochs, [r["train_loss"] for r in records], color="C0", label=loss_label
    )
    loss_ax.set_ylabel(
        f"{loss_label} (log scale)" if log_loss else loss_label, color="C0"
    )
    if log_loss:
        loss_ax.set_yscale("log")
    if best_epoch > 0:
        lines.append(
            ax.axvline(
                best_epoch, color="grey", ls=":", lw=1, label=f"best epoch {best_epoch}"
            )
        )
    loss_ax.legend(handles=lines, loc="best", fontsize=8)  # drawn on top
    ax.set_title(f"learning curve: {title}" if title else "learning curve")
    return save_figure(fig, path)


def potential_learning_curve(
    records: list[dict], path: str | Path, best_epoch: int, title: str = ""
) -> Path:
    """Energy and force (and stress) RMSE of a potential against epoch.

    One panel per quantity, training and validation RMSE on a log scale in
    meV/atom, meV/Å (and meV/Å³), the best epoch marked.

    Args:
        records: one dict per epoch with ``epoch`` and
            ``train_``/``val_energy_rmse_meV_per_atom``,
            ``..._forces_rmse_meV_per_A``, ``..._stress_rmse_meV_per_A3``
            (those with a positive value are drawn on a log scale; an
            energy-only run has no force panel).
        path: PNG to write.
        best_epoch: the epoch whose model was kept (0: none marked).
        title: the run, e.g. ``"ethanol.extxyz, nequip"``.

    Raises:
        ValueError: no record holds any of these RMSEs.
    """
    panels = [
        curve
        for curve in POTENTIAL_CURVES
        if any(
            r.get(f"{part}_{curve[0]}", 0) > 0
            for r in records
            for part in ("train", "val")
        )
    ]
    if not panels:
        raise ValueError("the training records hold no energy or force RMSE")
    fig = Figure(figsize=(4.5 * len(panels), 4), dpi=120)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, name, units) in zip(axes, panels, strict=True):
        for part, colour, text in CURVE_PARTS:
            kept = [r for r in records if r.get(f"{part}_{key}", 0) > 0]
            if kept:
                ax.plot(
                    [r["epoch"] for r in kept],
                    [r[f"{part}_{key}"] for r in kept],
                    color=colour,
                    label=f"{text} {name}",
                )
        if best_epoch > 0:
            ax.axvline(
                best_epoch, color="grey", ls=":", lw=1, label=f"best epoch {best_epoch}"
            )
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(with_units(name, units))
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"learning curve: {title}" if title else "learning curve")
    return save_figure(fig, path)


def size_curve(
    points: list[dict],
    path: str | Path,
    metric: str = "rmse",
    units: str = "",
    title: str = "",
) -> Path:
    """Test metric against training-set size (log x axis).

    ``points``: ``{"size", metric}`` dicts; with a ``label`` key, one line per
    label (e.g. from scratch against pretrained), and with ``std``, error bars.
    ``units``: units of the targets (for RMSE/MAE); ``title``: the run, e.g.
    ``"esol, rf, test set n = 226"``.
    """
    fig = Figure(figsize=(5, 4), dpi=120)
    ax = fig.subplots()
    labels = list(dict.fromkeys(p.get("label") for p in points))
    for label in labels:
        line = sorted(
            (p for p in points if p.get("label") == label), key=lambda p: p["size"]
        )
        ax.errorbar(
            [p["size"] for p in line],
            [p[metric] for p in line],
            yerr=[p["std"] for p in line] if all("std" in p for p in line) else None,
            fmt="o-",
            capsize=3,
            label=label,
        )
    if labels != [None]:
        ax.legend()
    ax.set_xscale("log")
    ax.set_xlabel("training molecules")
    ax.set_ylabel(f"test {metric_label(metric, units)}")
    ax.set_title(f"learning curve: {title}" if title else "learning curve", wrap=True)
    return save_figure(fig, path)


def comparison_bars(
    rows: list[dict], metric: str, path: str | Path, units: str = ""
) -> Path:
    """Bar per model of ``metric``: its mean and standard deviation over runs.

    ``rows`` are :func:`molmat.tasks.compare.compare_models` rows, each with
    ``model``, ``runs`` and ``metric: (mean, std)``; with one run per model
    the bars show the values alone. ``units``: units of the targets.
    """
    names = [r["model"] for r in rows]
    means = np.array([r[metric][0] for r in rows])
    runs = sorted({r["runs"] for r in rows})
    several = runs != [1]
    stds = np.array([r[metric][1] for r in rows]) if several else np.zeros(len(rows))
    fig = Figure(figsize=(1.2 * len(rows) + 2, 4), dpi=120)
    ax = fig.subplots()
    ax.bar(
        names, means, yerr=stds if several else None, capsize=4, color="C0", alpha=0.8
    )
    for i, (m, s) in enumerate(zip(means, stds, strict=True)):
        ax.text(i, m + s, f"{m:.3f}", ha="center", va="bottom", fontsize=8)
    name = f"test {metric_label(metric, units)}"
    spread = f"mean ± std over {'/'.join(map(str, runs))} runs"
    ax.set_ylabel(f"{name}\n({spread})" if several else name)
    ax.set_title(f"model comparison: {METRIC_NAMES.get(metric, metric)}")
    return save_figure(fig, path)


def attention_plot(
    weights: np.ndarray, tokens: list[str], path: str | Path, title: str = ""
) -> Path:
    """Attention maps of one sequence: one panel per layer, heads averaged.

    Args:
        weights: [layers, heads, L, L] attention probabilities (query rows,
            key columns) over the ``L`` tokens.
        tokens: the ``L`` token labels (``<bos>``, ..., ``<eos>``).
        path: PNG (or SVG) to write.
        title: e.g. the molecule and the model.
    """
    layers = weights.shape[0]
    size = max(3.0, 0.22 * len(tokens))
    fig = Figure(figsize=(size * layers + 0.8, size + 0.8), dpi=120)
    axes = np.atleast_1d(fig.subplots(1, layers))
    for layer, ax in enumerate(axes):
        image = ax.imshow(weights[layer].mean(0), cmap="viridis", vmin=0.0)
        ticks = np.arange(len(tokens))
        ax.set_xticks(ticks, tokens, rotation=90, fontsize=7)
        ax.set_yticks(ticks, tokens, fontsize=7)
        ax.set_title(f"layer {layer + 1}", fontsize=9)
        ax.set_xlabel("attended token")
        if layer == 0:
            ax.set_ylabel("token")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="attention (mean of heads)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, bbox_inches="tight")
    return Path(path)


def corner_plot(
    data: np.ndarray,
    samples: np.ndarray,
    columns: list[str],
    path: str | Path,
    *,
    title: str = "",
    max_points: int = 3000,
    seed: int = 0,
) -> Path:
    """Samples against data, every pair of columns: histograms on the
    diagonal, scatter below it (at most ``max_points`` of each, drawn at
    random), both on the data's 0.5-99.5 percentile range."""
    rng = np.random.default_rng(seed)

    def thin(a: np.ndarray) -> np.ndarray:
        return a[rng.permutation(len(a))[:max_points]]

    data, samples = thin(np.asarray(data, float)), thin(np.asarray(samples, float))
    d = len(columns)
    low = np.percentile(data, 0.5, axis=0)
    high = np.percentile(data, 99.5, axis=0)
    fig = Figure(figsize=(2.1 * d + 0.6, 2.1 * d + 0.4), dpi=110)
    axes = fig.subplots(d, d, squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                bins = np.linspace(low[i], high[i], 40)
                ax.hist(data[:, i], bins, density=True, color="0.6", label="data")
                ax.hist(
                    samples[:, i],
                    bins,
                    density=True,
                    histtype="step",
                    color="C0",
                    lw=1.2,
                    label="samples",
                )
                ax.set_yticks([])
            else:
                ax.scatter(data[:, j], data[:, i], s=4, color="0.5", alpha=0.5, lw=0)
                ax.scatter(
                    samples[:, j], samples[:, i], s=4, color="C0", alpha=0.5, lw=0
                )
                ax.set_ylim(low[i], high[i])
            ax.set_xlim(low[j], high[j])
            if i == d - 1:
                ax.set_xlabel(columns[j], fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(columns[i], fontsize=8)
            ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.suptitle(title or "samples (blue) against data (grey)", fontsize=10)
    return save_figure(fig, path)
