"""Sequence models on peptides and proteins against a k-mer composition baseline.

Data (dmol-book, CC BY-NC; read from ../shared/data/molecules/):

* ``hemolytic_peptides.csv.gz``: 634 peptides, hemolytic or not; random
  80/10/10 splits with seeds 0, 1, 2.
* ``protein_solubility_dmol.npz``: 18,453 proteins (soluble or not),
  integer-encoded residues (0 = padding, 1..20 read as ``ARNDCQEGHILKMFPSTWYV``,
  the book's alphabet; the map is a bijection, so every model sees the same
  sequences whatever the true letters); random 80/10/10 split, seed 0.

Every model trains on the identical split. The baselines are a random forest
and a logistic regression on k-mer composition (frequencies of every 1-, 2-
and 3-mer, 8,420 columns). One JSON line per (dataset, seed, model): test
accuracy and ROC-AUC, training wall seconds, sequences per second. The
neural models keep the epoch of lowest validation log-loss (``--select-by``).

    python benchmarks/sequences.py                        # everything
    python benchmarks/sequences.py --datasets peptides --models cnn1d,kmer-rf
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import commit
from scipy import sparse
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

from molmat.data.splits import random_split
from molmat.tasks.sequence import SequenceModel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "molecules"
ALPHABET = "ARNDCQEGHILKMFPSTWYV"
SEEDS = {"peptides": (0, 1, 2), "proteins": (0,)}
NEURAL = {
    "cnn1d": dict(hidden=128, depth=3, kernel=7),
    "gru": dict(hidden=64, depth=1),
    "transformer": dict(hidden=64, depth=2, heads=4),
}
BASELINES = ("kmer-rf", "kmer-logistic")


def load(name: str) -> tuple[list[str], np.ndarray]:
    """Sequences and 0/1 labels of a dataset."""
    if name == "peptides":
        frame = pd.read_csv(SHARED / "hemolytic_peptides.csv.gz")
        return list(frame.sequence), frame.hemolytic.to_numpy(np.float32)
    arrays = np.load(SHARED / "protein_solubility_dmol.npz")
    letters = np.array(["", *ALPHABET])
    sequences, labels = [], []
    for key, label in (("positives", 1.0), ("negatives", 0.0)):
        for row in arrays[key]:
            sequences.append("".join(letters[row[row > 0]]))
            labels.append(label)
    return sequences, np.asarray(labels, np.float32)


def kmer_features(sequences: list[str], k_max: int = 3) -> sparse.csr_matrix:
    """Frequencies of every k-mer (k = 1..k_max) of the 20 amino acids."""
    vocab = {
        "".join(p): i
        for i, p in enumerate(
            p
            for k in range(1, k_max + 1)
            for p in itertools.product(ALPHABET, repeat=k)
        )
    }
    rows, cols, vals = [], [], []
    for r, seq in enumerate(sequences):
        for k in range(1, k_max + 1):
            n = max(len(seq) - k + 1, 1)
            for i in range(len(seq) - k + 1):
                col = vocab.get(seq[i : i + k])
                if col is not None:
                    rows.append(r)
                    cols.append(col)
                    vals.append(1.0 / n)
    return sparse.csr_matrix(
        (vals, (rows, cols)), shape=(len(sequences), len(vocab)), dtype=np.float32
    )


def run_one(name, sequences, y, seed, model_name, epochs, select_by) -> dict:
    train, val, test = random_split(len(y), seed)
    pick = lambda idx: [sequences[i] for i in idx]  # noqa: E731
    tick = time.perf_counter()
    if model_name in BASELINES:
        features = kmer_features(sequences)
        if model_name == "kmer-rf":
            model = RandomForestClassifier(500, n_jobs=2, random_state=seed)
        else:
            model = LogisticRegression(C=10.0, max_iter=2000)
        model.fit(features[train], y[train])
        prob = model.predict_proba(features[test])[:, 1]
        extra = {}
    else:
        model = SequenceModel(
            model=model_name,
            tokens="aa",
            epochs=epochs,
            batch_size=64,
            dropout=0.1,
            patience=10,
            select_by=select_by,
            seed=seed,
            progress=False,
            **NEURAL[model_name],
        )
        model.fit(pick(train), y[train], X_val=pick(val), y_val=y[val])
        prob = model.predict_proba(pick(test))
        history = model.history_
        extra = {
            "epochs_run": len(history.records),
            "best_epoch": history.best_epoch,
            "sequences_per_s": round(
                len(train) * len(history.records) / max(history.train_seconds, 1e-9),
                1,
            ),
            "select_by": select_by,
            **NEURAL[model_name],
        }
    wall = time.perf_counter() - tick
    return {
        "benchmark": "sequences",
        "dataset": name,
        "split": "random 80/10/10",
        "seed": seed,
        "model": model_name,
        "n_train": len(train),
        "n_test": len(test),
        "test_accuracy": round(float(accuracy_score(y[test], prob >= 0.5)), 4),
        "test_roc_auc": round(float(roc_auc_score(y[test], prob)), 4),
        "wall_s": round(wall, 1),
        **extra,
        "commit": commit(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="peptides,proteins")
    p.add_argument("--models", default=",".join([*NEURAL, *BASELINES]))
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument(
        "--select-by",
        default="loss",
        choices=["metric", "loss"],
        help="best epoch by validation log-loss (default) or ROC-AUC",
    )
    args = p.parse_args()
    for name in args.datasets.split(","):
        sequences, y = load(name)
        for seed in SEEDS[name]:
            for model_name in args.models.split(","):
                result = run_one(
                    name, sequences, y, seed, model_name, args.epochs, args.select_by
                )
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
