"""Radial bases, smooth cutoffs and pair geometry for distance-based message passing.

:func:`pair_geometry` gives the radius-graph vectors and lengths of a batch;
the other functions take distances ``r`` in Å of any shape and return ``[..., n]``
bases or ``[...]`` envelopes; values and first derivatives vanish smoothly at
the cutoff, so energies built from them give continuous forces.

Example:
    >>> r = jnp.array([0.5, 1.0, 4.9])
    >>> bessel_basis(r, 8, 5.0).shape, polynomial_envelope(r, 5.0).shape
    ((3, 8), (3,))
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from molmat.data.batching import GraphBatch, pair_vectors


def bessel_basis(r: Float[Array, ...], n: int, cutoff: float) -> Float[Array, "... n"]:
    """``sqrt(2/c) sin(k pi r / c) / r`` for k = 1..n (DimeNet, NequIP).

    ``r`` must be positive (mask padded edges before calling).
    """
    k = jnp.arange(1, n + 1, dtype=r.dtype)
    r = r[..., None]
    return jnp.sqrt(2.0 / cutoff) * jnp.sin(k * jnp.pi * r / cutoff) / r


def polynomial_envelope(
    r: Float[Array, ...], cutoff: float, p: int = 6
) -> Float[Array, ...]:
    """Smooth polynomial cutoff of DimeNet/NequIP: 1 at r = 0, 0 beyond ``cutoff``.

    Its first ``p - 1`` derivatives vanish at the cutoff.
    """
    x = r / cutoff
    env = (
        1.0
        - (p + 1.0) * (p + 2.0) / 2.0 * x**p
        + p * (p + 2.0) * x ** (p + 1)
        - p * (p + 1.0) / 2.0 * x ** (p + 2)
    )
    return jnp.where(x < 1.0, env, 0.0)


def gaussian_basis(
    r: Float[Array, ...], n: int, cutoff: float, start: float = 0.0
) -> Float[Array, "... n"]:
    """Gaussians on ``n`` evenly spaced centres in [start, cutoff] (SchNet).

    The width equals the spacing of the centres.
    """
    centres = jnp.linspace(start, cutoff, n, dtype=r.dtype)
    width = (cutoff - start) / max(n - 1, 1)
    return jnp.exp(-0.5 * ((r[..., None] - centres) / width) ** 2)


def cosine_cutoff(r: Float[Array, ...], cutoff: float) -> Float[Array, ...]:
    """``0.5 (cos(pi r / c) + 1)`` inside the cutoff, 0 beyond (SchNet, PaiNN)."""
    return jnp.where(r < cutoff, 0.5 * (jnp.cos(jnp.pi * r / cutoff) + 1.0), 0.0)


def pair_geometry(
    batch: GraphBatch, cutoff: float
) -> tuple[Float[Array, "P 3"], Float[Array, " P"]]:
    """Radius-graph pair vectors [P, 3] and lengths [P] (Å), safe to differentiate.

    Padded pairs get a vector of length ``2 * cutoff`` (outside every
    envelope), so no NaN reaches gradients through zero-length vectors.
    """
    vectors = pair_vectors(batch)
    far = jnp.zeros_like(vectors).at[:, 0].set(2.0 * cutoff)
    vectors = jnp.where(batch.pair_mask[:, None], vectors, far)
    return vectors, jnp.sqrt(jnp.sum(vectors**2, axis=-1))
