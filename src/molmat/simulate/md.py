"""JAX-native molecular dynamics: state, integrators and jitted step blocks.

Everything here is a pure function of arrays. :func:`run_block` advances an
:class:`MDState` by a fixed number of steps in one ``lax.scan`` (compiled once
per block length, ensemble and neighbour-list capacity), updating the
neighbour list inside the scan only when atoms moved more than half the skin.
:func:`advance` is the host-side loop body: it runs a block and, if the
neighbour list overflowed anywhere inside it, reallocates the list and reruns
the block from its start state, so no step ever uses a truncated list.
Inside the scan every step is also checked (:class:`Watch`): the first step
with a non-finite value, or with a run-away temperature or energy, is
recorded, so the host learns after the block exactly where a run failed.

Energies on the device are relative to the atoms' reference energies
(:meth:`~molmat.models.potentials.base.Potential.reference_energies`, the
isolated-atom energies of a trained network, thousands of eV per molecule):
float32 resolves a -4.2 keV total only to 0.5 meV, a relative energy of a
few eV to about a µeV. The species never change, so the constant
:func:`reference_energy` is added once on the host, in float64, wherever an
absolute energy is reported; drift checks are differences and never need it.

Units are ASE's: Å, eV, amu and ASE time (``ase.units.fs`` per fs); momenta
are amu Å / ASE time, temperatures K, stresses eV/Å^3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from ase import units
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from molmat.data.batching import GraphBatch, one_structure_batch, pair_vectors
from molmat.models.potentials.base import (
    Potential,
    atomic_energies_and_derivatives,
    reference_sums,
)
from molmat.nn.compilation import potential_jit
from molmat.simulate.neighbors import NeighborList, NeighborListFn

ENSEMBLES = ("nve", "nvt", "npt")
CHECKED = ("positions", "momenta", "forces", "energy", "stress")
MAX_DRIFT = 0.1  # eV/atom: default NVE total-energy change that makes a run unstable


def check_setting(
    name: str,
    value: float,
    unit: str,
    sign: Literal["positive", "non-negative", "any"] = "positive",
) -> None:
    """Raise ValueError unless ``value`` is a finite number of the given sign."""
    if not math.isfinite(value):
        raise ValueError(f"the {name} must be a finite number, got {value}")
    if sign == "positive" and value <= 0:
        raise ValueError(f"the {name} must be positive, got {value} {unit}")
    if sign == "non-negative" and value < 0:
        raise ValueError(f"the {name} must not be negative, got {value} {unit}")


@dataclass(frozen=True)
class Ensemble:
    """Integrator and its settings (static under jit).

    Attributes:
        kind: ``"nve"`` velocity Verlet; ``"nvt"`` Langevin (BAOAB splitting);
            ``"npt"`` Berendsen thermostat and isotropic barostat around
            velocity Verlet, as ASE's ``NPTBerendsen`` (periodic cells only),
            except that the half kick after each rescaling uses the forces
            from before it (ASE evaluates them again): the rescaling changes
            positions by a factor 1 ± ~1e-5 per step, and one force
            evaluation per step is saved.
        timestep_fs: time step in fs.
        temperature: target temperature in K (nvt, npt).
        friction: Langevin friction in 1/fs (nvt).
        pressure: target pressure in GPa (npt).
        taut_fs: Berendsen temperature coupling time in fs (npt).
        taup_fs: Berendsen pressure coupling time in fs (npt).
        compressibility: isothermal compressibility in 1/GPa (npt).
    """

    kind: Literal["nve", "nvt", "npt"]
    timestep_fs: float
    temperature: float = 300.0
    friction: float = 0.01
    pressure: float = 0.0
    taut_fs: float = 100.0
    taup_fs: float = 1000.0
    compressibility: float = 0.01

    def __post_init__(self):
        if self.kind not in ENSEMBLES:
            raise ValueError(f"unknown ensemble {self.kind!r}; use one of {ENSEMBLES}")
        for name, value, unit, sign in (
            ("time step", self.timestep_fs, "fs", "positive"),
            ("temperature", self.temperature, "K", "non-negative"),
            ("friction", self.friction, "1/fs", "non-negative"),
            ("pressure", self.pressure, "GPa", "any"),
            ("thermostat time", self.taut_fs, "fs", "positive"),
            ("barostat time", self.taup_fs, "fs", "positive"),
            ("compressibility", self.compressibility, "1/GPa", "non-negative"),
        ):
            check_setting(name, value, unit, sign)

    @property
    def dt(self) -> float:
        return self.timestep_fs * units.fs


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class MDState:
    """One point of a trajectory (a pytree; N atoms).

    Attributes:
        species: [N] atomic numbers.
        positions: [N, 3] Å, not wrapped inside a block.
        momenta: [N, 3] amu Å / ASE time.
        masses: [N] amu.
        forces: [N, 3] eV/Å at ``positions``.
        energy: potential energy in eV relative to the atoms' reference
            energies; add :func:`reference_energy` (host, float64) for the
            absolute energy.
        stress: [3, 3] potential (virial) stress in eV/Å^3, zero if not periodic.
        cell: [3, 3] cell vectors as rows in Å, zero if not periodic.
        step: steps taken.
        key: random key (Langevin noise).
    """

    species: Int[Array, " N"]
    positions: Float[Array, "N 3"]
    momenta: Float[Array, "N 3"]
    masses: Float[Array, " N"]
    forces: Float[Array, "N 3"]
    energy: Float[Array, ""]
    stress: Float[Array, "3 3"]
    cell: Float[Array, "3 3"]
    step: Int[Array, ""]
    key: PRNGKeyArray


def kinetic_energy(state: MDState) -> Float[Array, ""]:
    """Kinetic energy in eV."""
    return 0.5 * jnp.sum(state.momenta**2 / state.masses[:, None])


def temperature(state: MDState) -> Float[Array, ""]:
    """Instantaneous temperature in K, ``2 E_kin / (3 N k_B)`` as in ASE."""
    return 2.0 * kinetic_energy(state) / (3 * state.masses.shape[0] * units.kB)


def pressure(state: MDState) -> Float[Array, ""]:
    """Pressure in eV/Å^3 including the ideal-gas term (periodic cells)."""
    volume = jnp.abs(jnp.linalg.det(state.cell))
    ideal = 2.0 * kinetic_energy(state) / (3.0 * volume)
    return -jnp.trace(state.stress) / 3.0 + ideal


def structure_batch(
    fn: NeighborListFn,
    species: Int[Array, " N"],
    positions: Float[Array, "N 3"],
    cell: Float[Array, "3 3"],
    nbrs: NeighborList,
) -> GraphBatch:
    """A one-structure :class:`~molmat.data.batching.GraphBatch` over the
    neighbour list (its pairs; no bonds, no features, no labels).

    Listed pairs beyond the cutoff (inside the skin) are masked out, so a
    potential sees exactly the pairs within its cutoff.
    """
    batch = one_structure_batch(
        species,
        positions,
        cell if fn.periodic else jnp.zeros_like(cell),
        nbrs.senders,
        nbrs.receivers,
        nbrs.cell_shifts,
        nbrs.edge_mask,
    )
    batch = jax.tree.map(jnp.asarray, batch)  # its numpy constants too
    r2 = jnp.sum(jax.lax.stop_gradient(pair_vectors(batch)) ** 2, axis=-1)
    return batch._replace(pair_mask=nbrs.edge_mask & (r2 < fn.cutoff**2))


def reference_energy(potential: Potential, species: Int[np.ndarray, " N"]) -> float:
    """Sum of the atoms' reference energies in eV (host, float64).

    The absolute potential energy of a state is this plus ``state.energy``.
    """
    numbers = np.asarray(species)
    return float(reference_sums(potential, numbers, np.array([len(numbers)]))[0])


def evaluate(
    potential: Potential,
    fn: NeighborListFn,
    species: Int[Array, " N"],
    positions: Float[Array, "N 3"],
    cell: Float[Array, "3 3"],
    nbrs: NeighborList,
    reference: bool = True,
) -> tuple[Float[Array, ""], Float[Array, "N 3"], Float[Array, "3 3"]]:
    """Energy (eV), forces [N, 3] (eV/Å) and stress [3, 3] (eV/Å^3).

    Args:
        potential: the potential.
        fn: the neighbour list's description.
        species: [N] atomic numbers.
        positions: [N, 3] Å.
        cell: [3, 3] Å, rows; ignored unless ``fn.periodic``.
        nbrs: the neighbour list at ``positions``.
        reference: include the atoms' reference energies in the energy (summed
            on the device, in the potential's dtype); MD leaves them out and
            adds :func:`reference_energy` on the host.
    """
    batch = structure_batch(fn, species, positions, cell, nbrs)
    energies, forces, stress = atomic_energies_and_derivatives(
        potential, batch, stress=fn.periodic, reference=reference
    )
    return jnp.sum(energies), forces, stress[0]


_evaluate_jit = potential_jit(evaluate)


def init_state(
    potential: Potential,
    fn: NeighborListFn,
    nbrs: NeighborList,
    species,
    positions,
    momenta,
    masses,
    cell,
    key: PRNGKeyArray,
    dtype=jnp.float32,
) -> MDState:
    """State at step 0 with energy (relative, see :class:`MDState`), forces and
    stress evaluated."""
    positions = jnp.asarray(positions, dtype)
    cell = jnp.asarray(cell, dtype)
    species = jnp.asarray(species, jnp.int32)
    energy, forces, stress = _evaluate_jit(
        potential, fn, species, positions, cell, nbrs, reference=False
    )
    return MDState(
        species=species,
        positions=positions,
        momenta=jnp.asarray(momenta, dtype),
        masses=jnp.asarray(masses, dtype),
        forces=forces,
        energy=energy,
        stress=stress,
        cell=cell,
        step=jnp.int32(0),
        key=key,
    )


def _drift(state: MDState, dt) -> MDState:
    return replace(
        state, positions=state.positions + dt * state.momenta / state.masses[:, None]
    )


def _kick(state: MDState, dt) -> MDState:
    return replace(state, momenta=state.momenta + dt * state.forces)


def _force_update(potential, fn, state: MDState, nbrs):
    nbrs = fn.update(nbrs, state.positions, state.cell)
    energy, forces, stress = evaluate(
        potential,
        fn,
        state.species,
        state.positions,
        state.cell,
        nbrs,
        reference=False,
    )
    return replace(state, energy=energy, forces=forces, stress=stress), nbrs


def _langevin_noise(state: MDState, ensemble: Ensemble) -> MDState:
    """Exact Ornstein-Uhlenbeck update of the momenta over one step (the O)."""
    key, sub = jax.random.split(state.key)
    c1 = np.exp(-ensemble.friction / units.fs * ensemble.dt)
    kt = units.kB * ensemble.temperature
    sigma = jnp.sqrt((1.0 - c1**2) * state.masses * kt)[:, None]
    noise = jax.random.normal(sub, state.momenta.shape, state.momenta.dtype)
    return replace(state, momenta=c1 * state.momenta + sigma * noise, key=key)


def _berendsen(state: MDState, ensemble: Ensemble) -> MDState:
    """ASE's NPTBerendsen coupling: rescale momenta, then cell and positions."""
    t_now = temperature(state)
    ratio = jnp.where(t_now > 0, ensemble.temperature / t_now, 1.0)
    lam = jnp.sqrt(1.0 + ensemble.timestep_fs / ensemble.taut_fs * (ratio - 1.0))
    state = replace(state, momenta=state.momenta * jnp.clip(lam, 0.9, 1.1))
    beta = ensemble.compressibility / units.GPa  # 1/(eV/Å^3)
    target = ensemble.pressure * units.GPa
    mu = 1.0 - ensemble.timestep_fs / ensemble.taup_fs * beta / 3.0 * (
        target - pressure(state)
    )
    return replace(state, positions=state.positions * mu, cell=state.cell * mu)


def step(
    potential: Potential,
    ensemble: Ensemble,
    fn: NeighborListFn,
    state: MDState,
    nbrs: NeighborList,
) -> tuple[MDState, NeighborList]:
    """One time step of ``ensemble``; updates the neighbour list if needed."""
    dt = ensemble.dt
    if ensemble.kind == "npt":
        state = _berendsen(state, ensemble)
    state = _kick(state, 0.5 * dt)
    if ensemble.kind == "nvt":  # BAOAB
        state = _drift(state, 0.5 * dt)
        state = _langevin_noise(state, ensemble)
        state = _drift(state, 0.5 * dt)
    else:
        state = _drift(state, dt)
    state, nbrs = _force_update(potential, fn, state, nbrs)
    state = _kick(state, 0.5 * dt)
    return replace(state, step=state.step + 1), nbrs


def wrap(state: MDState, nbrs: NeighborList) -> tuple[MDState, NeighborList]:
    """Positions wrapped into the cell, with the neighbour list kept consistent.

    An atom moved by lattice vectors ``w`` keeps its reference position moved
    by the same vectors and its edges' shifts corrected, so no rebuild is
    needed and every ``r_ij`` is unchanged.
    """
    w = jnp.floor(state.positions @ jnp.linalg.inv(state.cell))
    nbrs = replace(
        nbrs,
        reference_positions=nbrs.reference_positions - w @ nbrs.reference_cell,
        cell_shifts=nbrs.cell_shifts + w[nbrs.receivers] - w[nbrs.senders],
    )
    return replace(state, positions=state.positions - w @ state.cell), nbrs


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Watch:
    """Checks made after every step of a block, and what they found (a pytree).

    A step is *non-finite* when its positions, momenta, forces, energy or
    stress hold a NaN or an infinity: :func:`run_block` then keeps the last
    finite state for the rest of the block, so the host learns the exact
    step from one look after the block. A step is *unstable* when its
    temperature exceeds ``max_temperature`` or its total energy per atom
    differs from ``energy_reference`` by more than ``max_drift``; the run
    goes on. Only the first step of each kind is recorded. Create one with
    :func:`watch`; the checks cost a few reductions over the atoms per step.

    Attributes:
        max_temperature: K; inf turns the check off.
        energy_reference: total energy (eV) the run should keep (NVE),
            relative to the atoms' reference energies as ``MDState.energy``,
            so float32 resolves changes of about a µeV.
        max_drift: eV/atom; inf turns the check off.
        nonfinite_step: first non-finite step, -1 if none.
        nonfinite: [5] which of :data:`CHECKED` (positions, momenta, forces,
            energy, stress) were non-finite at that step.
        unstable_step: first unstable step, -1 if none.
        unstable_temperature: temperature (K) at that step.
        unstable_drift: total energy minus the reference at that step, per
            atom (eV/atom).
    """

    max_temperature: Float[Array, ""]
    energy_reference: Float[Array, ""]
    max_drift: Float[Array, ""]
    nonfinite_step: Int[Array, ""]
    nonfinite: Bool[Array, " 5"]
    unstable_step: Int[Array, ""]
    unstable_temperature: Float[Array, ""]
    unstable_drift: Float[Array, ""]

    @property
    def nonfinite_names(self) -> list[str]:
        """Names of the quantities found non-finite (host side)."""
        flags = np.asarray(self.nonfinite)
        return [name for name, bad in zip(CHECKED, flags, strict=True) if bad]


def watch(
    max_temperature: float = math.inf,
    energy_reference: float = 0.0,
    max_drift: float = math.inf,
    dtype=jnp.float32,
) -> Watch:
    """A :class:`Watch` that has found nothing yet (K, eV, eV/atom)."""
    return Watch(
        max_temperature=jnp.asarray(max_temperature, dtype),
        energy_reference=jnp.asarray(energy_reference, dtype),
        max_drift=jnp.asarray(max_drift, dtype),
        nonfinite_step=jnp.int32(-1),
        nonfinite=jnp.zeros(len(CHECKED), bool),
        unstable_step=jnp.int32(-1),
        unstable_temperature=jnp.asarray(math.nan, dtype),
        unstable_drift=jnp.asarray(math.nan, dtype),
    )


def observe(w: Watch, state: MDState) -> Watch:
    """``w`` after checking ``state`` (a few reductions over the atoms)."""
    bad = jnp.stack([~jnp.all(jnp.isfinite(getattr(state, q))) for q in CHECKED])
    first_bad = (w.nonfinite_step < 0) & jnp.any(bad)
    t_now = temperature(state)
    drift = (state.energy + kinetic_energy(state) - w.energy_reference) / (
        state.masses.shape[0]
    )
    unstable = (t_now > w.max_temperature) | (jnp.abs(drift) > w.max_drift)
    first_unstable = (w.unstable_step < 0) & unstable
    return replace(
        w,
        nonfinite_step=jnp.where(first_bad, state.step, w.nonfinite_step),
        nonfinite=jnp.where(first_bad, bad, w.nonfinite),
        unstable_step=jnp.where(first_unstable, state.step, w.unstable_step),
        unstable_temperature=jnp.where(first_unstable, t_now, w.unstable_temperature),
        unstable_drift=jnp.where(first_unstable, drift, w.unstable_drift),
    )


@potential_jit
def run_block(
    potential: Potential,
    ensemble: Ensemble,
    fn: NeighborListFn,
    n_steps: int,
    state: MDState,
    nbrs: NeighborList,
    w: Watch,
) -> tuple[MDState, NeighborList, Watch]:
    """``n_steps`` steps in one ``lax.scan``; periodic positions wrapped at the end.

    Every step is checked with :func:`observe`. From the first non-finite
    step on, the state stays at the last finite step (``state.step`` ends
    short of the block's end; the list is then not meant for more steps) and
    ``w.nonfinite_step`` names the step that failed. Check ``nbrs.overflow``
    afterwards: if set, the block used a truncated list and must be rerun
    (see :func:`advance`).
    """

    def body(carry, _):
        state, nbrs, w = carry
        new_state, nbrs = step(potential, ensemble, fn, state, nbrs)
        w = observe(w, new_state)
        finite = w.nonfinite_step < 0
        state = jax.tree.map(partial(jnp.where, finite), new_state, state)
        return (state, nbrs, w), None

    (state, nbrs, w), _ = jax.lax.scan(body, (state, nbrs, w), None, length=n_steps)
    if fn.periodic:
        state, nbrs = wrap(state, nbrs)
    return state, nbrs, w


def advance(
    potential: Potential,
    ensemble: Ensemble,
    fn: NeighborListFn,
    n_steps: int,
    state: MDState,
    nbrs: NeighborList,
    w: Watch,
) -> tuple[NeighborListFn, MDState, NeighborList, Watch]:
    """Run one block; on neighbour-list overflow, reallocate and rerun it.

    Returns the (possibly reallocated) list description, the new state, the
    new list and the updated watch. The rerun starts from the same state,
    random key and watch, so the result equals a run with ample capacity from
    the start.
    """
    while True:
        new_state, new_nbrs, new_w = run_block(
            potential, ensemble, fn, n_steps, state, nbrs, w
        )
        if not bool(new_nbrs.overflow):
            return fn, new_state, new_nbrs, new_w
        fn, nbrs = fn.reallocate(new_nbrs, state.positions, state.cell)
