"""Whole-molecule RDKit descriptors appended to a graph model's readout.

``physchem`` is 17 fast 2D descriptors (those AqSolDB ships with its data):
size, lipophilicity (Crippen logP, molar refractivity), polarity (TPSA,
H-bond donors/acceptors), flexibility, rings and topological complexity.
"""

from __future__ import annotations

import contextlib

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors
from tqdm.auto import tqdm

PROGRESS_FROM = 2000  # featurising at least this many molecules shows a progress bar


def progress_off(n_items: int) -> bool | None:
    """tqdm's ``disable``: off for small jobs, else on when writing to a terminal."""
    return True if n_items < PROGRESS_FROM else None


DESCRIPTOR_SETS: dict[str, tuple[str, ...]] = {
    "physchem": (
        "MolWt",
        "MolLogP",
        "MolMR",
        "HeavyAtomCount",
        "NumHAcceptors",
        "NumHDonors",
        "NumHeteroatoms",
        "NumRotatableBonds",
        "NumValenceElectrons",
        "NumAromaticRings",
        "NumSaturatedRings",
        "NumAliphaticRings",
        "RingCount",
        "TPSA",
        "LabuteASA",
        "BalabanJ",
        "BertzCT",
    ),
}


def descriptor_names(kind: str | None) -> tuple[str, ...]:
    """Names of a descriptor set; ``None`` is the empty set."""
    if kind is None:
        return ()
    try:
        return DESCRIPTOR_SETS[kind]
    except KeyError:
        raise ValueError(
            f"unknown molecule features {kind!r}; "
            f"choose one of {sorted(DESCRIPTOR_SETS)}"
        ) from None


def molecule_descriptors(mols: list[Chem.Mol], kind: str | None) -> np.ndarray:
    """Descriptor matrix [n_mols, n_descriptors] float32; failed values are NaN."""
    names = descriptor_names(kind)
    functions = [getattr(Descriptors, name) for name in names]
    out = np.full((len(mols), len(names)), np.nan, dtype=np.float64)
    bar = tqdm(
        mols,
        desc="descriptors",
        unit="mol",
        disable=progress_off(len(mols) * bool(names)),
    )
    for i, mol in enumerate(bar):
        for j, fn in enumerate(functions):
            with contextlib.suppress(ValueError, RuntimeError, ZeroDivisionError):
                out[i, j] = fn(mol)  # a failed descriptor stays NaN
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


class DescriptorScaler:
    """Standardise descriptors with training statistics; NaN -> 0 (the mean).

    Values are clipped to ±``clip`` standard deviations, so an unusual
    molecule cannot push the network far outside what it was trained on.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, clip: float = 6.0):
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.clip = clip

    @classmethod
    def fit(cls, x: np.ndarray) -> DescriptorScaler:
        mean = np.nan_to_num(np.nanmean(x, axis=0)) if len(x) else np.zeros(x.shape[1])
        std = np.nan_to_num(np.nanstd(x, axis=0), nan=1.0) if len(x) else mean + 1
        std[std < 1e-8] = 1.0
        return cls(mean, std)

    def transform(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.std
        return np.clip(np.nan_to_num(z), -self.clip, self.clip).astype(np.float32)
