"""Float32 energies of totals in the thousands of eV, and the float64 switch.

Ethanol's total energy is about -4.2 keV, almost all of it the isolated-atom
reference energies (E0s). Float32 resolves 0.5 meV there, so the E0 sums and
the sum over atoms must be taken on the host in float64 for float32 and
float64 evaluations of the same parameters to agree, and for finite
differences of the energy to mean anything.
"""

import numpy as np
import pytest
from ase import Atoms

import molmat
from molmat.data.structures import read_structures
from molmat.models.potentials.registry import build_potential
from molmat.tasks.potential import PotentialModel
from molmat.testing.potentials import (
    assert_calculator_forces_match_finite_differences,
    assert_float32_matches_float64,
)
from tests.conftest import DATA, ethanol_scaling

ENERGY_ATOL = 5e-5  # eV: float32 vs float64 energy of one ethanol
FD_ATOL = 1e-4  # eV/Å: float64 forces vs central differences with h = 1e-3 Å


@pytest.fixture(scope="module")
def ethanol():
    return read_structures(DATA / "rmd17_ethanol_10.npz", format="rmd17").frames


@pytest.fixture(scope="module")
def loaded(ethanol, tmp_path_factory):
    """A tiny PaiNN trained briefly with isolated-atom E0s, saved and loaded."""
    isolated = [
        f
        for f in read_structures(DATA / "ethanol_botnet.extxyz").frames
        if f.is_isolated_atom
    ]
    model = PotentialModel(
        model="painn",
        channels=8,
        layers=1,
        batch_size=2,
        epochs=3,
        lr=2e-2,
        ema_decay=0.9,
        val_frames=2,
        progress=False,
    ).fit(ethanol[:8] + isolated)
    assert model.e0_method_ == "isolated atoms"
    path = model.save(tmp_path_factory.mktemp("precision") / "pot")
    return molmat.load(path)


def frame_atoms(frame, calc) -> Atoms:
    atoms = Atoms(numbers=frame.numbers, positions=frame.positions)
    atoms.calc = calc
    return atoms


def test_calculator_takes_an_explicit_precision(loaded):
    assert not loaded.float64
    assert loaded.calculator(float64=True).float64
    assert not loaded.calculator(float64=False).float64
    assert not loaded.calculator().float64


def test_float32_calculator_energy_equals_float64(loaded, ethanol):
    """Frame 0 and the other nine: float32 sums near -4.2 keV round at 0.49 meV
    steps, to errors that vary from frame to frame, so one frame can pass by
    chance."""
    calc32, calc64 = loaded.calculator(), loaded.calculator(float64=True)
    for frame in ethanol:
        e32 = frame_atoms(frame, calc32).get_potential_energy()
        e64 = frame_atoms(frame, calc64).get_potential_energy()
        assert e64 == pytest.approx(-4209, abs=10)  # mostly E0s
        assert abs(e32 - e64) < ENERGY_ATOL, f"frame {frame.index}"
    forces = frame_atoms(ethanol[0], calc64).get_forces()
    assert np.abs(forces).max() > 0.05  # the network contributes forces
    np.testing.assert_allclose(
        frame_atoms(ethanol[0], calc32).get_forces(), forces, atol=1e-5
    )


def test_float64_forces_match_ase_finite_differences(loaded, ethanol):
    atoms = frame_atoms(ethanol[0], loaded.calculator(float64=True))
    assert_calculator_forces_match_finite_differences(atoms, h=1e-3, atol=FD_ATOL)


def test_float32_finite_differences_are_not_noise(loaded, ethanol):
    """With E0s on the device, one float32 ulp of -4.2 keV over 2 mÅ was
    0.2 eV/Å of noise; now float32 differences resolve forces to 1 meV/Å."""
    atoms = frame_atoms(ethanol[0], loaded.calculator())
    assert_calculator_forces_match_finite_differences(atoms, h=1e-3, atol=1e-3)


def test_predict_and_evaluate_honour_an_explicit_precision(loaded, ethanol):
    atoms64 = frame_atoms(ethanol[0], loaded.calculator(float64=True))
    e64 = atoms64.get_potential_energy()
    pred64 = loaded.predict(ethanol[:1], float64=True)
    assert pred64["energy"][0] == pytest.approx(e64, abs=1e-9)
    np.testing.assert_allclose(pred64["forces"][0], atoms64.get_forces(), atol=1e-9)
    metrics, pred = loaded.evaluate_predict(ethanol[:1], float64=True)
    assert pred["energy"][0] == pytest.approx(e64, abs=1e-9)
    assert metrics == pytest.approx(loaded.evaluate(ethanol[:1], float64=True))
    pred32 = loaded.predict(ethanol[:1])
    assert pred32["energy"][0] != pytest.approx(e64, abs=1e-10)  # really float32
    assert abs(pred32["energy"][0] - e64) < ENERGY_ATOL
    assert loaded.potential_.embedding.dtype == np.float32  # the model is unchanged


@pytest.mark.parametrize(
    "name, sizes",
    [
        ("nequip", {"lmax": 1, "channels": 4, "layers": 1, "radial_hidden": 8}),
        ("painn", {"channels": 8, "layers": 1}),
        ("schnet", {"channels": 8, "layers": 1, "n_basis": 8}),
    ],
)
def test_every_family_keeps_float32_totals_exact(name, sizes, ethanol):
    scaling = ethanol_scaling()
    model = build_potential(name, scaling, {"cutoff": 4.0, **sizes})
    assert_float32_matches_float64(model, ethanol[0], atol=ENERGY_ATOL)
