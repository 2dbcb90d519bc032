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

    python benchmarks/materials.py --data ../shared/data/materials/matbench
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from provenance import commit

from molmat.tasks.matbench import get_task, run_matbench

TASKS = ("expt_gap", "expt_is_metal", "glass", "steels", "jdft2d", "phonons")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/materials/matbench")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--models", nargs="+", default=["rf", "mlp"])
    parser.add_argument("--out", default="runs/bench-materials")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
