"""Classic-model benchmark: fingerprints + scikit-learn vs the D-MPNN.

One JSON line per run: dataset, split, seed, model, features, test metrics
(RMSE/MAE/R² or ROC-AUC/PR-AUC), fit wall seconds; for the GP, the empirical
coverage of its 90% prediction intervals on the test set (and, with
--intervals, of 90% CV+ intervals for the other regressors). Every model of a
(dataset, split, seed) sees the identical split. A last line times the
10,000 x 10,000 Tanimoto kernel matrix on Morgan fingerprints.

    python benchmarks/classic.py                      # everything
    python benchmarks/classic.py --runs esol:random:0 --models rf/morgan,gp/morgan
    python benchmarks/classic.py --kernel-only

All datasets are bundled (ClinTox with both of its tasks).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy import stats

from molmat.classic.intervals import coverage, cv_plus_intervals
from molmat.classic.kernels import kernel_matrix
from molmat.classic.models import CLASSIFIERS
from molmat.data.csv import read_molecules
from molmat.featurizers.descriptors import molecule_features_cached
from molmat.tasks.runs import build_model, make_splits

RUNS = (
    "esol:random:0",
    "esol:random:1",
    "esol:random:2",
    "esol:scaffold:0",
    "aqsoldb:random:0",
    "aqsoldb:random:1",
    "aqsoldb:random:2",
    "aqsoldb:scaffold:0",
    "bbbp:scaffold:0",
    "clintox:scaffold:0",
)
# model/features; RF on 2048-bit Morgan as in BASELINES.md, kernel models on
# fragprints (Morgan counts + RDKit fragment counts) with the MinMax kernel.
MODELS = ("rf/morgan", "gp/fragprints", "krr/fragprints", "mpnn")


def run_one(table, dataset, split, seed, spec, intervals: bool = False) -> dict:
    ((train, val, test),) = make_splits(table, split, seed)

    def pick(idx):
        return [table.smiles[i] for i in idx]

    name, _, features = spec.partition("/")
    task = "classification" if dataset in ("bbbp", "clintox") else "regression"
    if task == "classification" and name not in (*CLASSIFIERS, "mpnn"):
        return {"dataset": dataset, "model": name, "skipped": "regression-only model"}
    model = build_model(name, seed=seed, progress=False, features=features or "morgan")
    tick = time.perf_counter()
    model.fit(
        pick(train),
        table.y[train],
        X_val=pick(val),
        y_val=table.y[val],
        target_names=table.target_names,
    )
    wall = time.perf_counter() - tick
    metrics = model.score_molecules(pick(test), table.y[test])
    keys = (
        ("rmse", "mae", "r2") if model.task_ == "regression" else ("roc_auc", "pr_auc")
    )
    out = {
        "dataset": dataset,
        "split": split,
        "seed": seed,
        "model": name,
        "features": features or "graph",
        "n_train": len(train),
        "n_test": len(test),
        **{f"test_{k}": round(metrics[k], 4) for k in keys},
        "fit_wall_s": round(wall, 2),
    }
    if name == "gp" and model.task_ == "regression":
        mean, std = model.predict_with_std(pick(test))
        z = stats.norm.ppf(0.95)  # central 90% interval
        y = table.y[test]
        inside = np.abs(y - mean) <= z * std
        out["coverage_90"] = round(float(inside[~np.isnan(y)].mean()), 4)
        out["mean_interval_width_90"] = round(float(2 * z * std.mean()), 4)
    elif intervals and model.task_ == "regression" and name != "mpnn":
        lower, upper, _ = cv_plus_intervals(
            lambda: build_model(name, seed=seed, features=features),
            pick(train),
            table.y[train, 0],
            pick(test),
            alpha=0.1,
            folds=10,
            seed=seed,
        )
        out["cv_plus_coverage_90"] = round(coverage(table.y[test, 0], lower, upper), 4)
        out["cv_plus_mean_width_90"] = round(float(np.mean(upper - lower)), 4)
    return out


def kernel_timing(shared_table) -> dict:
    """Tanimoto kernel of 10,000 Morgan fingerprints against themselves."""
    mols = shared_table.mols[:10000]
    fps = molecule_features_cached(shared_table.smiles[:10000], mols, "morgan")
    kernel_matrix(fps[:64])  # compile
    times = []
    for _ in range(3):
        tick = time.perf_counter()
        kernel_matrix(fps)
        times.append(time.perf_counter() - tick)
    return {
        "benchmark": "tanimoto_kernel",
        "n": len(fps),
        "bits": fps.shape[1],
        "seconds_best_of_3": round(min(times), 3),
        "seconds_all": [round(t, 3) for t in times],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", nargs="+", default=list(RUNS), help="dataset:split:seed"
    )
    parser.add_argument(
        "--models", default=",".join(MODELS), help="comma-separated model/features"
    )
    parser.add_argument("--kernel-only", action="store_true")
    parser.add_argument(
        "--intervals",
        action="store_true",
        help="also 90%% CV+ prediction intervals (10 folds) for non-GP regressors",
    )
    args = parser.parse_args()
    if not args.kernel_only:
        tables = {}
        for spec in args.runs:
            dataset, split, seed = spec.split(":")
            if dataset not in tables:
                tables[dataset] = read_molecules(dataset)
            for spec_model in args.models.split(","):
                result = run_one(
                    tables[dataset],
                    dataset,
                    split,
                    int(seed),
                    spec_model,
                    args.intervals,
                )
                print(json.dumps(result), flush=True)
    # AqSolDB has 9,980 parsable molecules; pad with ESOL's for 10,000.
    aqsoldb, esol = read_molecules("aqsoldb"), read_molecules("esol")
    aqsoldb.smiles += esol.smiles
    aqsoldb.mols += esol.mols
    print(json.dumps(kernel_timing(aqsoldb)), flush=True)


if __name__ == "__main__":
    main()
