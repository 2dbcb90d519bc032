"""Lennard-Jones pair potential: the reference :class:`Potential`.

It has no parameters to learn, an exact reference in ASE, and cheap energies,
so it is the potential that tests and examples of the MD engine and the ASE
calculator run on.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from molmat.data.batching import GraphBatch, pair_vectors
from molmat.models.potentials.base import Potential


class LennardJones(Potential):
    """``4 eps [(sigma/r)^12 - (sigma/r)^6]``, shifted to 0 at the cutoff.

    Identical to ASE's ``LennardJones(sigma, epsilon, rc=cutoff, smooth=False)``:
    every pair closer than ``cutoff`` contributes the shifted pair energy, half
    to each atom (energies jump by nothing at the cutoff, forces do).

    Args:
        sigma: zero-crossing distance in Å.
        epsilon: well depth in eV.
        cutoff: pair cutoff in Å (ASE's default is ``3 * sigma``).

    Example:
        >>> argon = LennardJones(sigma=3.405, epsilon=0.0103, cutoff=8.5)
    """

    sigma: float = eqx.field(static=True)
    epsilon: float = eqx.field(static=True)
    cutoff: float = eqx.field(static=True)

    def __init__(self, sigma: float = 1.0, epsilon: float = 1.0, cutoff=None):
        self.sigma = float(sigma)
        self.epsilon = float(epsilon)
        self.cutoff = float(3.0 * sigma if cutoff is None else cutoff)

    def atomic_energies(self, batch: GraphBatch) -> Float[Array, " N"]:
        r2 = jnp.sum(pair_vectors(batch) ** 2, axis=-1)  # [E]
        inside = batch.pair_mask & (r2 < self.cutoff**2)
        safe_r2 = jnp.where(inside, r2, self.cutoff**2)  # finite gradients on padding
        c6 = (self.sigma**2 / safe_r2) ** 3
        shift = (self.sigma / self.cutoff) ** 12 - (self.sigma / self.cutoff) ** 6
        pair = 4.0 * self.epsilon * (c6**2 - c6 - shift)
        pair = jnp.where(inside, pair, 0.0)
        n_atoms = batch.positions.shape[0]
        energies = 0.5 * jnp.zeros(n_atoms, pair.dtype).at[batch.pair_i].add(pair)
        return energies * batch.node_mask
