import dataclasses

import jax
import numpy as np
import pytest
from ase.build import bulk

from molmat.data.structures import Frame, read_structures
from molmat.models.potentials.common import EnergyScaling
from molmat.models.potentials.registry import build_potential
from molmat.testing import (
    assert_batch_consistent,
    assert_e3_equivariant,
    assert_forces_match_finite_differences,
    assert_stress_matches_finite_differences,
    assert_supercell_extensive,
)
from molmat.testing.potentials import predict_frames
from tests.conftest import DATA

TINY = {
    "nequip": {"lmax": 2, "channels": 4, "layers": 2, "radial_hidden": 8},
    "painn": {"channels": 8, "layers": 2},
    "schnet": {"channels": 8, "layers": 2, "n_basis": 8},
}
SCALING = EnergyScaling(
    species=(1, 6, 8, 29),
    e0s=(-13.6, -1025.0, -2035.0, -1.0),
    scale=0.5,
    avg_num_neighbors=8.0,
)


@pytest.fixture(scope="module")
def molecule():
    return read_structures(DATA / "rmd17_ethanol_10.npz", format="rmd17").frames[0]


@pytest.fixture(scope="module")
def crystal():
    atoms = bulk("Cu", "fcc", a=3.6) * (2, 1, 1)
    atoms.set_cell(atoms.cell[:] @ np.diag([1.0, 1.03, 0.98]), scale_atoms=True)
    atoms.rattle(0.1, seed=0)
    return Frame.from_atoms(atoms)


@pytest.fixture(scope="module", params=sorted(TINY))
def model(request):
    return build_potential(
        request.param, SCALING, {"cutoff": 3.0, **TINY[request.param]}
    )


def test_symmetries(model, molecule, crystal):
    assert_e3_equivariant(model, molecule)
    assert_e3_equivariant(model, crystal)


def test_forces_and_stress_are_gradients(model, molecule, crystal):
    assert_forces_match_finite_differences(model, molecule)
    assert_forces_match_finite_differences(model, crystal)
    assert_stress_matches_finite_differences(model, crystal)


def test_supercell_and_batching(model, molecule, crystal):
    assert_supercell_extensive(model, crystal)
    assert_batch_consistent(model, [molecule, crystal])


def test_energy_uses_reference_energies(model, molecule):
    out = predict_frames(model, [molecule])
    e0 = sum(
        dict(zip(SCALING.species, SCALING.e0s, strict=True))[int(z)]
        for z in molecule.numbers
    )
    assert np.isfinite(out.energy).all() and np.isfinite(out.forces).all()
    assert abs(out.energy[0] - e0) < 0.5 * molecule.n_atoms * 10
    assert out.energy[0] != pytest.approx(e0, abs=1e-6)


def test_suite_catches_a_broken_potential(molecule):
    """A 'potential' that depends on absolute positions must fail the checks."""
    model = build_potential("schnet", SCALING, {"cutoff": 3.0, **TINY["schnet"]})

    class Broken(type(model)):
        def atomic_energies(self, batch):
            return super().atomic_energies(batch) + 0.1 * batch.positions[:, 0]

    broken = Broken.__new__(Broken)
    for field in dataclasses.fields(model):
        object.__setattr__(broken, field.name, getattr(model, field.name))
    with pytest.raises(AssertionError, match="rotation"):
        assert_e3_equivariant(broken, molecule)


def test_float32_default(model, molecule):
    leaves = jax.tree_util.tree_leaves(model)
    assert all(
        x.dtype == np.float32
        for x in leaves
        if hasattr(x, "dtype") and x.dtype.kind == "f"
    )
