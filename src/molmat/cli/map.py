"""``molmat map``: draw the chemical space of a CSV (PCA, t-SNE, Isomap, k-means)."""

from __future__ import annotations

import numpy as np

from molmat.classic.chemspace import METHOD_NAMES, METHODS
from molmat.cli.output import HelpFormatter, table
from molmat.featurizers.descriptors import FEATURE_SETS
from molmat.tasks.chemspace import chemical_space_map


def add_parser(sub):
    p = sub.add_parser(
        "map",
        formatter_class=HelpFormatter,
        description="Place the molecules of a CSV in 2D (PCA, t-SNE or Isomap) and "
        "write map.png and embedding.csv to --out; --clusters adds clusters.png, "
        "elbow.png and representatives.png. On fingerprints t-SNE and Isomap use "
        "the Tanimoto distance (1 - Tanimoto; 1 - MinMax on counts), which needs "
        "an n x n matrix (0.4 GB for 10,000 molecules); descriptors are "
        "standardised and reduced to 50 dimensions by PCA first. k-means runs in "
        "that PCA space (at most 50 dimensions) for both.",
    )
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, help="CSV file or bundled dataset name")
    data.add_argument("--smiles-col", help="SMILES column (detected when omitted)")
    data.add_argument(
        "--color",
        metavar="COLUMN",
        help="colour points by this column: numbers get a colourbar; text, and "
        "integer columns with at most 10 values, get a legend (default: one colour)",
    )
    data.add_argument(
        "--name-col",
        help="column naming the cluster representatives (default: a column "
        "called 'name' if there is one, else SMILES)",
    )
    data.add_argument(
        "--max-molecules",
        type=int,
        help="map a random subset of this many molecules (seeded by --seed); "
        "default: all. Useful above ~20,000 molecules for t-SNE/Isomap",
    )
    feats = p.add_argument_group("features")
    feats.add_argument(
        "--features", choices=FEATURE_SETS, default="morgan", help="feature set"
    )
    feats.add_argument("--radius", type=int, default=2, help="Morgan radius")
    feats.add_argument("--n-bits", type=int, default=2048, help="Morgan length")
    method = p.add_argument_group("map")
    method.add_argument(
        "--method", choices=METHODS, default="pca", help="2D embedding method"
    )
    method.add_argument(
        "--perplexity", type=float, default=30.0, help="t-SNE perplexity"
    )
    method.add_argument(
        "--neighbors", type=int, default=10, help="Isomap neighbourhood size"
    )
    method.add_argument(
        "--clusters",
        type=int,
        metavar="K",
        help="k-means with K clusters, an elbow plot for k = 1..max(2K, 10) and "
        "the molecule nearest to each cluster centre",
    )
    method.add_argument(
        "--seed", type=int, default=0, help="seed of the subset, t-SNE and k-means"
    )
    p.add_argument("--out", required=True, help="output folder")
    return p


def run(args) -> int:
    result = chemical_space_map(
        args.data,
        args.out,
        features=args.features,
        method=args.method,
        colour=args.color,
        clusters=args.clusters,
        smiles_col=args.smiles_col,
        name_col=args.name_col,
        radius=args.radius,
        n_bits=args.n_bits,
        max_molecules=args.max_molecules,
        perplexity=args.perplexity,
        n_neighbors=args.neighbors,
        seed=args.seed,
    )
    emb, report = result.embedding, result.report
    rows = [
        [
            "molecules",
            f"{len(result.rows)} mapped ({report.n_rows} rows, "
            f"{len(report.bad_rows)} skipped)",
        ],
        ["features", args.features],
        ["method", METHOD_NAMES[emb.method]],
    ]
    if emb.method != "pca":
        rows.append(["distance", emb.metric])
    if emb.explained_variance is not None:
        shares = ", ".join(f"{100 * r:.1f}%" for r in emb.explained_variance)
        rows.append(["explained variance (PC1, PC2)", shares])
    if result.clusters is not None:
        found = result.clusters
        rows.append([f"k-means silhouette (k = {found.k})", found.silhouette])
        if np.isfinite(found.silhouettes).any():
            best = int(np.nanargmax(found.silhouettes))
            rows.append(
                [
                    "best silhouette in the sweep",
                    f"k = {found.ks[best]} ({found.silhouettes[best]:.4f})",
                ]
            )
    rows += [["written", str(path)] for path in result.files]
    print(table(["map", "value"], rows))
    return 0
