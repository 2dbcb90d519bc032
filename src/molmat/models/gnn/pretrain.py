"""Attribute masking: self-supervised pretraining of graph encoders (Hu et al.,
"Strategies for pre-training graph neural networks", ICLR 2020).

Each step picks ``rate`` of the real atoms of a batch and blanks their whole
feature row (element, degree, charge, hydrogens... all zero), so nothing of a
masked atom reaches the encoder through its own features; the encoder's state
of each masked atom then predicts its element from the neighbourhood. The
encoder initialises a property model (``PropertyModel(init=...)``).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from molmat.data.batching import Batcher, BatchingStrategy, GraphBatch
from molmat.data.graphs import GraphSet
from molmat.models.gnn.network import batching_strategy, build_encoder
from molmat.nn.core import Dense


def mask_atoms(
    key: PRNGKeyArray, g: GraphBatch, rate: float = 0.15
) -> tuple[GraphBatch, Bool[Array, " N"]]:
    """The batch with the feature rows of the picked real atoms zeroed, and
    the picked atoms [N] (at least one per batch with atoms)."""
    draw = jax.random.uniform(key, g.node_mask.shape)
    picked = g.node_mask & (draw < rate)
    first = jnp.argmin(jnp.where(g.node_mask, draw, jnp.inf))  # never none
    picked = picked.at[first].set(g.node_mask[first])
    atom_x = jnp.where(picked[:, None], 0.0, g.atom_x)
    return g._replace(atom_x=atom_x), picked


class MaskedAtomNet(eqx.Module):
    """A graph encoder and a linear layer from atom states to element logits."""

    encoder: eqx.Module
    out: Dense
    n_classes: int = eqx.field(static=True)
    rate: float = eqx.field(static=True)
    batching: BatchingStrategy = eqx.field(static=True)

    def __init__(
        self, arch: dict, dims: dict, rate: float = 0.15, *, key: PRNGKeyArray
    ):
        k_enc, k_out = jax.random.split(key)
        self.encoder = build_encoder(arch, dims, key=k_enc)
        self.n_classes = dims["atom_onehot"]
        self.out = Dense(arch["hidden"], self.n_classes, key=k_out)
        self.rate = rate
        self.batching = batching_strategy(arch)

    def batcher(self, graphs: GraphSet, batch_size: int) -> Batcher:
        """How to batch ``graphs`` for this encoder (as its property network)."""
        return self.batching.batcher(graphs, batch_size)

    def __call__(
        self, g: GraphBatch, *, key=None, inference: bool = True
    ) -> Float[Array, "N C"]:
        """Element logits of every atom."""
        return self.out(self.encoder(g, key=key, inference=inference))


def masked_atom_sums(
    model: MaskedAtomNet, g: GraphBatch, key: PRNGKeyArray, inference: bool
) -> tuple[Array, Array, Array]:
    """Summed cross-entropy (nats) of the masked atoms' elements, the number
    of masked atoms and how many of them are predicted right."""
    k_mask, k_drop = jax.random.split(key)
    masked, picked = mask_atoms(k_mask, g, model.rate)
    logits = model(masked, key=k_drop, inference=inference)
    element = jnp.argmax(g.atom_x[:, : model.n_classes], axis=-1)
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, element[:, None], axis=-1)[:, 0]
    right = jnp.argmax(logits, axis=-1) == element
    return (
        jnp.where(picked, nll, 0.0).sum(),
        picked.sum(),
        (picked & right).sum(),
    )


def masked_atom_loss(model, g: GraphBatch, key) -> tuple[Array, Array]:
    """Mean cross-entropy of the masked atoms; term: their accuracy."""
    total, count, right = masked_atom_sums(model, g, key, inference=False)
    n = jnp.maximum(count, 1)
    return total / n, jnp.stack([right / n])
