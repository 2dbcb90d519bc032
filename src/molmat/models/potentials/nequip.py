"""NequIP: an E(3)-equivariant interatomic potential (Batzner et al. 2022).

Node features are e3nn irreps ``C x 0e + C x 1o + C x 2e + ...`` up to
``lmax`` (natural parity). Each interaction layer:

1. mixes node features linearly and sends them along the edges;
2. takes their tensor product with the edge's spherical harmonics, weighting
   every output irrep by an MLP of a Bessel radial basis times a polynomial
   cutoff envelope (:mod:`molmat.nn.equivariant`: the same product as
   ``e3nn.tensor_product``, in two dense contractions);
3. sums messages at the receiving atom, divided by the mean neighbour count;
4. adds a species-dependent self-interaction, applies a gated nonlinearity and
   a residual connection where the irreps allow.

The scalars of the last layer go through an MLP to one energy per atom.

Example:
    >>> scaling = EnergyScaling(species=(1, 6, 8))
    >>> model = NequIP(scaling, cutoff=4.0, lmax=1, channels=8, layers=2,
    ...                key=jax.random.key(0))
"""

from __future__ import annotations

import e3nn_jax as e3nn
import equinox as eqx
import jax
import jax.numpy as jnp
from e3nn_jax.equinox import Linear
from jaxtyping import Array, Float, Int, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.models.potentials.base import Potential
from molmat.models.potentials.common import (
    EnergyScaling,
    SiLUMLP,
    species_embedding,
)
from molmat.nn.equivariant import channel_layout, product_plan
from molmat.nn.radial import bessel_basis, pair_geometry, polynomial_envelope


def hidden_irreps(channels: int, lmax: int) -> e3nn.Irreps:
    """``C x 0e + C x 1o + C x 2e + ...`` up to ``lmax``."""
    return e3nn.Irreps([(channels, (ell, (-1) ** ell)) for ell in range(lmax + 1)])


class NequIPLayer(eqx.Module):
    """One interaction block: features [N, irreps_in] -> [N, irreps_out]."""

    linear_up: Linear
    radial: SiLUMLP
    linear_down: Linear
    self_connection: Linear
    irreps_in: e3nn.Irreps = eqx.field(static=True)
    irreps_out: e3nn.Irreps = eqx.field(static=True)
    message_irreps: e3nn.Irreps = eqx.field(static=True)
    avg_num_neighbors: float = eqx.field(static=True)

    def __init__(
        self,
        irreps_in: e3nn.Irreps,
        target: e3nn.Irreps,
        sh_irreps: e3nn.Irreps,
        n_species: int,
        n_basis: int,
        radial_hidden: int,
        avg_num_neighbors: float,
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, 4)
        self.irreps_in = e3nn.Irreps(irreps_in)
        self.avg_num_neighbors = float(avg_num_neighbors)
        self.linear_up = Linear(
            irreps_in=self.irreps_in, irreps_out=self.irreps_in, key=keys[0]
        )
        self.message_irreps = product_plan(irreps_in, sh_irreps, target).irreps_out
        n_gates = target.filter(drop="0e + 0o").num_irreps
        scalars = target.filter(keep="0e + 0o")
        gated = target.filter(drop="0e + 0o")
        gate_irreps = (scalars + e3nn.Irreps(f"{n_gates}x0e") + gated).regroup()
        self.linear_down = Linear(
            irreps_in=self.message_irreps,
            irreps_out=gate_irreps,
            force_irreps_out=True,
            key=keys[1],
        )
        self.self_connection = Linear(
            irreps_in=self.irreps_in,
            irreps_out=gate_irreps,
            linear_type="indexed",
            num_indexed_weights=n_species,
            force_irreps_out=True,
            key=keys[2],
        )
        self.radial = SiLUMLP(
            (n_basis, radial_hidden, radial_hidden, self.message_irreps.num_irreps),
            key=keys[3],
        )
        self.irreps_out = e3nn.gate(self.linear_down.irreps_out)

    def __call__(
        self,
        x: e3nn.IrrepsArray,
        species: Int[Array, " N"],
        sh: e3nn.IrrepsArray,
        radial: Float[Array, "E B"],
        envelope: Float[Array, " E"],
        senders: Int[Array, " E"],
        receivers: Int[Array, " E"],
    ) -> e3nn.IrrepsArray:
        n_nodes = x.shape[0]
        self_part = self.self_connection(species, x)
        plan = product_plan(self.irreps_in, sh.irreps, self.message_irreps)
        h = channel_layout(self.linear_up(x))  # [N, D_in, C]
        weights = self.radial(radial) * envelope[:, None]
        messages = plan.weighted_product(h[senders], sh.array, weights)
        summed = jax.ops.segment_sum(messages, receivers, n_nodes)
        summed = plan.to_irreps(summed / self.avg_num_neighbors)
        out = e3nn.gate(
            self.linear_down(summed) + self_part,
            even_act=jax.nn.silu,
            odd_act=jnp.tanh,
            even_gate_act=jax.nn.silu,
            odd_gate_act=jnp.tanh,
        )
        if out.irreps == x.irreps:
            out = out + x
        return out


class NequIP(Potential):
    """NequIP-style equivariant potential; see the module docstring.

    Args:
        scaling: species, E0s and scales from the training data.
        cutoff: neighbour radius (Å).
        lmax: highest rotation order of features and spherical harmonics.
        channels: multiplicity of every irrep.
        layers: interaction blocks.
        n_basis: Bessel functions in the radial basis.
        radial_hidden: width of the radial MLPs.
        envelope_p: exponent of the polynomial cutoff envelope.
        key: initialisation key.
    """

    embedding: Float[Array, "S C"]
    blocks: tuple[NequIPLayer, ...]
    readout: SiLUMLP
    scaling: EnergyScaling = eqx.field(static=True)
    cutoff: float = eqx.field(static=True)
    lmax: int = eqx.field(static=True)
    n_basis: int = eqx.field(static=True)
    envelope_p: int = eqx.field(static=True)

    def __init__(
        self,
        scaling: EnergyScaling,
        cutoff: float = 5.0,
        lmax: int = 2,
        channels: int = 32,
        layers: int = 3,
        n_basis: int = 8,
        radial_hidden: int = 64,
        envelope_p: int = 6,
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, layers + 2)
        self.scaling = scaling
        self.cutoff = float(cutoff)
        self.lmax, self.n_basis, self.envelope_p = lmax, n_basis, envelope_p
        self.embedding = species_embedding(scaling.n_species, channels, keys[0])
        sh_irreps = e3nn.Irreps.spherical_harmonics(lmax)
        target = hidden_irreps(channels, lmax)
        irreps = e3nn.Irreps(f"{channels}x0e")
        blocks = []
        for k in range(layers):
            block = NequIPLayer(
                irreps,
                target,
                sh_irreps,
                scaling.n_species,
                n_basis,
                radial_hidden,
                scaling.avg_num_neighbors,
                key=keys[k + 1],
            )
            blocks.append(block)
            irreps = block.irreps_out
        self.blocks = tuple(blocks)
        n_scalars = irreps.filter(keep="0e").dim
        self.readout = SiLUMLP((n_scalars, max(n_scalars // 2, 1), 1), key=keys[-1])

    @property
    def sh_irreps(self) -> e3nn.Irreps:
        return e3nn.Irreps.spherical_harmonics(self.lmax)

    def atomic_energies(self, batch: GraphBatch) -> Float[Array, " N"]:
        species = self.scaling.species_index(batch.species)
        vectors, lengths = pair_geometry(batch, self.cutoff)
        sh = e3nn.spherical_harmonics(
            self.sh_irreps, vectors, normalize=True, normalization="component"
        )
        radial = bessel_basis(lengths, self.n_basis, self.cutoff)
        envelope = polynomial_envelope(lengths, self.cutoff, self.envelope_p)
        envelope = envelope * batch.pair_mask
        x = e3nn.IrrepsArray(
            f"{self.embedding.shape[1]}x0e",
            self.embedding[species].astype(lengths.dtype),
        )
        for block in self.blocks:
            x = block(x, species, sh, radial, envelope, batch.pair_i, batch.pair_j)
        out = self.readout(x.filter(keep="0e").array)[:, 0]
        return self.scaling.atomic_energies(out, batch.node_mask)
