"""Self-supervised pretraining on MOSES, then fine-tuning against training from scratch.

Two phases, each printing one JSON line per result:

``pretrain``: pretrain an encoder on MOSES train (1.58M SMILES) within a
time budget, resumable; reports molecules/s and the time a full pass takes::

    python benchmarks/pretrain.py pretrain --model gin --objective masking \\
        --minutes 240 --out runs/bench-pre/gin-mask [--resume]

``finetune``: the same architecture and settings trained from scratch and
from the pretrained encoder on identical splits: BBBP, BACE, ClinTox and
Tox21 (scaffold splits, seeds 0-2; RF on Morgan bits beside BACE) and ESOL
with 50/100/200/all training molecules (random splits, seeds 0-2; the small
sizes validate on an eighth of their size and train with batches of 16 for up
to 100 epochs)::

    python benchmarks/pretrain.py finetune --init runs/bench-pre/gin-mask \\
        --model gin [--sets bbbp,bace] [--sizes 50,100,200,all]

MOSES data: the ``molsets`` package or MOLMAT_MOSES_DIR.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from provenance import commit

from molmat.data.csv import read_molecules
from molmat.tasks.runs import build_model, make_splits, target_units

CLASSIFICATION = ("bbbp", "bace", "clintox", "tox21")
SIZES = ("50", "100", "200", "all")
SMALL_DATA = {"batch_size": 16, "epochs": 100, "patience": 20}


def emit(**fields) -> None:
    print(
        json.dumps({"benchmark": "pretrain", **fields, "commit": commit()}), flush=True
    )


def pretrain(args) -> None:
    from molmat.tasks.pretrain import GRAPH_LAYERS, pretrain_graphs, pretrain_sequences

    common = dict(time_limit=args.minutes, resume=args.resume, progress=not args.quiet)
    if args.model in GRAPH_LAYERS:
        summary = pretrain_graphs(
            "moses",
            args.out,
            model=args.model,
            objective=args.objective,
            hidden=args.hidden,
            depth=args.depth,
            epochs=args.epochs,
            **common,
        )
    else:
        summary = pretrain_sequences(
            "moses",
            args.out,
            model=args.model,
            hidden=args.hidden,
            depth=args.depth,
            epochs=args.epochs or 1000,
            **common,
        )
    emit(
        phase="pretrain",
        model=args.model,
        hidden=args.hidden,
        depth=args.depth,
        **summary,
        full_pass_hours=summary["n_train"] / summary["molecules_per_second"] / 3600,
    )


def fit_and_score(table, split, seed, model_name, params, size=None) -> dict:
    ((train, val, test),) = make_splits(table, split, seed)
    if size is not None:  # few labels: smaller batches, more epochs, so a
        # 50-molecule run still takes ~400 optimiser steps rather than 50
        train = np.random.default_rng([seed, 11]).permutation(train)[:size]
        val = val[: max(size // 8, 5)]
        params = {**params, **SMALL_DATA}
    model = build_model(model_name, seed=seed, **params, progress=False)
    pick = lambda idx: [table.smiles[i] for i in idx]  # noqa: E731
    tick = time.perf_counter()
    model.fit(pick(train), table.y[train], X_val=pick(val), y_val=table.y[val])
    scores = model.score_molecules(pick(test), table.y[test])
    keys = ("rmse", "mae", "r2") if model.task_ == "regression" else ("roc_auc",)
    return {
        "n_train": len(train),
        "wall_s": round(time.perf_counter() - tick, 1),
        **{f"test_{k}": round(float(scores[k]), 4) for k in keys},
    }


def draw_learning_curves(results: list[dict], folder: str) -> None:
    """Test metric against labelled molecules, scratch against pretrained, one
    PNG per regression set (mean and standard deviation over the seeds)."""
    from molmat.training.plots import size_curve

    for name in sorted({r["dataset"] for r in results}):
        runs = [r for r in results if r["dataset"] == name]
        points = []
        for variant, size in sorted({(r["variant"], r["n_train"]) for r in runs}):
            values = [
                r["test_rmse"]
                for r in runs
                if (r["variant"], r["n_train"]) == (variant, size)
            ]
            points.append(
                {
                    "size": size,
                    "rmse": float(np.mean(values)),
                    "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                    "label": variant,
                }
            )
        path = Path(folder) / f"finetune_{name}.png"
        units = target_units(name, "regression")
        size_curve(points, path, "rmse", units, f"{name}, mean ± sd over seeds")
        print(f"learning curve: {path}", file=sys.stderr)


def finetune(args) -> None:
    graph = {"hidden": args.hidden, "depth": args.depth, "epochs": args.ft_epochs}
    # the same network both ways: the pretrained encoder's settings (batch
    # norm included) win over the options, so scratch names them explicitly
    same = {"layer": args.model, "norm": "batch"}
    variants = {
        "scratch": (same, {}),
        "pretrained": (
            args.model,
            {"init": args.init, "layer_lr_decay": args.layer_lr_decay},
        ),
    }
    curves: list[dict] = []
    for name in args.sets.split(","):
        table = read_molecules(name)
        for seed in (0, 1, 2):
            if name in CLASSIFICATION:
                runs = [(None, "scaffold")]
            else:
                runs = [(None if s == "all" else int(s), "random") for s in args.sizes]
            for size, split in runs:
                for variant, (model, extra) in variants.items():
                    result = fit_and_score(
                        table, split, seed, model, {**graph, **extra}, size
                    )
                    if "test_rmse" in result:
                        curves.append({"dataset": name, "variant": variant, **result})
                    emit(
                        phase="finetune",
                        dataset=name,
                        split=split,
                        seed=seed,
                        model=args.model,
                        variant=variant,
                        train_size=size or "all",
                        init=args.init if variant == "pretrained" else None,
                        **result,
                    )
                if name == "bace":
                    rf = fit_and_score(table, split, seed, "rf", {"features": "morgan"})
                    emit(
                        phase="finetune",
                        dataset=name,
                        split=split,
                        seed=seed,
                        model="rf/morgan",
                        variant="baseline",
                        train_size="all",
                        **rf,
                    )

    if curves:
        draw_learning_curves(curves, args.init)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("phase", choices=["pretrain", "finetune"])
    p.add_argument("--model", default="gin")
    p.add_argument("--objective", default="masking")
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--epochs", type=int, help="pretraining epochs (shards)")
    p.add_argument("--minutes", type=float, help="pretraining time budget")
    p.add_argument("--out", help="pretraining run folder")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", help="pretrained encoder (finetune)")
    p.add_argument("--sets", default="bbbp,bace,clintox,tox21,esol")
    p.add_argument("--sizes", type=lambda s: s.split(","), default=list(SIZES))
    p.add_argument("--ft-epochs", type=int, default=50)
    p.add_argument("--layer-lr-decay", type=float, default=1.0)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    pretrain(args) if args.phase == "pretrain" else finetune(args)


if __name__ == "__main__":
    main()
