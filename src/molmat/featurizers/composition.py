"""Composition features: element-property statistics of a formula (Magpie).

The ``magpie`` set (Ward et al., npj Comput. Mater. 2, 16028, 2016), as
composition-only materials models use it:

- 22 element properties (:data:`ELEMENT_PROPERTIES`) × 6 fraction-weighted
  statistics: minimum, maximum, range, mean, mean absolute deviation from
  the mean, and the value of the most abundant element (ties: the smallest);
- stoichiometry: number of elements and the 2, 3, 5, 7, 10-norms of the
  atomic fractions;
- valence orbitals: mean s, p, d, f valence electrons and their shares of
  the mean valence;
- ionic character: whether common oxidation states can balance the charges,
  the largest pairwise ionic character ``1 - exp(-(χ_i - χ_j)² / 4)`` and its
  fraction-weighted mean over pairs.

Element data: Magpie's element tables (``files/elements.csv``, with their
provenance and licence in ``files/README.md``). A property unknown for an
element of a formula makes that formula's statistics of it NaN; the classic
models' cleaning step imputes them.

Shapes: ``composition_features(comps)`` → [n, F] float64, F =
``len(feature_names())``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from molmat.data.compositions import MAX_Z, Composition

COMPOSITION_SETS = ("magpie",)
ELEMENT_PROPERTIES = (
    "Number",
    "MendeleevNumber",
    "AtomicWeight",
    "MeltingT",
    "Column",
    "Row",
    "CovalentRadius",
    "Electronegativity",
    "NsValence",
    "NpValence",
    "NdValence",
    "NfValence",
    "NValence",
    "NsUnfilled",
    "NpUnfilled",
    "NdUnfilled",
    "NfUnfilled",
    "NUnfilled",
    "GSvolume_pa",
    "GSbandgap",
    "GSmagmom",
    "SpaceGroupNumber",
)
STATISTICS = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")
NORMS = (2, 3, 5, 7, 10)
ORBITALS = ("s", "p", "d", "f")
MAX_CHARGE_COMBINATIONS = 100_000  # oxidation-state assignments tried per formula


@cache
def element_table() -> tuple[np.ndarray, tuple[tuple[int, ...], ...]]:
    """Element properties [MAX_Z + 1, 22] (row Z; row 0 unused, NaN where
    unknown) and each element's common oxidation states."""
    path = resources.files("molmat.featurizers") / "files" / "elements.csv"
    with resources.as_file(path) as file:
        frame = pd.read_csv(file, keep_default_na=False, na_values=[""])
    values = np.full((MAX_Z + 1, len(ELEMENT_PROPERTIES)), np.nan)
    values[frame["Number"].to_numpy(int)] = frame[list(ELEMENT_PROPERTIES)].to_numpy(
        float
    )
    states = [()] * (MAX_Z + 1)
    texts = frame["OxidationStates"].fillna("").astype(str)
    for z, text in zip(frame["Number"], texts, strict=True):
        states[int(z)] = tuple(int(s) for s in text.split())
    return values, tuple(states)


def feature_names(kind: str = "magpie") -> list[str]:
    """Column names of :func:`composition_features`."""
    check_composition_kind(kind)
    names = [f"{s} {p}" for p in ELEMENT_PROPERTIES for s in STATISTICS]
    names += ["n_elements"] + [f"{p}-norm" for p in NORMS]
    names += [f"mean {o} valence" for o in ORBITALS]
    names += [f"{o} valence fraction" for o in ORBITALS]
    names += ["compound possible", "max ionic char", "avg ionic char"]
    return names


def check_composition_kind(kind: str) -> None:
    if kind not in COMPOSITION_SETS:
        raise ValueError(
            f"unknown composition features {kind!r}; choose one of {COMPOSITION_SETS}"
        )


def composition_features(
    comps: Sequence[Composition], kind: str = "magpie"
) -> np.ndarray:
    """Features [n, F] of each composition (see the module docstring)."""
    check_composition_kind(kind)
    width = len(feature_names(kind))
    if not len(comps):
        return np.zeros((0, width))
    table, states = element_table()
    fractions = np.zeros((len(comps), MAX_Z + 1))
    for i, c in enumerate(comps):
        np.add.at(fractions[i], c.numbers, c.fractions)
    present = fractions > 0
    out = np.concatenate(
        [
            _property_statistics(fractions, present, table),
            _stoichiometry(fractions, present),
            _valence(fractions, table),
            _ionic(comps, fractions, present, table, states),
        ],
        axis=1,
    )
    assert out.shape[1] == width
    return out


def _property_statistics(fractions, present, table) -> np.ndarray:
    """[n, 22 * 6]: the statistics of each property, property-major."""
    n, p = len(fractions), table.shape[1]
    values = table[None, :, :]  # [1, Z, P]
    mask = present[:, :, None]  # [n, Z, 1]
    with np.errstate(invalid="ignore"):
        unknown = (mask & np.isnan(values)).any(axis=1)  # [n, P]
        filled = np.where(mask, np.nan_to_num(values), 0.0)
        low = np.where(mask, np.nan_to_num(values, nan=np.inf), np.inf).min(axis=1)
        high = np.where(mask, np.nan_to_num(values, nan=-np.inf), -np.inf).max(axis=1)
        mean = np.einsum("nz,nzp->np", fractions, filled)
        deviation = np.einsum(
            "nz,nzp->np", fractions, np.abs(filled - mean[:, None, :]) * mask
        )
        top = fractions == fractions.max(axis=1, keepdims=True)  # most abundant
        mode = np.where(top[:, :, None], np.nan_to_num(values, nan=np.inf), np.inf).min(
            axis=1
        )
    stats = np.stack([low, high, high - low, mean, deviation, mode], axis=2)
    stats[np.broadcast_to(unknown[:, :, None], stats.shape)] = np.nan
    stats[~np.isfinite(stats)] = np.nan
    return stats.reshape(n, p * len(STATISTICS))


def _stoichiometry(fractions, present) -> np.ndarray:
    norms = [(fractions**p).sum(axis=1) ** (1.0 / p) for p in NORMS]
    return np.stack([present.sum(axis=1).astype(float), *norms], axis=1)


def _valence(fractions, table) -> np.ndarray:
    columns = [ELEMENT_PROPERTIES.index(f"N{o}Valence") for o in ORBITALS]
    electrons = fractions @ np.nan_to_num(table[:, columns])  # [n, 4]
    total = electrons.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(total > 0, electrons / total, np.nan)
    return np.concatenate([electrons, shares], axis=1)


def _ionic(comps, fractions, present, table, states) -> np.ndarray:
    chi = table[:, ELEMENT_PROPERTIES.index("Electronegativity")]
    out = np.full((len(comps), 3), np.nan)
    for i, c in enumerate(comps):
        z = np.flatnonzero(present[i])
        x = fractions[i, z]
        out[i, 0] = float(_charge_balanced(c, states))
        e = chi[z]
        if len(z) == 1:
            out[i, 1:] = 0.0
        elif not np.isnan(e).any():
            character = 1.0 - np.exp(-0.25 * (e[:, None] - e[None, :]) ** 2)
            upper = np.triu_indices(len(z), 1)
            out[i, 1] = character[upper].max()
            out[i, 2] = (np.outer(x, x) * character)[upper].sum()
    return out


def _charge_balanced(c: Composition, states) -> bool:
    """Whether one common oxidation state per element makes ``c`` neutral
    (every assignment's total charge, built element by element; ``False``
    past :data:`MAX_CHARGE_COMBINATIONS` assignments)."""
    options = [np.asarray(states[z], np.float64) for z in c.numbers]
    if any(not len(o) for o in options):
        return False
    if np.prod([len(o) for o in options], dtype=float) > MAX_CHARGE_COMBINATIONS:
        return False
    totals = np.zeros(1)
    for amount, charges in zip(c.amounts, options, strict=True):
        totals = (totals[:, None] + amount * charges[None, :]).ravel()
    return bool((np.abs(totals) <= 1e-6 * np.abs(c.amounts).max()).any())
