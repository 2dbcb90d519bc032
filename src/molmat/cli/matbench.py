"""``molmat matbench``: a Matbench v0.1 task by its official protocol."""

from __future__ import annotations

from molmat.classic.models import CLASSIC_MODELS
from molmat.cli.output import HelpFormatter, table
from molmat.featurizers.composition import COMPOSITION_SETS
from molmat.featurizers.structure import STRUCTURE_SETS
from molmat.models.crystal import CRYSTAL_MODELS
from molmat.tasks.matbench import TASKS, run_matbench

NETWORK_OPTIONS = [
    ("--hidden", int, "width of the atom states"),
    ("--depth", int, "interaction layers"),
    ("--cutoff", float, "neighbour radius (Å)"),
    ("--epochs", int, "training epochs per fold"),
    ("--batch-size", int, "structures per batch"),
    ("--lr", float, "peak learning rate"),
    ("--loss", str, "regression loss: mse or l1"),
    ("--readout", str, "mean, max (intensive) or sum (extensive)"),
]


def network_params(args) -> dict:
    """The crystal-network options given on the command line."""
    names = {"--lr": "max_lr"}
    params = {}
    for flag, _, _ in NETWORK_OPTIONS:
        name = names.get(flag, flag[2:].replace("-", "_"))
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            params[name] = value
    if args.model in CRYSTAL_MODELS:
        params["progress"] = args.progress
    elif params:
        raise ValueError(f"{', '.join(params)}: options of the crystal networks")
    return params


def add_parser(sub):
    p = sub.add_parser(
        "matbench",
        formatter_class=HelpFormatter,
        description="Run a Matbench v0.1 task by its official protocol: five "
        "folds of KFold(n_splits=5, shuffle=True, random_state=18012019) "
        "(StratifiedKFold for classification) over the dataset in its published "
        "order, one model per fold. Writes a run folder per fold, folds.jsonl "
        "(one JSON line of test metrics per fold) and prints the mean over folds "
        "ranked among the leaderboard entries (MAE; for classification the "
        "balanced accuracy at 0.5, which is what the leaderboard's rocauc, computed "
        "from predicted labels, measures). "
        "The task files are not shipped: pip install matminer, then "
        "load_dataset('<task>').to_csv('<task>.csv') writes a composition task "
        "(structure tasks: see the materials guide).",
    )
    p.add_argument("--task", required=True, choices=list(TASKS), help="the task")
    p.add_argument(
        "--data",
        required=True,
        help="the task's file: a CSV with a composition column and the target "
        "(composition tasks), an extxyz with the target in each structure's info "
        "(structure tasks); or a folder holding <task>.csv(.gz) / "
        "<task>.extxyz(.gz)",
    )
    p.add_argument(
        "--model",
        choices=(*CLASSIC_MODELS, *CRYSTAL_MODELS),
        default="rf",
        help="a classic model on the features, or (structure tasks) a crystal "
        "network on the structures: cgcnn, painn, nequip, alignn",
    )
    p.add_argument(
        "--features",
        choices=(*COMPOSITION_SETS, *STRUCTURE_SETS),
        help="magpie (composition tasks: element-property statistics) or "
        "magpie-structure (structure tasks: those of the cell and 9 packing "
        "features); default: the task's kind",
    )
    network = p.add_argument_group("crystal networks (defaults: CrystalModel's)")
    for flag, kind, text in NETWORK_OPTIONS:
        network.add_argument(flag, type=kind, help=text)
    p.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the models")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    return p


def run(args) -> int:
    result = run_matbench(
        args.task,
        args.data,
        args.out,
        model=args.model,
        features=args.features,
        seed=args.seed,
        resume=args.resume,
        **network_params(args),
    )
    metric, unit = result["metric"], result["unit"]
    print(f"\n{result['task']}: {result['model']}, 5 official folds")
    fold_rows = [
        [f["fold"], *(f"{f[m]:.4f}" for m in result["mean"]), f["n_train"], f["n_test"]]
        for f in result["folds"]
    ]
    print(table(["fold", *result["mean"], "train", "test"], fold_rows))
    header = f"mean {metric}" + (f" ({unit})" if unit else "")
    rows = [[rank, name, f"{value:.4f}"] for rank, name, value in result["rows"]]
    print(f"\nMatbench v0.1 leaderboard with this run (rank {result['rank']})")
    print(table(["rank", "algorithm", header], rows))
    print(f"\nwritten to {args.out}")
    return 0
