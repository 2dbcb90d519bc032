import numpy as np
import pytest
from ase.build import bulk, molecule

from molmat.calculators.ase import MolmatCalculator
from molmat.explain import energy_attributions
from molmat.models.potentials.lennard_jones import LennardJones

ARGON = LennardJones(sigma=3.405, epsilon=0.0103, cutoff=8.5)


@pytest.mark.parametrize("periodic", [True, False])
def test_atomic_energies_and_force_contributions_add_up(periodic):
    if periodic:
        atoms = bulk("Ar", "fcc", a=5.26, cubic=True)
        atoms.rattle(0.05, seed=1)
    else:
        atoms = molecule("CH4")
        atoms.set_chemical_symbols(["Ar"] * 5)
        atoms.positions *= 3.0
    found = energy_attributions(ARGON, atoms)
    atoms.calc = MolmatCalculator(ARGON)
    assert found.energy == pytest.approx(atoms.get_potential_energy(), rel=1e-5)
    np.testing.assert_allclose(found.forces, atoms.get_forces(), atol=1e-5)
    n = len(atoms)
    assert found.energies.shape == (n,) and found.contributions.shape == (n, n, 3)
    assert found.symbols == ["Ar"] * n


def test_a_far_atom_contributes_nothing():
    atoms = molecule("CH4")
    atoms.set_chemical_symbols(["Ar"] * 5)
    atoms.positions *= 3.0
    atoms.positions[4] += 50.0  # beyond the cutoff of everything
    found = energy_attributions(ARGON, atoms)
    assert found.energies[4] == 0.0
    assert not found.contributions[4].any() and not found.contributions[:, 4].any()
