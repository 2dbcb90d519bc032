"""``molmat compare``: several models on identical splits, a table and a bar plot."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, comparison_table
from molmat.cli.train import (
    MODEL_HELP,
    add_run_arguments,
    model_names,
    run_params,
    seed_list,
)
from molmat.tasks.compare import compare_models


def add_parser(sub):
    p = sub.add_parser(
        "compare",
        formatter_class=HelpFormatter,
        description="Train every model with every seed on the same splits (a seed "
        "fixes a random, scaffold or k-fold split; scaffold-deterministic splits "
        "do not depend on it) and write OUT/<model>/"
        "seed_<s>/ run folders, comparison.csv/.json (test metrics mean ± std) "
        "and comparison.png (bar plot). Takes every option of `molmat train`; "
        "with --init every model trains from scratch and from the pretrained "
        "encoder, side by side.",
    )
    p.add_argument(
        "--models",
        type=model_names,
        required=True,
        metavar="NAME[,NAME...]",
        help=MODEL_HELP,
    )
    p.add_argument(
        "--seeds",
        type=seed_list,
        default=[0, 1, 2],
        metavar="S[,S...]",
        help="seeds of split and training",
    )
    add_run_arguments(p)
    p.add_argument("--out", required=True, help="folder to write")
    return p


def run(args) -> int:
    summary = compare_models(
        args.data, args.out, args.models, args.seeds, **run_params(args)
    )
    print()
    print(comparison_table(summary))
    print(f"\ncomparison.csv, comparison.png and run folders in {args.out}")
    return 0
