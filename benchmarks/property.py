"""Property-prediction benchmark: ESOL and AqSolDB with the default D-MPNN.

Prints one JSON line per run: dataset, split, seed, model, test RMSE/MAE/R²,
training wall seconds (compilation included, featurisation excluded, as in
the chemprop figures of BASELINES.md), molecules per second per epoch after
compilation, and the number of compilations.

    python benchmarks/property.py                 # the five runs of the issue
    python benchmarks/property.py --runs esol:random:0 --model gcn
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from molmat import PropertyModel
from molmat.data.csv import read_molecules
from molmat.featurizers.graph import featurize_cached
from molmat.tasks.runs import make_splits

RUNS = (
    "esol:random:0",
    "esol:random:1",
    "esol:random:2",
    "esol:scaffold:0",
    "aqsoldb:scaffold:0",
)


def run_one(dataset: str, split: str, seed: int, params: dict) -> dict:
    table = read_molecules(dataset)
    ((train, val, test),) = make_splits(table, split, seed)
    model = PropertyModel(seed=seed, progress=False, **params)

    def pick(idx):
        return [table.smiles[i] for i in idx]

    tick = time.perf_counter()  # featurise once, as a repeated run finds it cached
    for part in (train, val):
        featurize_cached(pick(part), [table.mols[i] for i in part], model.mol_features)
    featurize_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    model.fit(pick(train), table.y[train], X_val=pick(val), y_val=table.y[val])
    wall = time.perf_counter() - tick
    test_metrics = model.score_molecules(pick(test), table.y[test])
    after_compile = [r["molecules_per_second"] for r in model.history_.records[1:]]
    return {
        "dataset": dataset,
        "split": split,
        "seed": seed,
        "model": model.model,
        "hidden": model.hidden,
        "epochs": len(model.history_.records),
        "best_epoch": model.history_.best_epoch,
        "n_train": len(train),
        "test_rmse": round(test_metrics["rmse"], 4),
        "test_mae": round(test_metrics["mae"], 4),
        "test_r2": round(test_metrics["r2"], 4),
        "train_wall_s": round(wall, 2),
        "featurize_s": round(featurize_seconds, 2),  # 0 when already cached
        "mol_per_s_per_epoch": round(float(np.median(after_compile)), 1),
        "compilations": model.history_.compilations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", nargs="+", default=list(RUNS), help="dataset:split:seed triples"
    )
    parser.add_argument("--model", default="mpnn", help="mpnn or gcn")
    parser.add_argument("--epochs", type=int, help="override the default epochs")
    args = parser.parse_args()
    params = {"model": args.model}
    if args.epochs:
        params["epochs"] = args.epochs
    results = []
    for spec in args.runs:
        dataset, split, seed = spec.split(":")
        result = run_one(dataset, split, int(seed), params)
        results.append(result)
        print(json.dumps(result), flush=True)
    esol_random = [
        r["test_rmse"]
        for r in results
        if r["dataset"] == "esol" and r["split"] == "random"
    ]
    if esol_random:
        print(
            json.dumps(
                {
                    "dataset": "esol",
                    "split": "random",
                    "summary": "mean_over_seeds",
                    "test_rmse_mean": round(float(np.mean(esol_random)), 4),
                    "test_rmse_std": round(float(np.std(esol_random)), 4),
                    "n_seeds": len(esol_random),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
