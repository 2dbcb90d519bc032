"""Molecular dynamics with the JAX engine: neighbour lists, integrators, driver.

Example:
    >>> from ase.build import bulk
    >>> from molmat.models.potentials.lennard_jones import LennardJones
    >>> from molmat.simulate import run_md
    >>> atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(3)
    >>> lj = LennardJones(sigma=3.405, epsilon=0.0103, cutoff=8.5)
    >>> result = run_md(lj, atoms, "nvt", 60.0, steps=100, progress=False)
"""

from molmat.simulate.driver import MDResult, run_md
from molmat.simulate.md import Ensemble, MDState, advance, run_block
from molmat.simulate.neighbors import NeighborList, NeighborListFn, allocate

__all__ = [
    "Ensemble",
    "MDResult",
    "MDState",
    "NeighborList",
    "NeighborListFn",
    "advance",
    "allocate",
    "run_block",
    "run_md",
]
