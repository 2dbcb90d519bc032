"""Crystal property networks: elements -> periodic encoder -> readout -> head.

Every atom starts from its element: a projection of 22 standardised element
properties (the bundled Magpie table, so elements rare in the training data
still start somewhere sensible) plus a learned per-element offset that starts
at zero. An encoder updates the atom states over the periodic radius graph
(pairs within ``cutoff`` with their image shifts, listed on the host;
:class:`~molmat.data.batching.BatchingStrategy`):

- ``cgcnn``: gated crystal graph convolutions on Gaussian distance
  expansions (Xie & Grossman 2018; :mod:`molmat.nn.cgcnn`);
- ``painn``: the PaiNN message and update blocks of the potential
  (scalars and vectors, :mod:`molmat.models.potentials.painn`);
- ``nequip``: the NequIP interaction blocks (e3nn tensor products up to
  ``lmax``, :mod:`molmat.models.potentials.nequip`);
- ``alignn``: bond states updated over the bond-angle line graph, then atom
  states over the bond graph (in the spirit of ALIGNN;
  :mod:`molmat.models.crystal.line_graph`).

The readout is an MLP head on the ``mean`` (or the ``max``) of the atom
states (intensive targets: band gap, energy per atom), or the ``sum`` over
atoms of the head
applied to each atom (extensive targets: energy per cell; a supercell gets
exactly the multiple). Only distances and angles (or equivariant features reduced to
scalars) reach the readout, so predictions are invariant to rotation,
translation, atom order and, with the mean readout, the choice of unit cell.

Example:
    >>> net = build_crystal_net({"model": "cgcnn", "hidden": 16, "depth": 2,
    ...                          "n_targets": 1}, key=jax.random.key(0))
    >>> net.readout
    'mean'
"""

from __future__ import annotations

from functools import cache

import e3nn_jax as e3nn
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from molmat.data.batching import Batcher, BatchingStrategy, GraphBatch
from molmat.data.graphs import GraphSet
from molmat.data.radius import radius_graphs
from molmat.data.statistics import N_ELEMENTS
from molmat.featurizers.composition import element_table
from molmat.models.crystal.line_graph import LineGraphEncoder
from molmat.models.potentials.nequip import NequIPLayer, hidden_irreps
from molmat.models.potentials.painn import PaiNNMessage, PaiNNUpdate
from molmat.nn.cgcnn import CGCNNConv
from molmat.nn.core import MLP, Dense
from molmat.nn.radial import (
    bessel_basis,
    cosine_cutoff,
    gaussian_basis,
    pair_geometry,
    polynomial_envelope,
)
from molmat.nn.readout import pool

CRYSTAL_MODELS = ("cgcnn", "painn", "nequip", "alignn")
CRYSTAL_READOUTS = ("mean", "max", "sum")
MAX_BATCH_ATOMS = 4096  # fewer structures per batch where cells are large
NEIGHBOUR_SAMPLE = 500  # structures whose pairs set the mean neighbour count
DEFAULTS = {
    "hidden": 64,
    "depth": 3,
    "cutoff": 5.0,
    "n_basis": 32,
    "lmax": 1,
    "readout": "mean",
    "head": [64],
    "dropout": 0.0,
    "species": [],
    "avg_neighbors": 1.0,
    "mol_dim": 0,
    "angle_cutoff": 3.0,
}


@cache
def element_features() -> np.ndarray:
    """Element properties [119, 22] by atomic number, standardised over the
    elements; 0 (the mean) where a property is unknown or for Z = 0."""
    values, _ = element_table()
    mean, std = np.nanmean(values[1:], axis=0), np.nanstd(values[1:], axis=0)
    scaled = np.nan_to_num((values - mean) / np.where(std > 0, std, 1.0))
    out = np.zeros((N_ELEMENTS, values.shape[1]), np.float32)
    out[1 : len(values)] = scaled[1:]
    return out


class ElementEmbedding(eqx.Module):
    """Atomic numbers [N] -> states [N, F]: projected element properties plus
    a learned per-element offset (zero at initialisation)."""

    project: Dense
    offsets: Float[Array, "119 F"]

    def __init__(self, hidden: int, *, key: PRNGKeyArray):
        self.project = Dense(element_features().shape[1], hidden, key=key)
        self.offsets = jnp.zeros((N_ELEMENTS, hidden))

    def __call__(self, species: Int[Array, " N"]) -> Float[Array, "N F"]:
        return (
            self.project(jnp.asarray(element_features())[species])
            + self.offsets[species]
        )


def species_rows(species: tuple[int, ...], numbers: Int[Array, " N"]) -> Array:
    """Row of each atom's element in ``species`` + 1 (0: unseen or padding)."""
    table = np.zeros(N_ELEMENTS, np.int32)
    table[list(species)] = np.arange(1, len(species) + 1)
    return jnp.asarray(table)[numbers]


class CGCNNEncoder(eqx.Module):
    """Crystal graph convolutions on Gaussian distance expansions."""

    layers: tuple[CGCNNConv, ...]
    cutoff: float = eqx.field(static=True)
    n_basis: int = eqx.field(static=True)

    def __init__(self, hidden, depth, cutoff, n_basis, *, key):
        keys = jax.random.split(key, depth)
        self.layers = tuple(CGCNNConv(hidden, n_basis, key=k) for k in keys)
        self.cutoff, self.n_basis = float(cutoff), int(n_basis)

    def __call__(self, h, g: GraphBatch, species_row=None):
        _, r = pair_geometry(g, self.cutoff)
        basis = gaussian_basis(r, self.n_basis, self.cutoff)
        weight = cosine_cutoff(r, self.cutoff) * g.pair_mask
        for layer in self.layers:
            h = layer(h, basis, weight, g.pair_i, g.pair_j, g.node_mask)
        return h


class PaiNNBlock(eqx.Module):
    """A PaiNN message block followed by its update block."""

    message: PaiNNMessage
    update: PaiNNUpdate


class PaiNNEncoder(eqx.Module):
    """PaiNN blocks; the atoms' scalar states are the output."""

    layers: tuple[PaiNNBlock, ...]
    cutoff: float = eqx.field(static=True)
    n_basis: int = eqx.field(static=True)
    avg_neighbors: float = eqx.field(static=True)

    def __init__(self, hidden, depth, cutoff, n_basis, avg_neighbors, *, key):
        keys = jax.random.split(key, 2 * depth).reshape(depth, 2)
        self.layers = tuple(
            PaiNNBlock(
                PaiNNMessage(hidden, n_basis, key=k[0]), PaiNNUpdate(hidden, key=k[1])
            )
            for k in keys
        )
        self.cutoff, self.n_basis = float(cutoff), int(n_basis)
        self.avg_neighbors = float(avg_neighbors)

    def __call__(self, s, g: GraphBatch, species_row=None):
        vectors, lengths = pair_geometry(g, self.cutoff)
        unit = vectors / lengths[:, None]
        radial = bessel_basis(lengths, self.n_basis, self.cutoff)
        envelope = cosine_cutoff(lengths, self.cutoff) * g.pair_mask
        v = jnp.zeros((s.shape[0], 3, s.shape[1]), s.dtype)
        for block in self.layers:
            s, v = block.message(
                s, v, radial, envelope, unit, g.pair_i, g.pair_j, self.avg_neighbors
            )
            s, v = block.update(s, v)
        return s


class NequIPEncoder(eqx.Module):
    """NequIP interaction blocks; the scalar (0e) channels are the output."""

    layers: tuple[NequIPLayer, ...]
    cutoff: float = eqx.field(static=True)
    n_basis: int = eqx.field(static=True)
    lmax: int = eqx.field(static=True)

    def __init__(
        self, hidden, depth, cutoff, n_basis, lmax, n_species, avg_neighbors, *, key
    ):
        keys = jax.random.split(key, depth)
        sh_irreps = e3nn.Irreps.spherical_harmonics(lmax)
        target = hidden_irreps(hidden, lmax)
        irreps, layers = e3nn.Irreps(f"{hidden}x0e"), []
        for k in keys:
            layer = NequIPLayer(
                irreps,
                target,
                sh_irreps,
                n_species,
                n_basis,
                hidden,
                avg_neighbors,
                key=k,
            )
            layers.append(layer)
            irreps = layer.irreps_out
        self.layers = tuple(layers)
        self.cutoff, self.n_basis, self.lmax = float(cutoff), int(n_basis), int(lmax)

    def __call__(self, h, g: GraphBatch, species_row):
        vectors, lengths = pair_geometry(g, self.cutoff)
        sh = e3nn.spherical_harmonics(
            e3nn.Irreps.spherical_harmonics(self.lmax),
            vectors,
            normalize=True,
            normalization="component",
        )
        radial = bessel_basis(lengths, self.n_basis, self.cutoff)
        envelope = polynomial_envelope(lengths, self.cutoff, 6) * g.pair_mask
        x = e3nn.IrrepsArray(f"{h.shape[1]}x0e", h)
        for layer in self.layers:
            x = layer(x, species_row, sh, radial, envelope, g.pair_i, g.pair_j)
        return x.filter(keep="0e").array


class CrystalEncoderNet(eqx.Module):
    """Element embedding and encoder on periodic radius graphs: what the
    property network and the self-supervised networks share (and what
    fine-tuning copies from one to the other).

    ``species`` are the training elements (NequIP's per-element
    self-connections); ``cutoff`` (Å) is the radius of the pair list and
    ``angle_cutoff`` (Å) that of the bonds whose angles the line-graph model
    reads (None for the others).
    """

    embed: ElementEmbedding
    encoder: eqx.Module
    species: tuple[int, ...] = eqx.field(static=True)
    cutoff: float = eqx.field(static=True)
    angle_cutoff: float | None = eqx.field(static=True)

    def atom_states(
        self, g: GraphBatch, embedded: Float[Array, "N F"] | None = None
    ) -> Float[Array, "N F"]:
        """Encoded atom states [N, F] (padded atoms carry values; mask them)
        from the element embeddings, or from ``embedded`` in their place
        (what attributions differentiate)."""
        h = self.embed(g.species) if embedded is None else embedded
        return self.encoder(h, g, species_rows(self.species, g.species))

    def batcher(self, graphs: GraphSet, batch_size: int) -> Batcher:
        """Batches of one size class each (fewer structures per batch where
        ``batch_size`` of the class's largest exceed :data:`MAX_BATCH_ATOMS`),
        with the periodic radius graph (and, for the line-graph model, each
        atom's list of pairs)."""
        strategy = BatchingStrategy(
            by_size=True,
            radius=self.cutoff,
            pair_lists=self.angle_cutoff,
            max_atoms=MAX_BATCH_ATOMS,
        )
        return strategy.batcher(graphs, batch_size)


class CrystalNet(CrystalEncoderNet):
    """Periodic structures -> [n_targets] outputs (standardised values or logits)."""

    head: MLP
    readout: str = eqx.field(static=True)

    def __call__(
        self,
        g: GraphBatch,
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
        embedded: Float[Array, "N F"] | None = None,
    ) -> Float[Array, "G n_targets"]:
        """Outputs [G, n_targets]; ``embedded`` [N, F] replaces the element
        embeddings of the atoms."""
        h = self.atom_states(g, embedded)
        if self.readout == "sum":  # per-atom contributions: exactly extensive
            return pool(self.head(h, key=key, inference=inference), g, "sum")
        pooled = jnp.concatenate([pool(h, g, self.readout), g.mol_x], axis=-1)
        return self.head(pooled, key=key, inference=inference)


def check_crystal_config(config: dict) -> dict:
    """``config`` completed by the defaults and checked (ValueError otherwise)."""
    config = {**DEFAULTS, **config}
    if config.get("model") not in CRYSTAL_MODELS:
        raise ValueError(
            f"unknown crystal model {config.get('model')!r}; choose one of "
            f"{list(CRYSTAL_MODELS)}"
        )
    if config["readout"] not in CRYSTAL_READOUTS:
        raise ValueError(
            f"crystal models read out the mean or max (intensive targets) or the "
            f"sum (extensive targets) of the atoms, not {config['readout']!r}"
        )
    for key in ("hidden", "depth", "n_basis", "n_targets"):
        if key in config and int(config[key]) < 1:
            raise ValueError(f"{key} must be at least 1")
    if not float(config["cutoff"]) > 0:
        raise ValueError("cutoff must be positive (Å)")
    if not 0 < float(config["angle_cutoff"]) <= float(config["cutoff"]):
        raise ValueError("angle_cutoff must be positive and at most cutoff (Å)")
    if not 0 <= int(config["lmax"]) <= 3:
        raise ValueError("lmax must be 0 to 3")
    return config


def encoder_parts(config: dict, *, key: PRNGKeyArray) -> dict:
    """``embed``, ``encoder``, ``species``, ``cutoff`` and ``angle_cutoff`` of a
    :class:`CrystalEncoderNet` for a checked config."""
    c = config
    hidden, depth, cutoff, n_basis = c["hidden"], c["depth"], c["cutoff"], c["n_basis"]
    species = tuple(int(z) for z in c["species"])
    ekey, nkey = jax.random.split(key)
    model = c["model"]
    if model == "cgcnn":
        encoder = CGCNNEncoder(hidden, depth, cutoff, n_basis, key=nkey)
    elif model == "painn":
        encoder = PaiNNEncoder(
            hidden, depth, cutoff, n_basis, c["avg_neighbors"], key=nkey
        )
    elif model == "nequip":
        encoder = NequIPEncoder(
            hidden,
            depth,
            cutoff,
            n_basis,
            c["lmax"],
            len(species) + 1,
            c["avg_neighbors"],
            key=nkey,
        )
    else:
        encoder = LineGraphEncoder(
            hidden, depth, cutoff, n_basis, c["angle_cutoff"], key=nkey
        )
    return {
        "embed": ElementEmbedding(hidden, key=ekey),
        "encoder": encoder,
        "species": species,
        "cutoff": float(cutoff),
        "angle_cutoff": float(c["angle_cutoff"]) if model == "alignn" else None,
    }


def build_crystal_net(config: dict, *, key: PRNGKeyArray) -> CrystalNet:
    """A :class:`CrystalNet` from a config: ``model``, ``hidden``, ``depth``,
    ``cutoff`` (Å), ``n_basis``, ``lmax`` (nequip), ``readout``, ``head``
    (hidden widths), ``dropout``, ``n_targets``, ``species`` (training
    elements), ``avg_neighbors`` (mean pairs per atom, which divides the
    message sums of painn and nequip) and ``mol_dim`` (whole-structure
    features joined to a mean or max readout)."""
    c = check_crystal_config(config)
    key, hkey = jax.random.split(key)
    return CrystalNet(
        **encoder_parts(c, key=key),
        head=MLP(
            c["hidden"] + (0 if c["readout"] == "sum" else c["mol_dim"]),
            list(c["head"]),
            c["n_targets"],
            dropout=c["dropout"],
            key=hkey,
        ),
        readout=c["readout"],
    )


def crystal_encoder_levels(config: dict) -> list[list[str]]:
    """Parameter-path prefixes of the embedding and each encoder layer, input
    first (for layer-wise learning rates and freezing)."""
    levels = [[".embed"]]
    return levels + [[f".encoder.layers[{i}]"] for i in range(int(config["depth"]))]


def neighbour_sample(n: int, seed: int) -> np.ndarray:
    """Sorted indices of at most :data:`NEIGHBOUR_SAMPLE` of ``n`` structures,
    whose pairs set a network's mean neighbour count."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:NEIGHBOUR_SAMPLE])


def mean_neighbors(graphs: GraphSet, cutoff: float) -> float:
    """Mean radius-graph pairs per atom of ``graphs`` within ``cutoff`` Å
    (at least 1)."""
    pairs = radius_graphs(
        graphs.positions, graphs.atom_offsets, cutoff, graphs.cell, graphs.pbc
    )
    n_atoms = max(float(np.sum(graphs.n_atoms)), 1.0)
    return max(float(np.sum(pairs.n_pairs)) / n_atoms, 1.0)
