"""Energies, forces and stress of many structures, in padded batches."""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import numpy as np

from molmat.data.batching import Budget
from molmat.data.neighbors import NeighborGraphs, atoms_batches
from molmat.featurizers.graph import concat_ranges
from molmat.models.potentials.base import (
    Potential,
    energy_and_forces,
    energy_forces_stress,
    total_energy,
)
from molmat.models.potentials.compilation import potential_jit


@dataclass
class Predictions:
    """Model outputs for the structures of a :class:`NeighborGraphs`.

    Attributes:
        energy: [S] eV.
        forces: [A, 3] eV/Å, rows in the order of ``graphs.positions``
            (NaN when predicted without forces).
        stress: [S, 3, 3] eV/Å^3 (0 for non-periodic structures, NaN when
            predicted without forces).
    """

    energy: np.ndarray
    forces: np.ndarray
    stress: np.ndarray


def param_dtype(model: eqx.Module):
    """The float dtype of the model's parameters."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
    return np.dtype(leaves[0].dtype) if leaves else np.dtype(np.float32)


def cast(model: eqx.Module, dtype) -> eqx.Module:
    """``model`` with every float parameter in ``dtype`` (e.g. float64 checks)."""
    return jax.tree_util.tree_map(
        lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, model
    )


@potential_jit
def _energy_forces(model, batch):
    energy, forces = energy_and_forces(model, batch)
    return energy, forces, batch.stress * 0


@potential_jit
def _energy_forces_stress(model, batch):
    return energy_forces_stress(model, batch)


@potential_jit
def _energy_only(model, batch):
    return total_energy(model, batch), batch.forces * np.nan, batch.stress * np.nan


def predict_graphs(
    model: Potential, graphs: NeighborGraphs, batch_size: int = 32, forces: bool = True
) -> Predictions:
    """Energies, forces and stress of every structure, batch-size independent.

    ``forces=False`` skips every derivative (forces and stress come back NaN).
    """
    dtype = param_dtype(model)
    periodic = np.abs(np.linalg.det(graphs.cell)) > 0
    energy = np.zeros(len(graphs))
    forces_out = np.zeros((int(graphs.n_atoms.sum()), 3))
    stress = np.zeros((len(graphs), 3, 3))
    if not len(graphs):
        return Predictions(energy, forces_out, stress)
    if not forces:
        fn = _energy_only
    else:
        fn = _energy_forces_stress if periodic.any() else _energy_forces
    budget = Budget.for_data(graphs, batch_size)
    for idx, batch in atoms_batches(graphs, batch_size, budget=budget, dtype=dtype):
        e, f, s = (np.asarray(a, np.float64) for a in fn(model, batch))
        g, n = len(idx), int(graphs.n_atoms[idx].sum())
        energy[idx], stress[idx] = e[:g], s[:g]
        forces_out[concat_ranges(graphs.atom_offsets, idx)] = f[:n]
    return Predictions(energy, forces_out, stress)
