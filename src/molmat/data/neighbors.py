"""Neighbour lists on the host and padded :class:`AtomsBatch` batches.

Neighbour lists come from ``vesin`` through :mod:`molmat.data.radius` (full
lists, periodic images as integer cell shifts), computed once per structure
and stored concatenated. Batches
are padded to a :class:`~molmat.data.batching.Budget` rounded up on the
batching ladder, so a training run compiles its step once per bucket.

Example:
    >>> graphs = neighbor_graphs(frames, cutoff=5.0)  # doctest: +SKIP
    >>> budget = Budget.for_data(graphs, batch_size=16)  # doctest: +SKIP
    >>> batch = make_atoms_batch(graphs, np.arange(16), budget)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from molmat.data.atoms_batch import AtomsBatch
from molmat.data.batching import Budget, plan_batches
from molmat.data.graphs import concat_ranges
from molmat.data.radius import neighbor_list
from molmat.data.structures import Frame


@dataclass
class NeighborGraphs:
    """Structures with their neighbour lists, concatenated.

    Per-structure arrays have length S; per-atom ones A = total atoms; per-edge
    ones P = total pairs. Edge indices are local to their structure.
    """

    cutoff: float
    n_atoms: np.ndarray  # [S]
    n_edges: np.ndarray  # [S]
    atom_offsets: np.ndarray  # [S + 1]
    edge_offsets: np.ndarray  # [S + 1]
    numbers: np.ndarray  # [A] int32
    positions: np.ndarray  # [A, 3] Å
    forces: np.ndarray  # [A, 3] eV/Å, 0 where unknown
    senders: np.ndarray  # [P] int32
    receivers: np.ndarray  # [P] int32
    cell_shifts: np.ndarray  # [P, 3]
    cell: np.ndarray  # [S, 3, 3] Å, 0 if not periodic
    energy: np.ndarray  # [S] eV, NaN where unknown
    stress: np.ndarray  # [S, 3, 3] eV/Å^3, 0 where unknown
    has_forces: np.ndarray  # [S] bool
    has_stress: np.ndarray  # [S] bool

    def __len__(self) -> int:
        return len(self.n_atoms)

    @property
    def has_derivative_labels(self) -> bool:
        """Whether any structure has forces or a stress to compare with."""
        return bool(self.has_forces.any() or self.has_stress.any())

    @property
    def avg_num_neighbors(self) -> float:
        """Mean neighbour count per atom."""
        return float(self.n_edges.sum() / max(self.n_atoms.sum(), 1))


def neighbor_graphs(
    frames: list[Frame], cutoff: float, progress: bool = False
) -> NeighborGraphs:
    """Neighbour lists of every frame within ``cutoff`` (Å)."""
    senders, receivers, shifts, n_edges = [], [], [], []
    for frame in tqdm(frames, desc="neighbour lists", disable=not progress or None):
        i, j, s = neighbor_list(frame.positions, frame.cell, frame.pbc, cutoff)
        senders.append(i)
        receivers.append(j)
        shifts.append(s)
        n_edges.append(len(i))
    n_atoms = np.array([f.n_atoms for f in frames], np.int64)
    n_edges = np.array(n_edges, np.int64)
    empty3 = np.zeros((0, 3))
    forces = [
        f.forces if f.forces is not None else np.zeros((f.n_atoms, 3)) for f in frames
    ]
    stress = [f.stress if f.stress is not None else np.zeros((3, 3)) for f in frames]
    return NeighborGraphs(
        cutoff=float(cutoff),
        n_atoms=n_atoms,
        n_edges=n_edges,
        atom_offsets=np.concatenate([[0], np.cumsum(n_atoms)]),
        edge_offsets=np.concatenate([[0], np.cumsum(n_edges)]),
        numbers=np.concatenate([f.numbers for f in frames] or [[]]).astype(np.int32),
        positions=np.concatenate([f.positions for f in frames] or [empty3]),
        forces=np.concatenate(forces or [empty3]),
        senders=np.concatenate(senders or [[]]).astype(np.int32),
        receivers=np.concatenate(receivers or [[]]).astype(np.int32),
        cell_shifts=np.concatenate(shifts or [empty3]),
        cell=np.array([f.cell for f in frames]).reshape(-1, 3, 3),
        energy=np.array([f.energy for f in frames], np.float64),
        stress=np.array(stress).reshape(-1, 3, 3),
        has_forces=np.array([f.forces is not None for f in frames], bool),
        has_stress=np.array([f.stress is not None for f in frames], bool),
    )


def make_atoms_batch(
    graphs: NeighborGraphs, idx: np.ndarray, budget: Budget, dtype=np.float32
) -> AtomsBatch:
    """Pad the structures ``idx`` of ``graphs`` into one :class:`AtomsBatch`.

    Padded atoms sit in the last graph (``budget.graphs - 1``); padded edges
    join the last atom to itself. ``len(idx)`` must be below ``budget.graphs``.
    """
    n_atoms, n_edges, g = graphs.n_atoms[idx], graphs.n_edges[idx], len(idx)
    real_atoms, real_edges = int(n_atoms.sum()), int(n_edges.sum())
    atom_rows = concat_ranges(graphs.atom_offsets, idx)
    edge_rows = concat_ranges(graphs.edge_offsets, idx)
    edge_shift = np.repeat(np.cumsum(n_atoms) - n_atoms, n_edges)
    nodes, edges, n_graphs = budget.nodes, budget.edges, budget.graphs

    def pad(values, size, fill=0):
        out = np.full((size, *values.shape[1:]), fill, values.dtype)
        out[: len(values)] = values
        return out

    pad_node = nodes - 1
    node_graph = np.full(nodes, n_graphs - 1, np.int32)
    node_graph[:real_atoms] = np.repeat(np.arange(g, dtype=np.int32), n_atoms)
    energy = graphs.energy[idx]
    return AtomsBatch(
        species=pad(graphs.numbers[atom_rows], nodes),
        positions=pad(graphs.positions[atom_rows].astype(dtype), nodes),
        cell=pad(graphs.cell[idx].astype(dtype), n_graphs),
        senders=pad(graphs.senders[edge_rows] + edge_shift, edges, pad_node),
        receivers=pad(graphs.receivers[edge_rows] + edge_shift, edges, pad_node),
        cell_shifts=pad(graphs.cell_shifts[edge_rows].astype(dtype), edges),
        node_graph=node_graph,
        node_mask=np.arange(nodes) < real_atoms,
        edge_mask=np.arange(edges) < real_edges,
        graph_mask=np.arange(n_graphs) < g,
        energy=pad(np.nan_to_num(energy).astype(dtype), n_graphs),
        forces=pad(graphs.forces[atom_rows].astype(dtype), nodes),
        stress=pad(graphs.stress[idx].astype(dtype), n_graphs),
        has_forces=pad(graphs.has_forces[idx], n_graphs),
        has_stress=pad(graphs.has_stress[idx], n_graphs),
    )


def atoms_batches(
    graphs: NeighborGraphs,
    batch_size: int,
    order: np.ndarray | None = None,
    budget: Budget | None = None,
    dtype=np.float32,
):
    """Yield ``(idx, AtomsBatch)`` over ``graphs`` in ``order`` (default: as stored)."""
    budget = budget or Budget.for_data(graphs, batch_size)
    order = np.arange(len(graphs)) if order is None else order
    for idx in plan_batches(graphs, order, budget):
        yield idx, make_atoms_batch(graphs, idx, budget, dtype)
