"""Matbench v0.1: the official protocol on a task, the leaderboard beside it.

Each fold of ``KFold(n_splits=5, shuffle=True, random_state=18012019)``
(``StratifiedKFold`` for the classification tasks) over the dataset in its
published order trains one model (:func:`~molmat.tasks.runs.train_run` with
``split="matbench"``); the fold metrics go to ``folds.jsonl`` (one JSON line
per fold) and the mean over folds is ranked among the leaderboard entries.

The task files are not shipped. Matbench's own loader writes them:

    pip install matminer
    python -c "from matminer.datasets import load_dataset; \\
        load_dataset('matbench_expt_gap').to_csv('matbench_expt_gap.csv')"

(that download is the user's, from Matbench's servers); then pass the file
or its folder with ``--data``.

Example:
    >>> result = run_matbench("matbench_expt_gap", "data/", "runs/mb")  # doctest: +SKIP
    >>> result["rank"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molmat.models.crystal import CRYSTAL_MODELS
from molmat.tasks.runs import train_run


@dataclass(frozen=True)
class MatbenchTask:
    """One Matbench v0.1 task.

    Attributes:
        name: Matbench's name (``matbench_expt_gap``).
        inputs: ``composition`` (a CSV with a formula column) or
            ``structure`` (an extxyz file, the target in each structure's
            info).
        target: the target column or info key.
        task: ``regression`` or ``classification``.
        unit: the target's unit (``""`` for classes).
        metric: the ranking metric: ``mae`` (lower is better), or for
            classification ``balanced_accuracy`` at a 0.5 threshold: the
            leaderboard's "rocauc" is computed from the predicted 0/1 labels,
            which is the balanced accuracy (its columns agree to 4 digits).
        leaderboard: ``(algorithm, mean over folds)`` of the Matbench v0.1
            per-task leaderboard.
    """

    name: str
    inputs: str
    target: str
    task: str
    unit: str
    metric: str
    leaderboard: tuple[tuple[str, float], ...]

    @property
    def lower_is_better(self) -> bool:
        return self.metric == "mae"

    @property
    def features(self) -> str:
        """The default features of its input."""
        return "magpie" if self.inputs == "composition" else "magpie-structure"

    @property
    def suffixes(self) -> tuple[str, ...]:
        if self.inputs == "composition":
            return (".csv", ".csv.gz")
        return (".extxyz", ".extxyz.gz")


# Figures of the Matbench v0.1 per-task leaderboards (matbench.materialsproject.org).
TASKS: dict[str, MatbenchTask] = {
    t.name: t
    for t in (
        MatbenchTask(
            "matbench_expt_gap",
            "composition",
            "gap expt",
            "regression",
            "eV",
            "mae",
            (
                ("Ax/SAASBO CrabNet v1.2.7", 0.3310),
                ("CrabNet", 0.3463),
                ("MODNet (v0.1.10)", 0.3470),
                ("AMMExpress v2020", 0.4161),
                ("RF-SCM/Magpie", 0.4461),
                ("Dummy", 1.1435),
            ),
        ),
        MatbenchTask(
            "matbench_expt_is_metal",
            "composition",
            "is_metal",
            "classification",
            "",
            "balanced_accuracy",
            (
                ("AMMExpress v2020", 0.9209),
                ("RF-SCM/Magpie", 0.9167),
                ("MODNet (v0.1.12)", 0.9161),
                ("Dummy", 0.4924),
            ),
        ),
        MatbenchTask(
            "matbench_glass",
            "composition",
            "gfa",
            "classification",
            "",
            "balanced_accuracy",
            (
                ("MODNet (v0.1.12)", 0.9603),
                ("AMMExpress v2020", 0.8607),
                ("RF-SCM/Magpie", 0.8587),
                ("Darwin", 0.7668),
                ("Dummy", 0.5005),
            ),
        ),
        MatbenchTask(
            "matbench_jdft2d",
            "structure",
            "exfoliation_en",
            "regression",
            "meV/atom",
            "mae",
            (
                ("MODNet (v0.1.12)", 33.1918),
                ("coNGN", 36.1698),
                ("coGN", 37.1652),
                ("AMMExpress v2020", 39.8497),
                ("ALIGNN", 43.4244),
                ("CGCNN v2019", 49.2440),
                ("RF-SCM/Magpie", 50.0440),
                ("Dummy", 67.2851),
            ),
        ),
        MatbenchTask(
            "matbench_phonons",
            "structure",
            "last_phdos_peak",
            "regression",
            "cm^-1",
            "mae",
            (
                ("MEGNet (kgcnn)", 28.76),
                ("ALIGNN", 29.5385),
                ("coGN", 29.7),
                ("MODNet (v0.1.12)", 34.2751),
                ("AMMExpress v2020", 56.1706),
                ("CGCNN v2019", 57.7635),
                ("RF-SCM/Magpie", 67.6126),
                ("Dummy", 323.9822),
            ),
        ),
        MatbenchTask(
            "matbench_steels",
            "composition",
            "yield strength",
            "regression",
            "MPa",
            "mae",
            (
                ("MODNet (v0.1.12)", 87.7627),
                ("Random Forest (RFLR)", 90.5896),
                ("AMMExpress v2020", 97.4929),
                ("RF-SCM/Magpie", 103.5125),
                ("CrabNet", 107.3160),
                ("Dummy", 229.7445),
            ),
        ),
    )
}
HOW_TO_GET = {
    "composition": 'pip install matminer, then python -c "from matminer.datasets '
    "import load_dataset; load_dataset('{name}').to_csv('{name}.csv')\" and pass "
    "the file (or its folder) with --data",
    "structure": "pip install matminer pymatgen, load_dataset('{name}'), convert "
    "each structure with pymatgen.io.ase.AseAtomsAdaptor.get_atoms, put the "
    "target in atoms.info['{target}'] and ase.io.write('{name}.extxyz', images) "
    "(the materials guide shows how); pass the file with --data",
}


def get_task(name: str) -> MatbenchTask:
    """The task called ``name`` (with or without the ``matbench_`` prefix).

    Raises:
        KeyError: an unknown task, with the known ones.
    """
    key = name if name.startswith("matbench_") else f"matbench_{name}"
    if key not in TASKS:
        raise KeyError(f"unknown Matbench task {name!r}; choose one of {list(TASKS)}")
    return TASKS[key]


def task_file(task: MatbenchTask, data: str | Path) -> Path:
    """The task's file: ``data`` itself, or ``<task>.csv[.gz]`` (structure
    tasks: ``<task>.extxyz[.gz]``) inside it.

    Raises:
        FileNotFoundError: no such file, with how to get it.
    """
    data = Path(data)
    if data.is_file():
        return data
    for suffix in task.suffixes:
        candidate = data / f"{task.name}{suffix}"
        if candidate.is_file():
            return candidate
    how = HOW_TO_GET[task.inputs].format(name=task.name, target=task.target)
    raise FileNotFoundError(f"no {task.name}{task.suffixes[0]}[.gz] at {data}; {how}")


def run_matbench(
    name: str,
    data: str | Path,
    out: str | Path,
    *,
    model: str = "rf",
    features: str | None = None,
    seed: int = 0,
    resume: bool = False,
    **params,
) -> dict:
    """Run the official five folds of task ``name`` and rank the result.

    Args:
        name: a task of :data:`TASKS`.
        data: the task's file, or a folder holding it (:func:`task_file`).
        out: run folder (``fold_<k>/`` each, ``folds.jsonl``, ``metrics.json``).
        features: ``None``: ``magpie`` (composition tasks) or
            ``magpie-structure`` (structure tasks) for classic models; crystal
            networks (``cgcnn``...) read the structures themselves and join
            ``features`` to their readout when given.
        model, seed, resume, params: as :func:`train_run`.

    Returns:
        ``{"task", "model", "folds": [per-fold metrics], "mean", "std",
        "rows": [(rank, algorithm, value)], "rank"}``.
    """
    task = get_task(name)
    network = model in CRYSTAL_MODELS
    if network and task.inputs == "composition":
        raise ValueError(
            f"{task.name} gives compositions only; crystal networks such as "
            f"{model} need structures (a structure task, or a classic model)"
        )
    features = features if network else features or task.features
    runs = train_run(
        task_file(task, data),
        out,
        composition_col="composition" if task.inputs == "composition" else None,
        targets=[task.target],
        task=task.task,
        split="matbench",
        model=model,
        features=features,
        seed=seed,
        resume=resume,
        **params,
    )["runs"]
    names = (
        ("mae", "rmse", "r2")
        if task.task == "regression"
        else ("roc_auc", "balanced_accuracy", "f1", "accuracy")
    )
    folds = [
        {
            "task": task.name,
            "fold": k,
            "model": model,
            "features": features,
            **{m: run["test"][m] for m in names},
            "n_train": run["split_sizes"]["train"],
            "n_test": run["split_sizes"]["test"],
            "fit_seconds": round(run["fit_seconds"], 2),
        }
        for k, run in enumerate(runs)
    ]
    Path(out, "folds.jsonl").write_text("".join(json.dumps(f) + "\n" for f in folds))
    mean = {m: float(np.mean([f[m] for f in folds])) for m in names}
    std = {m: float(np.std([f[m] for f in folds])) for m in names}
    label = f"molmat {model}" + (f" ({features})" if features else "")
    rows = ranked(task, label, mean[task.metric])
    rank = next(r for r, algorithm, _ in rows if algorithm == label)
    return {
        "task": task.name,
        "metric": task.metric,
        "unit": task.unit,
        "model": label,
        "folds": folds,
        "mean": mean,
        "std": std,
        "rows": rows,
        "rank": rank,
    }


def ranked(
    task: MatbenchTask, label: str, value: float
) -> list[tuple[int, str, float]]:
    """The leaderboard with ``(label, value)`` placed among its entries, best first."""
    entries = [*task.leaderboard, (label, value)]
    entries.sort(key=lambda e: e[1], reverse=not task.lower_is_better)
    return [(k + 1, algorithm, v) for k, (algorithm, v) in enumerate(entries)]
