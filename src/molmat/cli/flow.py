"""``molmat flow``: normalizing flows over tables of material properties."""

from __future__ import annotations

import argparse

from molmat.cli.config import add_config_option, write_config
from molmat.cli.output import HelpFormatter, fmt, table
from molmat.cli.predict import add_sep
from molmat.models.generative.flow import FLOW_MODELS

# (flag, FlowModel parameter, type, help)
OPTIONS = [
    ("--layers", "layers", int, "transforms in the chain (default 8)"),
    ("--hidden", "hidden", int, "width of each conditioner network (default 128)"),
    ("--depth", "depth", int, "hidden layers of each conditioner (default 3)"),
    ("--bins", "bins", int, "spline bins (spline; default 16)"),
    ("--epochs", "epochs", int, "most training epochs (default 300)"),
    ("--batch-size", "batch_size", int, "rows per batch (default 256)"),
    ("--lr", "lr", float, "AdamW learning rate (default 1e-3)"),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay (default 0)"),
    (
        "--patience",
        "patience",
        int,
        "stop after this many epochs without a better validation log-likelihood "
        "(default 30)",
    ),
    (
        "--plateau-patience",
        "plateau_patience",
        int,
        "halve the learning rate after this many such epochs (default 10)",
    ),
    (
        "--ema-epochs",
        "ema_epochs",
        float,
        "keep a moving average of the weights over about this many epochs "
        "(default 5; 0: off)",
    ),
    ("--seed", "seed", int, "seed of the split, initialisation and batches"),
]


def names(text: str) -> list[str]:
    """``a,b`` -> ["a", "b"] (argparse type)."""
    return [s.strip() for s in text.split(",") if s.strip()]


def pairs(text: str) -> dict[str, str]:
    """``AV_VF=0:1,LCD=positive`` -> {"AV_VF": "0:1", "LCD": "positive"}
    (argparse type)."""
    out = {}
    for item in names(text):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def values(text: str) -> dict:
    """``AV_VF=0.5,Has_OMS=Yes`` -> {"AV_VF": 0.5, "Has_OMS": "Yes"}."""

    def parsed(value: str) -> float | str:
        try:
            return float(value)
        except ValueError:
            return value

    return {name: parsed(value) for name, value in pairs(text).items()}


def add_parser(sub):
    p = sub.add_parser(
        "flow",
        formatter_class=HelpFormatter,
        description="Normalizing flows: learn the joint density of numeric columns "
        "of a table (e.g. the pore sizes, surface area, void fraction and density "
        "of CoRE MOF 2019), optionally given condition columns; sample new rows; "
        "score rows by their log-likelihood (an outlier score for new materials).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train",
        formatter_class=HelpFormatter,
        help="fit a flow and write a run folder",
        description="Fit a flow on the usable rows of --data (rows with a missing "
        "value are reported in data_report.json and left out), holding out "
        "--test-fraction of them. OUT gets model/, metrics.json (test "
        "log-likelihood per variable beside a full-covariance Gaussian fitted to "
        "the same rows), metrics.jsonl, split.json, learning_curve.png and "
        "corner.png (samples against the test rows).",
    )
    train.add_argument(
        "--data",
        required=True,
        help="core_mof (the CoRE MOF 2019 property table: pip install --no-deps "
        "core-mof) or a CSV/TSV file",
    )
    add_sep(train)
    train.add_argument(
        "--columns", type=names, required=True, help="comma-separated columns to model"
    )
    train.add_argument(
        "--condition",
        type=names,
        default=[],
        help="comma-separated condition columns (numbers, or categories such as a "
        "metal or Yes/No)",
    )
    train.add_argument(
        "--model",
        choices=FLOW_MODELS,
        default="spline",
        help="realnvp: affine couplings; maf: masked affine autoregressive; "
        "spline: rational-quadratic spline couplings",
    )
    train.add_argument(
        "--domain",
        type=pairs,
        default={},
        metavar="COLUMN=SPEC[,...]",
        help="a column's support: real, positive or LOW:HIGH (others: positive "
        "when all values are, bounded to 0:1 when all lie strictly inside)",
    )
    train.add_argument(
        "--test-fraction", type=float, default=0.1, help="rows held out for the test"
    )
    group = train.add_argument_group("flow and training")
    for flag, name, kind, text in OPTIONS:
        group.add_argument(flag, dest=name, type=kind, help=text)
    train.add_argument(
        "--resume", action="store_true", help="continue an interrupted run"
    )
    train.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress"
    )
    train.add_argument("--out", required=True, help="run folder to write")
    add_config_option(train)
    train.set_defaults(action_run=run_train, command_parser=train)

    sample = actions.add_parser(
        "sample", formatter_class=HelpFormatter, help="sample rows from a flow"
    )
    sample.add_argument("--model", required=True, help="run folder or model archive")
    sample.add_argument("-n", type=int, default=1000, help="rows to sample")
    sample.add_argument(
        "--condition",
        type=values,
        help="NAME=VALUE[,...]: the condition of every sample (conditional flows)",
    )
    sample.add_argument("--seed", type=int, default=0, help="sampling seed")
    sample.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress"
    )
    sample.add_argument("--out", required=True, help="CSV file to write")
    sample.set_defaults(action_run=run_sample)

    score = actions.add_parser(
        "score",
        formatter_class=HelpFormatter,
        help="log-likelihood of each row of a table",
        description="Append log_likelihood (nats) and log_likelihood_per_dim to "
        "every row of --data: low values flag unusual materials. Rows with a "
        "missing value get NaN, rows outside a column's support -inf (both "
        "reported).",
    )
    score.add_argument("--model", required=True, help="run folder or model archive")
    score.add_argument("--data", required=True, help="core_mof or a CSV/TSV file")
    add_sep(score)
    score.add_argument("--out", required=True, help="CSV file to write")
    score.set_defaults(action_run=run_score)
    return p


def run(args) -> int:
    return args.action_run(args)


def run_train(args) -> int:
    from molmat.tasks.flow_runs import train_flow_run

    params = {
        n: getattr(args, n) for _, n, _, _ in OPTIONS if getattr(args, n) is not None
    }
    metrics = train_flow_run(
        args.data,
        args.out,
        args.columns,
        args.condition,
        test_fraction=args.test_fraction,
        sep=args.sep,
        resume=args.resume,
        model=args.model,
        domains=args.domain or "auto",
        progress=args.progress,
        **params,
    )
    write_config(args.command_parser, args, args.out)
    rows = [
        [k.replace("_", " "), fmt(v)]
        for k, v in metrics.items()
        if not isinstance(v, list)
    ]
    print(table(["", args.out], rows))
    return 0


def run_sample(args) -> int:
    from molmat.tasks.flow_runs import sample_flow

    rows = sample_flow(
        args.model, args.n, args.out, args.condition, args.seed, args.progress
    )
    summary = rows.describe().T[["mean", "std", "min", "max"]]
    print(
        table(
            ["column", "mean", "std", "min", "max"],
            [[name, *(fmt(v) for v in row)] for name, row in summary.iterrows()],
        )
    )
    print(f"{len(rows)} rows -> {args.out}")
    return 0


def run_score(args) -> int:
    from molmat.tasks.flow_runs import score_flow

    scored = score_flow(args.model, args.data, args.out, args.sep)
    ll = scored["log_likelihood_per_dim"]
    finite = ll[ll.notna() & (ll > -float("inf"))]
    print(
        table(
            ["", "rows"],
            [
                ["scored", len(finite)],
                ["missing values (NaN)", int(ll.isna().sum())],
                ["outside the support (-inf)", int((ll == -float("inf")).sum())],
                ["median log-likelihood per variable", fmt(float(finite.median()))],
                ["5th percentile", fmt(float(finite.quantile(0.05)))],
            ],
        )
    )
    print(f"-> {args.out}")
    return 0
