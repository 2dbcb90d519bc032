"""``molmat assess``: cross-validation with confidence intervals and sanity checks."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, table
from molmat.cli.predict import add_sep
from molmat.featurizers.descriptors import FEATURE_SETS
from molmat.tasks.assess import assess_run
from molmat.tasks.runs import MODELS


def add_parser(sub):
    p = sub.add_parser(
        "assess",
        formatter_class=HelpFormatter,
        description="Repeated k-fold cross-validation (optionally grouped by scaffold "
        "or a column) with bootstrap 95% confidence intervals, a learning curve "
        "(metric vs training-set size, PNG) and a y-randomisation check: the model "
        "must do much worse on shuffled labels. One target: regression, or 0/1 "
        "labels (classification: stratified folds, ROC-AUC and PR-AUC).",
    )
    p.add_argument("--data", required=True, help="CSV file or bundled dataset name")
    p.add_argument("--smiles-col", help="SMILES column (detected when omitted)")
    add_sep(p)
    p.add_argument("--target", help="target column (the dataset's own by default)")
    p.add_argument("--model", choices=MODELS, default="rf", help="model to assess")
    p.add_argument(
        "--features", choices=FEATURE_SETS, default="morgan", help="classic features"
    )
    p.add_argument("--cv", type=int, default=5, help="folds")
    p.add_argument("--repeats", type=int, default=3, help="repetitions of the CV")
    p.add_argument(
        "--shuffles", type=int, default=3, help="y-randomisation shuffles (0: skip)"
    )
    p.add_argument(
        "--group-by",
        help="'scaffold' or a column (e.g. AqSolDB's Group): groups stay in one fold",
    )
    p.add_argument("--seed", type=int, default=0, help="seed")
    p.add_argument("--out", required=True, help="output folder")
    return p


def run(args) -> int:
    result = assess_run(
        args.data,
        args.out,
        model=args.model,
        smiles_col=args.smiles_col,
        sep=args.sep,
        target=args.target,
        cv=args.cv,
        repeats=args.repeats,
        shuffles=args.shuffles,
        group_by=args.group_by,
        seed=args.seed,
        features=args.features,
    )
    rows = [[k, v] for k, v in result["cv"].items()]
    for k, (value, low, high) in result["bootstrap_95"].items():
        rows.append([f"{k} 95% CI", f"{value:.4f} [{low:.4f}, {high:.4f}]"])
    if "y_randomisation" in result:
        check = result["y_randomisation"]
        rows.append(
            [f"{check['metric']}, shuffled labels (best)", check["shuffled_best"]]
        )
    print(
        f"{result['data']}: {result['model']}, {result['folds']}-fold CV x "
        f"{result['repeats']} (mean ± std)"
    )
    print(table(["metric", "value"], rows))
    print(f"\nwritten to {args.out}")
    return 0
