"""Property-prediction benchmark: ESOL and AqSolDB with the default D-MPNN.

Prints one JSON line per run: dataset, split, seed, model, test RMSE/MAE/R²,
training wall seconds (compilation included, featurisation excluded, as in
the chemprop figures of BASELINES.md), molecules per second per epoch after
compilation, the number of compilations, and ``molecules_per_second_wall``
(training molecules × epochs run / training wall seconds).

With ``--chemprop`` (the Python or the ``chemprop`` script of a separate
chemprop v2 venv), each run is followed by chemprop's D-MPNN trained by its
CLI defaults on the very same train/val/test molecules, written to CSV files
in a temporary folder; its test predictions (``chemprop predict`` with the
best-validation model) are scored by the same molmat code. One JSON line per
chemprop run follows each molmat line; at the end, one summary line per
dataset:split gives the mean ± std (ddof=1) of test RMSE over seeds for both
and the ratio of their mean ``molecules_per_second_wall``. Runs are sequential.

    python benchmarks/property.py                 # the five runs of the issue
    python benchmarks/property.py --runs esol:random:0 --model gcn
    python benchmarks/property.py --runs esol:random:0 esol:random:1 \\
        esol:random:2 --chemprop /work/chemprop-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from molmat import PropertyModel
from molmat.data.csv import MoleculeTable, read_molecules
from molmat.featurizers.graph import featurize_cached
from molmat.tasks.runs import make_splits
from molmat.training.metrics import score

RUNS = (
    "esol:random:0",
    "esol:random:1",
    "esol:random:2",
    "esol:scaffold:0",
    "aqsoldb:scaffold:0",
)
CHEMPROP_REFERENCE = Path(__file__).with_name("chemprop_reference.py")
CHEMPROP_TIMING_NOTE = (
    "train_seconds times the whole `chemprop train` subprocess: Python start-up "
    "and imports, featurisation, Lightning's sanity check, every epoch's "
    "validation, the test-set evaluation and checkpoint saving; "
    "molecules_per_second_wall = n_train * epochs_run / train_seconds. "
    "fit_seconds is Lightning's Trainer.fit alone (training, per-epoch "
    "validation and sanity check); molecules_per_second_fit uses it."
)
Splits = tuple[np.ndarray, np.ndarray, np.ndarray]


def run_one(
    dataset: str,
    split: str,
    seed: int,
    params: dict,
    table: MoleculeTable,
    parts: Splits,
) -> dict:
    train, val, test = parts
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
    epochs = len(model.history_.records)
    return {
        "dataset": dataset,
        "split": split,
        "seed": seed,
        "model": model.model,
        "hidden": model.hidden,
        "epochs": epochs,
        "best_epoch": model.history_.best_epoch,
        "n_train": len(train),
        "test_rmse": round(test_metrics["rmse"], 4),
        "test_mae": round(test_metrics["mae"], 4),
        "test_r2": round(test_metrics["r2"], 4),
        "train_wall_s": round(wall, 2),
        "featurize_s": round(featurize_seconds, 2),  # 0 when already cached
        "mol_per_s_per_epoch": round(float(np.median(after_compile)), 1),
        "compilations": model.history_.compilations,
        # model.fit wall: compilation and per-epoch validation included,
        # featurisation (done above) and imports excluded.
        "molecules_per_second_wall": round(len(train) * epochs / wall, 1),
    }


def chemprop_python(exe: str) -> Path:
    """The Python of a chemprop venv, given that Python or its ``chemprop`` script."""
    path = Path(exe).expanduser()
    if not path.exists() and shutil.which(exe):
        path = Path(shutil.which(exe))
    if not path.is_file():
        raise SystemExit(f"--chemprop: {exe} is not a file")
    path = path.absolute()  # not resolve(): a venv's python is a symlink
    if path.name.startswith("python"):
        return path
    if (path.parent / "python").is_file():
        return path.parent / "python"
    first = path.read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    if first.startswith("#!"):
        return Path(first[2:].split()[0])
    raise SystemExit(f"--chemprop: cannot find the Python that runs {path}")


def call_chemprop(python: Path, args: list[str], folder: Path, name: str) -> float:
    """Run chemprop via ``chemprop_reference.py``; wall seconds. Raises on failure."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    log = folder / f"{name}.log"
    timing = folder / f"{name}.timing.json"
    with open(log, "w") as out:
        tick = time.perf_counter()
        done = subprocess.run(
            [str(python), str(CHEMPROP_REFERENCE), str(timing), *args],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
        wall = time.perf_counter() - tick
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"chemprop {name} failed ({done.returncode}):\n{tail}")
    return wall


def run_chemprop(
    dataset: str,
    split: str,
    seed: int,
    python: Path,
    epochs: int | None,
    table: MoleculeTable,
    parts: Splits,
) -> dict:
    """chemprop's CLI defaults on molmat's train/val/test molecules, scored here."""
    train, val, test = parts
    columns = [f"target_{j}" for j in range(table.y.shape[1])]
    options = ["--task-type", "regression", "--pytorch-seed", str(seed)]
    options += ["--data-seed", str(seed), "--accelerator", "cpu", "--devices", "1"]
    options += ["--num-workers", "0"]
    if epochs:
        options += ["--epochs", str(epochs)]
    with tempfile.TemporaryDirectory(prefix="molmat-chemprop-") as tmp:
        folder = Path(tmp)
        for name, idx in (("train", train), ("val", val), ("test", test)):
            frame = pd.DataFrame({"smiles": [table.smiles[i] for i in idx]})
            for j, column in enumerate(columns):
                frame[column] = table.y[idx, j]
            frame.to_csv(folder / f"{name}.csv", index=False)
        test_smiles = pd.DataFrame({"smiles": [table.smiles[i] for i in test]})
        test_smiles.to_csv(folder / "test_smiles.csv", index=False)
        data = ["train.csv", "val.csv", "test.csv"]
        train_seconds = call_chemprop(
            python,
            ["train", "--data-path", *data, "--smiles-columns", "smiles"]
            + ["--target-columns", *columns, "--output-dir", "out", *options],
            folder,
            "train",
        )
        timing = json.loads((folder / "train.timing.json").read_text())
        (best,) = (folder / "out").glob("**/model_0/best.pt")
        call_chemprop(
            python,
            ["predict", "--test-path", "test_smiles.csv", "--smiles-columns", "smiles"]
            + ["--model-paths", str(best), "--output", "preds.csv"]
            + ["--accelerator", "cpu", "--devices", "1", "--num-workers", "0"],
            folder,
            "predict",
        )
        pred = pd.read_csv(folder / "preds.csv")[columns].to_numpy(dtype=float)
    test_metrics = score("regression", table.y[test], pred, table.target_names)
    (fit,) = timing["fits"]
    epochs_run = fit["epochs"]
    return {
        "dataset": dataset,
        "split": split,
        "seed": seed,
        "model": "chemprop D-MPNN",
        "chemprop_version": timing["chemprop_version"],
        "torch_version": timing["torch_version"],
        "torch_threads": timing["torch_threads"],
        "options": " ".join(options),
        "epochs": epochs_run,
        "n_train": len(train),
        "test_rmse": round(test_metrics["rmse"], 4),
        "test_mae": round(test_metrics["mae"], 4),
        "test_r2": round(test_metrics["r2"], 4),
        "train_seconds": round(train_seconds, 2),
        "fit_seconds": round(fit["seconds"], 2),
        "molecules_per_second_wall": round(len(train) * epochs_run / train_seconds, 1),
        "molecules_per_second_fit": round(len(train) * epochs_run / fit["seconds"], 1),
        "timing_note": CHEMPROP_TIMING_NOTE,
    }


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof=1; ``None`` for one value)."""
    std = round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else None
    return round(float(np.mean(values)), 4), std


def summary(dataset: str, split: str, results: list[dict]) -> dict:
    """Test RMSE over seeds for molmat (and chemprop); their throughput ratio."""
    mine = [r for r in results if r["model"] != "chemprop D-MPNN"]
    theirs = [r for r in results if r["model"] == "chemprop D-MPNN"]
    out: dict = {"dataset": dataset, "split": split, "summary": "mean_over_seeds"}
    out["model"] = mine[0]["model"]
    out["test_rmse_mean"], out["test_rmse_std"] = mean_std(
        [r["test_rmse"] for r in mine]
    )
    out["n_seeds"] = len(mine)
    if theirs:
        out["chemprop_test_rmse_mean"], out["chemprop_test_rmse_std"] = mean_std(
            [r["test_rmse"] for r in theirs]
        )
        out["chemprop_n_seeds"] = len(theirs)
        wall = np.mean([r["molecules_per_second_wall"] for r in mine])
        for key in ("molecules_per_second_wall", "molecules_per_second_fit"):
            speed = np.mean([r[key] for r in theirs])
            out[f"chemprop_{key}_mean"] = round(float(speed), 1)
            # molmat's model.fit wall against chemprop's subprocess wall (_wall)
            # or against its Trainer.fit alone (_fit).
            out[f"throughput_ratio_{key.rsplit('_', 1)[1]}"] = round(
                float(wall / speed), 2
            )
        out["molecules_per_second_wall_mean"] = round(float(wall), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", nargs="+", default=list(RUNS), help="dataset:split:seed triples"
    )
    parser.add_argument("--model", default="mpnn", help="mpnn or gcn")
    parser.add_argument(
        "--epochs", type=int, help="override the default epochs (chemprop's too)"
    )
    parser.add_argument(
        "--chemprop",
        metavar="PYTHON_OR_CHEMPROP_EXE",
        help="the python or chemprop of a chemprop v2 venv: train chemprop "
        "on the same splits after each run (default: no chemprop)",
    )
    args = parser.parse_args()
    python = chemprop_python(args.chemprop) if args.chemprop else None
    if python is not None and args.epochs and args.epochs <= 2:
        parser.error("chemprop needs more epochs than its 2 warm-up epochs")
    params = {"model": args.model}
    if args.epochs:
        params["epochs"] = args.epochs
    results = []
    for spec in args.runs:
        dataset, split, seed = spec.split(":")
        table = read_molecules(dataset)
        ((train, val, test),) = make_splits(table, split, int(seed))
        parts = (train, val, test)
        result = run_one(dataset, split, int(seed), params, table, parts)
        results.append(result)
        print(json.dumps(result), flush=True)
        if python is not None:
            result = run_chemprop(
                dataset, split, int(seed), python, args.epochs, table, parts
            )
            results.append(result)
            print(json.dumps(result), flush=True)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["dataset"], r["split"]), []).append(r)
    for (dataset, split), group in groups.items():
        print(json.dumps(summary(dataset, split, group)), flush=True)


if __name__ == "__main__":
    main()
