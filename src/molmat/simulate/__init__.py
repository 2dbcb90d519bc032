"""Molecular dynamics with the JAX engine: neighbour lists, integrators, driver.

:func:`run_md` runs a whole simulation with logs and a trajectory. For a loop
of your own, :func:`prepare` gives the step-0 state, :func:`advance` runs one
jitted block of steps, a :class:`Watch` records the first failing step and
:func:`raise_if_nonfinite` turns it into a :class:`SimulationError`. States
hold energies relative to the atoms' reference energies; add
:func:`reference_energy` (float64, host) for absolute ones.

Example:
    >>> from ase.build import bulk
    >>> from molmat.models.potentials.lennard_jones import LennardJones
    >>> from molmat.simulate import run_md
    >>> atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(3)
    >>> lj = LennardJones(sigma=3.405, epsilon=0.0103, cutoff=8.5)
    >>> result = run_md(lj, atoms, "nvt", 60.0, steps=100, progress=False)
"""

from molmat.simulate.driver import (
    MDResult,
    SimulationError,
    initial_momenta,
    prepare,
    raise_if_nonfinite,
    run_md,
)
from molmat.simulate.md import (
    ENSEMBLES,
    MAX_DRIFT,
    Ensemble,
    MDState,
    Watch,
    advance,
    evaluate,
    init_state,
    kinetic_energy,
    observe,
    pressure,
    reference_energy,
    run_block,
    step,
    temperature,
    watch,
)
from molmat.simulate.neighbors import NeighborList, NeighborListFn, allocate

__all__ = [
    "ENSEMBLES",
    "MAX_DRIFT",
    "Ensemble",
    "MDResult",
    "MDState",
    "NeighborList",
    "NeighborListFn",
    "SimulationError",
    "Watch",
    "advance",
    "allocate",
    "evaluate",
    "init_state",
    "initial_momenta",
    "kinetic_energy",
    "observe",
    "pressure",
    "prepare",
    "raise_if_nonfinite",
    "reference_energy",
    "run_block",
    "run_md",
    "step",
    "temperature",
    "watch",
]
