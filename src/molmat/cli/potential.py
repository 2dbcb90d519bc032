"""``molmat potential train|evaluate``: interatomic potentials from extxyz/rMD17,
and energy models of the QM9 molecules (``--data qm9``)."""

from __future__ import annotations

import argparse

from molmat.cli.config import add_config_option, write_config
from molmat.cli.output import HelpFormatter, table, verbosity_options
from molmat.data.qm9 import TARGETS as QM9_TARGETS
from molmat.data.structures import FORMATS, LabelKeys
from molmat.models.potentials.registry import POTENTIALS
from molmat.tasks.potential import PotentialModel
from molmat.tasks.potential_runs import evaluate_potential_run, train_potential_run
from molmat.tasks.qm9 import QM9_DEFAULTS, train_qm9_run
from molmat.training.potential import LR_SCHEDULES

QM9 = "qm9"  # --data value that trains on the QM9 molecules

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


# Options of extxyz/rMD17 training runs that a QM9 run has no use for.
NOT_FOR_QM9 = [
    ("--split-index", "split_index"),
    ("--test-index", "test_index"),
    ("--rmd17-split", "rmd17_split"),
    ("--valid-file", "valid_file"),
    ("--test-file", "test_file"),
    ("--val-frames", "val_frames"),
    ("--E0s", "e0s"),
    ("--resume", "resume"),
]


def size_list(text: str) -> list[int]:
    """Comma-separated positive integers (argparse type)."""
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"sizes must be integers: {text!r}") from err
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive: {text!r}")
    return sizes


def _choice(text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
    return text


def _data_options(p, with_split: bool) -> None:
    data = p.add_argument_group("data")
    where = "extxyz file or rMD17 .npz"
    if with_split:
        where += f", or {QM9} (the QM9 molecules; see the QM9 options)"
    data.add_argument("--data", required=True, help=where)
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
        data.add_argument(
            "--valid-file",
            help="frames to validate on (same --format and keys; as MACE's "
            "--valid_file), instead of holding --val-frames out of --data",
        )
        data.add_argument(
            "--test-file",
            help="frames to test on (same --format and keys; as MACE's "
            "--test_file), instead of --test-index",
        )
    data.add_argument("--test-index", help="file of test frame indices, one per line")


def add_qm9_options(group) -> None:
    """QM9 split and file options, shared with ``molmat train --data qm9``."""
    group.add_argument(
        "--train-size",
        type=size_list,
        metavar="N[,N...]",
        help="training molecules (QM9 default 10,000); several sizes train one "
        "model each on nested training sets and draw a learning curve. With "
        "other data (molmat train): a learning curve on nested training sets "
        "against one fixed test set, from scratch, from --init and for a "
        "random-forest baseline",
    )
    group.add_argument(
        "--val-size", type=int, default=1000, help="validation molecules"
    )
    group.add_argument(
        "--test-size",
        type=int,
        help="test molecules (QM9 default 10,000; learning curves 1,000)",
    )
    group.add_argument(
        "--qm9-file", help="a QM9 CSV in qm9pack's layout instead of the package"
    )


def _qm9_group(p) -> None:
    defaults = ", ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in QM9_DEFAULTS.items()
    )
    qm9 = p.add_argument_group(
        f"QM9 (--data {QM9}; needs the qm9 extra; energies only, so {defaults} "
        "unless given)"
    )
    qm9.add_argument(
        "--target", choices=list(QM9_TARGETS), default="U0", help="QM9 energy"
    )
    add_qm9_options(qm9)


def _settings(group, options, defaults: dict) -> None:
    """Options left at None when not given, so each run kind keeps its own
    defaults; the help shows the :class:`PotentialModel` ones."""
    for flag, name, kind, text in options:
        shown = "" if defaults[name] is None else f" (default: {defaults[name]})"
        group.add_argument(flag, dest=name, type=kind, help=text + shown)


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
    verbosity_options(train)
    _data_options(train, with_split=True)
    _qm9_group(train)
    defaults = PotentialModel().get_params()
    model = train.add_argument_group("model")
    model.add_argument(
        "--model", choices=sorted(POTENTIALS), default=defaults["model"], help="network"
    )
    _settings(model, MODEL_OPTIONS, defaults)
    training = train.add_argument_group("training")
    _settings(training, TRAINING_OPTIONS, defaults)
    training.add_argument(
        "--E0s",
        dest="e0s",
        metavar="average|isolated|FILE",
        help="per-element reference energies taken off the energies (as MACE's "
        "--E0s): average (least squares of the training energies on their "
        "compositions), isolated (from the isolated-atom frames of --data; every "
        'element needs one), or a JSON file {"1": -13.6, ...} (eV by atomic '
        "number). Default: isolated when the isolated atoms cover every element, "
        "else average",
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
    add_config_option(train)
    train.set_defaults(action_run=run_train, command_parser=train)

    evaluate = actions.add_parser(
        "evaluate",
        help="energy/force errors of a trained potential",
        description="Energy MAE/RMSE (meV per structure and per atom), force "
        "MAE/RMSE (meV/Å) and, when known, stress errors of a trained potential "
        "on frames. --out gets metrics.json, parity PNGs, predictions.extxyz (each "
        "frame with REF_energy/REF_forces and the predicted MM_energy/MM_forces) "
        "and predictions.csv (per-frame energies, energy error in meV and meV/atom, "
        "force RMSE in meV/Å).",
        formatter_class=HelpFormatter,
    )
    evaluate.add_argument("--model", required=True, help="run folder or archive")
    verbosity_options(evaluate)
    _data_options(evaluate, with_split=False)
    evaluate.add_argument(
        "--float64",
        action="store_true",
        help="evaluate in double precision (default: the model's own)",
    )
    evaluate.add_argument(
        "--out",
        help="folder for metrics.json, parity PNGs and per-frame predictions "
        "(default: print the metrics only)",
    )
    evaluate.set_defaults(action_run=run_evaluate)
    return p


def run(args) -> int:
    return args.action_run(args)


def metrics_rows(metrics: dict) -> list[list]:
    return [[k, v] for k, v in metrics.items() if not isinstance(v, dict)]


def label_keys(args: argparse.Namespace) -> LabelKeys:
    """The extxyz label keys of ``--energy-key``, ``--forces-key``, ``--stress-key``."""
    return LabelKeys(args.energy_key, args.forces_key or None, args.stress_key)


def run_train(args: argparse.Namespace) -> int:
    params = {
        name: getattr(args, name)
        for _, name, _, _ in MODEL_OPTIONS + TRAINING_OPTIONS
        if getattr(args, name) is not None
    }
    params.update(model=args.model, float64=args.float64, progress=not args.quiet)
    if args.e0s is not None:
        params["e0s"] = args.e0s
    if args.data == QM9:
        unused = [flag for flag, name in NOT_FOR_QM9 if getattr(args, name)]
        if unused:
            raise ValueError(
                f"{', '.join(unused)}: not for --data {QM9}, which splits the "
                "molecules by --train-size, --val-size and --test-size"
            )
        train_qm9(args.out, **qm9_data(args, args.target), **params)
        write_config(args.command_parser, args, args.out)
        return 0
    metrics = train_potential_run(
        args.data,
        args.out,
        format=args.format,
        keys=label_keys(args),
        split_index=args.split_index,
        test_index=args.test_index,
        rmd17_split=args.rmd17_split,
        valid_file=args.valid_file,
        test_file=args.test_file,
        strict=args.strict,
        resume=args.resume,
        **params,
    )
    write_config(args.command_parser, args, args.out)
    for part in ("validation", "test"):
        if metrics.get(part):
            print(f"\n{part} (best epoch {metrics['best_epoch']})")
            print(table(["metric", "value"], metrics_rows(metrics[part])))
    print(f"\nwritten to {args.out}")
    return 0


def qm9_data(args: argparse.Namespace, target: str) -> dict:
    """:func:`~molmat.tasks.qm9.train_qm9_run` arguments of the QM9 data options."""
    return dict(
        target=target,
        train_sizes=args.train_size or [10_000],
        val_size=args.val_size,
        test_size=args.test_size or 10_000,
        path=args.qm9_file,
        strict=args.strict,
    )


def train_qm9(out: str, **settings) -> int:
    """Train on QM9 and print the test errors of each training size.

    ``molmat potential train --data qm9`` and its alias ``molmat train --data
    qm9`` both end here; ``settings`` are
    :func:`~molmat.tasks.qm9.train_qm9_run` arguments.
    """
    result = train_qm9_run(out, **settings)
    print(f"\nQM9 {result['target']}: {result['model']}, test errors in meV")
    rows = [
        [
            r["n_train"],
            r["test"]["energy_mae_meV"],
            r["test"]["energy_rmse_meV"],
            r["best_epoch"],
            round(r["train_seconds"], 1),
        ]
        for r in result["runs"]
    ]
    print(table(["n_train", "MAE meV", "RMSE meV", "best epoch", "train s"], rows))
    print(f"\nrun folder: {out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    metrics = evaluate_potential_run(
        args.model,
        args.data,
        args.out,
        format=args.format,
        keys=label_keys(args),
        test_index=args.test_index,
        strict=args.strict,
        float64=True if args.float64 else None,
    )
    print(table(["metric", "value"], metrics_rows(metrics)))
    if args.out:
        print(f"\nwritten to {args.out}")
    return 0
