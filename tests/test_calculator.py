"""MolmatCalculator and the Lennard-Jones reference potential against ASE."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.lj import LennardJones as AseLennardJones
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS
from ase.stress import full_3x3_to_voigt_6_stress
from ase.vibrations import Vibrations

from molmat.calculators import MolmatCalculator
from molmat.data.batching import ladder
from molmat.data.radius import neighbor_list
from molmat.models.potentials.common import EnergyScaling
from molmat.models.potentials.inference import cast
from molmat.models.potentials.lennard_jones import LennardJones
from molmat.models.potentials.schnet import SchNet
from molmat.nn.compilation import precision
from molmat.simulate import md
from molmat.simulate.neighbors import allocate

SIGMA, EPSILON, CUTOFF = 3.405, 0.0103, 7.0
ARGON = LennardJones(SIGMA, EPSILON, CUTOFF)
KEY = jax.random.key(0)


def strained_fcc():
    atoms = bulk("Ar", "fcc", a=5.3, cubic=True).repeat(2)
    strain = np.eye(3) + 0.03 * np.random.default_rng(0).normal(size=(3, 3))
    atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
    atoms.rattle(0.15, seed=1)
    return atoms


def cluster():
    atoms = bulk("Ar", "fcc", a=5.3, cubic=True).repeat((2, 2, 1))
    atoms.rattle(0.15, seed=2)
    atoms.pbc = False
    atoms.cell = np.zeros((3, 3))
    return atoms


def ase_reference(atoms):
    atoms = atoms.copy()
    atoms.calc = AseLennardJones(sigma=SIGMA, epsilon=EPSILON, rc=CUTOFF, smooth=False)
    return atoms


@pytest.mark.parametrize("make", [strained_fcc, cluster])
def test_lennard_jones_equals_ase(make):
    atoms = make()
    atoms.calc = MolmatCalculator(ARGON, float64=True)
    reference = ase_reference(atoms)
    energy = atoms.get_potential_energy()
    assert energy == pytest.approx(reference.get_potential_energy(), abs=1e-10)
    assert abs(energy) > 0.1
    np.testing.assert_allclose(atoms.get_forces(), reference.get_forces(), atol=1e-10)
    if atoms.pbc.all():
        np.testing.assert_allclose(
            atoms.get_stress(), reference.get_stress(), atol=1e-12
        )
    else:
        with pytest.raises(PropertyNotImplementedError):
            atoms.get_stress()


def test_float32_close_to_ase():
    atoms = strained_fcc()
    atoms.calc = MolmatCalculator(ARGON)
    reference = ase_reference(atoms)
    assert atoms.get_potential_energy() == pytest.approx(
        reference.get_potential_energy(), rel=1e-5
    )
    np.testing.assert_allclose(atoms.get_forces(), reference.get_forces(), atol=1e-5)


def tiny_schnet():
    # Reference energies: the calculator adds them on the host, MD on the device.
    scaling = EnergyScaling(
        species=(18,), e0s=(-100.0,), shift=0.3, avg_num_neighbors=40.0
    )
    return SchNet(scaling, cutoff=5.0, channels=8, layers=1, n_basis=8, key=KEY)


@pytest.mark.parametrize(
    "make_potential", [lambda: ARGON, tiny_schnet], ids=["lennard_jones", "schnet"]
)
def test_calculator_equals_in_jit_neighbour_list_path(make_potential):
    """Host (vesin, padded) and MD (in-jit list with a skin) paths agree.

    The MD list also holds pairs between the cutoff and cutoff + skin; they
    must not reach the potential.
    """
    potential = make_potential()
    atoms = strained_fcc()
    atoms.calc = MolmatCalculator(potential, float64=True)
    with precision(True):
        potential64 = cast(potential, jnp.float64)
        fn, nbrs = allocate(atoms.positions, atoms.cell[:], potential.cutoff, skin=1.0)
        args = [jnp.asarray(a) for a in (atoms.numbers, atoms.positions, atoms.cell[:])]
        batch = md.structure_batch(fn, *args, nbrs)
        energy, forces, stress = md.evaluate(potential64, fn, *args, nbrs)
    assert int(batch.pair_mask.sum()) < int(nbrs.edge_mask.sum())  # skin pairs exist
    assert atoms.get_potential_energy() == pytest.approx(float(energy), abs=1e-10)
    np.testing.assert_allclose(atoms.get_forces(), forces, atol=1e-10)
    assert np.abs(atoms.get_forces()).max() > 1e-6
    np.testing.assert_allclose(
        atoms.get_stress(), full_3x3_to_voigt_6_stress(np.asarray(stress)), atol=1e-12
    )


def test_one_compile_for_rattled_copies():
    calc = MolmatCalculator(ARGON)
    start = strained_fcc()
    for seed in range(4):
        atoms = start.copy()
        atoms.rattle(0.02, seed=10 + seed)
        atoms.calc = calc
        atoms.get_forces()
        atoms.get_stress()
    assert calc.n_compiles == 1


def test_moving_pair_count_does_not_recompile():
    calc = MolmatCalculator(ARGON)
    start = strained_fcc()
    frames = [start.copy() for _ in range(3)]
    frames[0].rattle(0.3, seed=0)  # fewer pairs than the start, then more
    frames[2].rattle(0.3, seed=1)
    pairs = [
        neighbor_list(a.positions, a.cell[:], a.pbc, ARGON.cutoff)[0] for a in frames
    ]
    sizes = {ladder(len(p)) for p in pairs}
    assert len(sizes) > 1  # the pair counts fall on different padding sizes
    for atoms in frames:
        atoms.calc = calc
        atoms.get_forces()
    assert calc.n_compiles == 1


def test_bfgs_relaxes():
    atoms = strained_fcc()
    atoms.calc = MolmatCalculator(ARGON)
    assert np.abs(atoms.get_forces()).max() > 0.05
    BFGS(atoms, logfile=None).run(fmax=0.01, steps=200)
    assert np.linalg.norm(atoms.get_forces(), axis=1).max() < 0.05


def test_ase_velocity_verlet_conserves_energy():
    atoms = cluster()
    atoms.calc = MolmatCalculator(LennardJones(SIGMA, EPSILON, cutoff=30.0))
    atoms.set_momenta(np.zeros((len(atoms), 3)))
    start = atoms.get_total_energy()
    VelocityVerlet(atoms, timestep=2 * units.fs).run(50)
    assert atoms.get_kinetic_energy() > 1e-3  # the cluster moved
    assert atoms.get_total_energy() == pytest.approx(start, abs=2e-4)


def test_vibrations_of_dimer_match_analytic_frequency(tmp_path):
    r_min = 2 ** (1 / 6) * SIGMA
    dimer = Atoms("Ar2", positions=[[0, 0, 0], [0, 0, r_min]])
    dimer.calc = MolmatCalculator(ARGON, float64=True)
    vib = Vibrations(dimer, delta=0.005, name=str(tmp_path / "vib"))
    vib.run()
    highest = float(np.real(vib.get_energies()).max())  # eV
    curvature = 36 * 2 ** (2 / 3) * EPSILON / SIGMA**2  # eV/Å^2 at r_min
    reduced_mass = dimer.get_masses()[0] / 2
    expected = units._hbar * np.sqrt(curvature * units._e / units._amu) * 1e10
    expected /= units._e * np.sqrt(reduced_mass)
    assert highest == pytest.approx(expected, rel=1e-3)
