"""``molmat featurize``: write descriptor or fingerprint tables."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter
from molmat.cli.predict import add_sep
from molmat.featurizers.sets import ALL_SETS
from molmat.tasks.featurize import featurize_file


def add_parser(sub):
    p = sub.add_parser(
        "featurize",
        formatter_class=HelpFormatter,
        description="Compute features for every usable row of a molecule file "
        "(or of chemical formulas with --features magpie, of crystal structures "
        "with --features magpie-structure) and write them, with the row number and "
        "the input (SMILES, formula or structure name), to Parquet or CSV. "
        "Every file gets every column of the feature set in the same order, so "
        "training and test tables made separately line up; constant and all-NaN "
        "columns are reported, not dropped. Values are not scaled.",
    )
    p.add_argument(
        "--data",
        required=True,
        help="CSV/TSV, .smi or SDF file (optionally .gz), or bundled dataset name",
    )
    p.add_argument(
        "--smiles-col",
        help="SMILES column, or the formula column with --features magpie "
        "(detected when omitted)",
    )
    add_sep(p)
    p.add_argument(
        "--features",
        choices=ALL_SETS,
        default="rdkit2d",
        help="feature set (see `molmat train --help`)",
    )
    p.add_argument("--radius", type=int, default=2, help="Morgan radius")
    p.add_argument("--n-bits", type=int, default=2048, help="Morgan length")
    p.add_argument("--out", required=True, help="output file, .parquet or .csv")
    return p


def run(args) -> int:
    frame, report, degenerate = featurize_file(
        args.data,
        args.features,
        args.out,
        args.smiles_col,
        args.radius,
        args.n_bits,
        args.sep,
    )
    for reason, columns in degenerate.items():
        if columns:
            shown = ", ".join(columns[:8]) + (" ..." if len(columns) > 8 else "")
            print(
                f"{len(columns)} {reason.replace('_', '-')} columns in this file "
                f"(kept): {shown}"
            )
    print(
        f"{report.n_used} of {report.n_rows} rows x {frame.shape[1] - 2} features "
        f"-> {args.out}"
    )
    return 0
