"""SchNet interaction block (Schütt et al. 2018) on 3D interatomic distances.

Continuous-filter convolution over the atom pairs of each molecule (the
batch's ``pair_i``/``pair_j``) closer than ``cutoff``:
``x'_a = sum_b x_b * W(r_ab) * fc(r_ab)``, where the filter ``W`` is an MLP of
Gaussian radial basis functions of the distance and ``fc`` the smooth cosine
cutoff. Only distances enter, so the output is invariant to rotations,
translations and atom renumbering.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from molmat.data.batching import GraphBatch
from molmat.nn.core import Dense
from molmat.nn.graph import NodeLayer, segment_sum
from molmat.nn.radial import cosine_cutoff, gaussian_basis


def shifted_softplus(x: Array) -> Array:
    """``softplus(x) - log 2``: smooth, 0 at 0 (SchNet's activation)."""
    return jax.nn.softplus(x) - jnp.log(2.0)


class SchNetInteraction(NodeLayer):
    """One interaction: atom-wise -> cfconv -> atom-wise -> ssp -> atom-wise.

    Returns the update ``v`` [N, d] (the stack adds it to ``h``).
    """

    pairwise: ClassVar[bool] = True

    atom_in: Dense
    filter_in: Dense
    filter_out: Dense
    atom_out: Dense
    update: Dense
    cutoff: float = eqx.field(static=True)
    n_rbf: int = eqx.field(static=True)

    def __init__(
        self,
        hidden: int,
        bond_dim: int,
        cutoff: float = 5.0,
        n_rbf: int = 32,
        *,
        key,
    ):
        del bond_dim  # SchNet sees geometry, not bonds
        k1, k2, k3, k4, k5 = jax.random.split(key, 5)
        self.atom_in = Dense(hidden, hidden, use_bias=False, key=k1)
        self.filter_in = Dense(n_rbf, hidden, key=k2)
        self.filter_out = Dense(hidden, hidden, key=k3)
        self.atom_out = Dense(hidden, hidden, key=k4)
        self.update = Dense(hidden, hidden, key=k5)
        self.cutoff = cutoff
        self.n_rbf = n_rbf

    @property
    def pair_cutoff(self) -> float:
        """Pairs at or beyond the cutoff get weight 0, so batches leave them out."""
        return self.cutoff

    def prepare(self, g) -> tuple[Float[Array, "P n_rbf"], Float[Array, " P"]]:
        """Radial bases of the pair distances and pair weights ``fc(r)``.

        Padded pairs get weight 0.
        """
        r = pair_distances(g)
        weight = cosine_cutoff(r, self.cutoff) * g.pair_mask
        return gaussian_basis(r, self.n_rbf, self.cutoff), weight

    def __call__(self, h, g, shared, *, key=None, inference=False):
        rbf, weight = shared
        filters = self.filter_out(shifted_softplus(self.filter_in(rbf)))
        messages = filters * weight[:, None] * self.atom_in(h)[g.pair_j]
        conv = segment_sum(messages, g.pair_i, h.shape[0])
        return self.update(shifted_softplus(self.atom_out(conv)))


def pair_distances(g: GraphBatch) -> Float[Array, " P"]:
    """Distances in Å of the batch's atom pairs; 1 for padded pairs.

    Real pairs are distinct atoms; the guard keeps gradients finite anyway.
    """
    diff = g.positions[g.pair_i] - g.positions[g.pair_j]
    d2 = jnp.where(g.pair_mask, jnp.sum(diff * diff, axis=-1), 1.0)
    return jnp.sqrt(jnp.maximum(d2, 1e-12))
