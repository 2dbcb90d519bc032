"""What every potential is, and forces and stress from its energy (Decision 3).

A potential maps an :class:`~molmat.data.batching.GraphBatch` to per-atom
energies relative to a constant energy of each element
(:meth:`Potential.reference_energies`); the structure energy is their sum plus
the atoms' reference energies. Forces are ``-dE/dpositions`` and the stress
is ``(1/V) dE/d(strain)``, both by autodiff, so they are exactly consistent
with the energy, and the constants never touch them.

The reference energies are large (thousands of eV per molecule for the
element energies of DFT) and the network's part is small, so predictions
add the two on the host in float64 (:func:`atomic_energies_and_derivatives`
returns the network's part per atom, :func:`reference_sums` the constants);
:func:`total_energy` and friends add them on the device, in the model's
dtype, for the hot loops that need whole energies there (training, MD).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from molmat.data.batching import GraphBatch
from molmat.data.statistics import N_ELEMENTS, structure_sums


class Potential(eqx.Module):
    """Abstract energy model. Subclasses implement :meth:`atomic_energies`.

    ``cutoff`` (Å) is the neighbour-list radius the model was built for.
    """

    cutoff: eqx.AbstractVar[float]

    @abc.abstractmethod
    def atomic_energies(self, batch: GraphBatch) -> Float[Array, " N"]:
        """Energy of each atom [N] in eV relative to its element's
        :meth:`reference_energies`; padded atoms must give 0."""

    def reference_energies(self) -> Float[np.ndarray, " 119"]:
        """Constant energy of an atom of each element by atomic number [119]
        (eV, float64): the E0s plus the per-atom shift for trained networks
        (:meth:`~molmat.models.potentials.common.EnergyScaling.reference_table`),
        0 for potentials without a ``scaling``."""
        scaling = getattr(self, "scaling", None)
        return np.zeros(N_ELEMENTS) if scaling is None else scaling.reference_table()

    def check_elements(self, numbers, where: str) -> None:
        """Raise ``DataError`` naming ``where`` if the potential cannot treat
        the elements ``numbers`` [N]. Trained networks know only their
        training elements; analytic potentials treat every element."""
        scaling = getattr(self, "scaling", None)
        if scaling is not None:
            scaling.check_elements(numbers, where)


def reference_sums(
    model: Potential, numbers: Int[np.ndarray, " A"], n_atoms: Int[np.ndarray, " S"]
) -> Float[np.ndarray, " S"]:
    """Sum of the atoms' reference energies of each structure, on the host.

    Args:
        model: the potential.
        numbers: [A] atomic numbers of the structures' atoms, one structure
            after the other.
        n_atoms: [S] atoms per structure.

    Returns:
        [S] float64 eV.
    """
    return structure_sums(model.reference_energies(), numbers, n_atoms)


def atomic_energies(
    model: Potential, batch: GraphBatch, reference: bool = True
) -> Float[Array, " N"]:
    """Energy of each atom [N] in eV, 0 on padding.

    Args:
        model: the potential.
        batch: padded structures.
        reference: add the reference energies of the atoms' elements (in the
            model's dtype); without them the energies are relative to
            :meth:`Potential.reference_energies`.
    """
    energies = model.atomic_energies(batch)
    if reference:
        table = jnp.asarray(model.reference_energies(), energies.dtype)
        energies = energies + table[batch.species]
    return energies * batch.node_mask


def total_energy(model: Potential, batch: GraphBatch) -> Float[Array, " G"]:
    """Energy of each structure [G] in eV (summed on the device)."""
    per_atom = atomic_energies(model, batch)
    return jax.ops.segment_sum(per_atom, batch.node_graph, batch.n_graphs)


def atomic_energies_and_derivatives(
    model: Potential, batch: GraphBatch, stress: bool, reference: bool = False
) -> tuple[Float[Array, " N"], Float[Array, "N 3"], Float[Array, "G 3 3"]]:
    """Per-atom energies with the forces and stress of their structures.

    The stress is ``(1/V) dE/d(strain)`` at zero strain (ASE's sign
    convention), with the symmetric strain applied to positions and cell
    together. Non-periodic structures (zero cell) get a zero stress.

    Args:
        model: the potential.
        batch: padded structures.
        stress: differentiate with respect to strain too (else the stress is 0).
        reference: as in :func:`atomic_energies`. The default leaves the
            reference energies out, for the caller to add on the host
            (:func:`reference_sums`) and sum the atoms in float64.

    Returns:
        Energies [N] (eV, 0 on padding), forces [N, 3] (eV/Å) = -dE/dpositions
        and stress [G, 3, 3] (eV/Å^3).
    """
    dtype = batch.positions.dtype
    zero_strain = jnp.zeros((batch.n_graphs, 3, 3), dtype)

    def energy_sum(positions, strain=None):
        if strain is None:
            moved = batch._replace(positions=positions)
        else:
            sym = 0.5 * (strain + jnp.swapaxes(strain, -1, -2))
            deform = jnp.eye(3, dtype=dtype) + sym  # [G, 3, 3]
            atom_deform = deform[batch.node_graph]  # [N, 3, 3]
            moved = batch._replace(
                positions=jnp.einsum("ni,nij->nj", positions, atom_deform),
                cell=jnp.einsum("gki,gij->gkj", batch.cell, deform),
            )
        energies = atomic_energies(model, moved, reference)
        return energies.sum(), energies

    if not stress:
        d_pos, energies = jax.grad(energy_sum, has_aux=True)(batch.positions)
        return energies, -d_pos * batch.node_mask[:, None], zero_strain
    (d_pos, d_strain), energies = jax.grad(energy_sum, argnums=(0, 1), has_aux=True)(
        batch.positions, zero_strain
    )
    volume = jnp.abs(jnp.linalg.det(batch.cell))
    periodic = volume > 0
    sigma = d_strain / jnp.where(periodic, volume, 1.0)[:, None, None]
    sigma = jnp.where(periodic[:, None, None], sigma, 0.0)
    return energies, -d_pos * batch.node_mask[:, None], sigma


def energy_and_forces(
    model: Potential, batch: GraphBatch
) -> tuple[Float[Array, " G"], Float[Array, "N 3"]]:
    """Energies [G] (eV, summed on the device) and forces [N, 3] (eV/Å)."""
    energies, forces, _ = atomic_energies_and_derivatives(
        model, batch, stress=False, reference=True
    )
    return jax.ops.segment_sum(energies, batch.node_graph, batch.n_graphs), forces


def energy_forces_stress(
    model: Potential, batch: GraphBatch
) -> tuple[Float[Array, " G"], Float[Array, "N 3"], Float[Array, "G 3 3"]]:
    """Energies [G] (eV, summed on the device), forces [N, 3] (eV/Å) and
    stress [G, 3, 3] (eV/Å^3); see :func:`atomic_energies_and_derivatives`."""
    energies, forces, stress = atomic_energies_and_derivatives(
        model, batch, stress=True, reference=True
    )
    energy = jax.ops.segment_sum(energies, batch.node_graph, batch.n_graphs)
    return energy, forces, stress
