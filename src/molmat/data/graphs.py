"""The ragged host store of graphs: molecules, conformers and periodic structures.

One store for every input molmat learns from. A 2D molecule is atom and bond
features; a conformer adds positions; a periodic structure (or any 3D
structure a potential learns) is atomic numbers, positions, a cell and its
periodic directions, with energy, force and stress labels. Fields a kind of
graph lacks are ``None`` (or have 0 feature columns). Radius graphs are not
stored: the batching strategy of a model family lists them
(:class:`~molmat.data.batching.BatchingStrategy`).

Per-graph arrays have length G; per-node ones the total number of nodes;
per-edge ones the total number of edges (chemical bonds, both directions).
Edge indices are local to their graph. ``subset`` gathers graphs without
Python loops (:func:`concat_ranges`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

PER_GRAPH = ("n_atoms", "n_edges", "mol_x", "errors", "cell", "pbc", "energy", "stress")
PER_NODE = ("atom_x", "numbers", "positions", "forces")
PER_EDGE = ("bond_x", "senders", "receivers")


@dataclass(frozen=True)
class GraphSet:
    """Graphs, concatenated (host side).

    Attributes:
        atom_x: [total_atoms, F] float32 atom features (F = 0 for structures).
        bond_x: [total_edges, B] float32, one row per directed bond.
        senders: [total_edges] int32, source atom of each edge (graph-local).
        receivers: [total_edges] int32, target atom of each edge (graph-local).
        n_atoms: [G] int32.
        n_edges: [G] int32 (twice the number of bonds).
        mol_x: [G, D] float32 whole-graph features (may be 0 columns; see
            :mod:`molmat.featurizers.descriptors`).
        positions: [total_atoms, 3] coordinates in Å, or ``None`` without 3D.
        errors: [G] str, why a molecule has no conformer ("" when it has
            one), or ``None``.
        numbers: [total_atoms] int32 atomic numbers, or ``None``.
        cell: [G, 3, 3] lattice vectors as rows in Å (0 where not
            periodic), or ``None`` (no graph periodic).
        pbc: [G, 3] bool periodic directions, or ``None``.
        energy: [G] total energies in eV, NaN where unknown, or ``None``.
        forces: [total_atoms, 3] eV/Å, NaN where unknown, or ``None``.
        stress: [G, 3, 3] eV/Å^3 (ASE sign), NaN where unknown, or ``None``.
    """

    atom_x: np.ndarray
    bond_x: np.ndarray
    senders: np.ndarray
    receivers: np.ndarray
    n_atoms: np.ndarray
    n_edges: np.ndarray
    mol_x: np.ndarray
    positions: np.ndarray | None = None
    errors: np.ndarray | None = None
    numbers: np.ndarray | None = None
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    energy: np.ndarray | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.n_atoms)

    @cached_property
    def atom_offsets(self) -> np.ndarray:
        """[G + 1] start of each graph's atoms in the per-node arrays."""
        return np.concatenate([[0], np.cumsum(self.n_atoms)]).astype(np.int64)

    @cached_property
    def edge_offsets(self) -> np.ndarray:
        """[G + 1] start of each graph's edges in the per-edge arrays."""
        return np.concatenate([[0], np.cumsum(self.n_edges)]).astype(np.int64)

    @cached_property
    def has_forces(self) -> np.ndarray:
        """[G] whether each graph's forces are labels."""
        if self.forces is None:
            return np.zeros(len(self), bool)
        graph = np.repeat(np.arange(len(self)), self.n_atoms)
        known = np.isfinite(self.forces).all(axis=1)
        return np.bincount(graph, known, minlength=len(self)) == self.n_atoms

    @cached_property
    def has_stress(self) -> np.ndarray:
        """[G] whether each graph's stress is a label."""
        if self.stress is None:
            return np.zeros(len(self), bool)
        return np.isfinite(self.stress).all(axis=(1, 2))

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields that are not ``None``, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    def subset(self, idx: np.ndarray) -> GraphSet:
        """The graphs ``idx`` (in that order) as a new :class:`GraphSet`."""
        idx = np.asarray(idx, dtype=np.int64)
        rows = {
            **dict.fromkeys(PER_GRAPH, idx),
            **dict.fromkeys(PER_NODE, concat_ranges(self.atom_offsets, idx)),
            **dict.fromkeys(PER_EDGE, concat_ranges(self.edge_offsets, idx)),
        }
        return GraphSet(
            **{name: values[rows[name]] for name, values in self.arrays().items()}
        )


def concat_ranges(offsets: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(offsets[i], offsets[i+1])`` for every i in ``idx``."""
    starts, stops = offsets[idx], offsets[idx + 1]
    lengths = stops - starts
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(int(lengths.sum())) + shift
