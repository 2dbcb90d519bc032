"""Message-passing layers and readouts over a padded :class:`GraphBatch`.

All functions take the batch's index arrays and masks, so padded nodes and
edges never reach a real graph's result.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.nn.core import Dense, OneHotDense, dropout


def segment_sum(data: Array, segment_ids: Array, num_segments: int) -> Array:
    return jax.ops.segment_sum(data, segment_ids, num_segments=num_segments)


def reverse_edges(x: Float[Array, "E d"]) -> Float[Array, "E d"]:
    """Row ``e ^ 1`` for every row ``e``: edges are stored as (u->v, v->u) pairs."""
    return x.reshape(-1, 2, x.shape[-1])[:, ::-1].reshape(x.shape)


class DMPNNEncoder(eqx.Module):
    """Directed message passing (D-MPNN, Yang et al. 2019, as in chemprop).

    Hidden states live on directed bonds. With ``h0 = relu(W_i [x_u, e_uv])``,
    each of ``depth - 1`` steps sets ``h_uv = relu(h0 + W_h m_uv)`` where
    ``m_uv = sum_{k->u} h_ku - h_vu`` (all messages into u except the one from
    v). Atoms then read ``relu(W_o [x_v, sum_{u->v} h_uv])``.

    Returns node embeddings [N, hidden]. ``atom_onehot`` leading atom-feature
    columns form a one-hot block (the element), applied as a lookup.
    """

    w_i_atom: OneHotDense
    w_i_bond: Dense
    w_h: Dense
    w_o_atom: OneHotDense
    w_o_message: Dense
    depth: int = eqx.field(static=True)
    rate: float = eqx.field(static=True)

    def __init__(
        self,
        atom_dim: int,
        bond_dim: int,
        hidden: int = 256,
        depth: int = 3,
        dropout: float = 0.0,
        atom_onehot: int = 0,
        *,
        key: PRNGKeyArray,
    ):
        k1, k2, k3, k4, k5 = jax.random.split(key, 5)
        # W_i [x_u, e_uv] and W_o [x_v, m_v] are split by input, so atom terms
        # are computed once per atom and the one-hot element block is a lookup.
        self.w_i_atom = OneHotDense(
            atom_dim, hidden, n_onehot=atom_onehot, use_bias=False, key=k1
        )
        self.w_i_bond = Dense(bond_dim, hidden, use_bias=False, key=k2)
        self.w_h = Dense(hidden, hidden, use_bias=False, key=k3)
        self.w_o_atom = OneHotDense(atom_dim, hidden, n_onehot=atom_onehot, key=k4)
        self.w_o_message = Dense(hidden, hidden, use_bias=False, key=k5)
        self.depth = depth
        self.rate = dropout

    def __call__(
        self, g: GraphBatch, *, key: PRNGKeyArray | None = None, inference: bool = False
    ) -> Float[Array, "N hidden"]:
        n = g.atom_x.shape[0]
        keys = (
            list(jax.random.split(key, self.depth))
            if key is not None
            else [None] * self.depth
        )
        edge_mask = g.edge_mask[:, None]
        h0 = self.w_i_atom(g.atom_x)[g.senders] + self.w_i_bond(g.bond_x)
        h = jax.nn.relu(h0) * edge_mask
        for step in range(1, self.depth):
            into_atom = segment_sum(h, g.receivers, n)
            message = into_atom[g.senders] - reverse_edges(h)
            h = jax.nn.relu(h0 + self.w_h(message)) * edge_mask
            h = dropout(h, self.rate, keys[step], inference)
        into_atom = segment_sum(h, g.receivers, n)
        out = jax.nn.relu(self.w_o_atom(g.atom_x) + self.w_o_message(into_atom))
        out = dropout(out, self.rate, keys[0], inference)
        return out * g.node_mask[:, None]


class GCNEncoder(eqx.Module):
    """Graph convolutions (Kipf & Welling 2017) with residual connections.

    Each layer: ``h <- h + relu(W (D^-1/2 (A + I) D^-1/2 h))``, where A is the
    bond adjacency. Returns node embeddings [N, hidden].
    """

    embed: OneHotDense
    layers: tuple[Dense, ...]
    rate: float = eqx.field(static=True)

    def __init__(
        self,
        atom_dim: int,
        bond_dim: int,
        hidden: int = 256,
        depth: int = 3,
        dropout: float = 0.0,
        atom_onehot: int = 0,
        *,
        key: PRNGKeyArray,
    ):
        del bond_dim  # plain GCN does not use bond features
        keys = jax.random.split(key, depth + 1)
        self.embed = OneHotDense(atom_dim, hidden, n_onehot=atom_onehot, key=keys[0])
        self.layers = tuple(Dense(hidden, hidden, key=k) for k in keys[1:])
        self.rate = dropout

    def __call__(
        self, g: GraphBatch, *, key: PRNGKeyArray | None = None, inference: bool = False
    ) -> Float[Array, "N hidden"]:
        n = g.atom_x.shape[0]
        edge_w = g.edge_mask.astype(jnp.float32)
        degree = segment_sum(edge_w, g.receivers, n) + 1.0
        inv_sqrt = jax.lax.rsqrt(degree)
        coef = (inv_sqrt[g.senders] * inv_sqrt[g.receivers] * edge_w)[:, None]
        keys = (
            jax.random.split(key, len(self.layers))
            if key is not None
            else [None] * len(self.layers)
        )
        node_mask = g.node_mask[:, None]
        h = jax.nn.relu(self.embed(g.atom_x)) * node_mask
        for layer, k in zip(self.layers, keys, strict=True):
            agg = segment_sum(coef * h[g.senders], g.receivers, n) + h / degree[:, None]
            h = h + dropout(jax.nn.relu(layer(agg)), self.rate, k, inference)
            h = h * node_mask
        return h


def readout(h: Float[Array, "N d"], g: GraphBatch, kind: str) -> Float[Array, "G d"]:
    """Pool node embeddings per graph: ``"sum"`` (extensive) or ``"mean"``."""
    n_graphs = g.graph_mask.shape[0]
    pooled = segment_sum(h * g.node_mask[:, None], g.node_graph, n_graphs)
    if kind == "sum":
        return pooled
    if kind == "mean":
        counts = segment_sum(g.node_mask.astype(h.dtype), g.node_graph, n_graphs)
        return pooled / jnp.maximum(counts, 1.0)[:, None]
    raise ValueError(f"unknown readout {kind!r}; use 'sum' or 'mean'")
