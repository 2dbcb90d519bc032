"""Physics checks every interatomic potential must pass.

Each ``assert_*`` function raises :class:`AssertionError` with the size of the
violation. They run the whole host pipeline (neighbour lists, padding,
batching), so a bug anywhere between a structure and its energy shows up.
Checks that need exact arithmetic cast the model to float64 themselves.

Example:
    >>> from molmat.testing import check_potential
    >>> check_potential(model, molecule_frame, periodic_frame)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

import ase
import numpy as np
from ase.calculators.fd import calculate_numerical_forces
from scipy.spatial.transform import Rotation

from molmat.data.structures import Frame, structure_graphs
from molmat.models.potentials.base import Potential
from molmat.models.potentials.inference import Predictions, cast, predict_structures
from molmat.nn.compilation import precision


def predict_frames(
    model: Potential, frames: list[Frame], batch_size: int = 1
) -> Predictions:
    """Energies, forces and stress of ``frames`` with ``model`` as it is.

    One structure per batch by default: copies of one structure then share a
    padded shape, so each check compiles once per structure.
    """
    return predict_structures(model, structure_graphs(frames), batch_size)


def _moved(frame: Frame, positions: np.ndarray, cell: np.ndarray | None = None):
    cell = frame.cell if cell is None else cell
    return dataclasses.replace(frame, positions=positions, cell=cell)


def _close(a, b, atol, what):
    err = float(np.max(np.abs(np.asarray(a) - np.asarray(b)), initial=0.0))
    if err > atol:
        raise AssertionError(f"{what}: max deviation {err:.3g} > {atol:.3g}")


def assert_e3_equivariant(
    model: Potential, frame: Frame, seed: int = 0, atol: float = 1e-4
) -> None:
    """Energy invariant, forces equivariant under E(3) and permutations.

    Applies a random rotation, a reflection, a translation and a random
    permutation of the atoms (float64).
    """
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(random_state=seed).as_matrix()
    reflection = np.diag([-1.0, 1.0, 1.0]) @ rotation
    perm = rng.permutation(frame.n_atoms)
    shift = rng.normal(size=3) * 3.0
    moved = [frame]
    for matrix in (rotation, reflection):
        moved.append(_moved(frame, frame.positions @ matrix.T, frame.cell @ matrix.T))
    moved.append(_moved(frame, frame.positions + shift))
    moved.append(
        dataclasses.replace(
            frame, numbers=frame.numbers[perm], positions=frame.positions[perm]
        )
    )
    with precision(True):
        out = predict_frames(cast(model, np.float64), moved)
    n = frame.n_atoms
    forces = out.forces.reshape(len(moved), n, 3)
    for k, name in enumerate(("rotation", "reflection", "translation", "permutation")):
        _close(out.energy[k + 1], out.energy[0], atol, f"energy under {name}")
    _close(forces[1], forces[0] @ rotation.T, atol, "forces under rotation")
    _close(forces[2], forces[0] @ reflection.T, atol, "forces under reflection")
    _close(forces[3], forces[0], atol, "forces under translation")
    _close(forces[4], forces[0][perm], atol, "forces under permutation")


def assert_forces_match_finite_differences(
    model: Potential, frame: Frame, h: float = 1e-5, n_checks: int = 6, seed: int = 0
) -> None:
    """Forces equal ``-(E(x + h) - E(x - h)) / 2h`` for random components (float64)."""
    rng = np.random.default_rng(seed)
    picks = [
        (int(rng.integers(frame.n_atoms)), int(rng.integers(3)))
        for _ in range(n_checks)
    ]
    frames = [frame]
    for atom, axis in picks:
        for sign in (1.0, -1.0):
            pos = frame.positions.copy()
            pos[atom, axis] += sign * h
            frames.append(_moved(frame, pos))
    with precision(True):
        out = predict_frames(cast(model, np.float64), frames)
    forces = out.forces[: frame.n_atoms]
    numeric = -(out.energy[1::2] - out.energy[2::2]) / (2 * h)
    analytic = np.array([forces[a, x] for a, x in picks])
    scale = max(1.0, float(np.abs(analytic).max()))
    _close(analytic, numeric, 1e-5 * scale, "forces vs finite differences")


def assert_stress_matches_finite_differences(
    model: Potential, frame: Frame, h: float = 1e-5
) -> None:
    """Stress equals ``(1/V) dE/d(strain)`` by central differences (float64)."""
    if not frame.pbc.all():
        raise ValueError("the stress check needs a periodic frame")
    pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    frames = [frame]
    for a, b in pairs:
        strain = np.zeros((3, 3))
        strain[a, b] = strain[b, a] = 0.5 if a != b else 1.0
        for sign in (1.0, -1.0):
            deform = np.eye(3) + sign * h * strain
            frames.append(_moved(frame, frame.positions @ deform, frame.cell @ deform))
    with precision(True):
        out = predict_frames(cast(model, np.float64), frames)
    volume = abs(np.linalg.det(frame.cell))
    numeric = (out.energy[1::2] - out.energy[2::2]) / (2 * h * volume)
    analytic = np.array([out.stress[0][a, b] for a, b in pairs])
    scale = max(1e-3, float(np.abs(analytic).max()))
    _close(analytic, numeric, 1e-5 * scale, "stress vs finite differences")


def assert_supercell_extensive(
    model: Potential, frame: Frame, atol: float = 1e-6
) -> None:
    """A periodic cell's 2x2x2 supercell has 8x the energy (float64)."""
    if not frame.pbc.all():
        raise ValueError("the supercell check needs a periodic frame")
    offsets = np.stack(np.meshgrid(*[np.arange(2)] * 3, indexing="ij"), -1)
    offsets = offsets.reshape(-1, 3) @ frame.cell  # [8, 3]
    positions = (offsets[:, None, :] + frame.positions[None]).reshape(-1, 3)
    supercell = dataclasses.replace(
        frame,
        numbers=np.tile(frame.numbers, 8),
        positions=positions,
        cell=2.0 * frame.cell,
        forces=None,
    )
    with precision(True):
        out = predict_frames(cast(model, np.float64), [frame, supercell])
    _close(
        out.energy[1], 8 * out.energy[0], atol * frame.n_atoms * 8, "supercell energy"
    )
    _close(out.stress[1], out.stress[0], atol, "supercell stress")


def assert_float32_matches_float64(
    model: Potential, frame: Frame, atol: float = 5e-5, forces_atol: float = 1e-4
) -> None:
    """The same parameters give the same energy (eV) and forces (eV/Å) in
    float32 as in float64.

    Totals of thousands of eV (the element reference energies) must not cost
    float32 its meV resolution: ``atol`` is on the energy of ``frame``.
    """
    out32 = predict_frames(cast(model, np.float32), [frame])
    with precision(True):
        out64 = predict_frames(cast(model, np.float64), [frame])
    _close(out32.energy, out64.energy, atol, "float32 vs float64 energy")
    _close(out32.forces, out64.forces, forces_atol, "float32 vs float64 forces")


def assert_calculator_forces_match_finite_differences(
    atoms: ase.Atoms, h: float = 1e-3, atol: float = 1e-4
) -> None:
    """``atoms.calc``'s forces equal ASE's central differences of its energy.

    Every component is displaced by ``±h`` (Å), as
    :func:`ase.calculators.fd.calculate_numerical_forces` does, so this checks
    the whole calculator (neighbour lists, padding, precision) as a user's
    finite-difference test would; ``atol`` in eV/Å.
    """
    numeric = calculate_numerical_forces(atoms, eps=h)
    _close(atoms.get_forces(), numeric, atol, "calculator forces vs finite differences")


def assert_batch_consistent(
    model: Potential, frames: list[Frame], atol: float = 1e-4
) -> None:
    """Predicting structures one by one or all in a batch gives the same result."""
    alone = [predict_frames(model, [f], batch_size=1) for f in frames]
    together = predict_frames(model, frames, batch_size=len(frames))
    _close([a.energy[0] for a in alone], together.energy, atol, "batched energies")
    forces = np.concatenate([a.forces for a in alone])
    _close(forces, together.forces, atol, "batched forces")


def check_potential(
    model: Potential, molecule: Frame, crystal: Frame | None = None
) -> None:
    """Run every check: symmetries, finite differences, batching, supercells,
    float32 against float64."""
    assert_e3_equivariant(model, molecule)
    assert_forces_match_finite_differences(model, molecule)
    assert_float32_matches_float64(model, molecule)
    frames = [molecule]
    if crystal is not None:
        assert_e3_equivariant(model, crystal)
        assert_forces_match_finite_differences(model, crystal)
        assert_float32_matches_float64(model, crystal)
        assert_stress_matches_finite_differences(model, crystal)
        assert_supercell_extensive(model, crystal)
        frames.append(crystal)
    assert_batch_consistent(model, frames)
