"""PaiNN: polarisable atom interaction neural network (Schütt et al. 2021).

Every atom carries scalars ``s`` [N, F] and vectors ``v`` [N, 3, F] (vectors
start at zero). A message block mixes neighbours' features through filters of
a sine radial basis under a cosine cutoff and the edge directions; an update
block couples scalars and vectors inside each atom through norms and inner
products, so energies are invariant and vectors rotate with the structure.

Example:
    >>> scaling = EnergyScaling(species=(1, 6, 8))
    >>> model = PaiNN(scaling, cutoff=4.0, channels=8, layers=2,
    ...               key=jax.random.key(0))
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.models.potentials.base import Potential
from molmat.models.potentials.common import (
    EnergyScaling,
    SiLUMLP,
    species_embedding,
)
from molmat.nn.core import Dense
from molmat.nn.radial import bessel_basis, cosine_cutoff, pair_geometry

EPS = 1e-8


def _safe_norm(v: Float[Array, "N 3 F"]) -> Float[Array, "N F"]:
    return jnp.sqrt(jnp.sum(v**2, axis=-2) + EPS)


class PaiNNMessage(eqx.Module):
    """Equivariant message block: updates (s, v) from neighbours."""

    phi: SiLUMLP
    filter: Dense

    def __init__(self, channels: int, n_basis: int, *, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        self.phi = SiLUMLP((channels, channels, 3 * channels), key=k1)
        self.filter = Dense(n_basis, 3 * channels, key=k2)

    def __call__(
        self,
        s: Float[Array, "N F"],
        v: Float[Array, "N 3 F"],
        radial: Float[Array, "E B"],
        envelope: Float[Array, " E"],
        unit: Float[Array, "E 3"],
        senders: Int[Array, " E"],
        receivers: Int[Array, " E"],
        norm: float,
    ) -> tuple[Float[Array, "N F"], Float[Array, "N 3 F"]]:
        n = s.shape[0]
        x = self.phi(s)[senders] * self.filter(radial) * envelope[:, None]
        ds, dvv, dvs = jnp.split(x, 3, axis=-1)
        dv = v[senders] * dvv[:, None, :] + unit[:, :, None] * dvs[:, None, :]
        ds = jax.ops.segment_sum(ds, receivers, n) / norm
        dv = jax.ops.segment_sum(dv, receivers, n) / norm
        return s + ds, v + dv


class PaiNNUpdate(eqx.Module):
    """Per-atom update block: couples scalars and vectors of each atom."""

    u: Dense
    w: Dense
    mlp: SiLUMLP

    def __init__(self, channels: int, *, key: PRNGKeyArray):
        k1, k2, k3 = jax.random.split(key, 3)
        self.u = Dense(channels, channels, use_bias=False, key=k1)
        self.w = Dense(channels, channels, use_bias=False, key=k2)
        self.mlp = SiLUMLP((2 * channels, channels, 3 * channels), key=k3)

    def __call__(
        self, s: Float[Array, "N F"], v: Float[Array, "N 3 F"]
    ) -> tuple[Float[Array, "N F"], Float[Array, "N 3 F"]]:
        uv, wv = self.u(v), self.w(v)
        a = self.mlp(jnp.concatenate([s, _safe_norm(wv)], axis=-1))
        avv, asv, ass = jnp.split(a, 3, axis=-1)
        ds = asv * jnp.sum(uv * wv, axis=-2) + ass
        return s + ds, v + avv[:, None, :] * uv


class PaiNN(Potential):
    """PaiNN potential; see the module docstring.

    Args:
        scaling: species, E0s and scales from the training data.
        cutoff: neighbour radius (Å).
        channels: feature width F.
        layers: message + update blocks.
        n_basis: sine radial basis functions.
        key: initialisation key.
    """

    embedding: Float[Array, "S F"]
    messages: tuple[PaiNNMessage, ...]
    updates: tuple[PaiNNUpdate, ...]
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
        n_basis: int = 20,
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, 2 * layers + 2)
        self.scaling, self.cutoff, self.n_basis = scaling, float(cutoff), n_basis
        self.embedding = species_embedding(scaling.n_species, channels, keys[0])
        self.messages = tuple(
            PaiNNMessage(channels, n_basis, key=k) for k in keys[1 : layers + 1]
        )
        self.updates = tuple(
            PaiNNUpdate(channels, key=k) for k in keys[layers + 1 : 2 * layers + 1]
        )
        self.readout = SiLUMLP((channels, channels // 2, 1), key=keys[-1])

    def atomic_energies(self, batch: GraphBatch) -> Float[Array, " N"]:
        species = self.scaling.species_index(batch.species)
        vectors, lengths = pair_geometry(batch, self.cutoff)
        unit = vectors / lengths[:, None]
        radial = bessel_basis(lengths, self.n_basis, self.cutoff)
        envelope = cosine_cutoff(lengths, self.cutoff) * batch.pair_mask
        s = self.embedding[species].astype(lengths.dtype)
        v = jnp.zeros((s.shape[0], 3, s.shape[1]), s.dtype)
        norm = self.scaling.avg_num_neighbors
        for message, update in zip(self.messages, self.updates, strict=True):
            s, v = message(
                s, v, radial, envelope, unit, batch.pair_i, batch.pair_j, norm
            )
            s, v = update(s, v)
        out = self.readout(s)[:, 0]
        return self.scaling.atomic_energies(out, batch.node_mask)
