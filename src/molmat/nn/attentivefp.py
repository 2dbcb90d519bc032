"""AttentiveFP-style layers (Xiong et al. 2020): attention plus GRU updates.

Atom layer: for the bonds u -> v, messages ``m_uv = leaky_relu(W_m [h_u, e_uv])``
are weighted by a softmax over the bonds into v of
``leaky_relu(a . [h_v, m_uv])``; the context ``elu(sum_u alpha_uv W_c m_uv)``
updates the atom state with a GRU cell. The graph readout is
:class:`~molmat.nn.readout.AttentiveFPReadout`, the same scheme between a
molecule's "super atom" and its atoms over T timesteps.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from molmat.nn.core import Dense
from molmat.nn.graph import NodeLayer, segment_softmax, segment_sum


class AttentiveGRULayer(NodeLayer):
    """One attentive message-passing step with a GRU atom update: [N, d] -> [N, d]."""

    message: Dense
    score: Dense
    context: Dense
    gru: eqx.nn.GRUCell

    def __init__(self, hidden: int, bond_dim: int, *, key: PRNGKeyArray):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.message = Dense(hidden + bond_dim, hidden, key=k1)
        self.score = Dense(2 * hidden, 1, key=k2)
        self.context = Dense(hidden, hidden, key=k3)
        self.gru = eqx.nn.GRUCell(hidden, hidden, key=k4)

    def __call__(self, h, g, shared, *, key=None, inference=False):
        n = h.shape[0]
        m = jax.nn.leaky_relu(
            self.message(jnp.concatenate([h[g.senders], g.bond_x], axis=-1))
        )
        logits = jax.nn.leaky_relu(
            self.score(jnp.concatenate([h[g.receivers], m], axis=-1))
        )
        alpha = segment_softmax(logits, g.receivers, n, g.edge_mask)
        ctx = jax.nn.elu(segment_sum(alpha * self.context(m), g.receivers, n))
        return jax.vmap(self.gru)(ctx, h)
