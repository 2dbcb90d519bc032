"""Train/validation/test splits: random, Bemis-Murcko scaffold and k-fold.

A split is a dict with ``"train"``, ``"val"`` and ``"test"`` lists of 0-based
row positions in the input CSV (header excluded), the JSON layout of split
files, so splits made by other tools can be used as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

from molmat.data.csv import DataError

Split = dict[str, list[int]]
PARTS = ("train", "val", "test")


def random_split(
    n: int, seed: int, sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices 0..n-1 permuted by ``default_rng(seed)``, cut at 80% / 90%."""
    order = np.random.default_rng(seed).permutation(n)
    n_train, n_val = int(sizes[0] * n), int(sizes[1] * n)
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]


def murcko_scaffold(mol: Chem.Mol) -> str:
    """Bemis-Murcko scaffold SMILES without chirality ("" for acyclic molecules)."""
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(
    mols: list[Chem.Mol], sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic scaffold split: largest scaffold groups go to train.

    Groups are sorted by (size, first index), descending, as DeepChem and
    chemprop do; each group goes
    to train while train stays within ``sizes[0]``, else to validation while
    train + validation stay within ``sizes[0] + sizes[1]``, else to test. No
    scaffold is shared between parts.
    """
    groups: dict[str, list[int]] = {}
    for i, mol in enumerate(mols):
        groups.setdefault(murcko_scaffold(mol), []).append(i)
    ordered = sorted(groups.values(), key=lambda g: (len(g), g[0]), reverse=True)
    n = len(mols)
    train_cut, val_cut = sizes[0] * n, (sizes[0] + sizes[1]) * n
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for group in ordered:
        if len(parts[0]) + len(group) <= train_cut:
            parts[0].extend(group)
        elif len(parts[0]) + len(parts[1]) + len(group) <= val_cut:
            parts[1].extend(group)
        else:
            parts[2].extend(group)
    return tuple(np.array(sorted(p), dtype=np.int64) for p in parts)


def kfold_splits(
    n: int, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """k seeded folds: fold i is the test set, fold i+1 (mod k) the validation set."""
    if k < 3:
        raise ValueError(f"k-fold needs at least 3 folds (test, val, train); got {k}")
    folds = np.array_split(np.random.default_rng(seed).permutation(n), k)
    out = []
    for i in range(k):
        val_fold = (i + 1) % k
        train = np.concatenate(
            [f for j, f in enumerate(folds) if j not in (i, val_fold)]
        )
        out.append((np.sort(train), np.sort(folds[val_fold]), np.sort(folds[i])))
    return out


def to_rows(parts: tuple[np.ndarray, ...], rows: np.ndarray) -> Split:
    """Turn positions among parsed molecules into input-CSV row positions."""
    return {name: rows[idx].tolist() for name, idx in zip(PARTS, parts, strict=True)}


def split_json(split: Split) -> str:
    """The JSON text of a split file (``train``/``val``/``test`` CSV rows)."""
    return json.dumps({k: split[k] for k in PARTS})


def load_split(
    path: str | Path, rows: np.ndarray, n_rows: int
) -> tuple[np.ndarray, ...]:
    """Read a split file and map its CSV rows to positions among parsed molecules.

    Rows that were skipped as bad input (already reported) are left out.

    Raises:
        DataError: missing keys, non-integer rows, rows out of range, or a row
            in two parts.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"split file {path}: cannot read JSON ({err})") from err
    if not isinstance(data, dict) or any(k not in data for k in PARTS):
        raise DataError(f"split file {path}: needs 'train', 'val' and 'test' lists")
    position = np.full(n_rows, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    seen: set[int] = set()
    parts = []
    for name in PARTS:
        values = data[name]
        if not isinstance(values, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values
        ):
            raise DataError(f"split file {path}: {name!r} must be a list of integers")
        bad = [v for v in values if not 0 <= v < n_rows]
        if bad:
            raise DataError(
                f"split file {path}: {name!r} rows {bad[:5]} outside 0..{n_rows - 1}"
            )
        overlap = seen.intersection(values)
        if overlap:
            raise DataError(
                f"split file {path}: rows {sorted(overlap)[:5]} are in two parts"
            )
        seen.update(values)
        pos = position[np.asarray(values, dtype=np.int64)]
        parts.append(pos[pos >= 0])
    if len(parts[0]) == 0:
        raise DataError(f"split file {path}: no usable training rows")
    return tuple(parts)
