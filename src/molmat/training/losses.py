"""Masked losses over [G, T] outputs; padded graphs and missing labels count zero."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float


def masked_mse(
    pred: Float[Array, "G T"], y: Float[Array, "G T"], mask: Bool[Array, "G T"]
) -> Float[Array, ""]:
    """Mean squared error over labelled entries."""
    sq = jnp.where(mask, (pred - y) ** 2, 0.0)
    return sq.sum() / jnp.maximum(mask.sum(), 1)


def masked_l1(
    pred: Float[Array, "G T"], y: Float[Array, "G T"], mask: Bool[Array, "G T"]
) -> Float[Array, ""]:
    """Mean absolute error over labelled entries."""
    return jnp.where(mask, jnp.abs(pred - y), 0.0).sum() / jnp.maximum(mask.sum(), 1)


REGRESSION_LOSSES = {"mse": masked_mse, "l1": masked_l1}


def masked_bce(
    logits: Float[Array, "G T"],
    y: Float[Array, "G T"],
    mask: Bool[Array, "G T"],
    pos_weight: Float[Array, " T"] | None = None,
) -> Float[Array, ""]:
    """Binary cross-entropy on logits; ``pos_weight`` scales positive terms per task."""
    weight = 1.0 if pos_weight is None else jnp.where(y > 0.5, pos_weight, 1.0)
    loss = weight * (jax.nn.softplus(-logits) * y + jax.nn.softplus(logits) * (1.0 - y))
    return jnp.where(mask, loss, 0.0).sum() / jnp.maximum(mask.sum(), 1)


def token_nll(
    logits: Float[Array, "B L V"], targets: Array, weight: Float[Array, " B"]
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """Summed next-token negative log-likelihood (nats) over real tokens
    (target ≠ padding id 0, row weight > 0), and their count."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    mask = (targets != 0) & (weight[:, None] > 0)
    return -jnp.where(mask, picked, 0.0).sum(), mask.sum()
