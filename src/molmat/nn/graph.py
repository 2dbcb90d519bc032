"""Message-passing layers over a padded :class:`GraphBatch`.

All layers take the batch's index arrays and masks, so padded nodes and
edges never reach a real graph's result. Node layers (:class:`NodeLayer`)
map atom states [N, d] to new states [N, d]; :class:`DMPNNEncoder` keeps its
states on directed bonds and is a whole encoder.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.nn.core import MLP, Dense, OneHotDense, dropout
from molmat.nn.norm import Identity


def segment_sum(data: Array, segment_ids: Array, num_segments: int) -> Array:
    return jax.ops.segment_sum(data, segment_ids, num_segments=num_segments)


def segment_softmax(
    logits: Float[Array, "M ..."],
    segment_ids: Int[Array, " M"],
    num_segments: int,
    mask: Bool[Array, " M"],
) -> Float[Array, "M ..."]:
    """Softmax of ``logits`` within each segment, over rows where ``mask``.

    Masked rows get weight 0; a segment without rows gets no weights at all.
    """
    mask = mask.reshape(mask.shape + (1,) * (logits.ndim - 1))
    masked = jnp.where(mask, logits, -jnp.inf)
    top = jax.ops.segment_max(masked, segment_ids, num_segments=num_segments)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    ex = jnp.where(mask, jnp.exp(masked - top[segment_ids]), 0.0)
    total = segment_sum(ex, segment_ids, num_segments)
    return ex / jnp.where(total > 0, total, 1.0)[segment_ids]


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
    columns form a one-hot block (the element), applied as a lookup. ``norms``
    (one per step, see :mod:`molmat.nn.norm`) act on the bond states before
    the ReLU.
    """

    w_i_atom: OneHotDense
    w_i_bond: Dense
    w_h: Dense
    w_o_atom: OneHotDense
    w_o_message: Dense
    norms: tuple
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
        norms: tuple = (),
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
        self.norms = norms or tuple(Identity() for _ in range(depth))
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
        h = jax.nn.relu(self.norms[0](h0, g.edge_mask, inference=inference))
        h = h * edge_mask
        for step in range(1, self.depth):
            into_atom = segment_sum(h, g.receivers, n)
            message = into_atom[g.senders] - reverse_edges(h)
            pre = self.norms[step](
                h0 + self.w_h(message), g.edge_mask, inference=inference
            )
            h = jax.nn.relu(pre) * edge_mask
            h = dropout(h, self.rate, keys[step], inference)
        into_atom = segment_sum(h, g.receivers, n)
        out = jax.nn.relu(self.w_o_atom(g.atom_x) + self.w_o_message(into_atom))
        out = dropout(out, self.rate, keys[0], inference)
        return out * g.node_mask[:, None]


class NodeLayer(eqx.Module):
    """A message-passing layer on atom states: [N, d] -> [N, d].

    ``prepare(g)`` computes what all layers of a stack share (e.g. pair
    distances) once per batch; the result is passed to every call. How
    molecules are batched for a layer is the model family's choice
    (:class:`~molmat.data.batching.BatchingStrategy`), not the layer's.
    """

    def prepare(self, g: GraphBatch):
        return None

    def __call__(
        self,
        h: Float[Array, "N d"],
        g: GraphBatch,
        shared,
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
    ) -> Float[Array, "N d"]:
        raise NotImplementedError


class GCNConv(NodeLayer):
    """Graph convolution (Kipf & Welling 2017): ``W (D^-1/2 (A + I) D^-1/2 h)``.

    A is the bond adjacency; bond features are not used.
    """

    linear: Dense

    def __init__(self, hidden: int, bond_dim: int, *, key: PRNGKeyArray):
        del bond_dim
        self.linear = Dense(hidden, hidden, key=key)

    def __call__(self, h, g, shared, *, key=None, inference=False):
        n = h.shape[0]
        edge_w = g.edge_mask.astype(h.dtype)
        degree = segment_sum(edge_w, g.receivers, n) + 1.0
        inv_sqrt = jax.lax.rsqrt(degree)
        coef = (inv_sqrt[g.senders] * inv_sqrt[g.receivers] * edge_w)[:, None]
        agg = segment_sum(coef * h[g.senders], g.receivers, n) + h / degree[:, None]
        return self.linear(agg)


class GINEConv(NodeLayer):
    """GIN with bond features (GINE, Hu et al. 2020).

    ``MLP((1 + eps) h_v + sum_{u->v} relu(h_u + W_e e_uv))`` with a learned
    scalar ``eps`` and a two-layer MLP.
    """

    bond: Dense
    mlp: MLP
    eps: Float[Array, ""]

    def __init__(self, hidden: int, bond_dim: int, *, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        self.bond = Dense(bond_dim, hidden, key=k1)
        self.mlp = MLP(hidden, hidden, hidden, n_hidden=1, key=k2)
        self.eps = jnp.zeros(())

    def __call__(self, h, g, shared, *, key=None, inference=False):
        message = jax.nn.relu(h[g.senders] + self.bond(g.bond_x))
        agg = segment_sum(message * g.edge_mask[:, None], g.receivers, h.shape[0])
        return self.mlp((1.0 + self.eps) * h + agg, inference=True)


class GATConv(NodeLayer):
    """Multi-head graph attention (Velickovic et al. 2018) with bond features.

    Per head k, with ``z = W h`` split into heads of width d / heads:
    ``logit_uv = leaky_relu(a_src . z_u + a_dst . z_v + a_bond . W_e e_uv)``,
    normalised by a softmax over the edges into v plus a self-loop (whose
    bond term is 0); ``h'_v = concat_k sum_u alpha_uv z_u``.
    """

    linear: Dense
    bond: Dense
    attn_src: Float[Array, "heads dh"]
    attn_dst: Float[Array, "heads dh"]
    heads: int = eqx.field(static=True)

    def __init__(
        self, hidden: int, bond_dim: int, heads: int = 4, *, key: PRNGKeyArray
    ):
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        k1, k2, k3, k4 = jax.random.split(key, 4)
        dh = hidden // heads
        self.linear = Dense(hidden, hidden, use_bias=False, key=k1)
        self.bond = Dense(bond_dim, heads, use_bias=False, key=k2)
        scale = 1.0 / jnp.sqrt(dh)
        self.attn_src = jax.random.normal(k3, (heads, dh)) * scale
        self.attn_dst = jax.random.normal(k4, (heads, dh)) * scale
        self.heads = heads

    def __call__(self, h, g, shared, *, key=None, inference=False):
        n = h.shape[0]
        z = self.linear(h).reshape(n, self.heads, -1)
        src = jnp.einsum("nkd,kd->nk", z, self.attn_src)
        dst = jnp.einsum("nkd,kd->nk", z, self.attn_dst)
        nodes = jnp.arange(n, dtype=g.receivers.dtype)
        targets = jnp.concatenate([g.receivers, nodes])
        logits = jnp.concatenate(
            [src[g.senders] + dst[g.receivers] + self.bond(g.bond_x), src + dst]
        )
        mask = jnp.concatenate([g.edge_mask, g.node_mask])
        alpha = segment_softmax(jax.nn.leaky_relu(logits, 0.2), targets, n, mask)
        values = jnp.concatenate([z[g.senders], z])
        return segment_sum(alpha[..., None] * values, targets, n).reshape(n, -1)
