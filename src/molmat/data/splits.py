"""Train/validation/test splits: random, Bemis-Murcko scaffold, k-fold and
Matbench's official folds.

A split is a dict with ``"train"``, ``"val"`` and ``"test"`` lists of 0-based
row positions in the input CSV (header excluded), the JSON layout of split
files, so splits made by other tools can be used as they are: molmat's own
``{"train", "val", "test"}`` object, or chemprop's list of such objects (one
per replicate).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold
from sklearn.model_selection import KFold, StratifiedKFold

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


def scaffold_groups(mols: list[Chem.Mol]) -> list[list[int]]:
    """Indices of the molecules of each Bemis-Murcko scaffold, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, mol in enumerate(mols):
        groups.setdefault(murcko_scaffold(mol), []).append(i)
    return list(groups.values())


def scaffold_split(
    mols: list[Chem.Mol],
    sizes: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    balanced: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scaffold split: whole scaffold groups go to train, validation or test.

    ``balanced`` (chemprop's ``scaffold_balanced``): groups larger than half
    the validation or test size come first, so they land in train; both the
    large and the small groups are shuffled with ``seed``, so seeds give
    different splits. Otherwise (deterministic, as DeepChem) groups are sorted
    by (size, first index), descending, and ``seed`` is unused.

    Each group in turn goes to train while train stays within
    ``sizes[0] * n`` molecules, else to validation while it stays within
    ``sizes[1] * n`` (deterministic: train + validation within
    ``(sizes[0] + sizes[1]) * n``), else to test. No scaffold is shared
    between parts.
    """
    groups = scaffold_groups(mols)
    n = len(mols)
    train_cut, val_cut = sizes[0] * n, sizes[1] * n
    if balanced:
        half = min(val_cut, n - train_cut - val_cut) / 2
        rng = np.random.default_rng(seed)
        big = [g for g in groups if len(g) > half]
        small = [g for g in groups if len(g) <= half]
        ordered = [big[i] for i in rng.permutation(len(big))]
        ordered += [small[i] for i in rng.permutation(len(small))]
    else:
        ordered = sorted(groups, key=lambda g: (len(g), g[0]), reverse=True)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for group in ordered:
        # deterministic: validation may take what train left of its share too
        val_room = val_cut + (0 if balanced else train_cut - len(parts[0]))
        if len(parts[0]) + len(group) <= train_cut:
            parts[0].extend(group)
        elif len(parts[1]) + len(group) <= val_room:
            parts[1].extend(group)
        else:
            parts[2].extend(group)
    return tuple(np.array(sorted(p), dtype=np.int64) for p in parts)


def kfold_splits(
    n: int, k: int, seed: int, val_fraction: float = 0.1
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """k seeded folds, as scikit-learn's ``KFold``: fold i is the test set and
    the other k-1 folds are for training, of which ``val_fraction`` (at least
    one molecule) is held out for validation, drawn with ``(seed, i)``."""
    if not 2 <= k <= n:
        raise ValueError(f"k-fold needs 2 to {n} folds (one per molecule); got {k}")
    folds = np.array_split(np.random.default_rng(seed).permutation(n), k)
    out = []
    for i in range(k):
        rest = np.concatenate([f for j, f in enumerate(folds) if j != i])
        rest = np.random.default_rng((seed, i)).permutation(rest)
        n_val = max(1, round(val_fraction * len(rest))) if val_fraction > 0 else 0
        out.append((np.sort(rest[n_val:]), np.sort(rest[:n_val]), np.sort(folds[i])))
    return out


MATBENCH_SEED = 18012019  # random_state of Matbench v0.1's folds


def matbench_splits(
    rows: np.ndarray,
    n_rows: int,
    y: np.ndarray,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Matbench v0.1's five folds: ``KFold(5, shuffle=True,
    random_state=18012019)`` over the file's ``n_rows`` rows in their
    published order, ``StratifiedKFold`` with the same arguments for 0/1
    labels; ``val_fraction`` of each training part (drawn with ``(seed, i)``)
    validates.

    Args:
        rows: [n] file row of each usable item; every row must be usable,
            or the folds would not be Matbench's.
        n_rows: rows in the file.
        y: [n, 1] labels of the usable items.

    Returns:
        ``(train, val, test)`` positions among the usable items, per fold.

    Raises:
        DataError: unusable rows, or more than one target.
    """
    if len(rows) != n_rows:
        raise DataError(
            f"Matbench's folds cover every row, but {n_rows - len(rows)} of the "
            f"{n_rows} rows are unusable (see the skipped rows above)"
        )
    if y.ndim != 2 or y.shape[1] != 1:
        raise DataError("Matbench's folds are for one target")
    labels = y[:, 0]
    binary = np.isin(labels, (0, 1)).all()
    kind = StratifiedKFold if binary else KFold
    folds = kind(n_splits=5, shuffle=True, random_state=MATBENCH_SEED)
    out = []  # every row usable: positions among the items are file rows
    for i, (rest, test) in enumerate(folds.split(np.zeros(n_rows), labels)):
        rest = np.random.default_rng((seed, i)).permutation(rest)
        n_val = round(val_fraction * len(rest))
        out.append((np.sort(rest[n_val:]), np.sort(rest[:n_val]), test))
    return out


def to_rows(parts: tuple[np.ndarray, ...], rows: np.ndarray) -> Split:
    """Turn positions among parsed molecules into input-CSV row positions."""
    return {name: rows[idx].tolist() for name, idx in zip(PARTS, parts, strict=True)}


def split_json(split: Split) -> str:
    """The JSON text of a split file (``train``/``val``/``test`` CSV rows)."""
    return json.dumps({k: split[k] for k in PARTS})


def load_splits(
    path: str | Path, rows: np.ndarray, n_rows: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Read a split file; map its CSV rows to positions among parsed molecules.

    The file holds molmat's ``{"train": [...], "val": [...], "test": [...]}``
    or chemprop's list of such objects, one per replicate (each replicate is
    one split, as a fold). Rows that were skipped as bad input (already
    reported) are left out.

    Raises:
        DataError: another layout, missing keys, non-integer rows, rows out of
            range, or a row in two parts; the message names the file.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"split file {path}: cannot read JSON ({err})") from err
    replicates = data if isinstance(data, list) else [data]
    layout = (
        "needs 'train', 'val' and 'test' lists, as an object or (chemprop) a "
        "list of objects, one per replicate"
    )
    if not replicates or not all(
        isinstance(r, dict) and all(k in r for k in PARTS) for r in replicates
    ):
        raise DataError(f"split file {path}: {layout}")
    position = np.full(n_rows, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    return [
        _replicate(
            f"{path}" + (f" (replicate {i})" if len(replicates) > 1 else ""),
            r,
            position,
            n_rows,
        )
        for i, r in enumerate(replicates)
    ]


def _replicate(
    name: str, data: dict, position: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of one ``{"train", "val", "test"}`` object's rows."""
    seen: set[int] = set()
    parts = []
    for part in PARTS:
        values = data[part]
        if not isinstance(values, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values
        ):
            raise DataError(f"split file {name}: {part!r} must be a list of integers")
        bad = [v for v in values if not 0 <= v < n_rows]
        if bad:
            raise DataError(
                f"split file {name}: {part!r} rows {bad[:5]} outside 0..{n_rows - 1}"
            )
        overlap = seen.intersection(values)
        if overlap:
            raise DataError(
                f"split file {name}: rows {sorted(overlap)[:5]} are in two parts"
            )
        seen.update(values)
        pos = position[np.asarray(values, dtype=np.int64)]
        parts.append(pos[pos >= 0])
    if len(parts[0]) == 0:
        raise DataError(f"split file {name}: no usable training rows")
    return tuple(parts)
