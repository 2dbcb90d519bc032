"""Learning curves: test error against the number of labels, with and
without a pretrained encoder, beside a descriptor baseline.

One fixed test set (``test_size`` rows drawn with ``seed``) and nested
training sets (the first ``size`` rows of one seeded order of the rest), so
every size and every variant sees the same rows:

- ``pretrained``: the model started from ``init`` (when given);
- ``scratch``: the same model from a random initialisation;
- ``baseline``: a classic model (``rf``) on descriptors (``magpie-structure``
  for structures, the classic default for molecules).

Each variant and size is a run folder (``<variant>_n<size>/``: model,
checkpoint, metrics), so an interrupted curve resumes where it stopped;
``learning_curve.jsonl`` holds one line per point and
``learning_curve_<target>.png`` draws them.

Example:
    >>> learning_curve_run("mofs.tar.xz", "runs/lc", sizes=[100, 500, 2000],
    ...                    model="painn", targets=["LCD"], labels="core.csv",
    ...                    init="runs/mof-pre")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from molmat.data.crystals import StructureTable
from molmat.data.csv import DataError
from molmat.featurizers.structure import STRUCTURE_SETS
from molmat.tasks.archives import load
from molmat.tasks.run_folder import start_run
from molmat.tasks.runs import build_model, model_input, read_inputs, report_data
from molmat.training import plots
from molmat.training.metrics import score

log = logging.getLogger("molmat")


def curve_split(
    n: int, test_size: int, largest: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The test rows [test_size] and the training pool in its seeded order."""
    if test_size + largest > n:
        raise DataError(
            f"{n} usable rows cannot hold a test set of {test_size} and a "
            f"training set of {largest}"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:test_size]), order[test_size:]


def learning_curve_run(
    data: str | Path,
    out: str | Path,
    *,
    sizes: list[int],
    model: str,
    targets: list[str] | None = None,
    labels: str | Path | None = None,
    init: str | Path | None = None,
    test_size: int = 1000,
    baseline: str | None = "rf",
    seed: int = 0,
    resume: bool = False,
    column: str | None = None,
    **model_params,
) -> list[dict]:
    """Train every variant at every size and test them on the same rows.

    Args:
        data, labels, targets, column: what :func:`~molmat.tasks.runs.train_run`
            reads.
        out: folder of the runs, the JSON lines and the plots.
        sizes: training-set sizes (each holds out ``val_fraction`` of itself
            for validation, as ``fit`` does).
        model: the network (any model of :func:`~molmat.tasks.runs.build_model`).
        init: a pretrained encoder: adds the ``pretrained`` variant.
        test_size: rows in the fixed test set.
        baseline: a classic model on descriptors, or ``None``.
        seed: seed of the split and of the models.
        resume: reuse finished points and continue interrupted ones.
        **model_params: the model's settings.

    Returns:
        One record per variant and size: ``{"variant", "size", "test":
        metrics, "fit_seconds"}``.
    """
    out = Path(out)
    resume = start_run(out, resume)
    probe = build_model(model, seed=seed, init=init, **model_params)
    table = read_inputs(data, column, targets, labels=labels, **model_input(probe))
    report_data(table.report)
    test, pool = curve_split(len(table), test_size, max(sizes), seed)
    variants = {"scratch": lambda: build_model(model, seed=seed, **model_params)}
    if init is not None:
        variants = {
            "pretrained": lambda: build_model(
                model, seed=seed, init=init, **model_params
            ),
            **variants,
        }
    if baseline is not None:
        features = STRUCTURE_SETS[0] if isinstance(table, StructureTable) else None
        variants["baseline"] = lambda: build_model(
            baseline, seed=seed, **({"features": features} if features else {})
        )
    points = []
    for size in sorted(sizes):
        for name, make in variants.items():
            points.append(
                _point(table, pool[:size], test, out / f"{name}_n{size}", make, resume)
                | {"variant": name, "size": size}
            )
    (out / "learning_curve.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in points)
    )
    _draw(points, table, out, model)
    return points


def _point(table, train, test, folder: Path, make, resume: bool) -> dict:
    """Fit one variant on ``train`` (resuming), test it; cached in ``folder``."""
    done = folder / "point.json"
    if resume and done.exists():
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    pick = lambda idx: [table.inputs[i] for i in idx]  # noqa: E731
    tick = time.perf_counter()
    model = make()
    model.fit(
        pick(train),
        table.y[train],
        target_names=table.target_names,
        checkpoint_dir=folder / "checkpoint",
        metrics_log=folder / "metrics.jsonl",
        resume=resume and (folder / "checkpoint").exists(),
    )
    fit_seconds = time.perf_counter() - tick
    model.save(folder / "model")
    pred = load(folder / "model").predict_values(pick(test))
    point = {
        "test": score(model.task_, table.y[test], pred, model.target_names_),
        "n_test": len(test),
        "fit_seconds": round(fit_seconds, 1),
    }
    done.write_text(json.dumps(point))
    return point


def _draw(points: list[dict], table, out: Path, model: str) -> None:
    """One plot per target: MAE (regression) or ROC-AUC against the size."""
    for name in table.target_names:
        rows = []
        for p in points:
            scores = p["test"]["per_target"][name]
            metric = "mae" if "mae" in scores else "roc_auc"
            rows.append(
                {"size": p["size"], "label": p["variant"], metric: scores[metric]}
            )
        plots.size_curve(
            rows,
            out / f"learning_curve_{name}.png",
            metric,
            title=f"{Path(str(table.report.source)).name}, {name}, {model}",
        )
