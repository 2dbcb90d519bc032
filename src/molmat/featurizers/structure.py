"""Structure features of a crystal: its composition and its packing.

The ``magpie-structure`` set: the 149 Magpie features of the cell's
composition (:mod:`molmat.featurizers.composition`) and 9 numbers of the
structure that no choice of unit cell, rotation, translation or atom order
changes: density (g/cm³), volume per atom (Å³), packing fraction (covalent
spheres), each atom's nearest-neighbour distance (mean, standard deviation,
minimum, maximum; Å; periodic images included) and its coordination number
(mean, standard deviation; neighbours closer than 1.25 × the sum of the
covalent radii). A structure without a cell has NaN density, volume and
packing.

Shapes: ``structure_features(frames)`` → [n, 158] float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase.data import atomic_masses, chemical_symbols, covalent_radii

from molmat.data.compositions import Composition
from molmat.data.radius import close_pairs
from molmat.data.structures import Frame
from molmat.featurizers.composition import composition_features
from molmat.featurizers.composition import feature_names as composition_names

STRUCTURE_SETS = ("magpie-structure",)
PACKING_NAMES = (
    "density",
    "volume per atom",
    "packing fraction",
    "nn distance mean",
    "nn distance std",
    "nn distance min",
    "nn distance max",
    "coordination mean",
    "coordination std",
)
NEIGHBOUR_CUTOFF = 6.0  # Å searched for nearest neighbours
BOND_TOLERANCE = 1.25  # bonded: closer than this × (r_cov_i + r_cov_j)
AMU_PER_A3 = 1.66053906660  # g/cm³ of one atomic mass unit per Å³


def feature_names(kind: str = "magpie-structure") -> list[str]:
    """Column names of :func:`structure_features`."""
    check_structure_kind(kind)
    return composition_names("magpie") + list(PACKING_NAMES)


def check_structure_kind(kind: str) -> None:
    if kind not in STRUCTURE_SETS:
        raise ValueError(
            f"unknown structure features {kind!r}; choose one of {STRUCTURE_SETS}"
        )


def cell_composition(frame: Frame) -> Composition:
    """The composition of a structure's atoms."""
    numbers, counts = np.unique(frame.numbers, return_counts=True)
    symbols = tuple(chemical_symbols[z] for z in numbers)
    formula = "".join(f"{s}{c}" for s, c in zip(symbols, counts, strict=True))
    return Composition(formula, symbols, counts.astype(np.float64))


def structure_features(
    frames: Sequence[Frame], kind: str = "magpie-structure"
) -> np.ndarray:
    """Features [n, 158] of each structure (see the module docstring)."""
    check_structure_kind(kind)
    if not len(frames):
        return np.zeros((0, len(feature_names(kind))))
    composition = composition_features([cell_composition(f) for f in frames])
    packing = np.array([_packing(f) for f in frames])
    return np.concatenate([composition, packing], axis=1)


def _packing(frame: Frame) -> list[float]:
    n = frame.n_atoms
    radii = covalent_radii[frame.numbers]
    volume = abs(np.linalg.det(frame.cell)) if frame.pbc.any() else np.nan
    mass = atomic_masses[frame.numbers].sum()
    spheres = (4.0 / 3.0 * np.pi * radii**3).sum()
    i, j, d = close_pairs(frame.positions, frame.cell, frame.pbc, NEIGHBOUR_CUTOFF)
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, i, d)
    np.minimum.at(nearest, j, d)
    nearest[np.isinf(nearest)] = np.nan
    bonded = d < BOND_TOLERANCE * (radii[i] + radii[j])
    coordination = np.bincount(i[bonded], minlength=n) + np.bincount(
        j[bonded], minlength=n
    )
    with np.errstate(invalid="ignore"):
        return [
            mass / volume * AMU_PER_A3,
            volume / n,
            spheres / volume,
            np.nanmean(nearest) if np.isfinite(nearest).any() else np.nan,
            np.nanstd(nearest) if np.isfinite(nearest).any() else np.nan,
            np.nanmin(nearest) if np.isfinite(nearest).any() else np.nan,
            np.nanmax(nearest) if np.isfinite(nearest).any() else np.nan,
            coordination.mean(),
            coordination.std(),
        ]
