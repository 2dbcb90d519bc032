"""MOSES benchmark of molmat's generators within a CPU time budget.

Trains a generator on MOSES train for ``--minutes`` of wall time (resumable:
rerun with ``--resume`` after an interruption), keeps a snapshot of the
parameters every ``--snapshot-minutes``, samples ``--n`` molecules and scores
them with every MOSES metric against test and scaffold-test. The FCD of each
snapshot (``--n-curve`` samples against test) measures how FCD falls with
training time. One JSON line per result::

    python benchmarks/generation.py --model rnn --tokens smiles --minutes 120 \\
        --out runs/bench-gen/rnn-smiles [--resume]

MOSES data: the ``molsets`` package (pip install --no-deps molsets) or
MOLMAT_MOSES_DIR pointing at a folder with train/test/test_scaffolds.csv.gz.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from provenance import commit

from molmat.training.engine import Callback
from molmat.training.serialization import load_npz, save_npz, tree_to_arrays


class Snapshots(Callback):
    """Save the parameters after the first epoch that passes each multiple
    of ``minutes`` of training wall time."""

    def __init__(self, folder: Path, minutes: float):
        self.folder, self.minutes = folder, minutes

    def on_epoch_end(self, loop, record):
        done = loop.history.wall_seconds / 60
        mark = int(done // self.minutes) * self.minutes
        path = self.folder / f"t{mark:06.1f}.npz"
        if mark > 0 and not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            save_npz(path, tree_to_arrays(loop.best_model()))
        return None


def emit(**fields) -> None:
    print(
        json.dumps({"benchmark": "generation", "commit": commit(), **fields}),
        flush=True,
    )


def build(args):
    from molmat.generate.runs import make_generator

    params = dict(
        tokens=args.tokens,
        epochs=args.epochs,
        epoch_size=args.epoch_size,
        batch_size=args.batch_size,
        lr=args.lr,
        time_limit=args.minutes,
        patience=None,
        layers=args.layers,
        progress=not args.quiet,
    )
    if args.model == "transformer":
        return make_generator("transformer", width=args.hidden, heads=8, **params)
    params.update(cell=args.cell, hidden=args.hidden)
    if args.model == "vae":  # no property head: RDKit scores of 1.6M molecules
        return make_generator("vae", latent=args.latent, properties=(), **params)
    return make_generator("rnn", **params)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["rnn", "transformer", "vae"], default="rnn")
    p.add_argument("--latent", type=int, default=64, help="vae latent size")
    p.add_argument("--tokens", choices=["smiles", "selfies"], default="smiles")
    p.add_argument("--cell", default="gru")
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--epoch-size", type=int, default=100_000)
    p.add_argument("--minutes", type=float, default=120.0)
    p.add_argument("--snapshot-minutes", type=float, default=15.0)
    p.add_argument("--n", type=int, default=30_000)
    p.add_argument("--n-curve", type=int, default=10_000)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--train-only", action="store_true")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()

    from molmat.data.moses import read_moses

    args.out.mkdir(parents=True, exist_ok=True)
    model_dir = args.out / "model"
    if (model_dir / "config.json").exists():
        from molmat.tasks.archives import load

        lm = load(model_dir)
    else:
        train = read_moses("train")
        lm = build(args)
        tick = time.perf_counter()
        lm.fit(
            train,
            checkpoint_dir=args.out,
            metrics_log=args.out / "metrics.jsonl",
            resume=args.resume,
            callbacks=[Snapshots(args.out / "snapshots", args.snapshot_minutes)],
        )
        records = lm.history_.records
        emit(
            phase="train",
            model=args.model,
            tokens=args.tokens,
            params=lm.get_params(),
            n_train=lm.n_train_,
            epochs_run=len(records),
            stopped_by=lm.history_.stopped_by,
            train_minutes=lm.history_.wall_seconds / 60,
            tokens_per_second=float(
                np.median([r["tokens_per_second"] for r in records])
            ),
            val_nll=records[-1].get("val_loss"),
            wall_s=time.perf_counter() - tick,
        )
        lm.save(model_dir)
    if args.train_only:
        return
    sample_and_score(lm, args)


def sample_and_score(lm, args) -> None:
    from molmat.generate import metrics

    lm.progress = not args.quiet
    lm.sample(2000, seed=99)  # compile
    tick = time.perf_counter()
    generated = lm.sample(args.n, temperature=args.temperature, seed=0)
    seconds = time.perf_counter() - tick
    emit(
        phase="sample",
        model=args.model,
        tokens=args.tokens,
        n=args.n,
        wall_s=seconds,
        molecules_per_second=args.n / seconds,
    )
    (args.out / "generated.smi").write_text("\n".join(generated) + "\n")
    tick = time.perf_counter()
    scores = metrics.moses_metrics(generated, "moses", progress=not args.quiet)
    emit(
        phase="metrics",
        model=args.model,
        tokens=args.tokens,
        n=args.n,
        metrics=scores,
        metric_wall_s=time.perf_counter() - tick,
    )
    curve(lm, args)


def curve(lm, args) -> None:
    """FCD/Test of samples from each snapshot: FCD against training time."""
    from molmat.generate import fcd
    from molmat.training.serialization import arrays_to_tree

    if not fcd.available():
        return
    from molmat.data.moses import read_moses

    test = fcd.fcd_statistics(read_moses("test"))
    for path in sorted((args.out / "snapshots").glob("t*.npz")):
        lm.net_ = arrays_to_tree(lm.net_, load_npz(path))
        smiles = [s for s in lm.sample(args.n_curve, seed=1) if s]
        mu, sigma = fcd.fcd_statistics(smiles)
        emit(
            phase="fcd_curve",
            model=args.model,
            tokens=args.tokens,
            train_minutes=float(path.stem[1:]),
            n=args.n_curve,
            fcd_test=fcd.frechet_distance(mu, sigma, *test),
        )


if __name__ == "__main__":
    main()
