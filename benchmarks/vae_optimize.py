"""SELFIES VAE on MOSES within a CPU time budget, then penalised-logP search.

Trains a :class:`~molmat.generate.vae.VAE` on ``--n-train`` MOSES train
molecules for ``--minutes`` of wall time (the archive is kept in ``--out``:
a rerun skips training), samples ``--n`` molecules from the prior (validity,
unique@n, FCD against ``--n-test`` MOSES test molecules), then optimises
penalised logP in the latent space and reports the top-3 scores and the
number of objective calls. One JSON line per phase::

    MOLMAT_MOSES_DIR=... python benchmarks/vae_optimize.py --out runs/bench-vae

Reference: JT-VAE's top-3 penalised logP 5.30 / 4.93 / 4.49 (You et al.
2018, GCPN, Table 1).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from provenance import commit


def emit(**fields) -> None:
    line = {"benchmark": "vae_optimize", "dataset": "moses", "commit": commit()}
    print(json.dumps({**line, **fields}), flush=True)


def train(args, smiles: list[str]):
    from molmat.generate.vae import VAE

    vae = VAE(
        embed=args.embed,
        hidden=args.hidden,
        layers=args.layers,
        encoder_hidden=args.encoder_hidden,
        latent=args.latent,
        word_dropout=args.word_dropout,
        beta=args.beta,
        kl_anneal_epochs=args.anneal,
        epochs=1000,
        epoch_size=args.epoch_size,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=None,
        time_limit=args.minutes,
        progress=not args.quiet,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    return vae.fit(
        smiles, val_size=args.val_size, metrics_log=args.out / "metrics.jsonl"
    )


def generation_metrics(vae, args) -> dict:
    from molmat.data.moses import read_moses
    from molmat.generate import fcd
    from molmat.generate.metrics import unique_at, validity
    from molmat.generate.optimize import canonical

    samples = vae.sample(args.n, seed=args.seed)
    valid = [s for s in canonical(samples) if s]
    metrics = {
        "validity": validity(samples),
        f"unique@{args.n}": unique_at(valid, args.n),
    }
    if fcd.available():
        test = read_moses("test")
        test = [test[i] for i in np.random.default_rng(0).permutation(len(test))]
        metrics["fcd_test"] = fcd.frechet_distance(
            *fcd.fcd_statistics(valid), *fcd.fcd_statistics(test[: args.n_test])
        )
    return metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-train", type=int, default=50_000)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--encoder-hidden", type=int, default=128)
    p.add_argument("--latent", type=int, default=64)
    p.add_argument("--word-dropout", type=float, default=0.1)
    p.add_argument("--beta", type=float, default=0.5)
    p.add_argument("--anneal", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epoch-size", type=int, default=10_000)
    p.add_argument("--val-size", type=int, default=1000)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--n-test", type=int, default=10_000)
    p.add_argument("--starts", type=int, default=100)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--step-size", type=float, default=0.2)
    p.add_argument("--trust", type=float, default=3.0)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--restart", type=float, default=0.5)
    p.add_argument("--pool", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--optimise-only", action="store_true")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()

    from molmat.data.moses import read_moses
    from molmat.generate.optimize import optimize_latent
    from molmat.tasks.archives import load

    tick = time.perf_counter()
    moses = read_moses("train")
    pick = np.random.default_rng(args.seed).permutation(len(moses))[: args.n_train]
    smiles = [moses[i] for i in np.sort(pick)]
    model_dir = args.out / "model"
    if (model_dir / "config.json").exists():
        vae = load(model_dir)
    else:
        vae = train(args, smiles)
        vae.save(model_dir)
    history = vae.history_
    common = {"n_train": len(smiles), "params": vae.get_params()}
    if not args.optimise_only:
        emit(
            phase="generation",
            **common,
            train_minutes=history.wall_seconds / 60,
            epochs_run=len(history.records),
            val_elbo=history.records[-1].get("val_loss") if history.records else None,
            metrics=generation_metrics(vae, args),
            wall_s=time.perf_counter() - tick,
        )
    tick = time.perf_counter()
    result = optimize_latent(
        vae,
        "plogp",
        smiles,
        n_starts=args.starts,
        steps=args.steps,
        lr=args.step_size,
        trust=args.trust,
        samples=args.samples,
        restart=args.restart,
        n_pool=args.pool,
        seed=args.seed,
        progress=not args.quiet,
    )
    emit(
        phase="optimisation",
        objective="plogP",
        **common,
        top3=result.scores[:3].tolist(),
        top3_smiles=result.smiles[:3],
        start_best=result.start_best,
        objective_calls=result.objective_calls,
        trajectory=result.trajectory,
        wall_s=time.perf_counter() - tick,
    )


if __name__ == "__main__":
    main()
