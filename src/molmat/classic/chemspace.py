"""Unsupervised chemical-space maps: 2D embeddings, k-means clusters, plots.

- :func:`prepare_features` turns a feature table into what the maps use:
  fingerprints as they are, real-valued descriptors cleaned and standardised.
- :func:`embed` places molecules in 2D with PCA, t-SNE or Isomap. On
  fingerprints, t-SNE and Isomap use the Jaccard/Tanimoto distance
  ``1 - Tanimoto`` (``1 - MinMax`` on counts), an [n, n] matrix computed with
  :func:`molmat.classic.kernels.kernel_matrix`; on descriptors they use
  Euclidean distance after PCA to 50 dimensions. PCA is plain PCA either way.
- :func:`kmeans` clusters molecules (in the same PCA space, at most 50
  dimensions), sweeps k for an elbow plot and picks the molecule nearest to
  each centre as the cluster's representative.
- :func:`map_plot`, :func:`elbow_plot` and :func:`representatives_grid` draw
  the PNGs.

    >>> emb = embed(x, "tsne", seed=0, metric="tanimoto")  # doctest: +SKIP
    >>> clusters = kmeans(reduce_dimensions(x), k=5, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from rdkit import Chem
from rdkit.Chem import Draw
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, Isomap
from sklearn.metrics import silhouette_score

from molmat.classic.estimators import DescriptorCleaner
from molmat.classic.kernels import kernel_matrix
from molmat.data.console import progress_bar, reported_warnings
from molmat.data.statistics import Standardizer
from molmat.featurizers.descriptors import (
    BINARY_SETS,
    COUNT_SETS,
    DESCRIPTOR_CLIP,
    PROGRESS_FROM,
)

log = logging.getLogger("molmat")

METHODS = ("pca", "tsne", "isomap")
METRICS = ("euclidean", "tanimoto", "minmax")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "isomap": "Isomap"}
REDUCED_DIMS = 50  # t-SNE/Isomap on descriptors and k-means work in this PCA space
SILHOUETTE_SAMPLE = 2000  # silhouettes are estimated on at most this many molecules
DUPLICATE_POINTS = (
    "the molecules have fewer distinct feature vectors than clusters, so some "
    "clusters are empty or repeat others"
)


def metric_for(features: str) -> str:
    """Distance of a feature set: Tanimoto (bits), MinMax (counts) or Euclidean."""
    if features in BINARY_SETS:
        return "tanimoto"
    return "minmax" if features in COUNT_SETS else "euclidean"


def prepare_features(x: np.ndarray, metric: str) -> np.ndarray:
    """Features as the maps use them, [n, d] float32.

    Fingerprints (``metric`` ``tanimoto``/``minmax``) are returned unchanged.
    Descriptors lose their constant and all-NaN columns, get NaN filled with
    the column median and are standardised, clipped to ±6 standard deviations
    so that a few extreme values cannot dominate the map.
    """
    check_option(metric, METRICS, "metric")
    if metric != "euclidean":
        return np.asarray(x, np.float32)
    cleaned = DescriptorCleaner(scale=False).fit_transform(x)
    return Standardizer.fit(cleaned, DESCRIPTOR_CLIP).transform(cleaned)


def reduce_dimensions(x: np.ndarray, seed: int = 0, dims: int = REDUCED_DIMS):
    """PCA projection [n, min(dims, d, n)] (``x`` itself when already that small)."""
    n_components = min(dims, x.shape[1], len(x))
    if n_components == x.shape[1]:
        return np.asarray(x, np.float32)
    return PCA(n_components, random_state=seed).fit_transform(x).astype(np.float32)


def distance_matrix(x: np.ndarray, metric: str) -> np.ndarray:
    """``1 - Tanimoto`` or ``1 - MinMax`` similarity, [n, n] float32 in [0, 1]."""
    check_option(metric, ("tanimoto", "minmax"), "fingerprint metric")
    log.info("%s distances between %d molecules", metric, len(x))
    return np.clip(1.0 - kernel_matrix(x, kind=metric), 0.0, 1.0)


@dataclass(frozen=True)
class Embedding:
    """Molecules placed in 2D.

    Attributes:
        coords: [n, 2] coordinates (arbitrary units).
        method: ``pca``, ``tsne`` or ``isomap``.
        metric: distance between molecules (``euclidean`` for PCA; t-SNE
            and Isomap also ``tanimoto`` or ``minmax``).
        explained_variance: [2] fraction of the variance on each PCA axis
            (``None`` for t-SNE and Isomap).
    """

    coords: np.ndarray
    method: str
    metric: str
    explained_variance: np.ndarray | None = None

    @property
    def axis_labels(self) -> tuple[str, str]:
        name = METHOD_NAMES[self.method]
        if self.explained_variance is None:
            return f"{name} 1", f"{name} 2"
        first, second = self.explained_variance
        return (
            f"PC1 ({100 * first:.1f}% of variance)",
            f"PC2 ({100 * second:.1f}% of variance)",
        )


def embed(
    x: np.ndarray,
    method: str = "pca",
    seed: int = 0,
    metric: str = "euclidean",
    perplexity: float = 30.0,
    n_neighbors: int = 10,
) -> Embedding:
    """Place the rows of ``x`` in 2D.

    Args:
        x: [n, d] features from :func:`prepare_features`.
        method: ``pca``, ``tsne`` or ``isomap``.
        seed: makes t-SNE (and randomised PCA) reproducible.
        metric: ``euclidean``, or ``tanimoto``/``minmax`` for fingerprints
            (t-SNE and Isomap then use ``1 - similarity`` as the distance).
        perplexity: t-SNE neighbourhood size (lowered to (n - 1) / 3 on small sets).
        n_neighbors: Isomap neighbourhood graph size (at most n - 1).

    Returns:
        The :class:`Embedding`.
    """
    check_option(method, METHODS, "method")
    check_option(metric, METRICS, "metric")
    x = np.asarray(x, np.float32)
    n = len(x)
    if n < 4:
        raise ValueError(f"a map needs at least 4 molecules, got {n}")
    if method == "pca":
        pca = PCA(2, random_state=seed).fit(x)
        ratio = pca.explained_variance_ratio_.copy()
        return Embedding(pca.transform(x), method, "euclidean", ratio)
    if metric == "euclidean":
        inputs, sk_metric = reduce_dimensions(x, seed), "euclidean"
    else:
        inputs, sk_metric = distance_matrix(x, metric), "precomputed"
    log.info("%s of %d molecules (%s distance)", METHOD_NAMES[method], n, metric)
    if method == "tsne":
        start = PCA(2, random_state=seed).fit_transform(x)
        start = start / (np.std(start[:, 0]) or 1.0) * 1e-4  # sklearn's PCA start
        coords = TSNE(
            perplexity=min(perplexity, (n - 1) / 3),
            metric=sk_metric,
            init=start.astype(np.float32),
            random_state=seed,
        ).fit_transform(inputs)
    else:
        isomap = Isomap(n_neighbors=min(n_neighbors, n - 1), metric=sk_metric)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            coords = isomap.fit_transform(inputs)
        for warning in caught:  # e.g. a disconnected neighbour graph; said once
            if issubclass(warning.category, UserWarning):
                log.warning("Isomap: %s", warning.message)
        # eigenvectors have no sign: make each axis' largest value positive
        biggest = np.abs(coords).argmax(axis=0)
        coords = coords * np.sign(coords[biggest, [0, 1]])
    return Embedding(np.asarray(coords, np.float64), method, metric)


@dataclass(frozen=True)
class Clusters:
    """k-means clusters and the elbow sweep around them.

    Attributes:
        k: number of clusters.
        labels: [n] cluster of each molecule, 0..k-1.
        centers: [k, d] cluster centres in the clustered space.
        representatives: [k] index of the member nearest to each centre.
        sizes: [k] members per cluster.
        ks: [m] values of k swept for the elbow plot (1..k_max).
        inertias: [m] within-cluster sum of squared distances for each k.
        silhouettes: [m] mean silhouette for each k (NaN for k = 1 or k = n).
    """

    k: int
    labels: np.ndarray
    centers: np.ndarray
    representatives: np.ndarray
    sizes: np.ndarray
    ks: np.ndarray
    inertias: np.ndarray
    silhouettes: np.ndarray

    @property
    def silhouette(self) -> float:
        """Mean silhouette of the chosen k (-1..1, higher = better separated)."""
        return float(self.silhouettes[self.ks == self.k][0])


def kmeans(
    x: np.ndarray, k: int, seed: int = 0, k_max: int | None = None, n_init: int = 4
) -> Clusters:
    """k-means with ``k`` clusters, plus an elbow sweep over k = 1..``k_max``.

    Args:
        x: [n, d] points (e.g. :func:`reduce_dimensions` of the features).
        k: clusters to keep.
        seed: seed of the k-means++ starts and of the silhouette sample.
        k_max: largest k of the sweep; ``max(2k, 10)`` (at most n) by default.
        n_init: k-means++ starts per k (the best one is kept).

    Returns:
        The :class:`Clusters`; silhouettes use at most 2,000 molecules.
    """
    x = np.asarray(x, np.float64)
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"k-means needs 1 <= k <= {n} (the molecules), got k={k}")
    k_max = min(max(2 * k, 10) if k_max is None else max(k_max, k), n)
    ks = np.arange(1, k_max + 1)
    inertias, silhouettes, chosen = [], [], None
    for kk in progress_bar(ks, "k-means", enabled=n >= PROGRESS_FROM, unit="k"):
        with reported_warnings(f"k-means with k = {kk}", DUPLICATE_POINTS):
            model = KMeans(int(kk), n_init=n_init, random_state=seed).fit(x)
        inertias.append(model.inertia_)
        silhouettes.append(_silhouette(x, model.labels_, seed))
        if kk == k:
            chosen = model
    labels = chosen.labels_.astype(np.int64)
    centers = chosen.cluster_centers_
    return Clusters(
        k=k,
        labels=labels,
        centers=centers,
        representatives=nearest_to_centres(x, labels, centers),
        sizes=np.bincount(labels, minlength=k),
        ks=ks,
        inertias=np.asarray(inertias),
        silhouettes=np.asarray(silhouettes),
    )


def nearest_to_centres(
    x: np.ndarray, labels: np.ndarray, centers: np.ndarray
) -> np.ndarray:
    """[k] index of the member of each cluster nearest to its centre (-1 if empty)."""
    found = np.full(len(centers), -1, dtype=np.int64)
    for c, centre in enumerate(centers):
        members = np.flatnonzero(labels == c)
        if len(members):
            found[c] = members[np.argmin(((x[members] - centre) ** 2).sum(axis=1))]
    return found


def _silhouette(x: np.ndarray, labels: np.ndarray, seed: int) -> float:
    if not 2 <= len(np.unique(labels)) <= len(x) - 1:
        return float("nan")
    sample = min(len(x), SILHOUETTE_SAMPLE)
    return float(silhouette_score(x, labels, sample_size=sample, random_state=seed))


def check_option(value: str, allowed: tuple[str, ...], what: str) -> None:
    """Raise ``ValueError`` naming the choices when ``value`` is not allowed."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; choose one of {list(allowed)}")


# ----------------------------------------------------------------- plots

MAX_CATEGORIES = 20  # larger categories get their own colour, the rest are "other"
MISSING_COLOUR = "0.8"
COLOUR_PERCENTILE = 1.0  # numeric colour scales span the 1st to 99th percentile


def map_plot(
    emb: Embedding,
    path: str | Path,
    *,
    title: str,
    values: np.ndarray | None = None,
    label: str = "",
    categorical: bool = False,
    marked: np.ndarray | None = None,
    seed: int = 0,
) -> Path:
    """Scatter plot of a 2D map.

    Args:
        emb: the embedding.
        path: PNG to write.
        title: plot title.
        values: [n] colour of each point: numbers (NaN = missing; colourbar)
            or, with ``categorical``, labels (``None``/NaN = missing; legend).
            ``None``: one colour.
        label: name of the coloured quantity (colourbar or legend title).
        marked: indices of points drawn as black-edged stars and numbered by
            their position in ``marked`` (cluster representatives).
        seed: order in which points are drawn (so no group is always on top).
    """
    coords = emb.coords
    n = len(coords)
    order = np.random.default_rng(seed).permutation(n)
    size = float(np.clip(4000 / max(n, 1), 3, 40))
    style = dict(s=size, alpha=0.75, edgecolors="none")
    fig = Figure(figsize=(7.5, 6), dpi=120)
    ax = fig.subplots()
    if values is None:
        ax.scatter(coords[order, 0], coords[order, 1], color="C0", **style)
    elif categorical:
        values = np.asarray(values, object)
        _categorical_scatter(ax, coords, order, values, label, style)
    else:
        values = np.asarray(values, np.float64)
        missing = np.isnan(values[order])
        if missing.any():
            gone = order[missing]
            ax.scatter(
                coords[gone, 0],
                coords[gone, 1],
                color=MISSING_COLOUR,
                label=f"no value ({missing.sum()})",
                **style,
            )
            ax.legend(loc="best", fontsize=8, markerscale=max(1.0, 20 / size))
        kept = order[~missing]
        low, high = _colour_range(values[kept])
        points = ax.scatter(
            coords[kept, 0],
            coords[kept, 1],
            c=values[kept],
            cmap="viridis",
            vmin=low,
            vmax=high,
            **style,
        )
        clipped = (bool((values[kept] < low).any()), bool((values[kept] > high).any()))
        extend = {(0, 0): "neither", (1, 0): "min", (0, 1): "max", (1, 1): "both"}
        fig.colorbar(points, ax=ax, label=label, extend=extend[clipped])
    if marked is not None and len(marked):
        ax.scatter(
            coords[marked, 0],
            coords[marked, 1],
            marker="*",
            s=180,
            facecolors="none",
            edgecolors="black",
            linewidths=1.0,
            zorder=3,
        )
        for c, i in enumerate(marked):
            ax.annotate(
                str(c), coords[i], xytext=(5, 5), textcoords="offset points", zorder=4
            )
    x_label, y_label = emb.axis_labels
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def _categorical_scatter(ax, coords, order, values, label, style) -> None:
    """A colour per category (the 19 largest if over 20), a legend with counts."""
    missing = np.array([_is_missing(v) for v in values])
    names, counts = np.unique(values[~missing].astype(str), return_counts=True)
    ranked = names[np.argsort(-counts, kind="stable")]
    shown = ranked if len(ranked) <= MAX_CATEGORIES else ranked[: MAX_CATEGORIES - 1]
    shown = sorted(shown, key=_natural_order)  # "2" before "10"
    text = np.where(missing, "", values.astype(str))
    palette = colormaps["tab10" if len(shown) <= 10 else "tab20"]
    groups = [(name, text == name, palette(j)) for j, name in enumerate(shown)]
    if len(shown) < len(ranked):
        groups.append(("other", ~missing & ~np.isin(text, shown), MISSING_COLOUR))
    if missing.any():
        groups.append(("no value", missing, "0.5"))
    colours = np.empty(len(values), object)
    for _, members, colour in groups:
        colours[members] = to_hex(colour)
    # one scatter in random order, so no category is always drawn on top
    ax.scatter(coords[order, 0], coords[order, 1], c=list(colours[order]), **style)
    for name, members, colour in groups:
        ax.scatter([], [], s=30, color=colour, label=f"{name} ({members.sum()})")
    ax.legend(
        title=label,
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
    )


def _colour_range(values: np.ndarray) -> tuple[float, float]:
    """Colour scale from the 1st to the 99th percentile: outliers don't flatten it."""
    if not len(values):
        return 0.0, 1.0
    low, high = np.percentile(values, [COLOUR_PERCENTILE, 100 - COLOUR_PERCENTILE])
    if high <= low:  # (nearly) one value: the whole range
        low, high = values.min(), values.max()
    return float(low), float(high)


def _natural_order(name: str) -> tuple:
    try:
        return (0, float(name), "")
    except ValueError:
        return (1, 0.0, name)


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def elbow_plot(clusters: Clusters, path: str | Path) -> Path:
    """Inertia (and silhouette) against k, the chosen k marked."""
    fig = Figure(figsize=(6, 4), dpi=120)
    ax = fig.subplots()
    ax.plot(clusters.ks, clusters.inertias, "o-", color="C0", label="inertia")
    chosen = clusters.ks == clusters.k
    ax.plot(
        clusters.ks[chosen],
        clusters.inertias[chosen],
        "o",
        ms=12,
        mfc="none",
        mec="C3",
        mew=2,
        label=f"chosen k = {clusters.k}",
    )
    ax.axvline(clusters.k, color="C3", ls=":", lw=1)
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("inertia (sum of squared distances)", color="C0")
    ax.set_xticks(clusters.ks)
    handles, labels = ax.get_legend_handles_labels()
    if np.isfinite(clusters.silhouettes).any():
        ax2 = ax.twinx()
        ax2.plot(clusters.ks, clusters.silhouettes, "s--", color="C1", ms=4)
        ax2.set_ylabel("mean silhouette", color="C1")
        handles += ax2.get_lines()
        labels += ["silhouette"]
    ax.legend(handles, labels, loc="upper right", fontsize=8)
    ax.set_title(f"k-means elbow (chosen k = {clusters.k})")
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def representatives_grid(
    mols: list[Chem.Mol],
    clusters: Clusters,
    path: str | Path,
    names: list[str] | None = None,
    per_row: int = 4,
    width: int = 36,
) -> Path:
    """RDKit grid of the molecule nearest to each cluster centre.

    Args:
        mols: [n] molecules, in the order of the clustered rows.
        clusters: the clusters.
        path: PNG to write.
        names: [n] names shown under each molecule (SMILES when ``None``).
        per_row: molecules per grid row.
        width: legends longer than this are shortened with "...".
    """
    kept = [(c, i) for c, i in enumerate(clusters.representatives) if i >= 0]
    legends = []
    for c, i in kept:
        text = names[i] if names is not None else Chem.MolToSmiles(mols[i])
        text = text if len(text) <= width else text[: width - 3] + "..."
        legends.append(f"cluster {c} (n={clusters.sizes[c]})\n{text}")
    image = Draw.MolsToGridImage(
        [mols[i] for _, i in kept],
        molsPerRow=min(per_row, len(kept)),
        subImgSize=(320, 280),
        legends=legends,
    )
    image.save(str(path))
    return Path(path)
