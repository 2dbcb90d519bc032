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

``--mofs``: the descriptor baseline of the MOF learning curves: a seeded
``--mof-count`` of the CoRE MOF 2019 CIFs (extracted from the tarball to a
temporary folder, read and featurised with ``magpie-structure``, structures
per second reported), a fixed test set of 1,000 of them, and a random forest
trained on 100, 500 and 2,000 of the others for LCD, PLD, accessible surface
area (m²/g) and void fraction: test MAE per target and size; open metal
sites (``Has_OMS``) as ROC-AUC.

    python benchmarks/materials.py --data ../shared/data/materials/matbench
    python benchmarks/materials.py --tasks --mofs ../shared/data/materials/mof
    python benchmarks/materials.py --tasks \
        --perov ../shared/data/materials/cdvae/perov_5_val.csv.gz
"""

from __future__ import annotations

import argparse
import json
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import commit
from sklearn.metrics import roc_auc_score

from molmat.classic.models import make_estimator
from molmat.data.crystals import read_structure_table
from molmat.featurizers.structure import structure_features
from molmat.models.crystal import CRYSTAL_MODELS
from molmat.tasks.classic import ClassicModel
from molmat.tasks.crystal import CrystalModel
from molmat.tasks.matbench import get_task, run_matbench

TASKS = ("expt_gap", "expt_is_metal", "glass", "steels", "jdft2d", "phonons")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/materials/matbench")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--models", nargs="+", default=["rf", "mlp"])
    parser.add_argument("--out", default="runs/bench-materials")
    parser.add_argument("--perov", help="Perov-5 CSV (CIF column) to test heat_ref on")
    parser.add_argument("--mofs", help="folder of the CoRE MOF tarball and table")
    parser.add_argument("--mof-count", type=int, default=4000)
    parser.add_argument(
        "--network",
        default="",
        help="settings of crystal networks, e.g. epochs=200,hidden=64,cutoff=5",
    )
    args = parser.parse_args()
    network = network_settings(args.network)
    if args.perov:
        perovskites(args.perov, args.models, network)
    if args.mofs:
        mof_baseline(Path(args.mofs), args.mof_count)
    for name in args.tasks:
        task = get_task(name)
        for model in args.models:
            crystal = model in CRYSTAL_MODELS
            settings = network if crystal else {}
            suffix = "".join(f"-{k}{v}" for k, v in settings.items())
            out = Path(args.out) / f"{task.name}-{model}{suffix}"
            tick = time.perf_counter()
            result = run_matbench(
                task.name,
                args.data,
                out,
                model=model,
                resume=out.exists(),
                **settings,
                **({"progress": False} if crystal else {}),
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
                        "settings": settings,
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


def network_settings(text: str) -> dict:
    """``{"epochs": 200, "loss": "l1", ...}`` from ``epochs=200,loss=l1,...``
    (numbers parsed, other values kept as text)."""
    settings = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=")
        settings[key] = value
        for kind in (int, float):
            try:
                settings[key] = kind(value)
                break
            except ValueError:
                continue
    return settings


def perovskites(path: str, models: list[str], network: dict, seed: int = 0) -> None:
    """Test MAE of ``heat_ref`` on a seeded 20% of the Perov-5 file
    (classic models on ``magpie-structure``; crystal networks with the
    ``network`` settings, 10% of the training part validating)."""
    table = read_structure_table(path, ["heat_ref"])
    order = np.random.default_rng(seed).permutation(len(table))
    cut = int(0.8 * len(table))
    train, test = order[:cut], order[cut:]
    pick = lambda idx: [table.structures[i] for i in idx]  # noqa: E731
    for model in models:
        tick = time.perf_counter()
        if model in CRYSTAL_MODELS:
            fitted = CrystalModel(model, seed=seed, progress=False, **network)
            label = f"molmat {model}"
        else:
            fitted = ClassicModel(model, features="magpie-structure", seed=seed)
            label = f"molmat {model} (magpie-structure)"
        fitted.fit(pick(train), table.y[train])
        pred = fitted.predict(pick(test))
        wall = time.perf_counter() - tick
        print(
            json.dumps(
                {
                    "benchmark": "materials",
                    "dataset": "perov_5_val (80/20, seed 0)",
                    "target": "heat_ref",
                    "model": label,
                    "settings": network if model in CRYSTAL_MODELS else {},
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


MOF_TARGETS = ("LCD", "PLD", "ASA_m2_g", "AV_VF")


def mof_baseline(folder: Path, count: int, seed: int = 0) -> None:
    """Random-forest learning curve of CoRE MOF properties on descriptors."""
    properties = pd.read_csv(folder / "core_mof_2019_asr.csv.gz", encoding="latin-1")
    chosen = properties.sample(n=count, random_state=seed).reset_index(drop=True)
    with tempfile.TemporaryDirectory() as scratch:
        with tarfile.open(folder / "core_mof_2019_asr_cifs.tar.xz") as tar:
            wanted = {f"{name}.cif" for name in chosen["filename"]}
            members = [m for m in tar.getmembers() if Path(m.name).name in wanted]
            tar.extractall(scratch, members=members, filter="data")
        tick = time.perf_counter()
        table = read_structure_table(
            next(Path(scratch).rglob("*.cif")).parent, require_targets=False
        )
        features = structure_features(table.structures)
        read_seconds = time.perf_counter() - tick
    by_name = chosen.set_index("filename")
    names = [n.removesuffix(".cif") for n in table.names]
    labels = by_name.loc[names]
    sizes = [f.n_atoms for f in table.structures]
    order = np.random.default_rng(seed).permutation(len(names))
    test, pool = order[:1000], order[1000:]
    common = {
        "benchmark": "materials",
        "dataset": f"CoRE MOF 2019 ({len(names)} of {len(properties)}, seed {seed})",
        "model": "molmat rf (magpie-structure)",
        "n_test": len(test),
        "skipped": len(table.report.bad_rows),
        "atoms_median": int(np.median(sizes)),
        "atoms_max": int(np.max(sizes)),
        "read_featurise_s": round(read_seconds, 1),
        "structures_per_s": round(len(names) / read_seconds, 1),
    }
    for target in (*MOF_TARGETS, "Has_OMS"):
        task = "classification" if target == "Has_OMS" else "regression"
        y = labels[target].to_numpy()
        y = (y == "Yes").astype(float) if task == "classification" else y.astype(float)
        for size in (n for n in (100, 500, 2000) if n <= len(pool)):
            train = pool[:size]
            estimator = make_estimator("rf", task, "magpie-structure", seed)
            estimator.fit(features[train], y[train])
            if task == "regression":
                score = {
                    "mae": float(
                        np.mean(np.abs(estimator.predict(features[test]) - y[test]))
                    )
                }
            else:
                proba = estimator.predict_proba(features[test])[:, 1]
                score = {"roc_auc": float(roc_auc_score(y[test], proba))}
            print(
                json.dumps(
                    {
                        **common,
                        "target": target,
                        "n_train": size,
                        **{k: round(v, 4) for k, v in score.items()},
                        "commit": commit(),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
