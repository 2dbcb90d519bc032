"""In-jit neighbour lists: same pairs as vesin, skin, overflow, periodic images."""

import dataclasses

import jax
import numpy as np
import pytest
from ase.build import bulk
from vesin import NeighborList as VesinList

from molmat.simulate.neighbors import allocate


def _strained_small_cell():
    """8 atoms, triclinic, faces closer than the cutoff: needs extra images."""
    atoms = bulk("Ar", "fcc", a=5.26).repeat(2)
    strain = np.eye(3) + 0.04 * np.random.default_rng(0).normal(size=(3, 3))
    atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
    atoms.rattle(0.1, seed=1)
    return atoms, 8.5


def _rattled_cube():
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(2)
    atoms.rattle(0.2, seed=2)
    # some atoms outside the cell: lists must hold for unwrapped positions
    atoms.positions[:5] += atoms.cell[0] - 2 * atoms.cell[2]
    return atoms, 4.0


def _cluster():
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(2)
    atoms.rattle(0.2, seed=3)
    atoms.pbc = False
    return atoms, 5.0


def _pairs(senders, receivers, shifts, mask=None):
    mask = np.ones(len(senders), bool) if mask is None else np.asarray(mask)
    shifts = np.rint(np.asarray(shifts)[mask]).astype(int)
    rows = zip(
        np.asarray(senders)[mask], np.asarray(receivers)[mask], *shifts.T, strict=True
    )
    return {tuple(int(v) for v in row) for row in rows}


def _vesin_pairs(atoms, cutoff):
    periodic = bool(atoms.pbc.all())
    box = atoms.cell[:] if periodic else np.zeros((3, 3))
    i, j, s = VesinList(cutoff=cutoff, full_list=True).compute(
        atoms.positions, box, periodic, quantities="ijS"
    )
    return _pairs(i, j, s)


@pytest.mark.parametrize("make", [_strained_small_cell, _rattled_cube, _cluster])
def test_pairs_equal_vesin(make):
    atoms, cutoff = make()
    periodic = bool(atoms.pbc.all())
    with jax.enable_x64(True):
        fn, nbrs = allocate(
            atoms.positions, atoms.cell[:], cutoff, skin=0.0, periodic=periodic
        )
        ours = _pairs(nbrs.senders, nbrs.receivers, nbrs.cell_shifts, nbrs.edge_mask)
    reference = _vesin_pairs(atoms, cutoff)
    assert len(reference) > 0
    assert ours == reference
    assert not bool(nbrs.overflow)
    assert fn.capacity >= len(reference)


def test_small_cell_sees_own_images():
    atoms, cutoff = _strained_small_cell()
    fn, nbrs = allocate(atoms.positions, atoms.cell[:], cutoff, skin=0.0)
    assert min(fn.images) >= 1
    pairs = _pairs(nbrs.senders, nbrs.receivers, nbrs.cell_shifts, nbrs.edge_mask)
    assert any(i == j for i, j, *_ in pairs)


def test_too_small_capacity_overflows_then_reallocates():
    atoms, cutoff = _rattled_cube()
    fn, ample = allocate(atoms.positions, atoms.cell[:], cutoff, skin=0.3)
    small = dataclasses.replace(fn, capacity=32)
    truncated = small.build_jit(atoms.positions, atoms.cell[:])
    assert bool(truncated.overflow)
    assert int(truncated.max_edges) == int(ample.edge_mask.sum())

    grown, nbrs = small.reallocate(truncated, atoms.positions, atoms.cell[:])
    assert not bool(nbrs.overflow)
    assert grown.capacity >= int(truncated.max_edges)
    assert _pairs(nbrs.senders, nbrs.receivers, nbrs.cell_shifts, nbrs.edge_mask) == (
        _pairs(ample.senders, ample.receivers, ample.cell_shifts, ample.edge_mask)
    )


def test_skin_rebuilds_only_when_needed():
    atoms, cutoff = _rattled_cube()
    cell = atoms.cell[:]
    fn, nbrs = allocate(atoms.positions, cell, cutoff, skin=0.5)
    update = jax.jit(fn.update)

    small = atoms.positions + 0.2 * np.array([1.0, 0.0, 0.0])  # 0.2 Å < skin/2
    kept = update(nbrs, small, cell)
    assert int(kept.n_builds) == 1
    moved = atoms.copy()
    moved.positions = small
    # every pair within the cutoff is still listed (with the right shift)
    listed = _pairs(kept.senders, kept.receivers, kept.cell_shifts, kept.edge_mask)
    assert _vesin_pairs(moved, cutoff) <= listed

    far = atoms.positions.copy()
    far[0] += 0.3  # one atom moved 0.3 Å > skin/2
    rebuilt = update(nbrs, far, cell)
    assert int(rebuilt.n_builds) == 2
    np.testing.assert_allclose(rebuilt.reference_positions, far, atol=1e-6)


def test_strained_cell_triggers_rebuild():
    atoms, cutoff = _rattled_cube()
    fn, nbrs = allocate(atoms.positions, atoms.cell[:], cutoff, skin=0.5)
    # a uniform squeeze moves pair distances by up to (1 - s) (cutoff + skin)
    slight = fn.update(nbrs, atoms.positions * 0.99, atoms.cell[:] * 0.99)
    assert int(slight.n_builds) == 1
    strong = fn.update(nbrs, atoms.positions * 0.9, atoms.cell[:] * 0.9)
    assert int(strong.n_builds) == 2


def test_shrinking_cell_needs_more_images():
    atoms, cutoff = _strained_small_cell()
    fn, nbrs = allocate(atoms.positions, atoms.cell[:], cutoff, skin=0.0)
    squeezed = atoms.copy()
    squeezed.set_cell(atoms.cell[:] * 0.7, scale_atoms=True)
    shrunk = fn.update(nbrs, squeezed.positions, squeezed.cell[:])
    assert bool(shrunk.overflow)  # more images needed than allocated
    grown, nbrs = fn.reallocate(shrunk, squeezed.positions, squeezed.cell[:])
    assert not bool(nbrs.overflow)
    assert all(g > f for g, f in zip(grown.images, fn.images, strict=True))
    listed = _pairs(nbrs.senders, nbrs.receivers, nbrs.cell_shifts, nbrs.edge_mask)
    assert listed == _vesin_pairs(squeezed, cutoff)


def test_periodic_without_cell_is_refused():
    atoms, cutoff = _cluster()
    with pytest.raises(ValueError, match="nonzero volume"):
        allocate(atoms.positions, np.zeros((3, 3)), cutoff, periodic=True)
