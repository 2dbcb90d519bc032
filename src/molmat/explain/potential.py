"""Where a potential's energy and forces come from, atom by atom.

A potential's energy is a sum of atomic energies ``E = Σ_j E_j``; the force
on atom ``i`` is ``F_i = -Σ_j ∂E_j/∂r_i``. :func:`energy_attributions`
returns both decompositions for one structure: the atomic energies and the
force contributions ``C[j, i] = -∂E_j/∂r_i`` (the force that atom ``j``'s
energy term puts on atom ``i``), whose sum over ``j`` is the force.
"""

from __future__ import annotations

from dataclasses import dataclass

import ase
import jax
import numpy as np

from molmat.calculators.ase import MolmatCalculator
from molmat.models.potentials.base import Potential, atomic_energies


@dataclass(frozen=True)
class EnergyAttribution:
    """Atomic decomposition of one structure's energy and forces.

    Attributes:
        symbols: [n] element symbols.
        energies: [n] atomic energies in eV (reference energies included);
            they sum to the total energy.
        contributions: [n, n, 3] eV/Å; ``contributions[j, i]`` is the force
            on atom ``i`` from atom ``j``'s energy term.
    """

    symbols: list[str]
    energies: np.ndarray
    contributions: np.ndarray

    @property
    def energy(self) -> float:
        """Total energy in eV."""
        return float(self.energies.sum())

    @property
    def forces(self) -> np.ndarray:
        """[n, 3] forces in eV/Å (sum of the contributions)."""
        return self.contributions.sum(axis=0)


def energy_attributions(potential, atoms: ase.Atoms) -> EnergyAttribution:
    """Atomic energies and force contributions of ``atoms``.

    Args:
        potential: a fitted :class:`~molmat.tasks.potential.PotentialModel`
            (its ``potential_``) or a :class:`Potential`.
        atoms: one structure (periodic or not).
    """
    net = getattr(potential, "potential_", potential)
    if not isinstance(net, Potential):
        raise TypeError(f"not a potential: {type(potential).__name__}")
    net.check_elements(atoms.numbers, "structure")
    batch = MolmatCalculator(net).batch(atoms)
    n = len(atoms)

    def energies(positions):
        return atomic_energies(net, batch._replace(positions=positions))[:n]

    per_atom = np.asarray(energies(batch.positions), np.float64)
    jacobian = jax.jacrev(energies)(batch.positions)  # [n, N, 3]
    contributions = -np.asarray(jacobian, np.float64)[:, :n]
    return EnergyAttribution(
        list(atoms.get_chemical_symbols()), per_atom, contributions
    )
