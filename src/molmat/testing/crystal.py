"""Invariance checks every crystal property model must pass.

A periodic structure's prediction may depend on the crystal only: not on how
it is rotated or translated, how its atoms are numbered, which unit cell
describes it (a 2x1x1 supercell is the same crystal: an intensive model
predicts the same value, an extensive one twice the value), nor on the
structures it is batched with. Each ``assert_*`` function runs the whole
path of ``model.predict_values`` (structure checks, neighbour lists with image
shifts, size classes, padding, the jitted network) and raises
:class:`AssertionError` naming the worst structure and the deviation, in
units of the training targets' standard deviation (regression) or of
probability.

Example:
    >>> from molmat.testing import check_crystal_model
    >>> check_crystal_model(model, [bulk("Si", "diamond", a=5.43)])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms
from scipy.spatial.transform import Rotation

from molmat.testing.property import compare_predictions


def _names(structures: Sequence[Atoms]) -> list[str]:
    return [
        f"structure {i} ({s.get_chemical_formula()!r})"
        for i, s in enumerate(structures)
    ]


def _check(
    model,
    structures: Sequence[Atoms],
    change: Callable[[Atoms, np.random.Generator], Atoms],
    what: str,
    seed: int,
    atol: float,
    factor: float = 1.0,
) -> None:
    rng = np.random.default_rng(seed)
    changed = [change(s.copy(), rng) for s in structures]
    compare_predictions(
        model,
        model.predict_values(changed),
        factor * model.predict_values(list(structures)),
        _names(structures),
        atol,
        what,
        "for the original structure" + (f" x {factor:g}" if factor != 1 else ""),
    )


def _rotated(atoms: Atoms, rng) -> Atoms:
    rotation = Rotation.random(random_state=rng).as_matrix()
    atoms.set_cell(atoms.cell[:] @ rotation.T, scale_atoms=False)
    atoms.positions = atoms.positions @ rotation.T
    return atoms


def _translated(atoms: Atoms, rng) -> Atoms:
    atoms.positions = atoms.positions + rng.normal(0.0, 3.0, 3)
    return atoms


def _renumbered(atoms: Atoms, rng) -> Atoms:
    order = rng.permutation(len(atoms))
    if len(atoms) > 1 and (order == np.arange(len(atoms))).all():
        order = np.roll(order, 1)
    return atoms[order]


def _supercell(atoms: Atoms, rng) -> Atoms:
    return atoms.repeat((2, 1, 1))


def assert_rotation_invariant(model, structures, seed=0, atol=1e-4) -> None:
    """A random rotation of positions and cell leaves predictions unchanged."""
    _check(model, structures, _rotated, "rotated", seed, atol)


def assert_translation_invariant(model, structures, seed=0, atol=1e-4) -> None:
    """Shifting every atom by one random vector leaves predictions unchanged."""
    _check(model, structures, _translated, "translated", seed, atol)


def assert_permutation_invariant(model, structures, seed=0, atol=1e-4) -> None:
    """Renumbering the atoms (never the identity) leaves predictions unchanged."""
    _check(model, structures, _renumbered, "atoms renumbered", seed, atol)


def assert_unit_cell_invariant(model, structures, atol=1e-4) -> None:
    """A 2x1x1 supercell gives the same prediction (mean readout, intensive
    targets) or twice it (sum readout, extensive targets)."""
    factor = 2.0 if model.network_["readout"] == "sum" else 1.0
    _check(model, structures, _supercell, "2x1x1 supercell", 0, atol, factor)


def assert_padding_invariant(model, structures, atol=1e-4) -> None:
    """Each structure predicted alone equals its prediction in one batch with
    all the others (different padding, size classes and neighbours)."""
    alone = np.concatenate([model.predict_values([s]) for s in structures])
    compare_predictions(
        model,
        model.predict_values(list(structures)),
        alone,
        _names(structures),
        atol,
        "batched",
    )


def check_crystal_model(model, structures: Sequence[Atoms], atol=1e-4) -> None:
    """Every check of this module on ``structures`` (periodic
    :class:`ase.Atoms`)."""
    structures = list(structures)
    assert_rotation_invariant(model, structures, atol=atol)
    assert_translation_invariant(model, structures, atol=atol)
    assert_permutation_invariant(model, structures, atol=atol)
    assert_unit_cell_invariant(model, structures, atol=atol)
    assert_padding_invariant(model, structures, atol=atol)
