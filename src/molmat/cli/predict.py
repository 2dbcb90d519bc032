"""``molmat predict``: add prediction columns to a CSV."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, add_no_cache
from molmat.tasks.runs import predict_file


def add_sep(parser) -> None:
    """``--sep`` (``args.sep``) on a parser or argument group of a command
    that reads molecule files."""
    parser.add_argument(
        "--sep",
        metavar="SEP",
        help="column separator of a CSV/TSV/.smi file: one character, or comma, "
        "semicolon, tab, pipe (default: sniffed from the header line: comma, "
        "semicolon or tab; .smi files split at tabs or spaces)",
    )


def add_parser(sub):
    p = sub.add_parser(
        "predict",
        formatter_class=HelpFormatter,
        description="Write the input file as CSV with one prediction column per "
        "target (<target>_pred for regression, <target>_prob for classification). "
        "Models with an uncertainty add <target>_std (Gaussian processes: "
        "predictive std; ensembles: spread over members; --intervals bootstrap: "
        "spread over refits) and, when trained with --intervals, "
        "<target>_lower/_upper at the training --alpha. in_domain is False for "
        "molecules with elements absent from the training set (one warning sums "
        "them up; their predictions are still written). Rows whose SMILES cannot "
        "be read are kept, with empty predictions, and reported.",
    )
    p.add_argument("--model", required=True, help="run folder or model archive folder")
    p.add_argument(
        "--data",
        required=True,
        help="CSV/TSV, .smi or SDF file (optionally .gz), or bundled dataset name",
    )
    p.add_argument("--smiles-col", help="SMILES column (detected when omitted)")
    add_sep(p)
    p.add_argument("--out", required=True, help="output CSV")
    add_no_cache(p)
    return p


def run(args) -> int:
    frame, report = predict_file(
        args.model, args.data, args.out, args.smiles_col, args.use_cache, args.sep
    )
    print(f"{report.n_used} of {report.n_rows} rows predicted -> {args.out}")
    return 0
