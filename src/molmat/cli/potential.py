"""``molmat potential train|evaluate``: interatomic potentials from extxyz/rMD17."""

from __future__ import annotations

import argparse

from molmat.cli.output import HelpFormatter, table
from molmat.data.structures import FORMATS
from molmat.models.potentials.registry import POTENTIALS
from molmat.tasks.potential import PotentialModel
from molmat.training.potential import LR_SCHEDULES

LR_SCHEDULE_HELP = (
    "plateau: halve the learning rate on validation plateaus; cosine: decay it to "
    "1e-5 over the epochs or --time-limit, whichever ends first"
)

# (flag, PotentialModel parameter, type, help)
MODEL_OPTIONS = [
    ("--cutoff", "cutoff", float, "neighbour radius in Å"),
    ("--lmax", "lmax", int, "highest rotation order (nequip; default 2)"),
    ("--channels", "channels", int, "feature width (default: nequip 32, else 64)"),
    ("--layers", "layers", int, "interaction layers (default 3)"),
]
TRAINING_OPTIONS = [
    ("--epochs", "epochs", int, "most training epochs"),
    (
        "--time-limit",
        "time_limit",
        float,
        "stop training after this many minutes (or at --epochs, if sooner)",
    ),
    ("--batch-size", "batch_size", int, "structures per batch"),
    ("--lr", "lr", float, "initial learning rate"),
    (
        "--lr-schedule",
        "lr_schedule",
        lambda text: _choice(text, LR_SCHEDULES),
        LR_SCHEDULE_HELP,
    ),
    ("--energy-weight", "energy_weight", float, "loss weight of energy per atom"),
    ("--forces-weight", "forces_weight", float, "loss weight of forces"),
    ("--stress-weight", "stress_weight", float, "loss weight of stress"),
    ("--ema-decay", "ema_decay", float, "decay of the weight average (0: off)"),
    (
        "--plateau-patience",
        "plateau_patience",
        int,
        "epochs without better validation loss before halving the learning rate "
        "(plateau schedule)",
    ),
    (
        "--val-frames",
        "val_frames",
        int,
        "training frames held out for validation (best model chosen on them)",
    ),
    ("--seed", "seed", int, "seed of initialisation, shuffling and hold-out"),
]


def _choice(text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
    return text


def _verbosity_options(p) -> None:
    """-v/-q after the action too (SUPPRESS keeps values given before it)."""
    p.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log"
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="only warnings and errors",
    )


def _data_options(p, with_split: bool) -> None:
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, help="extxyz file or rMD17 .npz")
    data.add_argument(
        "--format", choices=FORMATS, default="extxyz", help="file layout of --data"
    )
    data.add_argument("--energy-key", default="energy", help="extxyz energy key (eV)")
    data.add_argument(
        "--forces-key",
        default="forces",
        help="extxyz per-atom forces key (eV/Å); '' ignores forces (energy-only)",
    )
    data.add_argument(
        "--stress-key",
        help="extxyz stress key (eV/Å^3, ASE sign); without it stress is not used",
    )
    data.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad frame instead of skipping and reporting it",
    )
    if with_split:
        data.add_argument(
            "--split-index",
            help="file of training frame indices, one per line (e.g. rMD17 "
            "splits/index_train_01.csv); default: all frames not in --test-index",
        )
        data.add_argument(
            "--rmd17-split",
            type=int,
            metavar="K",
            help="use upstream split K (1-5) stored in an rMD17 .npz instead of "
            "index files",
        )
    data.add_argument("--test-index", help="file of test frame indices, one per line")


def add_parser(sub):
    p = sub.add_parser(
        "potential",
        description="Neural-network interatomic potentials (NequIP, PaiNN, SchNet) "
        "trained on energies and forces (and stress) of extxyz or rMD17 frames.",
        formatter_class=HelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train",
        help="train a potential and write a run folder",
        description="Train a potential and write a run folder: model/ (best EMA "
        "model, loadable with molmat.load), metrics.json, metrics.jsonl (one line "
        "per epoch), data_report.json, learning_curve.png and, with a test set, "
        "test metrics and parity PNGs. Units: eV, Å.",
        formatter_class=HelpFormatter,
    )
    _verbosity_options(train)
    _data_options(train, with_split=True)
    defaults = PotentialModel().get_params()
    model = train.add_argument_group("model")
    model.add_argument(
        "--model", choices=sorted(POTENTIALS), default=defaults["model"], help="network"
    )
    for flag, name, kind, text in MODEL_OPTIONS:
        model.add_argument(
            flag, dest=name, type=kind, default=defaults[name], help=text
        )
    training = train.add_argument_group("training")
    for flag, name, kind, text in TRAINING_OPTIONS:
        training.add_argument(
            flag, dest=name, type=kind, default=defaults[name], help=text
        )
    training.add_argument(
        "--float64", action="store_true", help="train in double precision"
    )
    training.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUT/checkpoint with the same data "
        "and settings; it ends as if it had never stopped",
    )
    train.add_argument("--out", required=True, help="run folder to write")
    train.set_defaults(action_run=run_train)

    evaluate = actions.add_parser(
        "evaluate",
        help="energy/force errors of a trained potential",
        description="Energy MAE/RMSE (meV per structure and per atom), force "
        "MAE/RMSE (meV/Å) and, when known, stress errors of a trained potential "
        "on frames; parity PNGs and metrics.json go to --out.",
        formatter_class=HelpFormatter,
    )
    evaluate.add_argument("--model", required=True, help="run folder or archive")
    _verbosity_options(evaluate)
    _data_options(evaluate, with_split=False)
    evaluate.add_argument("--out", help="folder for metrics.json and parity PNGs")
    evaluate.set_defaults(action_run=run_evaluate)
    return p


def run(args) -> int:
    return args.action_run(args)


def metrics_rows(metrics: dict) -> list[list]:
    return [[k, v] for k, v in metrics.items() if not isinstance(v, dict)]


def run_train(args: argparse.Namespace) -> int:
    from molmat.tasks.potential import train_potential_run

    params = {
        name: getattr(args, name) for _, name, _, _ in MODEL_OPTIONS + TRAINING_OPTIONS
    }
    metrics = train_potential_run(
        args.data,
        args.out,
        format=args.format,
        energy_key=args.energy_key,
        forces_key=args.forces_key or None,
        stress_key=args.stress_key,
        split_index=args.split_index,
        test_index=args.test_index,
        rmd17_split=args.rmd17_split,
        strict=args.strict,
        resume=args.resume,
        model=args.model,
        float64=args.float64,
        progress=not args.quiet,
        **params,
    )
    for part in ("validation", "test"):
        if metrics.get(part):
            print(f"\n{part} (best epoch {metrics['best_epoch']})")
            print(table(["metric", "value"], metrics_rows(metrics[part])))
    print(f"\nwritten to {args.out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from molmat.tasks.potential import evaluate_potential_run

    metrics = evaluate_potential_run(
        args.model,
        args.data,
        args.out,
        format=args.format,
        energy_key=args.energy_key,
        forces_key=args.forces_key or None,
        stress_key=args.stress_key,
        test_index=args.test_index,
        strict=args.strict,
    )
    print(table(["metric", "value"], metrics_rows(metrics)))
    if args.out:
        print(f"\nwritten to {args.out}")
    return 0
