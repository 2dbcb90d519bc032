"""Normalisation of atom (or bond) states in a padded batch.

``layer`` normalises each row on its own, so it never depends on the batch.
``batch`` uses masked statistics over the real rows of the batch while
training. A molecule must get the same prediction alone or in any batch, so
at inference batch norm uses fixed population statistics: after training,
:func:`collect_batch_stats` gathers the batch statistics of every batch-norm
layer over the training set with the final weights ("precise BN") and
:meth:`BatchNorm.with_stats` stores them. Until then (e.g. for validation
scores during training) inference falls back to the statistics of the batch.

Example:
    >>> norm = make_norm("layer", 8)
    >>> norm(jnp.ones((5, 8)), jnp.ones(5, bool)).shape
    (5, 8)
"""

from __future__ import annotations

import contextlib

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

NORMS = ("none", "batch", "layer")
_EPS = 1e-5
_collected: list | None = None


class Identity(eqx.Module):
    """No normalisation."""

    def __call__(self, x: Float[Array, "n d"], mask, *, inference: bool = False):
        return x


class LayerNorm(eqx.Module):
    """Per-row normalisation with a learned scale and offset [d]."""

    scale: Float[Array, " d"]
    offset: Float[Array, " d"]

    def __init__(self, dim: int):
        self.scale = jnp.ones(dim)
        self.offset = jnp.zeros(dim)

    def __call__(
        self, x: Float[Array, "n d"], mask: Bool[Array, " n"], *, inference=False
    ) -> Float[Array, "n d"]:
        mean = x.mean(-1, keepdims=True)
        var = jnp.mean((x - mean) ** 2, -1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + _EPS) * self.scale + self.offset


class BatchNorm(eqx.Module):
    """Batch normalisation with statistics over the real (masked) rows only.

    Attributes:
        scale, offset: learned affine map [d].
        mean, var: population statistics [d] used at inference once
            ``calibrated`` is 1 (never trained by gradients).
        calibrated: scalar, 0 until :meth:`with_stats` stored statistics.
    """

    scale: Float[Array, " d"]
    offset: Float[Array, " d"]
    mean: Float[Array, " d"]
    var: Float[Array, " d"]
    calibrated: Float[Array, ""]

    def __init__(self, dim: int):
        self.scale = jnp.ones(dim)
        self.offset = jnp.zeros(dim)
        self.mean = jnp.zeros(dim)
        self.var = jnp.ones(dim)
        self.calibrated = jnp.zeros(())

    def __call__(
        self, x: Float[Array, "n d"], mask: Bool[Array, " n"], *, inference=False
    ) -> Float[Array, "n d"]:
        w = mask.astype(x.dtype)[:, None]
        count = jnp.maximum(w.sum(), 1.0)
        mean = (x * w).sum(0) / count
        mean_sq = (x * x * w).sum(0) / count
        if _collected is not None:
            _collected.append((mean, mean_sq, count))
        var = jnp.maximum(mean_sq - mean**2, 0.0)
        if inference:
            fixed = jax.lax.stop_gradient(self.calibrated) > 0
            mean = jnp.where(fixed, jax.lax.stop_gradient(self.mean), mean)
            var = jnp.where(fixed, jax.lax.stop_gradient(self.var), var)
        return (x - mean) * jax.lax.rsqrt(var + _EPS) * self.scale + self.offset

    def with_stats(self, mean: Array, var: Array) -> BatchNorm:
        """This layer with population statistics for inference."""
        return eqx.tree_at(
            lambda m: (m.mean, m.var, m.calibrated),
            self,
            (jnp.asarray(mean), jnp.asarray(var), jnp.ones(())),
        )


def make_norm(kind: str, dim: int) -> eqx.Module:
    """A normalisation layer: ``"none"``, ``"batch"`` or ``"layer"``."""
    if kind == "batch":
        return BatchNorm(dim)
    if kind == "layer":
        return LayerNorm(dim)
    if kind == "none":
        return Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of {list(NORMS)}")


@contextlib.contextmanager
def collect_batch_stats():
    """Collect ``(mean, mean_sq, count)`` of every :class:`BatchNorm` call.

    Use inside a traced function and return the list from it, e.g.
    ``with collect_batch_stats() as stats: net(batch)``; entries come in call
    order, which is the order of the layers in the model.
    """
    global _collected
    outer, _collected = _collected, []
    try:
        yield _collected
    finally:
        _collected = outer
