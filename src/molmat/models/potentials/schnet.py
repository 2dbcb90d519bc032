"""SchNet: continuous-filter convolutions over interatomic distances.

Schütt et al. 2018. Atom embeddings are refined by interaction blocks whose
filters are MLPs of a Gaussian radial basis under a cosine cutoff; the
energy depends on distances only, so it is E(3)-invariant by construction.

Example:
    >>> scaling = EnergyScaling(species=(1, 6, 8))
    >>> model = SchNet(scaling, cutoff=4.0, channels=8, layers=2,
    ...                key=jax.random.key(0))
"""

from __future__ import annotations

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.models.potentials.base import Potential
from molmat.models.potentials.common import (
    EnergyScaling,
    SiLUMLP,
    species_embedding,
)
from molmat.nn.radial import cosine_cutoff, gaussian_basis, pair_geometry
from molmat.nn.schnet import SchNetInteraction


class SchNet(Potential):
    """SchNet potential; see the module docstring.

    Args:
        scaling: species, E0s and scales from the training data.
        cutoff: neighbour radius (Å).
        channels: feature width.
        layers: interaction blocks.
        n_basis: Gaussians in the radial basis.
        key: initialisation key.
    """

    embedding: Float[Array, "S F"]
    interactions: tuple[SchNetInteraction, ...]
    readout: SiLUMLP
    scaling: EnergyScaling = eqx.field(static=True)
    cutoff: float = eqx.field(static=True)
    n_basis: int = eqx.field(static=True)

    def __init__(
        self,
        scaling: EnergyScaling,
        cutoff: float = 5.0,
        channels: int = 64,
        layers: int = 3,
        n_basis: int = 50,
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, layers + 2)
        self.scaling, self.cutoff, self.n_basis = scaling, float(cutoff), n_basis
        self.embedding = species_embedding(scaling.n_species, channels, keys[0])
        self.interactions = tuple(
            SchNetInteraction(channels, n_basis, jax.nn.silu, key=k) for k in keys[1:-1]
        )
        self.readout = SiLUMLP((channels, channels // 2, 1), key=keys[-1])

    def atomic_energies(self, batch: GraphBatch) -> Float[Array, " N"]:
        species = self.scaling.species_index(batch.species)
        _, lengths = pair_geometry(batch, self.cutoff)
        radial = gaussian_basis(lengths, self.n_basis, self.cutoff)
        envelope = cosine_cutoff(lengths, self.cutoff) * batch.pair_mask
        x = self.embedding[species].astype(lengths.dtype)
        norm = self.scaling.avg_num_neighbors
        for block in self.interactions:
            x = x + block(x, radial, envelope, batch.pair_i, batch.pair_j, norm)
        out = self.readout(x)[:, 0]
        return self.scaling.atomic_energies(out, batch.node_mask)
