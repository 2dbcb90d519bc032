"""Readouts: pool atom states [N, d] into one vector per molecule [G, d_out].

Which readout when:

* **sum** grows with molecule size, so it suits *extensive* targets, which
  scale with the number of atoms: energies, heat capacity, molar volume or
  polarisability, counts.
* **mean**, **attention** (softmax-gated weighted mean) and **set2set** do
  not grow with size, which suits *intensive* targets: solubility (log S),
  logP, HOMO-LUMO gap, melting point, toxicity and other class labels.
* **max** picks the strongest atom feature per channel, for properties set
  by one group (a toxicophore, the most acidic site).
* **attentivefp** (AttentiveFP's GRU "super atom" readout) and **set2set**
  learn what to attend to over several steps; they cost a little more.

Every readout ignores padded atoms, so a molecule's vector does not depend on
its batch.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.nn.core import Dense, GRUCell
from molmat.nn.graph import segment_softmax, segment_sum

READOUTS = ("sum", "mean", "max", "attention", "set2set", "attentivefp")


def pool(h: Float[Array, "N d"], g: GraphBatch, kind: str) -> Float[Array, "G d"]:
    """``"sum"``, ``"mean"`` or ``"max"`` of the real atoms of each molecule."""
    n_graphs = g.graph_mask.shape[0]
    mask = g.node_mask[:, None]
    if kind == "max":
        top = jax.ops.segment_max(
            jnp.where(mask, h, -jnp.inf), g.node_graph, num_segments=n_graphs
        )
        return jnp.where(jnp.isfinite(top), top, 0.0)
    pooled = segment_sum(h * mask, g.node_graph, n_graphs)
    if kind == "sum":
        return pooled
    if kind == "mean":
        counts = segment_sum(g.node_mask.astype(h.dtype), g.node_graph, n_graphs)
        return pooled / jnp.maximum(counts, 1.0)[:, None]
    raise ValueError(f"unknown pooling {kind!r}; use 'sum', 'mean' or 'max'")


class Pool(eqx.Module):
    """Parameter-free readout: sum, mean or max."""

    kind: str = eqx.field(static=True)

    def __call__(self, h, g: GraphBatch) -> Float[Array, "G d"]:
        return pool(h, g, self.kind)


def _atom_softmax(logits: Float[Array, "N 1"], g: GraphBatch) -> Float[Array, "N 1"]:
    return segment_softmax(logits, g.node_graph, g.graph_mask.shape[0], g.node_mask)


class AttentionReadout(eqx.Module):
    """Gated attention pooling (Li et al. 2016): ``sum_a softmax_a(gate(h_a)) W h_a``.

    The weights of a molecule's atoms sum to 1: a learned weighted mean.
    """

    gate: Dense
    value: Dense

    def __init__(self, dim: int, *, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        self.gate = Dense(dim, 1, key=k1)
        self.value = Dense(dim, dim, key=k2)

    def __call__(self, h, g: GraphBatch) -> Float[Array, "G d"]:
        alpha = _atom_softmax(self.gate(h), g)
        return segment_sum(alpha * self.value(h), g.node_graph, g.graph_mask.shape[0])


class Set2Set(eqx.Module):
    """Set2Set (Vinyals et al. 2016): ``steps`` rounds of LSTM-driven attention.

    Returns ``[q, r]`` [G, 2d]: the LSTM query and the attended atom sum.
    """

    lstm: eqx.nn.LSTMCell
    steps: int = eqx.field(static=True)

    def __init__(self, dim: int, steps: int = 3, *, key: PRNGKeyArray):
        self.lstm = eqx.nn.LSTMCell(2 * dim, dim, key=key)
        self.steps = steps

    def __call__(self, h, g: GraphBatch) -> Float[Array, "G 2d"]:
        n_graphs, dim = g.graph_mask.shape[0], h.shape[1]
        state = (jnp.zeros((n_graphs, dim)), jnp.zeros((n_graphs, dim)))
        q_star = jnp.zeros((n_graphs, 2 * dim))
        for _ in range(self.steps):
            state = jax.vmap(self.lstm)(q_star, state)
            q = state[0]
            logits = jnp.sum(h * q[g.node_graph], axis=-1, keepdims=True)
            alpha = _atom_softmax(logits, g)
            r = segment_sum(alpha * h, g.node_graph, n_graphs)
            q_star = jnp.concatenate([q, r], axis=-1)
        return q_star


class AttentiveFPReadout(eqx.Module):
    """AttentiveFP graph readout: a molecule "super atom" updated by a GRU.

    Starting from the atom sum, each of ``steps`` rounds attends over the
    molecule's atoms with ``leaky_relu(a . [s, h_a])`` and updates the super
    atom with ``GRU(elu(sum_a alpha_a W h_a), s)``.
    """

    score: Dense
    value: Dense
    gru: GRUCell
    steps: int = eqx.field(static=True)

    def __init__(self, dim: int, steps: int = 2, *, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.score = Dense(2 * dim, 1, key=k1)
        self.value = Dense(dim, dim, key=k2)
        self.gru = GRUCell(dim, dim, key=k3)
        self.steps = steps

    def __call__(self, h, g: GraphBatch) -> Float[Array, "G d"]:
        n_graphs = g.graph_mask.shape[0]
        s = pool(h, g, "sum")
        values = self.value(h)
        for _ in range(self.steps):
            logits = jax.nn.leaky_relu(
                self.score(jnp.concatenate([s[g.node_graph], h], axis=-1))
            )
            alpha = _atom_softmax(logits, g)
            ctx = jax.nn.elu(segment_sum(alpha * values, g.node_graph, n_graphs))
            s = self.gru(ctx, s)
        return s


def make_readout(kind: str, dim: int, *, key: PRNGKeyArray) -> eqx.Module:
    """The readout ``kind`` (see :data:`READOUTS`) for atom states of width ``dim``."""
    if kind in ("sum", "mean", "max"):
        return Pool(kind)
    if kind == "attention":
        return AttentionReadout(dim, key=key)
    if kind == "set2set":
        return Set2Set(dim, key=key)
    if kind == "attentivefp":
        return AttentiveFPReadout(dim, key=key)
    raise ValueError(f"unknown readout {kind!r}; choose one of {list(READOUTS)}")


def readout_dim(kind: str, dim: int) -> int:
    """Width of the molecule vector that readout ``kind`` returns."""
    return 2 * dim if kind == "set2set" else dim
