"""Similarity kernels for molecular fingerprints, vectorised with JAX.

- Tanimoto: ``k(a, b) = a·b / (a·a + b·b - a·b)``; on 0/1 fingerprints this is
  |a ∧ b| / |a ∨ b|. Two all-zero vectors count as identical (k = 1).
- MinMax (Tanimoto for counts): ``Σ min(a, b) / Σ max(a, b)`` for non-negative
  integer counts, computed exactly as ``Σ_k [a ≥ k]·[b ≥ k]`` over count levels
  k = 1..max count, so it is a few matrix products, never a loop over pairs.

Both are positive semi-definite on their domains (binary / count vectors).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

KERNELS = ("tanimoto", "minmax")


# The products and the elementwise finish are compiled separately: fused into
# one program, the division keeps XLA off its fast matrix-multiply path (~3x slower).
_products = jax.jit(lambda a, b: a @ b.T)


@jax.jit
def _ratio(shared: jax.Array, size_a: jax.Array, size_b: jax.Array) -> jax.Array:
    """shared / (size_a + size_b - shared), and 1 where both are empty."""
    union = size_a[:, None] + size_b[None, :] - shared
    return jnp.where(union > 0, shared / jnp.where(union > 0, union, 1.0), 1.0)


def _tanimoto(a: np.ndarray, b: np.ndarray) -> jax.Array:
    return _ratio(_products(a, b), np.sum(a * a, 1), np.sum(b * b, 1))


def _minmax(a: np.ndarray, b: np.ndarray) -> jax.Array:
    levels = int(max(a.max(initial=0), b.max(initial=0)))
    shared = sum(
        _products((a >= k).astype(np.float32), (b >= k).astype(np.float32))
        for k in range(1, levels + 1)
    )
    if levels == 0:
        shared = np.zeros((len(a), len(b)), np.float32)
    return _ratio(shared, np.sum(a, 1), np.sum(b, 1))


def kernel_matrix(
    a: np.ndarray, b: np.ndarray | None = None, kind: str = "tanimoto"
) -> np.ndarray:
    """Kernel matrix [n_a, n_b] between the rows of ``a`` and ``b``.

    Integer inputs (bits, counts) are computed exactly in float32 with JAX;
    real-valued inputs (Tanimoto only) in float64.

    Args:
        a: [n_a, d] fingerprints (0/1 for Tanimoto on bits; counts for MinMax).
        b: [n_b, d]; ``a`` itself when omitted.
        kind: ``"tanimoto"`` or ``"minmax"``.

    Raises:
        ValueError: unknown kind, feature counts differ, or MinMax given values
            that are not non-negative integers.
    """
    b = a if b is None else b
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"kernel inputs must be [n, d] with the same d: {a.shape}, {b.shape}"
        )
    integral = all(np.array_equal(x, np.round(x)) for x in (a, b))
    if kind == "minmax" and not (
        integral and min(a.min(initial=0), b.min(initial=0)) >= 0
    ):
        raise ValueError("the MinMax kernel needs non-negative integer counts")
    if kind not in KERNELS:
        raise ValueError(f"unknown kernel {kind!r}; choose one of {KERNELS}")
    if not integral:  # real-valued Tanimoto, in float64 with NumPy
        a, b = a.astype(np.float64), b.astype(np.float64)
        return np.asarray(_ratio_np(a @ b.T, np.sum(a * a, 1), np.sum(b * b, 1)))
    # Counts and bits: float32 products of integers are exact whatever the batching.
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    return np.asarray(_tanimoto(a32, b32) if kind == "tanimoto" else _minmax(a32, b32))


def _ratio_np(shared, size_a, size_b) -> np.ndarray:
    union = size_a[:, None] + size_b[None, :] - shared
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, shared / np.where(union > 0, union, 1.0), 1.0)
