"""``run_md``: molecular dynamics of an ASE structure with logs and trajectory.

The driver is host-side glue around :mod:`molmat.simulate.md`: it turns an
``ase.Atoms`` into an :class:`MDState`, runs blocks of steps (each one jitted
``lax.scan``), and between blocks writes the energy/temperature log (CSV) and
trajectory frames (extxyz with momenta, energy, forces, stress, cell and pbc).
The device integrates energies relative to the atoms' reference energies; the
logs, frames and final structure report absolute energies, the float64 sum of
the reference energies added on the host (:func:`molmat.simulate.md.reference_energy`).

A run never writes a NaN: settings and the start structure are checked first
(overlapping atoms are refused), every step is checked inside its block (see
:class:`molmat.simulate.md.Watch`), and a non-finite step stops the run with a
:class:`SimulationError` naming it, before anything of its block is written.
A run that heats far beyond its temperature, or an NVE run whose total energy
drifts, stops the same way after writing its block, unless allowed to go on.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import ase
import ase.io
import jax
import jax.numpy as jnp
import numpy as np
from ase import units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.stress import full_3x3_to_voigt_6_stress

from molmat.data.console import progress_bar
from molmat.data.csv import DataError
from molmat.data.radius import close_pairs
from molmat.data.structures import MIN_DISTANCE
from molmat.models.potentials.base import Potential
from molmat.models.potentials.inference import cast
from molmat.nn.compilation import float_dtype, precision
from molmat.simulate import md
from molmat.simulate.neighbors import NeighborList, NeighborListFn, allocate

log = logging.getLogger("molmat")

LOG_COLUMNS = ("step", "time_ps", "E_pot", "E_kin", "E_tot", "T")
HEATING_FACTOR = 10.0  # default bound: this times the target or start temperature
MIN_MAX_TEMPERATURE = 1000.0  # K; the default bound is never lower


class SimulationError(RuntimeError):
    """MD stopped: a non-finite step, or an unstable run not allowed to go on.

    Attributes:
        step: the step (0 = start) at which the problem appeared.
    """

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class MDResult:
    """Summary of a finished run.

    Attributes:
        atoms: final structure with momenta and a calculator holding energy,
            forces (and stress for periodic cells).
        steps: steps run.
        ns_per_day: simulated ns per wall-clock day, excluding the first
            block (compilation).
        neighbor_builds: neighbour-list builds after the first.
        reallocations: neighbour-list reallocations after overflow.
        log: path of the CSV log, or None.
        trajectory: path of the extxyz trajectory, or None.
        unstable_step: first step beyond the temperature or energy bound
            (runs allowed to go on), or None.
    """

    atoms: ase.Atoms
    steps: int
    ns_per_day: float
    neighbor_builds: int
    reallocations: int
    log: Path | None
    trajectory: Path | None
    unstable_step: int | None = None


def periodicity(atoms: ase.Atoms) -> bool:
    """True if periodic in all directions, False if in none; mixed is refused."""
    if atoms.pbc.all():
        if atoms.cell.rank < 3:
            raise ValueError("a periodic structure needs three cell vectors")
        return True
    if not atoms.pbc.any():
        return False
    raise ValueError(
        f"mixed periodicity pbc={atoms.pbc.tolist()} is not supported; make the "
        "structure periodic in all directions (add vacuum) or in none"
    )


def check_structure(atoms: ase.Atoms, periodic: bool) -> None:
    """Refuse non-finite positions and atoms closer than ``MIN_DISTANCE`` Å.

    Raises:
        DataError: naming the closest pair (0-based indices) and its distance.
    """
    if not np.isfinite(atoms.positions).all():
        raise DataError("structure: non-finite positions")
    i, j, d = close_pairs(atoms.positions, atoms.cell[:], periodic, MIN_DISTANCE)
    if not len(d):
        return
    k = int(np.argmin(d))
    pair = f"atoms {i[k]} and {j[k]}" if i[k] != j[k] else f"atom {i[k]} and its image"
    more = f" ({len(d) - 1} more pairs)" if len(d) > 1 else ""
    raise DataError(
        f"structure: {pair} are {d[k]:.3g} Å apart, closer than {MIN_DISTANCE} Å"
        f"{more}; no potential gives finite forces there, fix the structure"
    )


def initial_momenta(atoms: ase.Atoms, temperature: float, seed: int) -> np.ndarray:
    """Maxwell-Boltzmann momenta at ``temperature`` K with zero total momentum.

    ASE's convention: ``thermalize_momenta`` (a random sample, so the
    temperature is ``temperature`` only on average) then ``Stationary``.
    """
    atoms = atoms.copy()
    thermalize_momenta(atoms, temperature, rng=np.random.default_rng(seed))
    Stationary(atoms)
    return atoms.get_momenta()


def prepare(
    potential: Potential,
    atoms: ase.Atoms,
    momenta: np.ndarray,
    seed: int = 0,
    skin: float = 0.5,
    dtype=jnp.float32,
) -> tuple[Potential, NeighborListFn, NeighborList, md.MDState]:
    """Potential cast to ``dtype``, neighbour list and step-0 state of ``atoms``.

    Args:
        potential: any potential.
        atoms: structure, periodic in all directions or in none.
        momenta: [N, 3] initial momenta (amu Å / ASE time).
        seed: seed of the state's random key (Langevin noise).
        skin: neighbour-list buffer in Å.
        dtype: float dtype of the state (float64 only inside
            :func:`~molmat.nn.compilation.precision`).
    """
    periodic = periodicity(atoms)
    potential.check_elements(atoms.numbers, "structure")
    check_structure(atoms, periodic)
    if not np.isfinite(momenta).all():
        raise DataError("structure: non-finite initial momenta")
    if atoms.constraints:
        raise ValueError(
            "the JAX engine does not apply ASE constraints; remove them, or run "
            "ASE's integrators with molmat.calculators.MolmatCalculator"
        )
    potential = cast(potential, dtype)
    cell = np.asarray(atoms.cell[:]) if periodic else np.zeros((3, 3))
    positions = np.asarray(atoms.positions)
    fn, nbrs = allocate(
        positions.astype(dtype), cell.astype(dtype), potential.cutoff, skin, periodic
    )
    state = md.init_state(
        potential,
        fn,
        nbrs,
        atoms.numbers,
        positions,
        momenta,
        atoms.get_masses(),
        cell,
        jax.random.key(seed),
        dtype,
    )
    return potential, fn, nbrs, state


def run_md(
    potential: Potential,
    atoms: ase.Atoms,
    ensemble: str = "nve",
    temperature: float = 300.0,
    timestep_fs: float = 0.5,
    steps: int = 1000,
    log_every: int = 100,
    traj_every: int = 100,
    out: str | Path | None = None,
    log: str | Path | None = None,
    friction: float = 0.01,
    pressure: float = 0.0,
    compressibility: float = 0.01,
    taut_fs: float = 100.0,
    taup_fs: float = 1000.0,
    seed: int = 0,
    keep_velocities: bool = False,
    skin: float = 0.5,
    float64: bool = False,
    progress: bool = True,
    max_temperature: float | None = None,
    max_drift: float = md.MAX_DRIFT,
    allow_unstable: bool = False,
) -> MDResult:
    """Run MD of ``atoms`` under ``potential`` with the JAX engine.

    Steps run in blocks of ``gcd(log_every, traj_every)`` steps, each block a
    single jitted ``lax.scan``; logs and frames are written between blocks.
    Every step is checked inside its block: a non-finite step raises a
    :class:`SimulationError` naming it, with only the steps before it
    written. A step hotter than ``max_temperature``, or (NVE) whose total
    energy moved by more than ``max_drift`` eV/atom from the start, makes
    the run unstable: it stops with a :class:`SimulationError` after its
    block is written, or, with ``allow_unstable``, logs a warning and goes on.

    Args:
        potential: any :class:`~molmat.models.potentials.base.Potential`.
        atoms: start structure; periodic in all directions or in none, no
            two atoms closer than 0.5 Å.
        ensemble: ``"nve"``, ``"nvt"`` (Langevin) or ``"npt"`` (Berendsen).
        temperature: K (>= 0); initial velocities and the thermostat target.
        timestep_fs: time step in fs (> 0).
        steps: number of steps.
        log_every: log a row every this many steps (and at step 0).
        traj_every: write a frame every this many steps (and at step 0);
            0 writes no trajectory.
        out: extxyz trajectory path (overwritten), or None.
        log: CSV log path; by default ``out`` with suffix ``.csv``.
        friction: Langevin friction in 1/fs (nvt, >= 0).
        pressure: target pressure in GPa (npt).
        compressibility: isothermal compressibility in 1/GPa (npt; about
            1 / bulk modulus, 0.01 for metals, 0.45 for water).
        taut_fs: Berendsen temperature coupling time in fs (npt).
        taup_fs: Berendsen pressure coupling time in fs (npt).
        seed: seed of the initial velocities and the Langevin noise.
        keep_velocities: start from the momenta stored in ``atoms`` instead
            of drawing Maxwell-Boltzmann velocities.
        skin: neighbour-list buffer in Å (>= 0).
        float64: integrate in double precision.
        progress: show a progress bar with the speed in ns/day.
        max_temperature: K; by default 10 times the larger of
            ``temperature`` and the start temperature, and at least 1000 K.
        max_drift: largest change of the NVE total energy from step 0, in
            eV/atom.
        allow_unstable: warn, instead of stopping, when a bound is crossed.

    Returns:
        An :class:`MDResult`; the log columns are ``step, time_ps, E_pot,
        E_kin, E_tot, T`` (eV, K) plus ``P_GPa`` for periodic cells.

    Raises:
        ValueError: bad settings or start structure (nothing written).
        SimulationError: a non-finite step, or an unstable run.

    Example:
        >>> from ase.build import bulk
        >>> from molmat.models.potentials.lennard_jones import LennardJones
        >>> lj = LennardJones(sigma=3.405, epsilon=0.0103, cutoff=8.5)
        >>> atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(3)
        >>> result = run_md(lj, atoms, "nvt", 60.0, steps=200, progress=False)
    """
    if steps < 0 or log_every < 1 or traj_every < 0:
        raise ValueError("steps >= 0, log_every >= 1 and traj_every >= 0 are required")
    ens = md.Ensemble(
        ensemble,
        timestep_fs,
        temperature=temperature,
        friction=friction,
        pressure=pressure,
        taut_fs=taut_fs,
        taup_fs=taup_fs,
        compressibility=compressibility,
    )
    md.check_setting("skin", skin, "Å", "non-negative")
    md.check_setting("energy drift bound", max_drift, "eV/atom")
    if max_temperature is not None:
        md.check_setting("temperature bound", max_temperature, "K")
    periodic = periodicity(atoms)
    if ens.kind == "npt" and not periodic:
        raise ValueError("npt needs a periodic cell")
    out = Path(out) if out is not None else None
    if log is None and out is not None:
        log = out.with_suffix(".csv")
    log = Path(log) if log is not None else None
    if keep_velocities:
        momenta = atoms.get_momenta()
    else:
        momenta = initial_momenta(atoms, temperature, seed)
    block = math.gcd(log_every, traj_every) if traj_every else log_every

    with precision(float64):
        potential, fn, nbrs, state = prepare(
            potential, atoms, momenta, seed=seed, skin=skin, dtype=float_dtype(float64)
        )
        reference = md.reference_energy(potential, atoms.numbers)
        w = md.observe(_start_watch(ens, state, max_temperature, max_drift), state)
        raise_if_nonfinite(w, timestep_fs)
        frames = _Frames(atoms, out, traj_every, reference)
        writer = _Log(log, periodic, reference)
        reallocations, builds = 0, 0
        speed = _Speed(timestep_fs)
        with (
            writer,
            progress_bar(
                None, f"md {ens.kind}", enabled=progress, total=steps, unit="step"
            ) as bar,
        ):
            writer.write(state, timestep_fs)
            frames.write(state)
            warned = _check_unstable(w, state, timestep_fs, allow_unstable, False)
            while int(state.step) < steps:
                n = min(block, steps - int(state.step))
                fn_before, builds_before = fn, int(nbrs.n_builds)
                fn, state, nbrs, w = md.advance(potential, ens, fn, n, state, nbrs, w)
                raise_if_nonfinite(w, timestep_fs)
                if fn is fn_before:
                    builds += int(nbrs.n_builds) - builds_before
                else:
                    reallocations += 1
                    builds += int(nbrs.n_builds)
                done = int(state.step)
                bar.update(n)
                if math.isfinite(rate := speed.tick(done)):
                    bar.set_postfix_str(f"{rate:.3g} ns/day", refresh=False)
                if done % log_every == 0 or done == steps:
                    writer.write(state, timestep_fs)
                if traj_every and done % traj_every == 0:
                    frames.write(state)
                warned = _check_unstable(w, state, timestep_fs, allow_unstable, warned)
        final = frames.atoms_of(state)
    trajectory = out if traj_every else None
    unstable = int(w.unstable_step)
    return MDResult(
        final,
        steps,
        speed.rate,
        builds,
        reallocations,
        log,
        trajectory,
        unstable if unstable >= 0 else None,
    )


def _start_watch(
    ens: md.Ensemble,
    state: md.MDState,
    max_temperature: float | None,
    max_drift: float,
) -> md.Watch:
    """The bounds of a run starting at ``state`` (see :func:`run_md`)."""
    if max_temperature is None:
        hottest = max(ens.temperature, float(md.temperature(state)))
        max_temperature = max(HEATING_FACTOR * hottest, MIN_MAX_TEMPERATURE)
    return md.watch(
        max_temperature,
        float(state.energy + md.kinetic_energy(state)),
        max_drift if ens.kind == "nve" else math.inf,
        state.energy.dtype,
    )


def _at(step: int, timestep_fs: float) -> str:
    return f"step {step} ({step * timestep_fs:g} fs)"


def _unstable_message(w: md.Watch, timestep_fs: float) -> str:
    """Which bounds the first unstable step crossed, with the values."""
    t_now, t_max = float(w.unstable_temperature), float(w.max_temperature)
    drift, bound = float(w.unstable_drift), float(w.max_drift)
    reasons = []
    if t_now > t_max:
        reasons.append(f"the temperature reached {t_now:.4g} K (bound {t_max:.4g} K)")
    if abs(drift) > bound:
        reasons.append(
            f"the total energy moved by {drift:+.4g} eV/atom from step 0 "
            f"(bound {bound:.4g} eV/atom)"
        )
    return f"unstable at {_at(int(w.unstable_step), timestep_fs)}: " + "; ".join(
        reasons
    )


def _check_unstable(
    w: md.Watch, state: md.MDState, timestep_fs: float, allow: bool, warned: bool
) -> bool:
    """Raise on a newly found unstable step, or warn once if ``allow``.

    Returns whether the warning has been given.
    """
    if warned or int(w.unstable_step) < 0:
        return warned
    message = _unstable_message(w, timestep_fs)
    if not allow:
        raise SimulationError(
            f"{message}; stopped at step {int(state.step)}. A shorter time step "
            "usually helps; allow_unstable=True (--allow-unstable) lets such a "
            "run go on",
            int(w.unstable_step),
        )
    log.warning("md %s; going on as allowed", message)
    return True


def raise_if_nonfinite(w: md.Watch, timestep_fs: float) -> None:
    """Raise a :class:`SimulationError` if a step of ``w`` was non-finite."""
    step = int(w.nonfinite_step)
    if step < 0:
        return
    names = ", ".join(w.nonfinite_names)
    message = f"non-finite {names} at {_at(step, timestep_fs)}"
    if step == 0:
        message += ": the potential fails on the start structure"
    else:
        message += "; the log and trajectory hold only the steps before it"
    if 0 <= int(w.unstable_step) < step:
        message += f". The run had become {_unstable_message(w, timestep_fs)}"
    raise SimulationError(message, step)


class _Speed:
    """Simulated ns per wall-clock day, timed from the end of the first block."""

    def __init__(self, timestep_fs: float):
        self.timestep_fs = timestep_fs
        self.start = None
        self.rate = float("nan")

    def tick(self, done: int) -> float:
        now = time.perf_counter()
        if self.start is None:
            self.start = (now, done)
        elif done > self.start[1]:
            ns = (done - self.start[1]) * self.timestep_fs * 1e-6
            self.rate = ns / ((now - self.start[0]) / 86400)
        return self.rate


class _Log:
    """CSV energy/temperature log, one row per call to :meth:`write`.

    Energies are absolute: ``reference`` (eV, the atoms' reference energies)
    is added to the state's relative energy in float64, and they are written
    to 0.1 µeV.
    """

    def __init__(self, path: Path | None, periodic: bool, reference: float):
        self.path, self.periodic, self.reference = path, periodic, reference
        self.file = None

    def __enter__(self):
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = self.path.open("w", newline="")
            self.csv = csv.writer(self.file)
            self.csv.writerow(LOG_COLUMNS + (("P_GPa",) if self.periodic else ()))
        return self

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()

    def write(self, state: md.MDState, timestep_fs: float) -> None:
        if self.file is None:
            return
        step = int(state.step)
        e_pot = self.reference + float(state.energy)
        e_kin = float(md.kinetic_energy(state))
        row = [step, f"{step * timestep_fs / 1000:.6f}"]
        row += [f"{v:.7f}" for v in (e_pot, e_kin, e_pot + e_kin)]
        row.append(f"{float(md.temperature(state)):.6g}")
        if self.periodic:
            row.append(f"{float(md.pressure(state)) / units.GPa:.6g}")
        self.csv.writerow(row)
        self.file.flush()


class _Frames:
    """Trajectory frames as extxyz through ASE, with absolute energies (the
    state's relative energy plus ``reference``, eV, in float64)."""

    def __init__(
        self, atoms: ase.Atoms, path: Path | None, every: int, reference: float
    ):
        self.reference = reference
        self.template = atoms.copy()
        self.template.calc = None
        self.path = path if every else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def atoms_of(self, state: md.MDState) -> ase.Atoms:
        atoms = self.template.copy()
        atoms.positions = np.asarray(state.positions, np.float64)
        atoms.set_momenta(np.asarray(state.momenta, np.float64))
        results = dict(
            energy=self.reference + float(state.energy),
            forces=np.asarray(state.forces, np.float64),
        )
        if atoms.pbc.all():
            atoms.set_cell(np.asarray(state.cell, np.float64))
            stress = np.asarray(state.stress, np.float64)
            results["stress"] = full_3x3_to_voigt_6_stress(stress)
        atoms.calc = SinglePointCalculator(atoms, **results)
        return atoms

    def write(self, state: md.MDState) -> None:
        if self.path is not None:
            ase.io.write(self.path, self.atoms_of(state), format="extxyz", append=True)
