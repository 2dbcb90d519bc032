"""What every potential is, and forces and stress from its energy (Decision 3).

A potential maps an :class:`~molmat.data.atoms_batch.AtomsBatch` to per-atom
energies; the structure energy is their sum. Forces are ``-dE/dpositions`` and
the stress is ``(1/V) dE/d(strain)``, both by autodiff, so they are exactly
consistent with the energy.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from molmat.data.atoms_batch import AtomsBatch


class Potential(eqx.Module):
    """Abstract energy model. Subclasses implement :meth:`atomic_energies`.

    ``cutoff`` (Å) is the neighbour-list radius the model was built for.
    """

    cutoff: eqx.AbstractVar[float]

    @abc.abstractmethod
    def atomic_energies(self, batch: AtomsBatch) -> Float[Array, " N"]:
        """Energy of each atom [N] in eV; padded atoms must give 0."""

    def check_elements(self, numbers, where: str) -> None:
        """Raise ``DataError`` naming ``where`` if the potential cannot treat
        the elements ``numbers`` [N]. Trained networks know only their
        training elements; analytic potentials treat every element."""
        scaling = getattr(self, "scaling", None)
        if scaling is not None:
            scaling.check_elements(numbers, where)


def total_energy(model: Potential, batch: AtomsBatch) -> Float[Array, " G"]:
    """Energy of each structure [G] in eV."""
    per_atom = model.atomic_energies(batch) * batch.node_mask
    return jax.ops.segment_sum(per_atom, batch.node_graph, batch.n_graphs)


def energy_and_forces(
    model: Potential, batch: AtomsBatch
) -> tuple[Float[Array, " G"], Float[Array, "N 3"]]:
    """Energies [G] (eV) and forces [N, 3] (eV/Å) = -dE/dpositions."""

    def energy_sum(positions):
        energies = total_energy(model, batch._replace(positions=positions))
        return energies.sum(), energies

    grad, energies = jax.grad(energy_sum, has_aux=True)(batch.positions)
    return energies, -grad * batch.node_mask[:, None]


def energy_forces_stress(
    model: Potential, batch: AtomsBatch
) -> tuple[Float[Array, " G"], Float[Array, "N 3"], Float[Array, "G 3 3"]]:
    """Energies [G] (eV), forces [N, 3] (eV/Å) and stress [G, 3, 3] (eV/Å^3).

    The stress is ``(1/V) dE/d(strain)`` at zero strain (ASE's sign
    convention), with the symmetric strain applied to positions and cell
    together. Non-periodic structures (zero cell) get a zero stress.
    """
    n_graphs = batch.n_graphs
    dtype = batch.positions.dtype

    def energy_sum(positions, strain):
        sym = 0.5 * (strain + jnp.swapaxes(strain, -1, -2))
        deform = jnp.eye(3, dtype=dtype) + sym  # [G, 3, 3]
        atom_deform = deform[batch.node_graph]  # [N, 3, 3]
        strained = batch._replace(
            positions=jnp.einsum("ni,nij->nj", positions, atom_deform),
            cell=jnp.einsum("gki,gij->gkj", batch.cell, deform),
        )
        energies = total_energy(model, strained)
        return energies.sum(), energies

    zero_strain = jnp.zeros((n_graphs, 3, 3), dtype)
    (d_pos, d_strain), energies = jax.grad(energy_sum, argnums=(0, 1), has_aux=True)(
        batch.positions, zero_strain
    )
    volume = jnp.abs(jnp.linalg.det(batch.cell))
    periodic = volume > 0
    stress = d_strain / jnp.where(periodic, volume, 1.0)[:, None, None]
    stress = jnp.where(periodic[:, None, None], stress, 0.0)
    return energies, -d_pos * batch.node_mask[:, None], stress
