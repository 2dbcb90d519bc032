"""``molmat explain``: why a model predicts what it does, and what would change it."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, fmt, table
from molmat.cli.predict import add_sep

METHODS = ("ig", "gradient", "smoothgrad", "shap", "counterfactual")


def add_parser(sub):
    p = sub.add_parser(
        "explain",
        formatter_class=HelpFormatter,
        description="Attribute a trained model's predictions to atoms (graph "
        "models; crystal networks, through each atom's element embedding), or "
        "tokens (sequence models), or find counterfactual molecules. "
        "ig: integrated gradients from the all-zero baseline (attributions add up "
        "to prediction - baseline prediction); gradient: gradient x input; "
        "smoothgrad: gradient x input averaged over noisy inputs; shap: Shapley "
        "values with atoms or tokens as players (descriptor and fingerprint models: "
        "feature columns, Morgan bits mapped back to their atoms); counterfactual: "
        "STONED SELFIES mutations, the most similar neighbours whose predicted "
        "class flips (classifiers) or whose prediction moves by --delta "
        "(regression). Attributions are in prediction units (probabilities for "
        "classifiers). Writes CSV tables and PNG/SVG pictures to --out.",
    )
    p.add_argument("--model", required=True, help="run folder or model archive folder")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--smiles", nargs="+", help="one or more SMILES (or sequences)")
    source.add_argument(
        "--data",
        help="CSV/TSV, .smi or SDF file (optionally .gz), or dataset name; "
        "structure files (extxyz, CIF, POSCAR, a folder or tar archive of them) "
        "for crystal networks",
    )
    p.add_argument("--smiles-col", help="SMILES or sequence column of --data")
    add_sep(p)
    p.add_argument("--method", choices=METHODS, default="ig", help="what to compute")
    p.add_argument("--target", help="target name or index (default: the first)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress"
    )
    attribution = p.add_argument_group("attributions")
    attribution.add_argument(
        "--steps", type=int, default=64, help="ig: midpoint-rule steps on the path"
    )
    attribution.add_argument(
        "--tolerance",
        type=float,
        help="ig: double the steps (up to --max-steps) until every molecule's "
        "attributions add up to prediction - baseline prediction within this "
        "fraction (e.g. 0.01)",
    )
    attribution.add_argument(
        "--max-steps",
        type=int,
        default=1024,
        help="ig: the most steps --tolerance takes",
    )
    attribution.add_argument(
        "--samples", type=int, default=32, help="smoothgrad: noisy copies"
    )
    attribution.add_argument(
        "--noise",
        type=float,
        default=0.15,
        help="smoothgrad: noise sigma as a fraction of each input's range",
    )
    attribution.add_argument(
        "--permutations",
        type=int,
        default=64,
        help="shap: sampled player orders (exact values when that is cheaper)",
    )
    attribution.add_argument(
        "--pictures", type=int, default=50, help="draw at most this many inputs"
    )
    counter = p.add_argument_group("counterfactuals")
    counter.add_argument("-n", type=int, default=5, help="counterfactuals per molecule")
    counter.add_argument(
        "--neighbours",
        type=int,
        default=2000,
        help="STONED mutations to sample, over all generations",
    )
    counter.add_argument(
        "--max-mutations", type=int, default=2, help="most edits per neighbour"
    )
    counter.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="generations of the search: each mutates the --beam neighbours that "
        "came closest to a counterfactual; it stops once -n are found",
    )
    counter.add_argument(
        "--beam", type=int, default=5, help="parents of each later generation"
    )
    counter.add_argument(
        "--min-similarity",
        type=float,
        default=0.6,
        help="neighbours less similar (Tanimoto, Morgan r2) are not predicted",
    )
    counter.add_argument(
        "--threshold",
        type=float,
        help="class boundary of classifiers (default: the one chosen on validation "
        "when `molmat train` trained the model, as `molmat predict` labels; else 0.5)",
    )
    counter.add_argument(
        "--delta",
        type=float,
        help="least change of a regression prediction, in target units "
        "(default: one standard deviation of the training targets)",
    )
    counter.add_argument(
        "--direction",
        choices=("any", "up", "down"),
        default="any",
        help="regression: which way the prediction must move",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every sampling step")
    return p


def run(args) -> int:
    from molmat.tasks.explain import counterfactuals_to_folder, explain_to_folder

    source = {
        "smiles": args.smiles,
        "data": args.data,
        "smiles_col": args.smiles_col,
        "sep": args.sep,
    }
    if args.method == "counterfactual":
        summary = counterfactuals_to_folder(
            args.model,
            args.out,
            **source,
            n=args.n,
            target=args.target,
            n_samples=args.neighbours,
            max_mutations=args.max_mutations,
            rounds=args.rounds,
            beam=args.beam,
            min_similarity=args.min_similarity,
            threshold=args.threshold,
            delta=args.delta,
            direction=args.direction,
            seed=args.seed,
            progress=args.progress,
        )
    else:
        summary = explain_to_folder(
            args.model,
            args.out,
            args.method,
            **source,
            target=args.target,
            pictures=args.pictures,
            steps=args.steps,
            tolerance=args.tolerance,
            max_steps=args.max_steps,
            samples=args.samples,
            noise=args.noise,
            permutations=args.permutations,
            seed=args.seed,
            progress=args.progress,
        )
    rows = [
        ["method", summary.method],
        ["target", summary.target],
        ["inputs", summary.n_inputs],
        ["explained", summary.n_explained],
        ["skipped", len(summary.skipped)],
        *([k.replace("_", " "), fmt(v)] for k, v in summary.stats.items()),
    ]
    print(table(["", ""], rows))
    for reason in summary.skipped[:10]:
        print(f"skipped {reason}")
    print(f"-> {args.out}")
    return 0
