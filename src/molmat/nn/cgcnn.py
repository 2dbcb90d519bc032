"""Crystal graph convolution (Xie & Grossman 2018, CGCNN).

Each radius-graph pair ``i -> j`` concatenates the two atoms' states and a
Gaussian expansion of their distance, ``z_ij = [h_i, h_j, e(r_ij)]``; a
sigmoid gate filters a softplus core, ``m_ij = sigmoid(z W_f) * softplus(z W_s)``,
and each atom adds the weighted sum of its pairs' messages through a layer
norm: ``h_i <- softplus(h_i + norm(sum_j w_ij m_ij))``. ``w_ij`` is a smooth
cutoff envelope, so atoms entering or leaving the cutoff change the result
continuously. Only distances enter: the update is invariant to rotations,
translations and atom renumbering, and an atom's neighbourhood (hence its
state) is the same in a supercell.
"""

from __future__ import annotations

import equinox as eqx
import jax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from molmat.nn.core import Dense
from molmat.nn.graph import segment_sum
from molmat.nn.norm import LayerNorm


class CGCNNConv(eqx.Module):
    """One gated crystal graph convolution on [N, F] atom states.

    Args:
        hidden: width F of the atom states.
        n_basis: Gaussian functions of the distance per pair.
        key: initialisation key.
    """

    gate: Dense
    norm: LayerNorm

    def __init__(self, hidden: int, n_basis: int, *, key: PRNGKeyArray):
        self.gate = Dense(2 * hidden + n_basis, 2 * hidden, key=key)
        self.norm = LayerNorm(hidden)

    def __call__(
        self,
        h: Float[Array, "N F"],
        basis: Float[Array, "P B"],
        weight: Float[Array, " P"],
        pair_i: Int[Array, " P"],
        pair_j: Int[Array, " P"],
        node_mask,
    ) -> Float[Array, "N F"]:
        """Updated states [N, F]; ``weight`` is 0 on padded pairs."""
        z = jax.numpy.concatenate([h[pair_i], h[pair_j], basis], axis=-1)
        filt, core = jax.numpy.split(self.gate(z), 2, axis=-1)
        messages = jax.nn.sigmoid(filt) * jax.nn.softplus(core) * weight[:, None]
        summed = segment_sum(messages, pair_i, h.shape[0])
        return jax.nn.softplus(h + self.norm(summed, node_mask))
