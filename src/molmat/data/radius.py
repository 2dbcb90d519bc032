"""Radius graphs: every atom pair closer than a cutoff, by ``vesin``.

The one neighbour-list code of molmat: potentials use it on periodic
structures (with image shifts), 3D molecular networks on conformers.
"""

from __future__ import annotations

import numpy as np
from vesin import NeighborList


def neighbor_list(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full neighbour list within ``cutoff`` (Å).

    Returns:
        senders i [P], receivers j [P] and integer cell shifts S [P, 3] with
        ``r_ij = positions[j] - positions[i] + S @ cell``.
    """
    pbc = np.asarray(pbc, bool)
    box = np.asarray(cell, np.float64) if pbc.any() else np.zeros((3, 3))
    i, j, shifts = NeighborList(cutoff=cutoff, full_list=True).compute(
        np.asarray(positions, np.float64), box, pbc.tolist(), quantities="ijS"
    )
    return i.astype(np.int32), j.astype(np.int32), shifts.astype(np.float64)


def radius_graphs(
    positions: np.ndarray, atom_offsets: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radius graphs of many non-periodic molecules, concatenated.

    Args:
        positions: [A, 3] atom positions in Å, molecule after molecule.
        atom_offsets: [M + 1] start of each molecule's atoms.
        cutoff: pair distance limit (Å).

    Returns:
        senders [P], receivers [P] (indices local to their molecule) and the
        pairs of each molecule [M].
    """
    senders, receivers, counts = [], [], []
    no_cell, open_box = np.zeros((3, 3)), np.zeros(3, bool)
    for start, stop in zip(atom_offsets[:-1], atom_offsets[1:], strict=True):
        i, j, _ = neighbor_list(positions[start:stop], no_cell, open_box, cutoff)
        senders.append(i)
        receivers.append(j)
        counts.append(len(i))
    empty = np.zeros(0, np.int32)
    return (
        np.concatenate([empty, *senders]),
        np.concatenate([empty, *receivers]),
        np.asarray(counts, np.int64),
    )


def close_pairs(
    positions: np.ndarray, cell: np.ndarray | None, pbc, distance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of atoms closer than ``distance``, each pair once.

    Args:
        positions: [N, 3] positions in Å.
        cell: [3, 3] cell vectors as rows in Å (ignored where not periodic).
        pbc: periodicity, one flag or one per direction.
        distance: Å.

    Returns:
        ``i`` [P] and ``j`` [P] (int) atoms of each pair (``i == j``: an atom
        and its own periodic image) and ``d`` [P] their distances in Å.

    Example:
        >>> i, j, d = close_pairs([[0, 0, 0], [0, 0, 0.05]], None, False, 0.1)
        >>> (int(i[0]), int(j[0]), round(float(d[0]), 2))
        (0, 1, 0.05)
    """
    pbc = np.broadcast_to(np.asarray(pbc, bool), (3,))
    box = np.asarray(cell, np.float64) if pbc.any() else np.zeros((3, 3))
    i, j, d = NeighborList(cutoff=distance, full_list=False).compute(
        np.asarray(positions, np.float64), box, pbc.tolist(), quantities="ijd"
    )
    return i.astype(int), j.astype(int), d
