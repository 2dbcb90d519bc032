"""``molmat assess``: how good is a model, honestly (one target, either task)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from molmat.classic import assessment
from molmat.data.csv import DataError, read_molecules
from molmat.data.molecules import infer_task
from molmat.data.splits import murcko_scaffold, random_split
from molmat.tasks.runs import build_model, report_data, target_units
from molmat.training import plots

log = logging.getLogger("molmat")


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def roc_auc(y: np.ndarray, prob: np.ndarray) -> float:
    """ROC-AUC, NaN when ``y`` holds one class."""
    return float(roc_auc_score(y, prob)) if len(np.unique(y)) == 2 else float("nan")


def pr_auc(y: np.ndarray, prob: np.ndarray) -> float:
    """Average precision, NaN when ``y`` holds one class."""
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(average_precision_score(y, prob))


# Metrics averaged over CV repeats, and those that get bootstrap intervals.
CV_METRICS = {
    "regression": ("rmse", "mae", "r2"),
    "classification": ("roc_auc", "pr_auc", "balanced_accuracy", "mcc"),
}
BOOTSTRAP_METRICS = {
    "regression": {"rmse": rmse, "r2": r2},
    "classification": {"roc_auc": roc_auc, "pr_auc": pr_auc},
}


def assess_run(
    data: str | Path,
    out: str | Path,
    *,
    model: str = "rf",
    smiles_col: str | None = None,
    target: str | None = None,
    cv: int = 5,
    repeats: int = 3,
    shuffles: int = 3,
    group_by: str | None = None,
    seed: int = 0,
    sep: str | None = None,
    **params,
) -> dict:
    """Repeated k-fold CV with bootstrap CIs, a learning curve and y-randomisation.

    Args:
        data: CSV path or bundled dataset name (one target: regression, or 0/1
            labels for classification, scored on probabilities).
        out: folder for ``assessment.json`` and ``learning_curve_size.png``.
        model, params: as for :func:`~molmat.tasks.runs.build_model`.
        cv, repeats: folds and repetitions of the cross-validation.
        shuffles: label shuffles for y-randomisation (0 skips it).
        group_by: ``scaffold`` or a column name: groups never straddle folds.
        seed: seed of folds, bootstrap and shuffles.
        sep: column separator of the file (sniffed when ``None``).
    """
    table = read_molecules(data, smiles_col, [target] if target else None, sep=sep)
    report_data(table.report)
    if table.y.shape[1] != 1:
        raise DataError("assess needs one target (name it with --target)")
    labelled = ~np.isnan(table.y[:, 0])
    y = table.y[labelled, 0].astype(np.float64)
    task = infer_task(y[:, None])
    keep = np.flatnonzero(labelled)
    groups = None
    if group_by == "scaffold":
        groups = [murcko_scaffold(table.mols[i]) for i in keep]
    elif group_by:
        if group_by not in table.frame.columns:
            raise DataError(
                f"group column {group_by!r} not found; columns: "
                f"{list(table.frame.columns)}"
            )
        groups = table.frame[group_by].to_numpy()[table.rows[keep]].astype(str)

    def make():
        return build_model(model, seed=seed, progress=False, task=task, **params)

    X = [table.smiles[i] for i in keep]
    repeats_scores = assessment.repeated_cv(make, X, y, cv, repeats, seed, groups, task)
    first = assessment.cv_predictions(make, X, y, cv, seed, groups, task)
    result = {
        "data": table.report.source,
        "model": model,
        "task": task,
        "n": len(y),
        "folds": cv,
        "repeats": repeats,
        "group_by": group_by,
        "cv": {
            k: (
                float(np.nanmean([s[k] for s in repeats_scores])),
                float(np.nanstd([s[k] for s in repeats_scores])),
            )
            for k in CV_METRICS[task]
        },
        "bootstrap_95": {
            name: assessment.bootstrap_ci(y, first, fn, seed=seed)
            for name, fn in BOOTSTRAP_METRICS[task].items()
        },
    }
    train, _, test = random_split(len(y), seed, (0.8, 0.0, 0.2))
    sizes = sorted({max(10, int(f * len(train))) for f in (0.1, 0.25, 0.5, 1.0)})
    curve = assessment.learning_curve(
        make,
        [X[i] for i in train],
        y[train],
        [X[i] for i in test],
        y[test],
        sizes,
        seed,
        task,
    )
    result["learning_curve"] = curve
    if shuffles:
        result["y_randomisation"] = assessment.y_randomisation(
            make, X, y, shuffles, cv, seed, task
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots.size_curve(
        curve,
        out / "learning_curve_size.png",
        CV_METRICS[task][0],
        target_units(table.report.source, task),
        f"{table.report.source}, {model}, test set n = {len(test)}",
    )
    (out / "assessment.json").write_text(json.dumps(result, indent=1))
    return result
