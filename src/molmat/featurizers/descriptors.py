"""Whole-molecule feature vectors: RDKit descriptors and fingerprints.

Feature sets (``kind``):

- ``physchem``: 17 fast 2D descriptors (the ones AqSolDB ships): size,
  Crippen logP and molar refractivity, TPSA, H-bond donors/acceptors,
  flexibility, rings, topological complexity.
- ``rdkit2d``: every 2D descriptor RDKit lists (``Descriptors._descList``).
- ``morgan``: Morgan/ECFP bits (``radius``, ``n_bits``; radius 2 = ECFP4).
- ``morgan-counts``: Morgan counts (how often each environment occurs).
- ``maccs``: the 167 MACCS structural keys.
- ``fragprints``: Morgan counts followed by RDKit's functional-group fragment
  counts (the ``fr_*`` descriptors), a count vector for the MinMax kernel.
- ``mordred``: Mordred 2D descriptors (``pip install molmat[mordred]``).

A descriptor that fails for a molecule is NaN; networks standardise
descriptors with a :class:`~molmat.data.statistics.Standardizer` clipped to
±``DESCRIPTOR_CLIP`` standard deviations, which sets missing values to the
mean (the classic models' cleaning step imputes them).
"""

from __future__ import annotations

import contextlib
import logging
from functools import cache

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors, MACCSkeys, rdFingerprintGenerator

from molmat.data.console import progress_bar, reported_warnings
from molmat.featurizers.cache import cached_arrays

log = logging.getLogger("molmat")

DESCRIPTOR_CLIP = 6.0  # bound of standardised descriptors (standard deviations)
PROGRESS_FROM = 2000  # featurising at least this many molecules shows a progress bar
FEATURES_VERSION = "descriptors-v2"  # v2: values beyond float32 are NaN, not inf

PHYSCHEM = (
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
)
FEATURE_SETS = (
    "physchem",
    "rdkit2d",
    "morgan",
    "morgan-counts",
    "fragprints",
    "maccs",
    "mordred",
)
BINARY_SETS = ("morgan", "maccs")  # 0/1 vectors: Tanimoto kernel
COUNT_SETS = ("morgan-counts", "fragprints")  # integer counts: MinMax kernel
FRAGMENTS = tuple(name for name, _ in Descriptors._descList if name.startswith("fr_"))


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in FEATURE_SETS:
        raise ValueError(
            f"unknown molecule features {kind!r}; choose one of {list(FEATURE_SETS)}"
        )


@cache
def _mordred_calculator():
    try:
        from mordred import Calculator, descriptors
    except ImportError as err:
        raise ImportError(
            "Mordred descriptors need the optional extra: pip install 'molmat[mordred]'"
        ) from err
    return Calculator(descriptors, ignore_3D=True)


def feature_names(kind: str | None, radius: int = 2, n_bits: int = 2048) -> list[str]:
    """Column names of a feature set (``None``: no columns)."""
    check_kind(kind)
    if kind is None:
        return []
    if kind == "physchem":
        return list(PHYSCHEM)
    if kind == "rdkit2d":
        return [name for name, _ in Descriptors._descList]
    if kind == "maccs":
        return [f"maccs_{i}" for i in range(167)]
    if kind == "mordred":
        return [str(d) for d in _mordred_calculator().descriptors]
    prefix = "ecfp" if kind == "morgan" else "ecfp_count"
    bits = [f"{prefix}{2 * radius}_{i}" for i in range(n_bits)]
    return bits + list(FRAGMENTS) if kind == "fragprints" else bits


def molecule_descriptors(
    mols: list[Chem.Mol], kind: str | None, radius: int = 2, n_bits: int = 2048
) -> np.ndarray:
    """Feature matrix [n_mols, n_features] float32 (see the module doc for kinds)."""
    names = feature_names(kind, radius, n_bits)
    out = np.full((len(mols), len(names)), np.nan, dtype=np.float64)
    if not names:
        return out.astype(np.float32)
    bar = progress_bar(
        mols, f"{kind} features", enabled=len(mols) >= PROGRESS_FROM, unit="mol"
    )
    row_of = _row_function(kind, names, radius, n_bits)
    with reported_warnings(f"{kind} features"):
        for i, mol in enumerate(bar):
            out[i] = row_of(mol)
    too_large = np.isfinite(out) & (np.abs(out) > np.finfo(np.float32).max)
    if too_large.any():  # e.g. Ipc of large molecules
        columns = sorted({names[j] for j in np.nonzero(too_large)[1]})
        log.warning(
            "%s features: %d value(s) of %s exceed the float32 range and are "
            "treated as missing",
            kind,
            too_large.sum(),
            ", ".join(columns),
        )
    out[~np.isfinite(out) | too_large] = np.nan
    return out.astype(np.float32)


def _row_function(kind: str, names: list[str], radius: int, n_bits: int):
    """Function mapping one molecule to its feature row (float64, NaN on failure)."""
    if kind in ("morgan", "morgan-counts", "fragprints"):
        gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
        if kind == "morgan":
            return gen.GetFingerprintAsNumPy
        if kind == "morgan-counts":
            return gen.GetCountFingerprintAsNumPy
        fragments = _descriptors_row(FRAGMENTS)
        return lambda mol: np.concatenate(
            [gen.GetCountFingerprintAsNumPy(mol), fragments(mol)]
        )
    if kind == "maccs":
        return lambda mol: np.array(list(MACCSkeys.GenMACCSKeys(mol)), dtype=np.float64)
    if kind == "mordred":
        calc = _mordred_calculator()
        return lambda mol: np.array(
            [float(v) if isinstance(v, int | float) else np.nan for v in calc(mol)]
        )
    return _descriptors_row(names)


def _descriptors_row(names):
    """Function computing the named RDKit descriptors of a molecule."""
    functions = [getattr(Descriptors, name) for name in names]

    def descriptors_row(mol):
        row = np.full(len(functions), np.nan)
        for j, fn in enumerate(functions):
            with contextlib.suppress(Exception):  # RDKit raises many error types
                row[j] = fn(mol)
        return row

    return descriptors_row


def molecule_features_cached(
    smiles: list[str],
    mols: list[Chem.Mol],
    kind: str,
    radius: int = 2,
    n_bits: int = 2048,
    use_cache: bool = True,
) -> np.ndarray:
    """:func:`molecule_descriptors`, cached on disk for the same SMILES and options."""
    settings = [FEATURES_VERSION, kind, str(radius), str(n_bits)]
    arrays = cached_arrays(
        settings,
        smiles,
        lambda: {"x": molecule_descriptors(mols, kind, radius, n_bits)},
        use_cache,
    )
    return arrays["x"]
