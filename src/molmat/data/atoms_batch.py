"""Padded batches of atomic structures for potentials (Decision 1, data flow B).

Every potential in :mod:`molmat.models.potentials` reads an :class:`AtomsBatch`
and returns per-atom energies; forces and stress come from autodiff of their
sum. Training builds batches on the host from neighbour lists; molecular
dynamics builds a one-structure batch inside jit from a fixed-capacity list.

Edge convention: edge ``e`` goes from ``senders[e]`` (atom i) to
``receivers[e]`` (atom j) and its vector, in Å, is::

    r_ij = positions[j] - positions[i] + cell_shifts[e] @ cell[graph of i]

so periodic images need no copied atoms, and a strain applied to ``positions``
and ``cell`` together gives the stress. Padding layout follows
:class:`molmat.data.batching.GraphBatch`: padded atoms sit in the last graph,
padded edges join the last atom to itself with ``edge_mask`` False.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class AtomsBatch(NamedTuple):
    """A padded batch of structures (a pytree of arrays).

    Shapes: N = atom budget, E = edge budget, G = structure budget.
    Units: Å for lengths, eV for energies, eV/Å for forces, eV/Å^3 for stress.
    """

    species: np.ndarray  # [N] int32 atomic numbers, 0 for padding
    positions: np.ndarray  # [N, 3] float, Å
    cell: np.ndarray  # [G, 3, 3] float, rows are lattice vectors; 0 if not periodic
    senders: np.ndarray  # [E] int32, atom i of each edge
    receivers: np.ndarray  # [E] int32, atom j of each edge
    cell_shifts: np.ndarray  # [E, 3] float, integer image offsets of j
    node_graph: np.ndarray  # [N] int32, structure of each atom
    node_mask: np.ndarray  # [N] bool
    edge_mask: np.ndarray  # [E] bool
    graph_mask: np.ndarray  # [G] bool
    energy: np.ndarray  # [G] float, eV, 0 where unknown
    forces: np.ndarray  # [N, 3] float, eV/Å, 0 where unknown
    stress: np.ndarray  # [G, 3, 3] float, eV/Å^3, 0 where unknown
    has_forces: np.ndarray  # [G] bool
    has_stress: np.ndarray  # [G] bool

    @property
    def n_graphs(self) -> int:
        return self.graph_mask.shape[0]


def edge_vectors(batch: AtomsBatch) -> np.ndarray:
    """Edge vectors ``r_ij`` [E, 3] in Å (works on numpy and JAX arrays)."""
    cell = batch.cell[batch.node_graph[batch.senders]]  # [E, 3, 3]
    shift = (batch.cell_shifts[:, :, None] * cell).sum(axis=1)  # [E, 3]
    return batch.positions[batch.receivers] - batch.positions[batch.senders] + shift
