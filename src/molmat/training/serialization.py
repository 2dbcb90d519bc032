"""Pytrees of arrays <-> flat ``.npz`` files (no pickle, no executable code)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import jax
import numpy as np


def tree_to_arrays(tree) -> dict[str, np.ndarray]:
    """Name every array leaf by its path in the tree, e.g. ``.encoder.w_i.weight``."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def arrays_to_tree(template, arrays: dict[str, np.ndarray], what: str = "parameters"):
    """Fill ``template``'s array leaves from ``arrays`` (same names and shapes).

    Raises:
        ValueError: when a name is missing or extra, or a shape/dtype differs.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    names = [jax.tree_util.keystr(p) for p, _ in leaves]
    missing = [n for n in names if n not in arrays]
    extra = sorted(set(arrays) - set(names))
    if missing or extra:
        raise ValueError(
            f"{what} do not match: missing {missing[:3]}, extra {extra[:3]}"
        )
    filled = []
    for name, (_, leaf) in zip(names, leaves, strict=True):
        value = arrays[name]
        if value.shape != tuple(leaf.shape) or value.dtype != leaf.dtype:
            raise ValueError(
                f"{what} {name}: stored {value.dtype}{list(value.shape)}, expected "
                f"{leaf.dtype}{list(leaf.shape)}"
            )
        filled.append(jax.numpy.asarray(value))
    return jax.tree_util.tree_unflatten(treedef, filled)


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a crash never leaves a half-written file behind."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` by rename: readers see old or new, never half."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
