"""ASE calculator over any :class:`~molmat.models.potentials.base.Potential`.

Each call builds a one-structure :class:`~molmat.data.batching.GraphBatch`
on the host (vesin neighbour list, :mod:`molmat.data.radius`), padded to
sizes on the batching ladder, and evaluates energy, forces and stress in one
jitted function. Repeated calls on structures of similar size (optimiser
steps, MD with ASE integrators, vibration displacements) therefore reuse one
compiled function.

The device returns per-atom energies relative to the elements' reference
energies; their sum and the reference energies are added on the host in
float64, so a float32 calculator gives the energy of a float64 one to well
under a meV even on totals of thousands of eV.
"""

from __future__ import annotations

import math

import ase
import numpy as np
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)
from ase.stress import full_3x3_to_voigt_6_stress

from molmat.data.batching import Budget, ladder, make_batch
from molmat.data.radius import radius_graphs
from molmat.data.structures import Frame, structure_graphs
from molmat.models.potentials.base import (
    Potential,
    atomic_energies_and_derivatives,
    reference_sums,
)
from molmat.models.potentials.inference import cast
from molmat.nn.compilation import float_dtype, potential_jit, precision

PAIR_HEADROOM = 1.1  # spare pairs, as a fraction, when the pair budget grows


class MolmatCalculator(Calculator):
    """Energy (eV), forces (eV/Å) and, for periodic cells, stress (eV/Å^3).

    Periodic cells always get the stress too (one backward pass gives both),
    so forces-only and stress calls share one compiled function and ASE's
    result cache.

    Args:
        potential: any potential; its ``cutoff`` sets the neighbour list.
        float64: evaluate in double precision (the potential is cast to it).
        **kwargs: passed to :class:`ase.calculators.calculator.Calculator`.

    Attributes:
        n_compiles: how many padded shapes have been compiled so far.

    Example:
        >>> from ase.build import bulk
        >>> from molmat.models.potentials.lennard_jones import LennardJones
        >>> atoms = bulk("Ar", "fcc", a=5.26, cubic=True)
        >>> atoms.calc = MolmatCalculator(LennardJones(3.405, 0.0103, 8.5))
        >>> energy = atoms.get_potential_energy()
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, potential: Potential, float64: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.float64 = float64
        self.dtype = float_dtype(float64)
        with precision(float64):
            self.potential = cast(potential, self.dtype)
        self.n_compiles = 0
        self._pair_budgets: dict[int, int] = {}  # node budget -> pair budget

        def evaluate(potential, batch, stress: bool):
            self.n_compiles += 1  # runs only while tracing a new shape
            return atomic_energies_and_derivatives(potential, batch, stress)

        self._evaluate = potential_jit(evaluate)

    def calculate(
        self,
        atoms: ase.Atoms | None = None,
        properties=("energy",),
        system_changes=all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        if "numbers" in system_changes:
            self.potential.check_elements(atoms.numbers, "structure")
        periodic = bool(atoms.pbc.all())
        if "stress" in properties and not periodic:
            raise PropertyNotImplementedError(
                "stress needs a structure periodic in all three directions"
            )
        with precision(self.float64):
            batch = self.batch(atoms)
            energies, forces, stress = self._evaluate(self.potential, batch, periodic)
            reference = reference_sums(self.potential, atoms.numbers, [len(atoms)])
            energies = np.asarray(energies, np.float64)[: len(atoms)]
            energy = float(reference[0] + energies.sum())
            self.results = {
                "energy": energy,
                "free_energy": energy,
                "forces": np.asarray(forces, np.float64)[: len(atoms)],
            }
            if periodic:
                full = np.asarray(stress, np.float64)[0]
                self.results["stress"] = full_3x3_to_voigt_6_stress(full)

    def batch(self, atoms: ase.Atoms):
        """The padded one-structure batch for ``atoms`` (host arrays).

        Atoms are padded to ``ladder(n + 1)`` (one padding atom at least, in
        a second, padding structure) and pairs to :meth:`_pair_budget`.
        """
        graphs = structure_graphs([Frame.from_atoms(atoms)])
        pairs = radius_graphs(
            graphs.positions,
            graphs.atom_offsets,
            self.potential.cutoff,
            graphs.cell,
            graphs.pbc,
        )
        nodes = ladder(len(atoms) + 1)
        pair_budget = self._pair_budget(nodes, int(pairs.n_pairs[0]))
        budget = Budget(nodes=nodes, edges=0, graphs=2, pairs=pair_budget)
        return make_batch(graphs, np.array([0]), budget, pairs=pairs, dtype=self.dtype)

    def _pair_budget(self, nodes: int, n_pairs: int) -> int:
        """Padded pair count for ``nodes``: it only grows, with headroom when it
        does, so the pair count of a moving structure (MD, relaxation) does not
        recompile the model each time it crosses a padding size."""
        known = self._pair_budgets.get(nodes, 0)
        if ladder(n_pairs) > known:
            known = ladder(math.ceil(PAIR_HEADROOM * n_pairs))
            self._pair_budgets[nodes] = known
        return known
