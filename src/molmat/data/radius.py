"""Radius graphs: every atom pair closer than a cutoff, by ``vesin``.

The one neighbour-list code of molmat on the host: the batching strategies
of potentials (periodic structures, with image shifts) and of 3D molecular
networks (conformers) list their pairs with it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from vesin import NeighborList

from molmat.data.console import progress_bar


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


class RadiusGraphs(NamedTuple):
    """Radius graphs of many graphs, concatenated (indices local to each graph).

    ``r_ij = positions[j] - positions[i] + shifts @ cell`` for each pair.
    """

    senders: np.ndarray  # [P] int32, atom i
    receivers: np.ndarray  # [P] int32, atom j
    shifts: np.ndarray  # [P, 3] float64 integer image offsets of j
    n_pairs: np.ndarray  # [G] int64 pairs of each graph


def radius_graphs(
    positions: np.ndarray,
    atom_offsets: np.ndarray,
    cutoff: float,
    cell: np.ndarray | None = None,
    pbc: np.ndarray | None = None,
    progress: bool = False,
) -> RadiusGraphs:
    """Radius graphs of many molecules or periodic structures, concatenated.

    Args:
        positions: [A, 3] atom positions in Å, graph after graph.
        atom_offsets: [G + 1] start of each graph's atoms.
        cutoff: pair distance limit (Å).
        cell: [G, 3, 3] lattice vectors as rows (Å), or None (none periodic).
        pbc: [G, 3] periodic directions, or None (none periodic).
        progress: show a progress bar.

    Returns:
        Every pair within ``cutoff``, periodic images included.
    """
    n_graphs = len(atom_offsets) - 1
    no_cell, open_box = np.zeros((3, 3)), np.zeros(3, bool)
    senders, receivers, shifts = [], [], []
    for g in progress_bar(range(n_graphs), "neighbour lists", enabled=progress):
        start, stop = atom_offsets[g], atom_offsets[g + 1]
        i, j, s = neighbor_list(
            positions[start:stop],
            no_cell if cell is None else cell[g],
            open_box if pbc is None else pbc[g],
            cutoff,
        )
        senders.append(i)
        receivers.append(j)
        shifts.append(s)
    empty = np.zeros(0, np.int32)
    return RadiusGraphs(
        np.concatenate([empty, *senders]),
        np.concatenate([empty, *receivers]),
        np.concatenate([np.zeros((0, 3)), *shifts]),
        np.array([len(i) for i in senders], np.int64).reshape(n_graphs),
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
