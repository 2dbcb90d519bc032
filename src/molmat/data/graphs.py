"""The ragged host store of graphs: many molecules or structures, concatenated.

Per-graph arrays have length G; per-node ones the total number of nodes;
per-edge ones the total number of edges. Edge indices are local to their
graph. ``subset`` gathers graphs without Python loops (:func:`concat_ranges`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class GraphSet:
    """Featurised molecules, concatenated (host side).

    Attributes:
        atom_x: [total_atoms, ATOM_DIM] float32.
        bond_x: [total_edges, BOND_DIM] float32, one row per directed edge.
        senders: [total_edges] int32, source atom of each edge (molecule-local).
        receivers: [total_edges] int32, target atom of each edge (molecule-local).
        n_atoms: [n_mols] int32.
        n_edges: [n_mols] int32 (twice the number of bonds).
        mol_x: [n_mols, n_descriptors] float32 whole-molecule features (may be
            0 columns; see :mod:`molmat.featurizers.descriptors`).
        positions: [total_atoms, 3] float32 conformer coordinates in Å, or
            ``None`` without 3D (see :mod:`molmat.featurizers.conformers`).
        errors: [n_mols] str, why a molecule has no conformer ("" when it
            has one), or ``None`` without 3D.
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

    def __len__(self) -> int:
        return len(self.n_atoms)

    @cached_property
    def atom_offsets(self) -> np.ndarray:
        """[n_mols + 1] start of each molecule's atoms in ``atom_x``."""
        return np.concatenate([[0], np.cumsum(self.n_atoms)]).astype(np.int64)

    @cached_property
    def edge_offsets(self) -> np.ndarray:
        """[n_mols + 1] start of each molecule's edges in ``bond_x``."""
        return np.concatenate([[0], np.cumsum(self.n_edges)]).astype(np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "atom_x": self.atom_x,
            "bond_x": self.bond_x,
            "senders": self.senders,
            "receivers": self.receivers,
            "n_atoms": self.n_atoms,
            "n_edges": self.n_edges,
            "mol_x": self.mol_x,
        }
        if self.positions is not None:
            out.update(positions=self.positions, errors=self.errors)
        return out

    def subset(self, idx: np.ndarray) -> GraphSet:
        """The molecules ``idx`` (in that order) as a new :class:`GraphSet`."""
        idx = np.asarray(idx, dtype=np.int64)
        atoms = concat_ranges(self.atom_offsets, idx)
        edges = concat_ranges(self.edge_offsets, idx)
        return GraphSet(
            atom_x=self.atom_x[atoms],
            bond_x=self.bond_x[edges],
            senders=self.senders[edges],
            receivers=self.receivers[edges],
            n_atoms=self.n_atoms[idx],
            n_edges=self.n_edges[idx],
            mol_x=self.mol_x[idx],
            positions=None if self.positions is None else self.positions[atoms],
            errors=None if self.errors is None else self.errors[idx],
        )


def concat_ranges(offsets: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(offsets[i], offsets[i+1])`` for every i in ``idx``."""
    starts, stops = offsets[idx], offsets[idx + 1]
    lengths = stops - starts
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(int(lengths.sum())) + shift
