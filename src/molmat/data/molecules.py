"""Molecules and targets as estimators take them: SMILES or RDKit Mols, [n, T] labels.

Example:
    >>> from molmat.data.molecules import as_targets, infer_task, molecules
    >>> keys, mols, reasons = molecules(["CCO", "C1CC("])
    >>> reasons[1] != "" and mols[1] is None
    True
    >>> infer_task(as_targets([0, 1, 1], "y"))
    'classification'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem

from molmat.data.csv import DataError, parse_smiles

TASKS = ("auto", "regression", "classification")


def molecules(X: Sequence) -> tuple[list[str], list[Chem.Mol | None], list[str]]:
    """SMILES keys, parsed molecules (None when bad) and reasons for SMILES or Mols."""
    keys, mols, reasons = [], [], []
    for item in X:
        if isinstance(item, Chem.Mol):
            keys.append(Chem.MolToSmiles(item))
            mols.append(item)
            reasons.append("")
        else:
            mol, reason = parse_smiles(item)
            keys.append(str(item).strip())
            mols.append(mol)
            reasons.append(reason)
    return keys, mols, reasons


def valid_molecules(X: Sequence, name: str) -> tuple[list[str], list[Chem.Mol]]:
    """SMILES keys and molecules of ``X``; a :class:`DataError` listing bad ones."""
    keys, mols, reasons = molecules(X)
    bad = [f"{i}: {r}" for i, r in enumerate(reasons) if r]
    if bad:
        raise DataError(f"{name} has {len(bad)} bad molecules: " + "; ".join(bad[:5]))
    return keys, mols


def elements(mols: Sequence[Chem.Mol | None]) -> list[str]:
    """Sorted element symbols of ``mols`` (``*`` for dummy atoms; ``None`` skipped)."""
    found = {a.GetSymbol() for m in mols if m is not None for a in m.GetAtoms()}
    return sorted(found)


def unseen_elements(
    mols: Sequence[Chem.Mol | None], known: Sequence[str]
) -> list[list[str]]:
    """Per molecule, the sorted element symbols not in ``known`` ([] for ``None``)."""
    known = set(known)
    return [sorted(set(elements([m])) - known) for m in mols]


def as_predictions(values: np.ndarray, task: str) -> np.ndarray:
    """[n, T] outputs -> [n] (one target) or [n, T]; 0/1 labels for classification."""
    if task == "classification":
        values = np.where(np.isnan(values), np.nan, (values >= 0.5).astype(np.float32))
    return values[:, 0] if values.shape[1] == 1 else values


def infer_task(y: np.ndarray) -> str:
    """``classification`` when every known label is 0 or 1, else ``regression``."""
    known = y[~np.isnan(y)]
    return (
        "classification"
        if known.size and np.isin(known, (0, 1)).all()
        else "regression"
    )


def as_targets(y, name: str) -> np.ndarray:
    """Targets as float32 [n, T] (NaN = missing); a clear error for bad values."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise DataError(f"{name} must be 1-D or 2-D, got shape {y.shape}")
    if np.isinf(y).any():
        rows = np.flatnonzero(np.isinf(y).any(axis=1))[:5].tolist()
        raise DataError(f"{name} has infinite values (rows {rows})")
    empty = np.isnan(y).all(axis=1)
    if empty.any():
        rows = np.flatnonzero(empty)[:5].tolist()
        raise DataError(f"{name} has rows with no label at all (rows {rows})")
    return y
