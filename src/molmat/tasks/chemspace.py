"""Chemical-space maps of a CSV or bundled dataset: ``molmat map``.

:func:`chemical_space_map` reads the molecules (bad rows reported and
skipped), computes their features, embeds them in 2D and writes, into one
folder:

- ``map.png``: the map, coloured by a column when asked;
- ``embedding.csv``: row, SMILES, the two coordinates, the cluster and the
  colour column;
- with ``clusters=k``: ``clusters.png`` (the map coloured by k-means cluster,
  representatives starred), ``elbow.png`` (inertia and silhouette for
  k = 1..max(2k, 10)) and ``representatives.png`` (the molecule nearest to
  each cluster centre).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from molmat.classic import chemspace
from molmat.data.csv import DataError, DataReport, MoleculeTable, read_molecules
from molmat.data.datasets import DATASETS
from molmat.featurizers.descriptors import molecule_features_cached
from molmat.tasks.runs import report_data

log = logging.getLogger("molmat")

MAX_CATEGORY_CODES = 10  # integer columns with at most this many values are categories


@dataclass
class ChemicalSpaceMap:
    """What :func:`chemical_space_map` computed and wrote.

    Attributes:
        embedding: the 2D map of the mapped molecules.
        rows: [n] 0-based input row of each mapped molecule.
        smiles: [n] SMILES of each mapped molecule.
        clusters: k-means clusters (``None`` without ``clusters``).
        report: bad input rows and duplicates.
        files: paths written.
    """

    embedding: chemspace.Embedding
    rows: np.ndarray
    smiles: list[str]
    clusters: chemspace.Clusters | None
    report: DataReport
    files: list[Path] = field(default_factory=list)


def chemical_space_map(
    data: str | Path,
    out: str | Path,
    *,
    features: str = "morgan",
    method: str = "pca",
    colour: str | None = None,
    clusters: int | None = None,
    smiles_col: str | None = None,
    name_col: str | None = None,
    radius: int = 2,
    n_bits: int = 2048,
    max_molecules: int | None = None,
    perplexity: float = 30.0,
    n_neighbors: int = 10,
    seed: int = 0,
) -> ChemicalSpaceMap:
    """Map the molecules of a CSV in 2D and write plots and coordinates to ``out``.

    Args:
        data: CSV path or bundled dataset name.
        out: output folder.
        features: feature set (see :mod:`molmat.featurizers.descriptors`).
            Fingerprints use Tanimoto (bits) or MinMax (counts) distances for
            t-SNE and Isomap.
        method: ``pca``, ``tsne`` or ``isomap``.
        colour: column that colours the map: numbers get a colourbar; text,
            and integer columns with at most 10 values, get a legend.
        clusters: k for k-means (``None``: no clustering).
        smiles_col: SMILES column (detected when ``None``).
        name_col: column naming the representatives; a column called
            ``name`` when ``None`` and present, else the SMILES are shown.
        radius, n_bits: Morgan fingerprint options.
        max_molecules: map a seeded random subset of this many molecules
            (``None``: all of them).
        perplexity, n_neighbors: t-SNE and Isomap neighbourhood sizes.
        seed: seed of the subset, t-SNE, k-means and the drawing order.

    Raises:
        DataError: a named column is missing, or fewer than 4 molecules are usable.
    """
    chemspace.check_option(method, chemspace.METHODS, "method")
    table = read_molecules(data, smiles_col, targets=[], require_targets=False)
    source = table.report.source
    for option, column in (("colour", colour), ("name", name_col)):
        if column is not None and column not in table.frame.columns:
            raise DataError(
                f"{source}: {option} column {column!r} not found; columns are "
                f"{list(table.frame.columns)}"
            )
    report_data(table.report)
    keep = _subset(len(table), max_molecules, seed)
    if len(keep) < 4:
        raise DataError(f"{source}: only {len(keep)} usable molecules (a map needs 4)")
    if clusters is not None and not 1 <= clusters <= len(keep):
        raise ValueError(f"clusters must be between 1 and {len(keep)}, got {clusters}")
    rows = table.rows[keep]
    smiles = [table.smiles[i] for i in keep]
    mols = [table.mols[i] for i in keep]

    metric = chemspace.metric_for(features)
    raw = molecule_features_cached(smiles, mols, features, radius, n_bits)
    x = chemspace.prepare_features(raw, metric)
    emb = chemspace.embed(x, method, seed, metric, perplexity, n_neighbors)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"row": rows, "smiles": smiles})
    frame[f"{method}_1"], frame[f"{method}_2"] = emb.coords[:, 0], emb.coords[:, 1]
    title = f"{Path(source).name}: {features}, {chemspace.METHOD_NAMES[method]}"
    values = categorical = None
    if colour is not None:
        values, categorical = colour_values(table, colour, rows)
    result = ChemicalSpaceMap(emb, rows, smiles, None, table.report)
    result.files.append(
        chemspace.map_plot(
            emb,
            out / "map.png",
            title=f"{title} ({len(rows)} molecules)",
            values=values,
            label=colour_label(source, colour),
            categorical=bool(categorical),
            seed=seed,
        )
    )
    if clusters is not None:
        log.info("k-means: k = %d, elbow sweep", clusters)
        found = chemspace.kmeans(chemspace.reduce_dimensions(x, seed), clusters, seed)
        result.clusters = found
        frame["cluster"] = found.labels
        names = _names(table, name_col, keep)
        result.files += [
            chemspace.map_plot(
                emb,
                out / "clusters.png",
                title=f"{title}: {clusters} k-means clusters",
                values=found.labels.astype(str),
                label="cluster (★ nearest to centre)",
                categorical=True,
                marked=found.representatives,
                seed=seed,
            ),
            chemspace.elbow_plot(found, out / "elbow.png"),
            chemspace.representatives_grid(
                mols, found, out / "representatives.png", names
            ),
        ]
    if colour is not None:
        frame[colour] = values
    frame.to_csv(out / "embedding.csv", index=False)
    result.files.append(out / "embedding.csv")
    return result


def colour_values(
    table: MoleculeTable, column: str, rows: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Values of ``column`` at ``rows`` and whether they are categories.

    A column is numeric when most of its filled cells are numbers; the others
    are reported and left uncoloured. Text columns, and integer columns with
    at most 10 distinct values (class labels), are categories.
    """
    raw = table.frame[column].iloc[rows].reset_index(drop=True)
    numbers = pd.to_numeric(raw, errors="coerce")
    filled = raw.notna() & (raw.astype(str).str.strip() != "")
    if numbers[filled].notna().sum() <= filled.sum() / 2:
        return np.where(filled, raw.astype(str), None).astype(object), True
    text = np.flatnonzero(filled & numbers.isna())
    if len(text):
        shown = ", ".join(f"row {rows[i]} ({raw.iloc[i]!r})" for i in text[:10])
        log.warning(
            "%d value(s) of colour column %r are not numbers, drawn uncoloured: %s%s",
            len(text),
            column,
            shown,
            " ..." if len(text) > 10 else "",
        )
    values = numbers.to_numpy(np.float64)
    known = values[~np.isnan(values)]
    if np.array_equal(known, np.round(known)) and len(np.unique(known)) <= (
        MAX_CATEGORY_CODES
    ):
        labels = [None if np.isnan(v) else str(int(v)) for v in values]
        return np.array(labels, dtype=object), True
    return values, False


def colour_label(source: str, column: str | None) -> str:
    """The colour column's name, with its units when it is a bundled target."""
    info = DATASETS.get(source)
    if column is None or info is None or column not in info.targets:
        return column or ""
    return f"{column} [{info.units}]" if info.task == "regression" else column


def _subset(n: int, max_molecules: int | None, seed: int) -> np.ndarray:
    """Sorted positions of a seeded random subset of at most ``max_molecules``."""
    if max_molecules is None or max_molecules >= n:
        return np.arange(n)
    if max_molecules < 1:
        raise ValueError(f"max_molecules must be positive, got {max_molecules}")
    log.info(
        "mapping a random %d of %d molecules (max_molecules, seed %d)",
        max_molecules,
        n,
        seed,
    )
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, max_molecules, replace=False))


def _names(table: MoleculeTable, name_col: str | None, keep: np.ndarray):
    """Names of the kept molecules from ``name_col`` (or a ``name`` column)."""
    if name_col is None:
        by_lower = {str(c).lower(): c for c in table.frame.columns}
        name_col = by_lower.get("name")
    if name_col is None:
        return None
    cells = table.frame[name_col].iloc[table.rows[keep]]
    smiles = [table.smiles[i] for i in keep]
    return [
        str(v) if pd.notna(v) and str(v).strip() else s
        for v, s in zip(cells, smiles, strict=True)
    ]
