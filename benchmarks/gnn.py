"""Graph-network zoo benchmark: every model on identical splits, with an RF baseline.

Prints one JSON line per (dataset, split, seed, model): test metrics (RMSE/MAE/R²
or mean ROC-AUC/PR-AUC over tasks), training wall seconds (compilation
included), molecules per second per epoch after compilation, and the number
of compilations of the training step beside the number of batch shapes
(``size_classes``: one, or one per molecule-size class for SchNet and the
transformer). Then one summary line per (dataset, split, model) with the
mean ± std over seeds, and for classification sets whether the best graph
model beats RF on 2048-bit Morgan fingerprints. ``--ensemble N`` trains every
graph model as a deep ensemble of N members and scores their mean prediction.

    python benchmarks/gnn.py                                  # everything (hours)
    python benchmarks/gnn.py --runs esol:random:0 esol:random:1 --models gin,rf
    python benchmarks/gnn.py --runs tox21:scaffold:0 --models mpnn,rf --epochs 30
    python benchmarks/gnn.py --runs bace:scaffold:0 --models mpnn/rdkit2d,rf/morgan
    python benchmarks/gnn.py --runs bace:scaffold:0 --models mpnn,rf --ensemble 5
    python benchmarks/gnn.py --runs bace:scaffold:0 --models mpnn,rf \\
        --params '{"dropout": 0.2, "weight_decay": 0.01}'
    python benchmarks/gnn.py --runs bbbp:scaffold:0 \\
        --models benchmarks/architectures/mpnn_mean.yaml,rf
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np

from molmat.data.csv import read_molecules
from molmat.models.gnn.config import is_architecture_file, is_graph_model
from molmat.tasks.property import PropertyModel
from molmat.tasks.runs import build_model, make_splits

ZOO = ("gcn", "gin", "gat", "mpnn", "attentivefp", "schnet", "transformer")
REGRESSION_RUNS = tuple(
    f"{d}:{s}"
    for d in ("esol", "aqsoldb")
    for s in ("random:0", "random:1", "random:2", "scaffold:0")
)
CLASSIFICATION_RUNS = tuple(
    f"{d}:scaffold:{seed}"
    for d in ("bbbp", "bace", "clintox", "tox21")
    for seed in (0, 1, 2)
)
# Settings a model needs beyond its name.
MODEL_PARAMS = {"schnet": {"conformers": 1}, "rf": {"features": "morgan"}}


def model_settings(spec: str) -> tuple[str, dict]:
    """``name``, ``name/features`` or an architecture file (YAML/JSON).

    ``features`` are those of a classic model, or the whole-molecule features
    a graph network joins to its readout.
    """
    if is_architecture_file(spec):
        return spec, {}
    name, _, features = spec.partition("/")
    params = dict(MODEL_PARAMS.get(name, {}))
    if features:
        params["mol_features" if is_graph_model(name) else "features"] = features
    return name, params


def run_one(
    dataset: str, split: str, seed: int, spec: str, extra: dict, ensemble: int = 1
) -> dict:
    """Train ``spec`` on one split; graph models with the settings ``extra``
    (over the model's own), as deep ensembles of ``ensemble`` members seeded
    ``seed * ensemble + i``."""
    table = read_molecules(dataset)
    ((train, val, test),) = make_splits(table, split, seed)
    model_name, params = model_settings(spec)
    if not is_graph_model(model_name):
        extra, ensemble = {}, 1
    model = build_model(
        model_name,
        seed=seed * ensemble,  # members' seeds: no two runs share one
        ensemble=ensemble,
        **{**params, **extra, "progress": False},
    )

    def pick(idx):
        return [table.smiles[i] for i in idx]

    tick = time.perf_counter()
    model.fit(
        pick(train),
        table.y[train],
        X_val=pick(val),
        y_val=table.y[val],
        target_names=table.target_names,
    )
    wall = time.perf_counter() - tick
    scores = model.score_molecules(pick(test), table.y[test])
    records = model.history_.records[1:]
    result = {
        "dataset": dataset,
        "split": split,
        "seed": seed,
        "model": spec,
        "ensemble": ensemble,
        "settings": extra,
        "task": model.task_,
        "n_train": len(train),
        "n_tasks": len(table.target_names),
        "train_wall_s": round(wall, 2),
        "mol_per_s_per_epoch": round(
            float(np.median([r["molecules_per_second"] for r in records])), 1
        )
        if records
        else None,
        "compilations": model.history_.compilations,
        "size_classes": model.history_.size_classes,
        "epochs": len(model.history_.records),
    }
    keys = (
        ("rmse", "mae", "r2") if model.task_ == "regression" else ("roc_auc", "pr_auc")
    )
    result.update({f"test_{k}": round(scores[k], 4) for k in keys})
    return result


def summarise(results: list[dict]) -> list[dict]:
    """Mean ± std over seeds per (dataset, split, model); best zoo model vs RF."""
    groups = defaultdict(list)
    for r in results:
        groups[(r["dataset"], r["split"], r["model"])].append(r)
    lines = []
    for (dataset, split, model), runs in groups.items():
        metric = "test_rmse" if runs[0]["task"] == "regression" else "test_roc_auc"
        values = [r[metric] for r in runs]
        lines.append(
            {
                "dataset": dataset,
                "split": split,
                "model": model,
                "ensemble": runs[0]["ensemble"],
                "summary": "mean_over_seeds",
                "metric": metric,
                "mean": round(float(np.mean(values)), 4),
                "std": round(float(np.std(values)), 4),
                "seeds": [r["seed"] for r in runs],
            }
        )
    by_set = defaultdict(dict)
    for line in lines:
        if line["metric"] == "test_roc_auc":
            by_set[(line["dataset"], line["split"])][line["model"]] = line["mean"]
    for (dataset, split), means in by_set.items():
        zoo = {m: v for m, v in means.items() if is_graph_model(model_settings(m)[0])}
        forests = [m for m in means if model_settings(m)[0] == "rf"]
        if zoo and forests:
            best, rf = max(zoo, key=zoo.get), forests[0]
            lines.append(
                {
                    "dataset": dataset,
                    "split": split,
                    "summary": "best_zoo_vs_rf",
                    "best_model": best,
                    "best_roc_auc": zoo[best],
                    "rf": rf,
                    "rf_roc_auc": means[rf],
                    "beats_rf": bool(zoo[best] > means[rf]),
                }
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        nargs="+",
        default=[*REGRESSION_RUNS, *CLASSIFICATION_RUNS],
        help="dataset:split:seed triples",
    )
    parser.add_argument(
        "--models",
        default=",".join([*ZOO, "rf"]),
        help="comma-separated model names; name/features sets the features of a "
        "classic model or the molecule features of a graph network",
    )
    parser.add_argument("--epochs", type=int, help="override the default epochs")
    parser.add_argument(
        "--ensemble",
        type=int,
        default=1,
        help="train each graph model as a deep ensemble of this many members "
        "(seeded seed*N, seed*N+1, ..., so runs share no member) and score their "
        "mean prediction",
    )
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="other settings of every graph model as a JSON object, e.g. "
        '\'{"dropout": 0.2, "weight_decay": 0.01}\' (names as in '
        "molmat.tasks.property.PropertyModel)",
    )
    args = parser.parse_args()
    if args.ensemble < 1:
        parser.error("--ensemble must be at least 1")
    if not isinstance(args.params, dict):
        parser.error("--params must be a JSON object")
    settable = set(PropertyModel().get_params()) - {"model", "seed", "progress"}
    unknown = sorted(set(args.params) - settable)
    if unknown:
        parser.error(f"--params: {unknown}; settable: {sorted(settable)}")
    extra = {**args.params, **({"epochs": args.epochs} if args.epochs else {})}
    results = []
    for spec in args.runs:
        dataset, split, seed = spec.split(":")
        for model_name in args.models.split(","):
            result = run_one(
                dataset, split, int(seed), model_name, extra, args.ensemble
            )
            results.append(result)
            print(json.dumps(result), flush=True)
    for line in summarise(results):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
