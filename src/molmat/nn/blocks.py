"""Dense per-molecule blocks [G, A, ...] of a padded :class:`GraphBatch`.

Attention over all atom pairs of a molecule is computed in blocks of A atom
slots per molecule (see the dense layout in :mod:`molmat.data.batching`),
costing O(G A^2) instead of O(N^2) for the whole batch. Pairs of different
molecules never meet.

Example:
    >>> blocks = to_blocks(h, g)  # [N, d] -> [G, A, d]  # doctest: +SKIP
    >>> from_blocks(blocks, g)    # back to [N, d]       # doctest: +SKIP
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from molmat.data.batching import GraphBatch


def to_blocks(x: Float[Array, "N ..."], g: GraphBatch) -> Float[Array, "G A ..."]:
    """Scatter node rows into their molecule's slots; empty slots hold 0."""
    n_graphs, n_slots = g.slot_mask.shape
    mask = g.node_mask.reshape(g.node_mask.shape + (1,) * (x.ndim - 1))
    out = jnp.zeros((n_graphs, n_slots) + x.shape[1:], x.dtype)
    return out.at[g.node_graph, g.node_slot].add(jnp.where(mask, x, 0))


def from_blocks(
    blocks: Float[Array, "G A ..."], g: GraphBatch
) -> Float[Array, "N ..."]:
    """Gather node rows back from their slots (padded nodes read slot 0)."""
    return blocks[g.node_graph, g.node_slot]


def pair_mask(g: GraphBatch) -> Bool[Array, "G A A"]:
    """True for pairs of real atoms of the same molecule (self-pairs included)."""
    return g.slot_mask[:, :, None] & g.slot_mask[:, None, :]


def edges_to_blocks(
    values: Float[Array, "E ..."], g: GraphBatch
) -> Float[Array, "G A A ..."]:
    """Scatter per-edge rows to ``[graph, sender slot, receiver slot]``."""
    n_graphs, n_slots = g.slot_mask.shape
    mask = g.edge_mask.reshape(g.edge_mask.shape + (1,) * (values.ndim - 1))
    out = jnp.zeros((n_graphs, n_slots, n_slots) + values.shape[1:], values.dtype)
    index = (g.node_graph[g.senders], g.node_slot[g.senders], g.node_slot[g.receivers])
    return out.at[index].add(jnp.where(mask, values, 0))


def shortest_paths(g: GraphBatch, max_distance: int) -> Int[Array, "G A A"]:
    """Bond-count distance between atoms of a molecule, capped at ``max_distance``.

    Pairs further apart, in different fragments, or involving empty slots get
    ``max_distance``. Computed by ``max_distance - 1`` boolean matrix products
    of the per-molecule adjacency.
    """
    adjacency = edges_to_blocks(jnp.ones(g.senders.shape, jnp.float32), g) > 0
    adjacency = adjacency.astype(jnp.float32)
    n_slots = g.slot_mask.shape[1]
    reached = jnp.broadcast_to(jnp.eye(n_slots, dtype=bool), adjacency.shape)
    dist = jnp.where(reached, 0, max_distance)
    for k in range(1, max_distance):
        reached = reached | (
            jnp.einsum("gab,gbc->gac", reached.astype(jnp.float32), adjacency) > 0
        )
        dist = jnp.where(reached & (dist == max_distance), k, dist)
    return jnp.where(pair_mask(g), dist, max_distance)


def distances(g: GraphBatch) -> Float[Array, "G A A"]:
    """Interatomic distances in Å from ``g.positions``; 0 on the diagonal.

    The square root is guarded, so gradients stay finite at zero distance.
    """
    xyz = to_blocks(g.positions, g)
    diff = xyz[:, :, None, :] - xyz[:, None, :, :]
    d2 = jnp.sum(diff * diff, axis=-1)
    positive = d2 > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)
