"""Energies, forces and stress of many structures, in padded batches.

The device returns per-atom energies relative to the elements' reference
energies; the host sums them per structure and adds the reference sums in
float64 (:mod:`molmat.models.potentials.base`), so float32 and float64 models
give the same totals to well under a meV.
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import numpy as np

from molmat.data.batching import Budget
from molmat.data.graphs import concat_ranges
from molmat.data.neighbors import NeighborGraphs, atoms_batches
from molmat.models.potentials.base import (
    Potential,
    atomic_energies,
    atomic_energies_and_derivatives,
    reference_sums,
)
from molmat.nn.compilation import potential_jit


@dataclass
class Predictions:
    """Model outputs for the structures of a :class:`NeighborGraphs`.

    Attributes:
        energy: [S] eV (float64 sums on the host).
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
    return atomic_energies_and_derivatives(model, batch, stress=False)


@potential_jit
def _energy_forces_stress(model, batch):
    return atomic_energies_and_derivatives(model, batch, stress=True)


@potential_jit
def _energy_only(model, batch):
    energies = atomic_energies(model, batch, reference=False)
    return energies, batch.forces * np.nan, batch.stress * np.nan


def predict_structures(
    model: Potential, graphs: NeighborGraphs, batch_size: int = 32, forces: bool = True
) -> Predictions:
    """Energies, forces and stress of every structure, batch-size independent.

    ``forces=False`` skips every derivative (forces and stress come back NaN).
    """
    dtype = param_dtype(model)
    periodic = np.abs(np.linalg.det(graphs.cell)) > 0
    energy = reference_sums(model, graphs.numbers, graphs.n_atoms)
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
        energy[idx] += np.bincount(batch.node_graph[:n], e[:n], minlength=g)
        stress[idx] = s[:g]
        forces_out[concat_ranges(graphs.atom_offsets, idx)] = f[:n]
    return Predictions(energy, forces_out, stress)
