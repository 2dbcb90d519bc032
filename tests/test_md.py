"""JAX MD engine: conservation, thermostat, blocks, overflow, files, failures,
precision, CLI."""

import csv
import logging
from pathlib import Path

import ase.io
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk, molecule
from ase.calculators.lj import LennardJones as AseLennardJones

import molmat
from molmat.calculators import MolmatCalculator
from molmat.cli.main import main
from molmat.data.csv import DataError
from molmat.data.structures import read_structures
from molmat.models.potentials.base import Potential
from molmat.models.potentials.lennard_jones import LennardJones
from molmat.models.potentials.registry import build_potential
from molmat.simulate import (
    SimulationError,
    allocate,
    initial_momenta,
    md,
    prepare,
    run_md,
)
from molmat.testing.md import assert_energy_conserved, nve_energy_drift
from tests.conftest import ethanol_scaling

DATA = Path(__file__).parent / "data"
CU_EMT = DATA / "cu_emt.extxyz"
ENERGY_ATOL = 5e-5  # eV: float32 MD vs float64 energy of one ethanol
SIGMA, EPSILON = 3.405, 0.0103
ARGON = LennardJones(SIGMA, EPSILON, cutoff=8.5)
# Light atoms bound by a stiff well: vibrations of ~12 fs, so 50 fs steps blow up.
STIFF = LennardJones(1.0, 0.5, cutoff=3.0)


def argon(rattle=0.02, seed=0):
    """32 argon atoms in a periodic cubic cell of 10.5 Å."""
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(2)
    atoms.rattle(rattle, seed=seed)
    return atoms


def read_log(path):
    with open(path) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def test_nve_conserves_energy():
    atoms = argon()
    assert_energy_conserved(ARGON, atoms, atol=1e-6, steps=100, timestep_fs=1.0)
    # the check is sensitive: the error grows like dt^2
    fine = nve_energy_drift(ARGON, atoms, steps=100, timestep_fs=1.0)
    coarse = nve_energy_drift(ARGON, atoms, steps=100, timestep_fs=4.0)
    assert coarse > 4 * fine
    with pytest.raises(AssertionError, match="drifted"):
        assert_energy_conserved(
            ARGON, atoms, atol=0.1 * coarse, steps=100, timestep_fs=4.0
        )


def test_langevin_reaches_target_temperature(tmp_path):
    atoms = argon()  # no momenta: starts at 0 K
    run_md(
        ARGON,
        atoms,
        "nvt",
        temperature=60.0,
        timestep_fs=5.0,
        steps=2000,
        log_every=50,
        traj_every=0,
        log=tmp_path / "nvt.csv",
        friction=0.05,
        keep_velocities=True,
        progress=False,
    )
    rows = read_log(tmp_path / "nvt.csv")
    assert rows[0]["T"] == 0.0
    second_half = [r["T"] for r in rows[len(rows) // 2 :]]
    assert np.mean(second_half) == pytest.approx(60.0, rel=0.12)


def test_block_equals_step_by_step():
    atoms = argon(rattle=0.1)
    ensemble = md.Ensemble("nvt", 2.0, temperature=80.0, friction=0.02)
    momenta = initial_momenta(atoms, 80.0, seed=1)
    potential, fn, nbrs, start = prepare(ARGON, atoms, momenta, seed=1)
    blocked, _, watch = md.run_block(
        potential, ensemble, fn, 20, start, nbrs, md.watch()
    )
    assert int(watch.nonfinite_step) == int(watch.unstable_step) == -1

    step = jax.jit(md.step, static_argnums=(1, 2))
    state = start
    for _ in range(20):
        state, nbrs = step(potential, ensemble, fn, state, nbrs)
    state, nbrs = md.wrap(state, nbrs)
    assert int(blocked.step) == int(state.step) == 20
    np.testing.assert_allclose(blocked.positions, state.positions, atol=1e-4)
    np.testing.assert_allclose(blocked.momenta, state.momenta, atol=1e-5)
    assert float(blocked.energy) == pytest.approx(float(state.energy), abs=1e-5)


def two_approaching_clusters():
    """Two argon tetrahedra 9 Å apart flying at each other at 0.005 Å/fs."""
    tetra = 3.8 / np.sqrt(2) * np.array([[0, 0, 0], [1, 1, 0], [1, 0, 1], [0, 1, 1]])
    atoms = Atoms("Ar8", positions=np.vstack([tetra, tetra + [9.0, 0, 0]]))
    speed = 0.005 / units.fs
    velocities = np.zeros((8, 3))
    velocities[:4, 0], velocities[4:, 0] = speed, -speed
    atoms.set_velocities(velocities)
    return atoms


def test_overflow_reallocates_and_gives_same_result():
    atoms = two_approaching_clusters()
    potential = LennardJones(SIGMA, EPSILON, cutoff=5.0)
    ensemble = md.Ensemble("nve", 2.0)

    def run(capacity):
        fn, nbrs = allocate(
            atoms.positions, None, 5.0, skin=0.5, periodic=False, capacity=capacity
        )
        state = md.init_state(
            potential,
            fn,
            nbrs,
            atoms.numbers,
            atoms.positions,
            atoms.get_momenta(),
            atoms.get_masses(),
            np.zeros((3, 3)),
            jax.random.key(0),
        )
        return md.advance(potential, ensemble, fn, 200, state, nbrs, md.watch())

    intra_pairs = 2 * 12
    fn, state, nbrs, _ = run(capacity=intra_pairs)  # too small once the clusters meet
    ample_fn, ample, _, _ = run(capacity=512)
    assert fn.capacity > intra_pairs
    assert int(nbrs.max_edges) > intra_pairs
    assert not bool(nbrs.overflow)
    np.testing.assert_allclose(state.positions, ample.positions, atol=1e-5)
    np.testing.assert_allclose(state.momenta, ample.momenta, atol=1e-6)
    assert float(state.energy) == pytest.approx(float(ample.energy), abs=1e-6)
    # the clusters did interact: inter-cluster pairs now exist
    inter = (np.asarray(nbrs.senders) < 4) & (np.asarray(nbrs.receivers) >= 4)
    assert (inter & np.asarray(nbrs.edge_mask)).any()


def test_trajectory_and_log(tmp_path):
    out = tmp_path / "run" / "traj.extxyz"
    result = run_md(
        ARGON,
        argon(),
        "nve",
        temperature=40.0,
        timestep_fs=2.0,
        steps=20,
        log_every=5,
        traj_every=10,
        out=out,
        progress=False,
    )
    frames = ase.io.read(out, index=":")
    assert len(frames) == 3  # steps 0, 10, 20
    rows = read_log(result.log)
    assert [r["step"] for r in rows] == [0, 5, 10, 15, 20]
    assert rows[-1]["time_ps"] == pytest.approx(0.04)
    assert {"E_pot", "E_kin", "E_tot", "T", "P_GPa"} <= set(rows[0])
    for frame, row in zip(frames, rows[::2], strict=True):
        assert frame.get_potential_energy() == pytest.approx(row["E_pot"], abs=1e-5)
        assert frame.get_kinetic_energy() == pytest.approx(row["E_kin"], abs=1e-5)
        assert frame.get_forces().shape == (32, 3)
        assert frame.get_stress().shape == (6,)
        assert frame.pbc.all()
        np.testing.assert_allclose(frame.cell[:], argon().cell[:])
    np.testing.assert_allclose(
        frames[-1].get_velocities(), result.atoms.get_velocities(), atol=1e-6
    )
    np.testing.assert_allclose(
        frames[0].get_momenta(), initial_momenta(argon(), 40.0, seed=0), atol=1e-6
    )
    np.testing.assert_allclose(frames[0].get_momenta().sum(axis=0), 0.0, atol=1e-5)


def test_periodic_positions_stay_consistent():
    atoms = argon(rattle=0.1)
    atoms.positions[:4] += atoms.cell[1] - atoms.cell[2]  # start unwrapped
    result = run_md(
        ARGON,
        atoms,
        "nvt",
        temperature=150.0,
        timestep_fs=5.0,
        steps=200,
        log_every=50,
        traj_every=0,
        progress=False,
    )
    final = result.atoms
    frac = final.cell.scaled_positions(final.positions)
    assert (frac >= 0).all() and (frac < 1).all()
    reference = final.copy()
    reference.calc = AseLennardJones(sigma=SIGMA, epsilon=EPSILON, rc=8.5, smooth=False)
    assert final.get_potential_energy() == pytest.approx(
        reference.get_potential_energy(), abs=1e-4
    )
    np.testing.assert_allclose(final.get_forces(), reference.get_forces(), atol=1e-4)
    np.testing.assert_allclose(final.get_stress(), reference.get_stress(), atol=1e-6)


def test_berendsen_npt_reaches_target_pressure(tmp_path):
    atoms = argon()
    volumes = {}
    for target in (0.05, 0.3):  # GPa
        result = run_md(
            ARGON,
            atoms,
            "npt",
            temperature=40.0,
            timestep_fs=5.0,
            steps=600,
            log_every=20,
            traj_every=0,
            log=tmp_path / "npt.csv",
            pressure=target,
            compressibility=0.3,
            taup_fs=500.0,
            progress=False,
        )
        pressures = [r["P_GPa"] for r in read_log(tmp_path / "npt.csv")]
        assert np.mean(pressures[len(pressures) // 2 :]) == pytest.approx(
            target, abs=0.03
        )
        volumes[target] = result.atoms.get_volume()
    assert volumes[0.05] > volumes[0.3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ensemble="npt"), "npt needs a periodic cell"),
        (dict(ensemble="nph"), "unknown ensemble"),
        (dict(timestep_fs=0.0), "time step must be positive"),
        (dict(timestep_fs=-1.0), "time step must be positive"),
        (dict(temperature=-10.0), "temperature must not be negative, got -10.0 K"),
        (dict(temperature=float("nan")), "temperature must be a finite number"),
        (dict(friction=-0.01), "friction must not be negative"),
        (dict(taut_fs=0.0), "thermostat time must be positive"),
        (dict(compressibility=-1.0), "compressibility must not be negative"),
        (dict(skin=-0.5), "skin must not be negative"),
        (dict(max_temperature=0.0), "temperature bound must be positive"),
        (dict(max_drift=-1.0), "energy drift bound must be positive"),
    ],
)
def test_bad_settings_are_refused(kwargs, message, tmp_path):
    cluster = argon()
    cluster.pbc = False
    out = tmp_path / "traj.extxyz"
    with pytest.raises(ValueError, match=message):
        run_md(ARGON, cluster, steps=1, out=out, progress=False, **kwargs)
    assert not out.exists() and not out.with_suffix(".csv").exists()


def test_overlapping_atoms_are_refused(tmp_path):
    atoms = argon()
    atoms.positions[5] = atoms.positions[3] + [0.0, 0.0, 0.01]
    out = tmp_path / "traj.extxyz"
    with pytest.raises(DataError, match=r"atoms 3 and 5 are 0.01 Å apart"):
        run_md(ARGON, atoms, steps=10, out=out, progress=False)
    assert not out.exists()


def test_non_finite_velocities_are_refused():
    atoms = argon()
    momenta = np.zeros((len(atoms), 3))
    momenta[2, 1] = np.nan
    atoms.set_momenta(momenta)
    with pytest.raises(DataError, match="non-finite initial momenta"):
        run_md(ARGON, atoms, steps=1, keep_velocities=True, progress=False)


class Poisoned(Potential):
    """Argon whose energy turns NaN once atom 0 passes x = ``wall`` Å."""

    wall: float = eqx.field(static=True)
    cutoff: float = eqx.field(static=True)

    def __init__(self, wall: float):
        self.wall, self.cutoff = wall, ARGON.cutoff

    def atomic_energies(self, batch):
        energies = ARGON.atomic_energies(batch)
        return jnp.where(batch.positions[0, 0] > self.wall, jnp.nan, energies)


def drifting_pair():
    """Two argon atoms 20 Å apart; atom 0 moves along x at 0.01 Å/fs."""
    atoms = Atoms("Ar2", positions=[[0.0, 0.0, 0.0], [0.0, 20.0, 0.0]])
    atoms.set_velocities([[0.01 / units.fs, 0.0, 0.0], [0.0, 0.0, 0.0]])
    return atoms


def test_first_non_finite_step_is_found_inside_the_block():
    # x = 0.01 Å per 1 fs step: step 10 is at 0.10 Å, step 11 past the wall.
    atoms = drifting_pair()
    ensemble = md.Ensemble("nve", 1.0)
    potential, fn, nbrs, start = prepare(Poisoned(0.105), atoms, atoms.get_momenta())
    state, _, watch = md.run_block(potential, ensemble, fn, 20, start, nbrs, md.watch())
    assert int(watch.nonfinite_step) == 11
    assert watch.nonfinite_names == ["energy"]  # forces stay finite here
    assert int(state.step) == 10  # the last finite state is kept
    assert np.isfinite(float(state.energy))
    assert float(state.positions[0, 0]) == pytest.approx(0.10, abs=1e-5)


def test_non_finite_step_stops_the_run_before_its_frames(tmp_path):
    out = tmp_path / "traj.extxyz"
    message = r"non-finite energy at step 11 \(11 fs\); the log and trajectory"
    with pytest.raises(SimulationError, match=message) as err:
        run_md(
            Poisoned(0.105),
            drifting_pair(),
            timestep_fs=1.0,
            steps=40,
            log_every=5,
            traj_every=5,
            out=out,
            keep_velocities=True,
            progress=False,
        )
    assert err.value.step == 11
    frames = ase.io.read(out, index=":")
    assert [round(f.positions[0, 0], 3) for f in frames] == [0.0, 0.05, 0.1]
    assert all(np.isfinite(f.get_potential_energy()) for f in frames)
    assert [r["step"] for r in read_log(out.with_suffix(".csv"))] == [0, 5, 10]


def test_potential_failing_at_the_start_is_reported_at_step_0(tmp_path):
    out = tmp_path / "traj.extxyz"
    with pytest.raises(SimulationError, match="non-finite energy at step 0"):
        run_md(Poisoned(-1.0), drifting_pair(), steps=10, out=out, progress=False)
    assert not out.exists()


def test_too_long_time_step_is_stopped_as_unstable(tmp_path, caplog):
    out = tmp_path / "traj.extxyz"
    settings = dict(steps=100, log_every=10, traj_every=10, out=out, progress=False)
    calm = run_md(STIFF, molecule("CH4"), timestep_fs=0.5, **settings)
    assert calm.unstable_step is None
    with pytest.raises(SimulationError, match="unstable at step") as err:
        run_md(STIFF, molecule("CH4"), timestep_fs=50.0, **settings)
    assert "the temperature reached" in str(err.value)
    assert "K (bound 3000 K)" in str(err.value)
    assert "--allow-unstable" in str(err.value)
    frames = ase.io.read(out, index=":")
    assert len(frames) == 2  # step 0 and the block of the unstable step
    assert all(np.isfinite(f.positions).all() for f in frames)

    with caplog.at_level(logging.WARNING, logger="molmat"):
        result = run_md(
            STIFF, molecule("CH4"), timestep_fs=50.0, allow_unstable=True, **settings
        )
    assert result.unstable_step == err.value.step
    assert f"unstable at step {err.value.step}" in caplog.text


def test_nve_energy_drift_beyond_the_bound_is_unstable():
    with pytest.raises(SimulationError, match="total energy moved by .* eV/atom"):
        run_md(
            ARGON, argon(), timestep_fs=4.0, steps=50, max_drift=1e-7, progress=False
        )


def test_mixed_periodicity_is_refused():
    slab = argon()
    slab.pbc = [True, True, False]
    with pytest.raises(ValueError, match="mixed periodicity"):
        run_md(ARGON, slab, steps=1, progress=False)


def test_constraints_are_refused():
    from ase.constraints import FixAtoms

    atoms = argon()
    atoms.set_constraint(FixAtoms(indices=[0]))
    with pytest.raises(ValueError, match="constraints"):
        run_md(ARGON, atoms, steps=1, progress=False)


class _Model:
    potential_ = ARGON


class _Stiff:
    potential_ = STIFF


@pytest.fixture(scope="module")
def trained_potential(tmp_path_factory):
    """A PaiNN potential trained for 2 epochs on Cu EMT frames (a run folder)."""
    run = tmp_path_factory.mktemp("pot")
    train = ["potential", "train", "--data", str(CU_EMT), "--model", "painn"]
    train += ["--cutoff", "4", "--channels", "8", "--layers", "1", "--epochs", "2"]
    train += ["--batch-size", "4", "--val-frames", "2", "--out", str(run), "-q"]
    assert main(train) == 0
    return run


def test_cli_md(tmp_path, monkeypatch, capsys):
    start = tmp_path / "start.xyz"
    ase.io.write(start, argon())
    monkeypatch.setattr(molmat, "load", lambda path: _Model(), raising=False)
    out = tmp_path / "traj.extxyz"
    argv = ["md", "--model", "run", "--structure", str(start), "--out", str(out)]
    argv += ["--ensemble", "nvt", "--temperature", "50", "--timestep", "2"]
    argv += ["--steps", "20", "--log-every", "10", "--traj-every", "10", "-q"]
    argv += ["--float64"]
    assert main(argv) == 0
    assert len(ase.io.read(out, index=":")) == 3
    assert len(read_log(out.with_suffix(".csv"))) == 3
    assert "ns/day" in capsys.readouterr().out

    monkeypatch.setattr(molmat, "load", lambda path: object(), raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "not a potential" in err


def test_cli_md_with_trained_potential(trained_potential, tmp_path, capsys):
    """potential train -> md -> the loaded calculator agrees with the MD log."""
    data, run = CU_EMT, trained_potential
    out = tmp_path / "md" / "traj.extxyz"
    argv = ["md", "--model", str(run), "--structure", str(data), "--frame", "0"]
    argv += ["--timestep", "1", "--steps", "40", "--log-every", "10"]
    argv += ["--traj-every", "20", "--temperature", "300", "--out", str(out), "-q"]
    assert main(argv) == 0, capsys.readouterr().err
    frames = ase.io.read(out, index=":")
    rows = read_log(out.with_suffix(".csv"))
    assert len(frames) == 3 and len(rows) == 5
    totals = np.array([r["E_tot"] for r in rows])
    assert np.abs(totals - totals[0]).max() / len(frames[0]) < 1e-3  # eV/atom

    calc = molmat.load(run).calculator()
    for frame, row in zip(frames, rows[::2], strict=True):
        frame.calc = calc
        assert frame.get_potential_energy() == pytest.approx(row["E_pot"], abs=1e-4)

    # A structure with an element the model never saw is refused, not simulated
    # with another element's parameters.
    argon = tmp_path / "argon.xyz"
    ase.io.write(argon, bulk("Ar", "fcc", a=5.3, cubic=True))
    argv = ["md", "--model", str(run), "--structure", str(argon), "--steps", "2"]
    assert main(argv + ["--out", str(tmp_path / "ar.extxyz")]) == 2
    assert "structure: elements [18] were not in the training data" in (
        capsys.readouterr().err
    )
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    atoms[0].symbol = "Ag"
    atoms.calc = calc
    with pytest.raises(DataError, match=r"elements \[47\]"):
        atoms.get_potential_energy()


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err  # no traceback
    return err


def test_cli_md_refuses_overlapping_atoms(trained_potential, tmp_path, capsys):
    start = ase.io.read(CU_EMT, index=0)
    start.positions[1] = start.positions[0]
    ase.io.write(tmp_path / "start.xyz", start)
    out = tmp_path / "traj.extxyz"
    argv = ["md", "--model", str(trained_potential), "--structure"]
    argv += [str(tmp_path / "start.xyz"), "--steps", "20", "--out", str(out), "-q"]
    assert main(argv) == 2
    assert "atoms 0 and 1 are 0 Å apart" in one_line_error(capsys)
    assert not out.exists()


def test_cli_md_refuses_negative_temperature(tmp_path, monkeypatch, capsys):
    ase.io.write(tmp_path / "start.xyz", argon())
    monkeypatch.setattr(molmat, "load", lambda path: _Model(), raising=False)
    out = tmp_path / "traj.extxyz"
    argv = ["md", "--model", "run", "--structure", str(tmp_path / "start.xyz")]
    argv += ["--temperature", "-5", "--out", str(out), "-q"]
    assert main(argv) == 2
    assert "temperature must not be negative" in one_line_error(capsys)
    assert not out.exists()


def test_cli_md_non_finite_step(tmp_path, monkeypatch, capsys):
    class Model:
        potential_ = Poisoned(0.105)

    ase.io.write(tmp_path / "start.extxyz", drifting_pair())
    monkeypatch.setattr(molmat, "load", lambda path: Model(), raising=False)
    out = tmp_path / "traj.extxyz"
    argv = ["md", "--model", "run", "--structure", str(tmp_path / "start.extxyz")]
    argv += ["--keep-velocities", "--timestep", "1", "--steps", "30"]
    argv += ["--log-every", "5", "--traj-every", "5", "--out", str(out), "-q"]
    assert main(argv) == 2
    assert "non-finite energy at step 11 (11 fs)" in one_line_error(capsys)
    frames = ase.io.read(out, index=":")
    assert len(frames) == 3
    assert all(np.isfinite(f.get_potential_energy()) for f in frames)


def test_cli_md_too_long_time_step(tmp_path, monkeypatch, capsys):
    ase.io.write(tmp_path / "ch4.xyz", molecule("CH4"))
    monkeypatch.setattr(molmat, "load", lambda path: _Stiff(), raising=False)
    argv = ["md", "--model", "run", "--structure", str(tmp_path / "ch4.xyz")]
    argv += ["--timestep", "50", "--steps", "100", "--log-every", "10", "-q"]
    argv += ["--out", str(tmp_path / "traj.extxyz")]
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert "unstable at step" in err and "temperature reached" in err
    assert main(argv + ["--allow-unstable"]) == 0
    assert "unstable at step" in capsys.readouterr().err
    assert main(argv + ["--max-temperature", "1e6", "--max-drift", "100"]) == 0


@pytest.fixture(scope="module")
def ethanol():
    """Ethanol (9 atoms) and a tiny untrained PaiNN with its isolated-atom
    energies: totals near -4.2 keV, where float32 steps are 0.49 meV."""
    frame = read_structures(DATA / "rmd17_ethanol_10.npz", format="rmd17").frames[0]
    scaling = ethanol_scaling()
    potential = build_potential(
        "painn", scaling, {"cutoff": 4.0, "channels": 8, "layers": 1}
    )
    return potential, Atoms(numbers=frame.numbers, positions=frame.positions)


def test_float32_md_reports_energies_to_float64_precision(ethanol, tmp_path):
    """The reference energies are added in float64 on the host: the log and
    frames give the float64 energy of each frame, and the NVE total energy is
    resolved to µeV, not in 0.49 meV steps (1 meV errors before)."""
    potential, atoms = ethanol
    out = tmp_path / "traj.extxyz"
    result = run_md(
        potential,
        atoms,
        timestep_fs=0.5,
        steps=40,
        log_every=1,
        traj_every=10,
        out=out,
        max_drift=1e-5,  # eV/atom; the float64 run drifts by 2e-6
        progress=False,
    )
    assert result.unstable_step is None
    rows = read_log(result.log)
    frames = ase.io.read(out, index=":")
    calc64 = MolmatCalculator(potential, float64=True)
    assert len(frames) == 5
    for frame, row in zip(frames, rows[::10], strict=True):
        assert frame.get_potential_energy() == pytest.approx(row["E_pot"], abs=1e-6)
        frame.calc = calc64
        e64 = frame.get_potential_energy()
        assert e64 == pytest.approx(-4208, abs=1)  # mostly E0s
        assert abs(row["E_pot"] - e64) < ENERGY_ATOL, f"step {row['step']}"
    assert result.atoms.get_potential_energy() == pytest.approx(e64, abs=ENERGY_ATOL)

    totals = np.array([r["E_tot"] for r in rows])
    assert np.abs(totals - totals[0]).max() < 1e-4
    steps = np.abs(np.diff(totals))
    assert ((steps > 0) & (steps < 1e-5)).any()


def test_float32_energy_drift_equals_float64(ethanol):
    potential, atoms = ethanol
    drifts = [
        nve_energy_drift(potential, atoms, steps=40, every=5, float64=float64)
        for float64 in (False, True)
    ]
    assert 0 < drifts[1] < 1e-5  # eV/atom
    assert drifts[0] == pytest.approx(drifts[1], abs=2e-7)
