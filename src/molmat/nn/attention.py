"""Graph transformer layer: attention over all atoms of each molecule.

Attention runs within padded per-molecule blocks [G, heads, A, A] (see
:mod:`molmat.nn.blocks`), so atoms attend to every atom of their own molecule
and never to other molecules or padding. Structure enters as additive biases
on the attention logits (Graphormer, Ying et al. 2021): a learned bias per
head for each shortest-path distance (0, 1, ..., ``max_distance`` = "that far
or further / not connected"), a learned bias per head from the bond
features of bonded pairs and, with ``positions=True``, a learned function of
the 3D distance between the atoms (Gaussian bases up to 10 Å).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.nn.blocks import (
    distances,
    edges_to_blocks,
    from_blocks,
    pair_mask,
    shortest_paths,
    to_blocks,
)
from molmat.nn.core import MLP, Dense
from molmat.nn.graph import NodeLayer
from molmat.nn.radial import gaussian_basis

GEOMETRY_RBF, GEOMETRY_RANGE = 16, 10.0  # bases of the 3D bias, up to 10 Å


class GraphTransformerLayer(NodeLayer):
    """Multi-head self-attention with structural biases, then a feed-forward MLP.

    ``a = W_o concat_k softmax_b(q_a . k_b / sqrt(dh) + bias_ab) v_b`` over the
    atoms b of the molecule, returns ``a + MLP(a)`` [N, d].
    """

    qkv: Dense
    out: Dense
    ffn: MLP
    bond_bias: Dense
    path_bias: Float[Array, "n_buckets heads"]
    geometry_bias: Dense | None
    heads: int = eqx.field(static=True)
    max_distance: int = eqx.field(static=True)

    def __init__(
        self,
        hidden: int,
        bond_dim: int,
        heads: int = 4,
        max_distance: int = 6,
        positions: bool = False,
        *,
        key: PRNGKeyArray,
    ):
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        k1, k2, k3, k4, k5 = jax.random.split(key, 5)
        self.qkv = Dense(hidden, 3 * hidden, key=k1)
        self.out = Dense(hidden, hidden, key=k2)
        self.ffn = MLP(hidden, 2 * hidden, hidden, n_hidden=1, key=k3)
        self.bond_bias = Dense(bond_dim, heads, use_bias=False, key=k4)
        self.path_bias = jnp.zeros((max_distance + 1, heads))
        self.geometry_bias = (
            Dense(GEOMETRY_RBF, heads, use_bias=False, key=k5) if positions else None
        )
        self.heads = heads
        self.max_distance = max_distance

    def prepare(self, g):
        """Shortest-path buckets [G, A, A] and, with positions, bases [G, A, A, k]."""
        rbf = None
        if self.geometry_bias is not None:
            rbf = gaussian_basis(distances(g), GEOMETRY_RBF, GEOMETRY_RANGE)
        return shortest_paths(g, self.max_distance), rbf

    def __call__(self, h, g, shared, *, key=None, inference=False):
        n_graphs, n_slots = g.slot_mask.shape
        qkv = to_blocks(self.qkv(h), g).reshape(n_graphs, n_slots, 3, self.heads, -1)
        q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # each [G, heads, A, dh]
        logits = q @ jnp.swapaxes(k, -1, -2) / jnp.sqrt(q.shape[-1])
        paths, rbf = shared
        bias = self.path_bias[paths] + edges_to_blocks(self.bond_bias(g.bond_x), g)
        if self.geometry_bias is not None:
            bias = bias + self.geometry_bias(rbf)
        logits = logits + jnp.moveaxis(bias, -1, 1)
        mask = pair_mask(g)[:, None]
        logits = jnp.where(mask, logits, -jnp.inf)
        top = jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
        weights = jnp.where(mask, jnp.exp(logits - jnp.where(mask, top, 0.0)), 0.0)
        total = weights.sum(-1, keepdims=True)
        weights = weights / jnp.where(total > 0, total, 1.0)
        attended = jnp.moveaxis(weights @ v, 1, 2).reshape(n_graphs, n_slots, -1)
        a = self.out(from_blocks(attended, g))
        return a + self.ffn(a, inference=True)
