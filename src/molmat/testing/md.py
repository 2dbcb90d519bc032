"""Energy conservation: the check every potential must pass to run MD.

A conservative, smooth potential integrated with velocity Verlet keeps the
total energy constant up to O(dt^2) fluctuations; a steady drift means
forces that are not the gradient of the energy, a discontinuity at the
cutoff, or a time step that is too long.

Example:
    >>> from ase.build import bulk
    >>> from molmat.models.potentials.lennard_jones import LennardJones
    >>> atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(2)
    >>> lj = LennardJones(sigma=3.405, epsilon=0.0103, cutoff=8.5)
    >>> assert_energy_conserved(lj, atoms, steps=100, timestep_fs=2.0, atol=1e-4)
"""

from __future__ import annotations

import ase
import numpy as np

from molmat.models.potentials.base import Potential
from molmat.nn.compilation import float_dtype, precision
from molmat.simulate import md
from molmat.simulate.driver import initial_momenta, prepare, raise_if_nonfinite


def nve_energy_drift(
    potential: Potential,
    atoms: ase.Atoms,
    steps: int = 1000,
    timestep_fs: float = 0.5,
    temperature: float = 300.0,
    every: int = 10,
    seed: int = 0,
    float64: bool = True,
) -> float:
    """Largest ``|E_tot(t) - E_tot(0)|`` per atom (eV/atom) over an NVE run.

    Starts from Maxwell-Boltzmann velocities at ``temperature`` K and samples
    the total energy every ``every`` steps. The energies are relative to the
    atoms' reference energies (see :mod:`molmat.simulate.md`), so float32
    resolves drifts of about a µeV even when the totals are thousands of eV.

    Raises:
        SimulationError: a step with non-finite values (names the step).
    """
    momenta = initial_momenta(atoms, temperature, seed)
    ensemble = md.Ensemble("nve", timestep_fs)
    with precision(float64):
        dtype = float_dtype(float64)
        potential, fn, nbrs, state = prepare(
            potential, atoms, momenta, seed, dtype=dtype
        )
        w = md.watch(dtype=dtype)
        totals = [float(state.energy + md.kinetic_energy(state))]
        for _ in range(-(-steps // every)):
            fn, state, nbrs, w = md.advance(
                potential, ensemble, fn, every, state, nbrs, w
            )
            raise_if_nonfinite(w, timestep_fs)
            totals.append(float(state.energy + md.kinetic_energy(state)))
    return float(np.max(np.abs(np.array(totals) - totals[0]))) / len(atoms)


def assert_energy_conserved(
    potential: Potential, atoms: ase.Atoms, atol: float = 1e-4, **kwargs
) -> None:
    """Raise AssertionError if the NVE drift per atom exceeds ``atol`` (eV/atom).

    ``kwargs`` go to :func:`nve_energy_drift`.
    """
    drift = nve_energy_drift(potential, atoms, **kwargs)
    if not drift <= atol:
        raise AssertionError(
            f"total energy drifted by {drift:.3g} eV/atom > {atol:.3g} eV/atom"
        )
