"""MOFs: self-supervised pretraining on CoRE MOF 2019, then learning curves.

Stage 1 pretrains a crystal encoder (``--model``, ``--objective``) on every
usable CIF of the CoRE MOF 2019 tarball, without labels
(:func:`molmat.tasks.crystal_pretrain.pretrain_crystals`; ``--time-limit``
minutes at most), and prints one JSON line: structures used, wall and
training seconds, structures and atoms per second, final validation loss.

Stage 2 fine-tunes on LCD, PLD, accessible surface area (m²/g) and void
fraction (one multitask model per size) at ``--sizes`` labelled MOFs, from
the pretrained encoder and from scratch, beside a random forest on
``magpie-structure`` descriptors, all on identical nested training sets and
one fixed test set of ``--test-size`` MOFs
(:func:`molmat.tasks.learning_curve.learning_curve_run`); then open metal
sites (``Has_OMS``, 0/1) the same way. One JSON line per target, variant and
size: test MAE (ROC-AUC for Has_OMS), and the ratio pretrained / scratch.
Every stage resumes where it stopped (run folders under ``--out``).

    python benchmarks/mof_pretrain.py --mofs ../shared/data/materials/mof
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from provenance import commit

from molmat.tasks.crystal_pretrain import pretrain_crystals
from molmat.tasks.learning_curve import learning_curve_run

TARGETS = ["LCD", "PLD", "ASA_m2_g", "AV_VF"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mofs", default="../shared/data/materials/mof")
    parser.add_argument("--out", default="runs/bench-mof")
    parser.add_argument("--model", default="painn")
    parser.add_argument("--objective", default="denoise")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--cutoff", type=float, default=4.0)
    parser.add_argument("--time-limit", type=float, default=60.0, help="minutes")
    parser.add_argument("--pretrain-epochs", type=int)
    parser.add_argument("--sizes", default="100,500,2000")
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--stage", choices=["pretrain", "curves", "all"], default="all")
    args = parser.parse_args()
    folder, out = Path(args.mofs), Path(args.out)
    cifs = folder / "core_mof_2019_asr_cifs.tar.xz"
    encoder = {"hidden": args.hidden, "depth": args.depth, "cutoff": args.cutoff}
    common = {
        "benchmark": "mof_pretrain",
        "dataset": "CoRE MOF 2019 (ASR)",
        "model": f"molmat {args.model}",
        **encoder,
    }
    if args.stage in ("pretrain", "all"):
        pre = out / "pretrain"
        summary = pretrain_crystals(
            cifs,
            pre,
            model=args.model,
            objective=args.objective,
            epochs=args.pretrain_epochs,
            time_limit=args.time_limit,
            resume=pre.exists(),
            progress=False,
            **encoder,
        )
        keys = (
            "n_used",
            "n_train",
            "epochs_run",
            "passes",
            "train_seconds",
            "fit_seconds",
            "structures_per_second",
            "atoms_per_second",
            "val_loss",
            "val_explained_variance",
            "val_accuracy",
        )
        print(
            json.dumps(
                {
                    **common,
                    "stage": "pretrain",
                    "objective": args.objective,
                    **{k: summary[k] for k in keys if k in summary},
                    "commit": commit(),
                }
            ),
            flush=True,
        )
    if args.stage in ("curves", "all"):
        labels = out / "labels.csv"
        table = pd.read_csv(folder / "core_mof_2019_asr.csv.gz", encoding="latin-1")
        table["Has_OMS"] = (table["Has_OMS"] == "Yes").astype(float)
        out.mkdir(parents=True, exist_ok=True)
        table[["filename", *TARGETS, "Has_OMS"]].to_csv(labels, index=False)
        sizes = [int(s) for s in args.sizes.split(",")]
        for name, targets in (
            ("properties", TARGETS),
            ("open_metal_sites", ["Has_OMS"]),
        ):
            curve = out / name
            points = learning_curve_run(
                cifs,
                curve,
                sizes=sizes,
                model=args.model,
                targets=targets,
                labels=labels,
                init=out / "pretrain",
                test_size=args.test_size,
                resume=curve.exists(),
                epochs=args.epochs,
                progress=False,
                **encoder,
            )
            report(points, targets, common)


def report(points: list[dict], targets: list[str], common: dict) -> None:
    """One JSON line per target, size and variant, with pretrained/scratch."""
    for target in targets:
        by = {
            (p["variant"], p["size"]): p["test"]["per_target"][target] for p in points
        }
        for (variant, size), scores in by.items():
            metric = "mae" if "mae" in scores else "roc_auc"
            line = {
                **common,
                "stage": "curve",
                "target": target,
                "variant": variant,
                "n_train": size,
                metric: round(scores[metric], 4),
            }
            scratch = by.get(("scratch", size))
            if variant == "pretrained" and scratch is not None and metric == "mae":
                line["ratio_to_scratch"] = round(scores[metric] / scratch[metric], 3)
            print(json.dumps({**line, "commit": commit()}), flush=True)


if __name__ == "__main__":
    main()
