"""SchNet interaction (Schütt et al. 2018) on interatomic distances.

One continuous-filter convolution, shared by the SchNet potential
(:mod:`molmat.models.potentials.schnet`, neighbour-list edges with periodic
images) and the SchNet property network (:class:`SchNetConv`, the radius graph
of each conformer): ``m_i = sum_j (W x_j) * filter(r_ij) * fc(r_ij) / norm``,
where the filter is an MLP of radial basis functions of the distance and
``fc`` a smooth cutoff envelope, then an atom-wise MLP of ``m``. Only
distances enter, so the result is invariant to rotations, translations and
atom renumbering.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.nn.core import Dense
from molmat.nn.graph import NodeLayer, segment_sum
from molmat.nn.radial import cosine_cutoff, gaussian_basis, pair_geometry


def shifted_softplus(x: Array) -> Array:
    """``softplus(x) - log 2``: smooth, 0 at 0 (SchNet's activation)."""
    return jax.nn.softplus(x) - jnp.log(2.0)


class SchNetInteraction(eqx.Module):
    """cfconv -> atom-wise -> activation -> atom-wise; returns the update [N, F].

    Args:
        channels: feature width F.
        n_basis: radial basis functions per distance.
        activation: ``shifted_softplus`` (SchNet) or e.g. ``jax.nn.silu``.
        key: initialisation key.
    """

    filter_in: Dense
    filter_out: Dense
    into: Dense
    out_hidden: Dense
    out: Dense
    activation: Callable = eqx.field(static=True)

    def __init__(
        self,
        channels: int,
        n_basis: int,
        activation: Callable = shifted_softplus,
        *,
        key: PRNGKeyArray,
    ):
        k1, k2, k3, k4, k5 = jax.random.split(key, 5)
        self.filter_in = Dense(n_basis, channels, key=k1)
        self.filter_out = Dense(channels, channels, key=k2)
        self.into = Dense(channels, channels, use_bias=False, key=k3)
        self.out_hidden = Dense(channels, channels, key=k4)
        self.out = Dense(channels, channels, key=k5)
        self.activation = activation

    def __call__(
        self,
        x: Float[Array, "N F"],
        radial: Float[Array, "E B"],
        envelope: Float[Array, " E"],
        senders: Int[Array, " E"],
        receivers: Int[Array, " E"],
        norm: float = 1.0,
    ) -> Float[Array, "N F"]:
        """Update of each atom from the edges ``senders -> receivers``.

        ``envelope`` is 0 on padded edges; ``norm`` divides the sum of
        messages (e.g. the mean number of neighbours).
        """
        act = self.activation
        w = self.filter_out(act(self.filter_in(radial))) * envelope[:, None]
        m = segment_sum(self.into(x)[senders] * w, receivers, x.shape[0])
        return self.out(act(self.out_hidden(m / norm)))


class SchNetConv(NodeLayer):
    """SchNet as a layer of the property networks, on each conformer's radius
    graph (the batch's ``pair_i``/``pair_j``, see
    :class:`~molmat.data.batching.BatchingStrategy`)."""

    interaction: SchNetInteraction
    cutoff: float = eqx.field(static=True)
    n_rbf: int = eqx.field(static=True)

    def __init__(
        self,
        hidden: int,
        bond_dim: int,
        cutoff: float = 5.0,
        n_rbf: int = 32,
        *,
        key: PRNGKeyArray,
    ):
        del bond_dim  # SchNet sees geometry, not bonds
        self.interaction = SchNetInteraction(hidden, n_rbf, key=key)
        self.cutoff = cutoff
        self.n_rbf = n_rbf

    def prepare(
        self, g: GraphBatch
    ) -> tuple[Float[Array, "P n_rbf"], Float[Array, " P"]]:
        """Radial bases of the pair distances and pair weights ``fc(r)``.

        Padded pairs get weight 0.
        """
        _, r = pair_geometry(g, self.cutoff)
        weight = cosine_cutoff(r, self.cutoff) * g.pair_mask
        return gaussian_basis(r, self.n_rbf, self.cutoff), weight

    def __call__(self, h, g, shared, *, key=None, inference=False):
        rbf, weight = shared
        return self.interaction(h, rbf, weight, g.pair_j, g.pair_i)
