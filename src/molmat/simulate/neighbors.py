"""Fixed-capacity neighbour lists computed inside jit (jax-md style).

A :class:`NeighborListFn` (static: cutoff, skin, periodic images, capacity)
builds and updates a :class:`NeighborList` (arrays) inside jitted code. The
list holds every pair closer than ``cutoff + skin`` (a Verlet buffer), padded
to ``capacity`` edges, so it is rebuilt only when atoms or the cell moved
enough that a pair could have crossed the cutoff. When a build finds more
pairs than ``capacity``, or a shrinking cell needs more periodic images than
were allocated, the list sets ``overflow``; the caller checks it *outside*
jit, calls :meth:`NeighborListFn.reallocate` and reruns its work. A list is
never truncated silently.

Edges are the radius-graph pairs of :class:`~molmat.data.batching.GraphBatch`:
``r_ij = positions[j] - positions[i] + cell_shifts @ cell`` holds for the
positions as given, wrapped into the cell or not.

Algorithm: every pair is taken to its minimum image (fractional difference
rounded), which is the only image within the buffer radius when the cell is
wider than twice that radius. Smaller cells (general triclinic, any size)
also test the images around it that can still reach the radius, so an atom
may neighbour its own images. This dense O(N^2 x images) search is simple
and fast on CPU and GPU for the few hundred to a thousand atoms this engine
targets, and runs only on rebuilds (every 10-50 steps at typical
temperatures and a 0.5 Å skin). Edges come out sorted by sender.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from molmat.data.batching import ladder


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class NeighborList:
    """Pairs within ``cutoff + skin`` as padded edge arrays (E = capacity).

    Attributes:
        senders: [E] int32 atom i of each edge; padding edges join the last
            atom to itself.
        receivers: [E] int32 atom j of each edge.
        cell_shifts: [E, 3] integer image offsets of j (stored as floats).
        edge_mask: [E] True for real edges.
        reference_positions: [N, 3] positions (Å) at the last build.
        reference_cell: [3, 3] cell (Å) at the last build.
        max_edges: largest pair count found by any build since allocation.
        max_images: [3] largest periodic image range any build needed.
        images_short: True if that range exceeds the allocated one.
        n_builds: builds since allocation.
    """

    senders: Int[Array, " E"]
    receivers: Int[Array, " E"]
    cell_shifts: Float[Array, "E 3"]
    edge_mask: Bool[Array, " E"]
    reference_positions: Float[Array, "N 3"]
    reference_cell: Float[Array, "3 3"]
    max_edges: Int[Array, ""]
    max_images: Int[Array, " 3"]
    images_short: Bool[Array, ""]
    n_builds: Int[Array, ""]

    @property
    def capacity(self) -> int:
        return self.senders.shape[0]

    @property
    def overflow(self) -> Bool[Array, ""]:
        """True if any build since allocation lost pairs; reallocate and rerun."""
        return (self.max_edges > self.capacity) | self.images_short


def image_range(cell: np.ndarray, radius: float) -> tuple[int, int, int]:
    """Images searched along each cell vector around the minimum image.

    Every pair starts from its minimum image (fractional difference rounded
    into [-1/2, 1/2]); along axis ``k`` the pairs within ``radius`` then lie
    at most ``floor(radius / width_k + 1/2)`` images further, where
    ``width_k`` is the distance between the cell faces spanned by the other
    two vectors. Cells wider than twice the radius need none.
    """
    return tuple(int(n) for n in _needed_images(np.asarray(cell, np.float64), radius))


def _needed_images(cell, radius):
    xp = jnp if isinstance(cell, jax.Array) else np
    return xp.floor(radius / _face_distances(cell) + 0.5).astype(xp.int32)


def _inverse3(cell: Float[Array, "3 3"]) -> Float[Array, "3 3"]:
    """Inverse of a 3x3 cell from cross products (fuses; no LAPACK call per step)."""
    cofactors = jnp.stack(
        [
            jnp.cross(cell[1], cell[2]),
            jnp.cross(cell[2], cell[0]),
            jnp.cross(cell[0], cell[1]),
        ],
        axis=1,
    )
    return cofactors / jnp.dot(cell[0], cofactors[:, 0])


def _face_distances(cell):
    """Distances [3] between opposite faces of a cell (numpy or JAX)."""
    xp = jnp if isinstance(cell, jax.Array) else np
    volume = xp.abs(xp.linalg.det(cell))
    areas = xp.stack(
        [
            xp.linalg.norm(xp.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
            for k in range(3)
        ]
    )
    return volume / areas


@dataclass(frozen=True)
class NeighborListFn:
    """Static description of a neighbour list; builds and updates it in jit.

    Create one with :func:`allocate`. Hashable, so jitted functions take it
    as a static argument and recompile only when the capacity or the image
    set changes.

    Attributes:
        cutoff: interaction cutoff in Å (the potential's).
        skin: Verlet buffer in Å; pairs within ``cutoff + skin`` are listed.
        periodic: whether the cell is periodic in all three directions.
        images: image range (n_a, n_b, n_c) searched on each side of every
            pair's minimum image; (0, 0, 0) for cells wider than twice the
            radius.
        capacity: number of edge slots.
        n_atoms: number of atoms.
    """

    cutoff: float
    skin: float
    periodic: bool
    images: tuple[int, int, int]
    capacity: int
    n_atoms: int

    @property
    def radius(self) -> float:
        return self.cutoff + self.skin

    def _shifts(self) -> np.ndarray:
        axes = [np.arange(-n, n + 1) for n in self.images]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
        return grid.reshape(-1, 3)

    def build(
        self, positions: Float[Array, "N 3"], cell: Float[Array, "3 3"]
    ) -> NeighborList:
        """A fresh list for ``positions`` (Å) in ``cell`` (rows, Å). Jittable."""
        positions, cell = jnp.asarray(positions), jnp.asarray(cell)
        n = self.n_atoms
        dtype = positions.dtype
        shifts = jnp.asarray(self._shifts(), dtype)  # [M, 3]
        delta = positions[None, :, :] - positions[:, None, :]  # [i, j, 3]
        if self.periodic:
            frac = delta @ jnp.linalg.inv(cell)
            base = -jnp.round(frac)  # minimum-image shift of each pair [i, j, 3]
            delta = delta + base @ cell
            # a non-finite cell (a failed MD step) needs no images, not garbage
            needed = jnp.where(
                jnp.all(jnp.isfinite(cell)), _needed_images(cell, self.radius), 0
            )
        else:
            base = jnp.zeros_like(delta)
            needed = jnp.zeros(3, jnp.int32)
        offsets = shifts @ cell  # [M, 3]
        # d2[i, m, j] = |delta[i, j] + offsets[m]|^2, one component at a time
        # so no [N, M, N, 3] array is formed.
        d2 = sum(
            (delta[:, None, :, k] + offsets[None, :, None, k]) ** 2 for k in range(3)
        )
        zero_image = int(np.flatnonzero((self._shifts() == 0).all(axis=1))[0])
        is_self = (jnp.arange(n)[:, None, None] == jnp.arange(n)[None, None, :]) & (
            jnp.arange(len(shifts)) == zero_image
        )[None, :, None]
        pairs = (d2 < self.radius**2) & ~is_self
        n_pairs = jnp.sum(pairs, dtype=jnp.int32)
        (flat,) = jnp.nonzero(pairs.ravel(), size=self.capacity, fill_value=-1)
        edge_mask = flat >= 0
        flat = jnp.where(edge_mask, flat, 0)
        senders = flat // (len(shifts) * n)
        image = (flat // n) % len(shifts)
        receivers = flat % n
        cell_shifts = base[senders, receivers] + shifts[image]
        last = jnp.int32(n - 1)
        return NeighborList(
            senders=jnp.where(edge_mask, senders, last).astype(jnp.int32),
            receivers=jnp.where(edge_mask, receivers, last).astype(jnp.int32),
            cell_shifts=jnp.where(edge_mask[:, None], cell_shifts, 0.0),
            edge_mask=edge_mask,
            reference_positions=positions,
            reference_cell=cell,
            max_edges=n_pairs,
            max_images=needed,
            images_short=jnp.any(needed > jnp.asarray(self.images)),
            n_builds=jnp.int32(1),
        )

    def needs_rebuild(
        self,
        nbrs: NeighborList,
        positions: Float[Array, "N 3"],
        cell: Float[Array, "3 3"],
    ) -> Bool[Array, ""]:
        """Whether some pair may have crossed ``cutoff`` since the last build.

        Atoms are compared with their reference positions carried along by
        the cell deformation ``F = inv(ref_cell) @ cell``; a pair distance
        changes by at most ``2 max|displacement| + |F - I| (cutoff + skin)``,
        which must stay below ``skin``.
        """
        if self.periodic:
            deform = _inverse3(nbrs.reference_cell) @ cell
            expected = nbrs.reference_positions @ deform
            strain = jnp.linalg.norm(deform - jnp.eye(3, dtype=deform.dtype))
        else:
            expected = nbrs.reference_positions
            strain = 0.0
        moved = jnp.sqrt(jnp.max(jnp.sum((positions - expected) ** 2, axis=-1)))
        return 2.0 * moved + strain * self.radius > self.skin

    def update(
        self,
        nbrs: NeighborList,
        positions: Float[Array, "N 3"],
        cell: Float[Array, "3 3"],
    ) -> NeighborList:
        """``nbrs`` itself, or a rebuilt list when needed. Jittable.

        Overflow is sticky: once a build overflowed, ``nbrs.overflow`` stays
        True until the host reallocates.
        """
        positions, cell = jnp.asarray(positions), jnp.asarray(cell)

        def rebuild(_):
            new = self.build(positions, cell)
            return replace(
                new,
                max_edges=jnp.maximum(new.max_edges, nbrs.max_edges),
                max_images=jnp.maximum(new.max_images, nbrs.max_images),
                images_short=new.images_short | nbrs.images_short,
                n_builds=nbrs.n_builds + 1,
            )

        return jax.lax.cond(
            self.needs_rebuild(nbrs, positions, cell), rebuild, lambda _: nbrs, None
        )

    def reallocate(
        self,
        nbrs: NeighborList,
        positions,
        cell,
        growth: float = 1.25,
    ) -> tuple[NeighborListFn, NeighborList]:
        """A larger list (host side) after ``nbrs.overflow``, built at ``positions``."""
        needed = max(int(nbrs.max_edges), self.capacity)
        fn = replace(
            self,
            capacity=ladder(math.ceil(needed * growth)),
            images=tuple(
                max(int(a), int(b), int(c))
                for a, b, c in zip(
                    self.images,
                    np.asarray(nbrs.max_images),
                    image_range(cell, self.radius) if self.periodic else (0, 0, 0),
                    strict=True,
                )
            ),
        )
        nbrs = fn.build_jit(positions, cell)
        if bool(nbrs.overflow):  # the list grew by more than the growth factor
            return fn.reallocate(nbrs, positions, cell, growth)
        return fn, nbrs

    def build_jit(self, positions, cell) -> NeighborList:
        """:meth:`build` compiled for this capacity (host-side convenience)."""
        return _build(self, jnp.asarray(positions), jnp.asarray(cell))


@partial(jax.jit, static_argnums=0)
def _build(fn: NeighborListFn, positions, cell) -> NeighborList:
    return fn.build(positions, cell)


def allocate(
    positions,
    cell,
    cutoff: float,
    skin: float = 0.5,
    periodic: bool = True,
    capacity: int | None = None,
    growth: float = 1.25,
) -> tuple[NeighborListFn, NeighborList]:
    """Size and build a neighbour list on the host.

    Args:
        positions: [N, 3] positions in Å.
        cell: [3, 3] cell vectors as rows in Å (ignored unless ``periodic``).
        cutoff: interaction cutoff in Å.
        skin: Verlet buffer in Å.
        periodic: periodic in all three directions, or not at all.
        capacity: edge slots; by default ``growth`` times the pairs found now,
            rounded up with :func:`molmat.data.batching.ladder`.
        growth: headroom factor for the default capacity and for reallocation.

    Returns:
        The static :class:`NeighborListFn` and the built :class:`NeighborList`.

    Example:
        >>> import numpy as np
        >>> cell = 5.26 * np.eye(3)
        >>> positions = np.random.default_rng(0).uniform(0, 5.26, (32, 3))
        >>> fn, nbrs = allocate(positions, cell, cutoff=4.0)
        >>> nbrs = fn.update(nbrs, positions + 0.1, cell)  # also inside jit
        >>> if nbrs.overflow:  # checked outside jit
        ...     fn, nbrs = fn.reallocate(nbrs, positions + 0.1, cell)
    """
    positions = np.asarray(positions)
    cell = np.asarray(cell) if periodic else np.zeros((3, 3), positions.dtype)
    if periodic and abs(np.linalg.det(cell)) < 1e-6:
        raise ValueError("a periodic neighbour list needs a cell with nonzero volume")
    radius = cutoff + skin
    images = image_range(cell, radius) if periodic else (0, 0, 0)
    if capacity is None:
        capacity = ladder(
            math.ceil(max(_count_pairs(positions, cell, radius, periodic), 1) * growth)
        )
    fn = NeighborListFn(
        cutoff=float(cutoff),
        skin=float(skin),
        periodic=bool(periodic),
        images=images,
        capacity=int(capacity),
        n_atoms=len(positions),
    )
    nbrs = fn.build_jit(positions, cell)
    if bool(nbrs.overflow):
        return fn.reallocate(nbrs, positions, cell, growth)
    return fn, nbrs


def _count_pairs(positions, cell, radius, periodic) -> int:
    """Pairs within ``radius`` (full list) counted on the host with vesin."""
    from vesin import NeighborList as VesinList

    (i,) = VesinList(cutoff=radius, full_list=True).compute(
        np.asarray(positions, np.float64),
        np.asarray(cell, np.float64),
        periodic,
        quantities="i",
    )
    return len(i)
