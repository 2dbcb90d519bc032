"""AttentiveFP-style layers (Xiong et al. 2020): attention plus GRU updates.

Atom layer: for the bonds u -> v, messages ``m_uv = leaky_relu(W_m [h_u, e_uv])``
are weighted by a softmax over the bonds into v of
``leaky_relu(a . [h_v, m_uv])``; the context ``elu(sum_u alpha_uv W_c m_uv)``
updates the atom state with a GRU cell. The graph readout is
:class:`~molmat.nn.readout.AttentiveFPReadout`, the same scheme between a
molecule's "super atom" and its atoms over T timesteps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from molmat.nn.core import Dense, GRUCell
from molmat.nn.graph import NodeLayer, segment_softmax, segment_sum


class AttentiveGRULayer(NodeLayer):
    """One attentive message-passing step with a GRU atom update: [N, d] -> [N, d]."""

    message_atom: Dense
    message_bond: Dense
    score: Dense
    context: Dense
    gru: GRUCell

    def __init__(self, hidden: int, bond_dim: int, *, key: PRNGKeyArray):
        k1, k2, k3, k4, k5 = jax.random.split(key, 5)
        # W_m [h_u, e_uv] split by input: the atom term is computed once per atom
        self.message_atom = Dense(hidden, hidden, key=k1)
        self.message_bond = Dense(bond_dim, hidden, use_bias=False, key=k5)
        self.score = Dense(2 * hidden, 1, key=k2)
        # linear, so applied once per atom after the attention-weighted sum
        self.context = Dense(hidden, hidden, use_bias=False, key=k3)
        self.gru = GRUCell(hidden, hidden, key=k4)

    def __call__(self, h, g, shared, *, key=None, inference=False):
        n = h.shape[0]
        m = jax.nn.leaky_relu(
            self.message_atom(h)[g.senders] + self.message_bond(g.bond_x)
        )
        logits = jax.nn.leaky_relu(
            self.score(jnp.concatenate([h[g.receivers], m], axis=-1))
        )
        alpha = segment_softmax(logits, g.receivers, n, g.edge_mask)
        ctx = jax.nn.elu(self.context(segment_sum(alpha * m, g.receivers, n)))
        return self.gru(ctx, h)
