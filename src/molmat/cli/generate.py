"""``molmat generate train|sample|evaluate|optimize``: molecule generators."""

from __future__ import annotations

import argparse

from molmat.cli.config import add_config_option, write_config
from molmat.cli.output import HelpFormatter, table, verbosity_options

GENERATORS = ("rnn", "transformer", "vae")

# (flag, estimator parameter, type, help); left at None unless given
MODEL_OPTIONS = [
    ("--cell", "cell", str, "rnn: gru or lstm (default gru)"),
    ("--embed", "embed", int, "rnn/vae: token embedding width (default 64)"),
    ("--hidden", "hidden", int, "rnn/vae: recurrent width (default 256)"),
    ("--width", "width", int, "transformer: model width (default 256)"),
    ("--heads", "heads", int, "transformer: attention heads (default 8)"),
    ("--layers", "layers", int, "recurrent or transformer layers (default 2)"),
    ("--latent", "latent", int, "vae: latent dimensions"),
    ("--beta", "beta", float, "vae: final weight of the KL term"),
    ("--dropout", "dropout", float, "dropout rate while training (default 0)"),
]
TRAINING_OPTIONS = [
    ("--epochs", "epochs", int, "most epochs (default 20)"),
    (
        "--epoch-size",
        "epoch_size",
        int,
        "molecules per epoch (default: the whole corpus); on MOSES e.g. 100000 "
        "gives a checkpoint and a validation score every few minutes",
    ),
    ("--batch-size", "batch_size", int, "molecules per batch (default 128)"),
    ("--lr", "lr", float, "peak learning rate (default 1e-3)"),
    ("--time-limit", "time_limit", float, "stop after this many minutes"),
    (
        "--patience",
        "patience",
        int,
        "stop after this many epochs without a better validation loss (default 5)",
    ),
    ("--seed", "seed", int, "seed of initialisation, shuffling and hold-out"),
]


# options that only some generators take
ONLY_FOR = {
    "cell": ("rnn", "vae"),
    "embed": ("rnn", "vae"),
    "hidden": ("rnn", "vae"),
    "width": ("transformer",),
    "heads": ("transformer",),
    "latent": ("vae",),
    "beta": ("vae",),
}


def conditions_list(text: str) -> tuple[str, ...]:
    """``logP,QED`` → ("logP", "QED") (argparse type)."""
    return tuple(s.strip() for s in text.split(",") if s.strip())


def condition_values(text: str) -> dict[str, float]:
    """``logP=2.5,QED=0.8`` → {"logP": 2.5, "QED": 0.8} (argparse type)."""
    values = {}
    for item in conditions_list(text):
        name, sep, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {item!r}")
    return values


def _settings(group, options) -> None:
    for flag, name, kind, text in options:
        group.add_argument(flag, dest=name, type=kind, help=text)


def add_parser(sub):
    p = sub.add_parser(
        "generate",
        description="Generate molecules: train a SMILES/SELFIES language model "
        "(GRU/LSTM or transformer) or a SELFIES VAE on MOSES or any file of "
        "SMILES, sample from it, score samples with the MOSES metrics, and climb "
        "a VAE's latent space toward a property.",
        formatter_class=HelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _train_parser(actions)
    _sample_parser(actions)
    _evaluate_parser(actions)
    _optimize_parser(actions)
    return p


def _train_parser(actions) -> None:
    train = actions.add_parser(
        "train",
        help="train a generator and write a run folder",
        description="Train a generator. OUT gets model/ (load with molmat.load), "
        "metrics.json, metrics.jsonl (one line per epoch), data_report.json (bad "
        "rows), learning_curve.png and config.yaml.",
        formatter_class=HelpFormatter,
    )
    verbosity_options(train)
    train.add_argument(
        "--data",
        required=True,
        help="moses (MOSES train: pip install --no-deps molsets) or a CSV/TSV/.smi/"
        "SDF file of SMILES",
    )
    train.add_argument("--smiles-col", help="SMILES column (detected if not given)")
    train.add_argument("--model", choices=GENERATORS, default="rnn", help="generator")
    train.add_argument(
        "--tokens",
        choices=["smiles", "selfies"],
        help="string representation (default: smiles; selfies for vae)",
    )
    train.add_argument(
        "--condition",
        type=conditions_list,
        default=(),
        metavar="NAME[,NAME...]",
        help="condition on these columns of --data or computed properties "
        "(logP, QED, SA, weight, plogP); sample with --condition NAME=VALUE",
    )
    _settings(train.add_argument_group("model"), MODEL_OPTIONS)
    training = train.add_argument_group("training")
    _settings(training, TRAINING_OPTIONS)
    training.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUT/checkpoint.npz with the same "
        "data and settings",
    )
    train.add_argument("--out", required=True, help="run folder to write")
    add_config_option(train)
    train.set_defaults(action_run=run_train, command_parser=train)


def _sample_parser(actions) -> None:
    sample = actions.add_parser(
        "sample",
        help="sample molecules from a trained generator",
        description="Sample molecules into a CSV (columns SMILES, valid); invalid "
        "strings are kept (validity is a metric). The same --seed and "
        "--batch-size give the same molecules.",
        formatter_class=HelpFormatter,
    )
    verbosity_options(sample)
    sample.add_argument("--model", required=True, help="run folder or archive")
    sample.add_argument("-n", type=int, default=10_000, help="molecules to sample")
    sample.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="softmax temperature: below 1 sharpens, above 1 flattens",
    )
    sample.add_argument("--top-k", type=int, help="sample among the k likeliest tokens")
    sample.add_argument(
        "--top-p", type=float, help="nucleus sampling: smallest token set of mass p"
    )
    sample.add_argument(
        "--condition",
        type=condition_values,
        metavar="NAME=VALUE[,...]",
        help="property values of a conditional model, e.g. logP=2.5,QED=0.8",
    )
    sample.add_argument("--seed", type=int, default=0, help="random seed")
    sample.add_argument(
        "--batch-size", type=int, default=2000, help="molecules per compiled batch"
    )
    sample.add_argument("--out", required=True, help="CSV to write")
    sample.set_defaults(action_run=run_sample)


def _evaluate_parser(actions) -> None:
    evaluate = actions.add_parser(
        "evaluate",
        help="MOSES metrics of generated molecules",
        description="Score generated molecules with the MOSES metrics (validity, "
        "unique@1k/10k, novelty, IntDiv, filters, FCD, SNN, Frag, Scaf against "
        "test and scaffold-test, Wasserstein distances of logP, SA, QED, weight) "
        "and print them beside the published MOSES baselines.",
        formatter_class=HelpFormatter,
    )
    verbosity_options(evaluate)
    evaluate.add_argument(
        "--generated", required=True, help="CSV (SMILES column) or .smi file"
    )
    evaluate.add_argument(
        "--reference",
        default="moses",
        help="moses (its test, scaffold-test and train sets) or a file of test "
        "molecules",
    )
    evaluate.add_argument(
        "--scaffold-reference",
        help="file of scaffold-test molecules (with a file --reference)",
    )
    evaluate.add_argument(
        "--train",
        help="file of training molecules, for novelty (with a file --reference)",
    )
    evaluate.add_argument(
        "--no-fcd",
        action="store_true",
        help="skip FCD (ChemNet takes minutes on a CPU)",
    )
    evaluate.add_argument("--out", help="CSV of the metrics table to write")
    evaluate.set_defaults(action_run=run_evaluate)


def run(args) -> int:
    return args.action_run(args)


def _given(args, options) -> dict:
    return {
        name: getattr(args, name)
        for _, name, _, _ in options
        if getattr(args, name) is not None
    }


def run_train(args) -> int:
    from molmat.generate.runs import train_generator_run

    params = {**_given(args, MODEL_OPTIONS), **_given(args, TRAINING_OPTIONS)}
    for name in params:
        if args.model not in ONLY_FOR.get(name, (args.model,)):
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} is not an option of --model {args.model}")
    if args.tokens:
        params["tokens"] = args.tokens
    metrics = train_generator_run(
        args.data,
        args.out,
        model=args.model,
        smiles_col=args.smiles_col,
        conditions=args.condition,
        resume=args.resume,
        progress=not args.quiet,
        **params,
    )
    write_config(args.command_parser, args, args.out)
    rows = [
        [k, v]
        for k, v in metrics.items()
        if not isinstance(v, dict | list) and k != "wall_seconds"
    ]
    rows += [
        [f"validation {k}", v]
        for k, v in metrics["validation"].items()
        if k != "objective"
    ]
    print(table(["", args.out], rows))
    return 0


def run_sample(args) -> int:
    from molmat.generate.runs import sample_run

    summary = sample_run(
        args.model,
        args.n,
        args.out,
        progress=not args.quiet,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        condition=args.condition,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    print(table(["", "sample"], [[k, v] for k, v in summary.items()]))
    return 0


def run_evaluate(args) -> int:
    from molmat.generate.metrics import format_table, metrics_table
    from molmat.generate.runs import evaluate_run

    results = evaluate_run(
        args.generated,
        args.reference,
        args.scaffold_reference,
        args.train,
        args.out,
        progress=not args.quiet,
        with_fcd=not args.no_fcd,
    )
    print(format_table(metrics_table(results, "generated")))
    print("baselines: MOSES README (molecularsets/moses), mean of 3 runs")
    for note in results.notes:
        print(f"note: {note}")
    return 0


def _optimize_parser(actions) -> None:
    optimize = actions.add_parser(
        "optimize",
        help="climb a VAE's latent space toward a property",
        description="Gradient ascent in a VAE's latent space on a surrogate of "
        "the objective, refitted on every decoding round; decoded molecules are "
        "scored with the true objective (each molecule once, calls counted). OUT "
        "gets best.csv, trajectory.csv, latent_map.png and interpolation.csv.",
        formatter_class=HelpFormatter,
    )
    verbosity_options(optimize)
    optimize.add_argument("--model", required=True, help="VAE run folder or archive")
    optimize.add_argument(
        "--objective",
        required=True,
        help="qed, plogp (penalised logP) or a property-model archive (its first "
        "output is maximised)",
    )
    optimize.add_argument(
        "--data",
        help="known molecules to start from (default: the VAE's training data)",
    )
    optimize.add_argument("--smiles-col", help="SMILES column of --data")
    optimize.add_argument("--starts", type=int, default=50, help="starting latents")
    optimize.add_argument("--steps", type=int, default=100, help="gradient steps")
    optimize.add_argument(
        "--lr", type=float, default=0.1, help="step length in latent units"
    )
    optimize.add_argument("--seed", type=int, default=0, help="random seed")
    optimize.add_argument("--out", required=True, help="folder to write")
    optimize.set_defaults(action_run=run_optimize)


def run_optimize(args) -> int:
    from molmat.generate.runs import optimize_run

    summary = optimize_run(
        args.model,
        args.objective,
        args.out,
        data=args.data,
        smiles_col=args.smiles_col,
        progress=not args.quiet,
        n_starts=args.starts,
        steps=args.steps,
        lr=args.lr,
        seed=args.seed,
    )
    rows = [
        [f"top {i + 1}", f"{s}  {v:.3f}"] for i, (s, v) in enumerate(summary["top"])
    ]
    rows += [
        [k, summary[k]] for k in ("objective_calls", "start_best", "seconds", "out")
    ]
    print(table(["", summary["objective"]], rows))
    return 0
