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

from molmat.data.batching import Batcher, BatchingStrategy
from molmat.data.graphs import GraphSet, concat_ranges
from molmat.models.potentials.base import (
    Potential,
    atomic_energies,
    atomic_energies_and_derivatives,
    reference_sums,
)
from molmat.nn.compilation import potential_jit

PREDICT_BATCH = 32  # structures per prediction batch


@dataclass
class Predictions:
    """Model outputs for the structures of a :class:`GraphSet`.

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


def potential_batching(cutoff: float) -> BatchingStrategy:
    """How potentials batch: each structure's radius graph within ``cutoff``
    (Å), structures of any size together."""
    return BatchingStrategy(radius=cutoff)


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
    model: Potential,
    graphs: GraphSet,
    batch_size: int = PREDICT_BATCH,
    forces: bool = True,
    progress: bool = False,
    batcher: Batcher | None = None,
) -> Predictions:
    """Energies, forces and stress of every structure, batch-size independent.

    ``forces=False`` skips every derivative (forces and stress come back NaN);
    ``progress`` shows a bar while neighbour lists are built; ``batcher``:
    the batcher of ``graphs`` if already built (:func:`potential_batching`
    with the model's cutoff), e.g. for validation after every epoch.
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
    if batcher is None:
        batcher = potential_batching(model.cutoff).batcher(graphs, batch_size, progress)
    for idx, budget in batcher.plan(graphs, np.arange(len(graphs))):
        batch = batcher.batch(graphs, idx, budget, dtype=dtype)
        e, f, s = (np.asarray(a, np.float64) for a in fn(model, batch))
        g, n = len(idx), int(graphs.n_atoms[idx].sum())
        energy[idx] += np.bincount(batch.node_graph[:n], e[:n], minlength=g)
        stress[idx] = s[:g]
        forces_out[concat_ranges(graphs.atom_offsets, idx)] = f[:n]
    return Predictions(energy, forces_out, stress)
