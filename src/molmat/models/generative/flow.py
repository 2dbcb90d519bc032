"""Normalizing flows: a standard normal pushed through a chain of bijections.

``log p(x | c) = log N(z; 0, I) + Σ log|det dz/dx|`` with ``z`` the data
``x`` [D] sent through :class:`~molmat.nn.flows.Domain` (constraints and
standardisation) and then the learned layers; sampling runs the chain
backwards. Three families (:data:`FLOW_MODELS`):

- ``realnvp``: affine couplings, alternating halves;
- ``maf``: masked affine autoregressive layers, reversed orders between
  layers;
- ``spline``: rational-quadratic spline couplings, alternating halves.

Example:
    >>> flow = build_flow("spline", 3, 0, domain, key=key)  # doctest: +SKIP
    >>> flow.log_prob(x, jnp.zeros((len(x), 0)))  # doctest: +SKIP
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.nn.flows import (
    AffineCoupling,
    Bijection,
    Domain,
    MaskedAffineAutoregressive,
    Permute,
    SplineCoupling,
    split_mask,
)

FLOW_MODELS = ("realnvp", "maf", "spline")


class Flow(eqx.Module):
    """A conditional density on R^D (or its constrained part).

    ``layers`` run data -> base; every method takes batches ``x`` [B, D] and
    conditions ``c`` [B, C] (C may be 0).
    """

    layers: tuple[Bijection, ...]
    dim: int = eqx.field(static=True)

    def to_base(self, x: Float[Array, "B D"], c: Float[Array, "B C"]):
        """``(z [B, D], log|det dz/dx| [B])``."""

        def one(x, c):
            total = jnp.zeros((), x.dtype)
            for layer in self.layers:
                x, log_det = layer.forward(x, c)
                total = total + log_det
            return x, total

        return jax.vmap(one)(x, c)

    def from_base(self, z: Float[Array, "B D"], c: Float[Array, "B C"]):
        """``(x [B, D], log|det dx/dz| [B])``."""

        def one(z, c):
            total = jnp.zeros((), z.dtype)
            for layer in reversed(self.layers):
                z, log_det = layer.inverse(z, c)
                total = total + log_det
            return z, total

        return jax.vmap(one)(z, c)

    def log_prob(self, x: Float[Array, "B D"], c: Float[Array, "B C"]):
        """Log density [B] of each row (nats, in the data's units)."""
        z, log_det = self.to_base(x, c)
        return log_normal(z) + log_det

    def sample(self, key: PRNGKeyArray, c: Float[Array, "B C"]):
        """One sample [B, D] per condition row."""
        z = jax.random.normal(key, (c.shape[0], self.dim))
        return self.from_base(z, c)[0]


def log_normal(z: Float[Array, "B D"]) -> Float[Array, " B"]:
    """Log density of the standard normal."""
    return -0.5 * jnp.sum(z**2, axis=-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


def build_flow(
    model: str,
    dim: int,
    cond_dim: int,
    domain: Domain,
    *,
    layers: int = 6,
    hidden: int = 64,
    depth: int = 2,
    bins: int = 8,
    bound: float = 4.0,
    key: PRNGKeyArray,
) -> Flow:
    """A flow of ``layers`` transforms of the ``model`` family after ``domain``.

    Args:
        model: one of :data:`FLOW_MODELS`.
        dim, cond_dim: data and condition widths.
        domain: constraints and standardisation of the data.
        hidden, depth: width and hidden layers of each conditioner.
        bins, bound: the spline's bins on [-bound, bound] (standardised units).
    """
    if model not in FLOW_MODELS:
        raise ValueError(f"unknown flow {model!r}; choose one of {FLOW_MODELS}")
    if dim < 1 or layers < 1:
        raise ValueError("a flow needs at least one variable and one layer")
    keys = jax.random.split(key, layers)
    chain: list[Bijection] = [domain]
    for i, k in enumerate(keys):
        if model == "maf":
            chain.append(
                MaskedAffineAutoregressive(dim, cond_dim, hidden, depth, key=k)
            )
            chain.append(Permute(tuple(range(dim - 1, -1, -1))))
            continue
        if dim == 1:
            raise ValueError(f"{model} couples two halves: give at least 2 variables")
        mask = split_mask(dim, i % 2)
        if model == "realnvp":
            chain.append(AffineCoupling(mask, cond_dim, hidden, depth, key=k))
        else:
            chain.append(
                SplineCoupling(mask, cond_dim, hidden, depth, bins, bound, key=k)
            )
    return Flow(tuple(chain), dim)
