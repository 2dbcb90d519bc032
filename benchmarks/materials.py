"""Materials: Matbench v0.1 composition and structure tasks by their official protocol.

Every task of ``--tasks`` (default: the four composition tasks, then jdft2d and
phonons, whose structures are read from the extxyz files) is
run with each of ``--models`` (default: a random forest and the JAX MLP on
the Magpie features of the composition, or of the cell plus packing features
for structures) over Matbench's five official folds
(:func:`molmat.tasks.matbench.run_matbench`); one JSON line per task and
model: the ranking metric's mean and standard deviation over folds, the
per-fold values, the rank among the leaderboard entries, the RF-SCM/Magpie
entry and the leader, wall seconds and compositions (or structures) per
second (featurising, training and testing all five folds). Run folders go
under ``--out`` and are resumed.

``--perov``: CDVAE's Perov-5 validation set (3,787 perovskite cells, CIF
strings; the training split is not available): heat of formation
``heat_ref`` (eV per cell) on a seeded 80/20 split of it (seed 0), the same
models on ``magpie-structure`` features; one JSON line each with the test MAE.

    python benchmarks/materials.py --data ../shared/data/materials/matbench
    python benchmarks/materials.py --tasks \
        --perov ../shared/data/materials/cdvae/perov_5_val.csv.gz
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from provenance import commit

from molmat.data.crystals import read_structure_table
from molmat.tasks.classic import ClassicModel
from molmat.tasks.matbench import get_task, run_matbench

TASKS = ("expt_gap", "expt_is_metal", "glass", "steels", "jdft2d", "phonons")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/materials/matbench")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--models", nargs="+", default=["rf", "mlp"])
    parser.add_argument("--out", default="runs/bench-materials")
    parser.add_argument("--perov", help="Perov-5 CSV (CIF column) to test heat_ref on")
    args = parser.parse_args()
    if args.perov:
        perovskites(args.perov, args.models)
    for name in args.tasks:
        task = get_task(name)
        for model in args.models:
            out = Path(args.out) / f"{task.name}-{model}"
            tick = time.perf_counter()
            result = run_matbench(
                task.name, args.data, out, model=model, resume=out.exists()
            )
            wall = time.perf_counter() - tick
            metric = task.metric
            n = sum(f["n_test"] for f in result["folds"])
            board = dict(task.leaderboard)
            print(
                json.dumps(
                    {
                        "benchmark": "materials",
                        "dataset": task.name,
                        "model": result["model"],
                        "metric": metric,
                        "unit": task.unit,
                        "mean": round(result["mean"][metric], 4),
                        "std": round(result["std"][metric], 4),
                        "folds": [round(f[metric], 4) for f in result["folds"]],
                        "rank": result["rank"],
                        "entries": len(result["rows"]),
                        "rf_scm_magpie": board.get("RF-SCM/Magpie"),
                        "leader": task.leaderboard[0],
                        "wall_s": round(wall, 1),
                        f"{task.inputs}s_per_s": round(n / wall, 1),
                        "commit": commit(),
                    }
                ),
                flush=True,
            )


def perovskites(path: str, models: list[str], seed: int = 0) -> None:
    """Test MAE of ``heat_ref`` on a seeded 20% of the Perov-5 file."""
    table = read_structure_table(path, ["heat_ref"])
    order = np.random.default_rng(seed).permutation(len(table))
    cut = int(0.8 * len(table))
    train, test = order[:cut], order[cut:]
    pick = lambda idx: [table.structures[i] for i in idx]  # noqa: E731
    for model in models:
        tick = time.perf_counter()
        fitted = ClassicModel(model, features="magpie-structure", seed=seed)
        fitted.fit(pick(train), table.y[train])
        pred = fitted.predict(pick(test))
        wall = time.perf_counter() - tick
        print(
            json.dumps(
                {
                    "benchmark": "materials",
                    "dataset": "perov_5_val (80/20, seed 0)",
                    "target": "heat_ref",
                    "model": f"molmat {model} (magpie-structure)",
                    "metric": "mae",
                    "unit": "eV",
                    "mae": round(float(np.mean(np.abs(pred - table.y[test, 0]))), 4),
                    "n_train": len(train),
                    "n_test": len(test),
                    "wall_s": round(wall, 1),
                    "structures_per_s": round(len(table) / wall, 1),
                    "commit": commit(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
