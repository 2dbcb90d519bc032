"""Compiler options of the potentials' hot paths, their fallback, and that the
hot path computes what the model computes on one structure without them."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk

from molmat.data.batching import GraphBatch, one_structure_batch
from molmat.data.radius import neighbor_list
from molmat.data.structures import Frame, read_structures
from molmat.models.potentials.base import energy_forces_stress
from molmat.models.potentials.common import EnergyScaling
from molmat.models.potentials.registry import build_potential
from molmat.nn import compilation
from molmat.testing.potentials import predict_frames
from tests.conftest import DATA

TINY = {
    "nequip": {"lmax": 2, "channels": 4, "layers": 2, "radial_hidden": 8},
    "painn": {"channels": 8, "layers": 2},
    "schnet": {"channels": 8, "layers": 2, "n_basis": 8},
}
SCALING = EnergyScaling(species=(1, 6, 8, 29), scale=0.5, avg_num_neighbors=8.0)


@pytest.fixture
def fresh_probe():
    compilation.compiler_options.cache_clear()
    yield
    compilation.compiler_options.cache_clear()


def test_unknown_options_are_dropped(fresh_probe, monkeypatch):
    monkeypatch.setattr(compilation, "CPU_OPTIONS", {"xla_cpu_no_such_option": "1"})
    assert compilation.compiler_options() == {}
    square = compilation.potential_jit(lambda x: x**2)
    np.testing.assert_allclose(square(jnp.arange(3.0)), [0.0, 1.0, 4.0])


@pytest.fixture(scope="module")
def frames():
    """An ethanol frame, a five-atom piece of another, and a periodic copper cell."""
    ethanol = read_structures(DATA / "rmd17_ethanol_10.npz", format="rmd17").frames
    piece = dataclasses.replace(
        ethanol[2],
        numbers=ethanol[2].numbers[:5],
        positions=ethanol[2].positions[:5],
        forces=ethanol[2].forces[:5],
    )
    copper = bulk("Cu", "fcc", a=3.6) * (2, 1, 1)
    copper.rattle(0.1, seed=0)
    return [ethanol[0], piece, Frame.from_atoms(copper)]


def unpadded(frame: Frame, cutoff: float) -> GraphBatch:
    """One structure as a batch with no padding at all."""
    i, j, shifts = neighbor_list(frame.positions, frame.cell, frame.pbc, cutoff)
    return one_structure_batch(
        frame.numbers.astype(np.int32),
        frame.positions.astype(np.float32),
        frame.cell.astype(np.float32),
        i,
        j,
        shifts,
        np.ones(len(i), bool),
    )


def assert_close(got, want, what: str) -> None:
    """``got`` equals ``want`` to 1e-4 of the largest ``want`` (float32)."""
    scale = float(np.abs(want).max())
    assert scale > 0, f"{what} are all zero: the comparison would prove nothing"
    np.testing.assert_allclose(got, want, atol=1e-4 * scale, err_msg=what)


@pytest.mark.parametrize(
    "name",
    [
        "schnet",
        pytest.param("painn", marks=pytest.mark.slow),
        pytest.param("nequip", marks=pytest.mark.slow),
    ],
)
def test_hot_path_matches_each_structure_compiled_alone_without_options(
    name, frames, fresh_probe
):
    """The hot path (compiler options, padded batches of a molecule and a piece
    of another, then of a periodic cell, sums on the host) gives the energies,
    forces and stress of each structure run alone, unpadded, through a plain
    ``jax.jit`` of the model."""
    model = build_potential(name, SCALING, {"cutoff": 3.0, **TINY[name]})
    plain = jax.jit(energy_forces_stress)
    alone = [plain(model, unpadded(f, 3.0)) for f in frames]
    energy = np.array([e[0] for e, _, _ in alone])
    forces = np.concatenate([f for _, f, _ in alone])
    stress = np.stack([s[0] for _, _, s in alone])
    out = predict_frames(model, frames, batch_size=2)  # two calls, one shape
    assert_close(out.energy, energy, "energies")
    assert_close(out.forces, forces, "forces")
    assert_close(out.stress, stress, "stress")
