"""``molmat assess``: how good is a model, honestly (regression targets)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from molmat.classic import assessment
from molmat.data.csv import DataError, read_molecules
from molmat.data.splits import murcko_scaffold, random_split
from molmat.tasks.property import infer_task
from molmat.tasks.runs import build_model, report_data
from molmat.training import plots

log = logging.getLogger("molmat")


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


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
    **params,
) -> dict:
    """Repeated k-fold CV with bootstrap CIs, a learning curve and y-randomisation.

    Args:
        data: CSV path or bundled dataset name (one regression target).
        out: folder for ``assessment.json`` and ``learning_curve_size.png``.
        model, params: as for :func:`~molmat.tasks.runs.build_model`.
        cv, repeats: folds and repetitions of the cross-validation.
        shuffles: label shuffles for y-randomisation (0 skips it).
        group_by: ``scaffold`` or a column name: groups never straddle folds.
        seed: seed of folds, bootstrap and shuffles.
    """
    table = read_molecules(data, smiles_col, [target] if target else None)
    report_data(table.report)
    if table.y.shape[1] != 1 or infer_task(table.y) != "regression":
        raise DataError("assess needs one regression target (name it with --target)")
    y = table.y[:, 0].astype(np.float64)
    groups = None
    if group_by == "scaffold":
        groups = [murcko_scaffold(m) for m in table.mols]
    elif group_by:
        if group_by not in table.frame.columns:
            raise DataError(f"group column {group_by!r} not found")
        groups = table.frame[group_by].to_numpy()[table.rows].astype(str)

    def make():
        return build_model(model, seed=seed, progress=False, **params)

    X = table.smiles
    repeats_scores = assessment.repeated_cv(make, X, y, cv, repeats, seed, groups)
    first = assessment.cv_predictions(make, X, y, cv, seed, groups)
    result = {
        "data": table.report.source,
        "model": model,
        "n": len(y),
        "folds": cv,
        "repeats": repeats,
        "group_by": group_by,
        "cv": {
            k: (
                float(np.mean([s[k] for s in repeats_scores])),
                float(np.std([s[k] for s in repeats_scores])),
            )
            for k in ("rmse", "mae", "r2")
        },
        "bootstrap_95": {
            "rmse": assessment.bootstrap_ci(y, first, rmse, seed=seed),
            "r2": assessment.bootstrap_ci(y, first, r2, seed=seed),
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
    )
    result["learning_curve"] = curve
    if shuffles:
        result["y_randomisation"] = assessment.y_randomisation(
            make, X, y, shuffles, cv, seed
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots.size_curve(curve, out / "learning_curve_size.png")
    (out / "assessment.json").write_text(json.dumps(result, indent=1))
    return result
