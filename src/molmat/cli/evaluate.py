"""``molmat evaluate``: metrics and plots of a model on a labelled CSV."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, add_no_cache, metrics_table
from molmat.cli.predict import add_sep
from molmat.tasks.runs import evaluate_file


def add_parser(sub):
    p = sub.add_parser(
        "evaluate",
        formatter_class=HelpFormatter,
        description="Predict a labelled CSV with a trained model; print the metrics "
        "and write metrics.json, predictions.csv and parity/ROC plots.",
    )
    p.add_argument("--model", required=True, help="run folder or model archive folder")
    p.add_argument("--data", required=True, help="labelled CSV or bundled dataset name")
    p.add_argument("--smiles-col", help="SMILES column (detected when omitted)")
    add_sep(p)
    p.add_argument(
        "--out",
        help="output folder (default: <MODEL>_evaluation_<data name> beside the "
        "model folder; never inside it)",
    )
    add_no_cache(p)
    return p


def run(args) -> int:
    metrics, out = evaluate_file(
        args.model, args.data, args.out, args.smiles_col, args.use_cache, args.sep
    )
    print(metrics_table(metrics))
    print(f"\nwritten to {out}")
    return 0
