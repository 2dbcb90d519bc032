"""Graph property networks: encoder -> readout (+ molecule features) -> MLP head."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.data.batching import Batcher, BatchingStrategy, GraphBatch
from molmat.data.graphs import GraphSet
from molmat.models.gnn.config import LAYERS, check_architecture
from molmat.nn.attention import GraphTransformerLayer
from molmat.nn.attentivefp import AttentiveGRULayer
from molmat.nn.core import MLP, OneHotDense, dropout
from molmat.nn.graph import (
    DMPNNEncoder,
    GATConv,
    GCNConv,
    GINEConv,
    NodeLayer,
)
from molmat.nn.norm import BatchNorm, collect_batch_stats, make_norm
from molmat.nn.readout import make_readout, readout_dim
from molmat.nn.schnet import SchNetConv

# model name -> encoder layer; "mpnn" is a whole bond-state encoder
ENCODERS = {
    "gcn": GCNConv,
    "gin": GINEConv,
    "gat": GATConv,
    "mpnn": DMPNNEncoder,
    "attentivefp": AttentiveGRULayer,
    "schnet": SchNetConv,
    "transformer": GraphTransformerLayer,
}
assert tuple(ENCODERS) == LAYERS
# layers whose cost grows with the atom pairs of a molecule
PAIRWISE_LAYERS = ("schnet", "transformer")


class NodeEncoder(eqx.Module):
    """Atom embedding, then ``depth`` node layers, each wrapped the same way.

    ``h0 = relu(W x)``; each layer computes
    ``u = dropout(relu(norm(layer(h))))`` and sets ``h <- h + u`` (residual)
    or ``h <- u``. Returns atom states [N, hidden], 0 on padding.
    """

    embed: OneHotDense
    layers: tuple[NodeLayer, ...]
    norms: tuple
    residual: bool = eqx.field(static=True)
    rate: float = eqx.field(static=True)

    def __call__(
        self, g: GraphBatch, *, key: PRNGKeyArray | None = None, inference: bool = False
    ) -> Float[Array, "N hidden"]:
        n_layers = len(self.layers)
        keys = jax.random.split(key, n_layers) if key is not None else [None] * n_layers
        mask = g.node_mask[:, None]
        h = jax.nn.relu(self.embed(g.atom_x)) * mask
        shared = self.layers[0].prepare(g)
        for layer, norm, k in zip(self.layers, self.norms, keys, strict=True):
            update = layer(h, g, shared, inference=inference)
            update = jax.nn.relu(norm(update, g.node_mask, inference=inference))
            update = dropout(update, self.rate, k, inference)
            h = (h + update if self.residual else update) * mask
        return h


class PropertyNet(eqx.Module):
    """Molecule -> [n_targets] outputs (standardised values or logits).

    Example:
        >>> net = build_model({"layer": "gin", "hidden": 16, "depth": 2,
        ...                    "atom_dim": 141, "bond_dim": 14, "n_targets": 1},
        ...                   key=jax.random.key(0))  # doctest: +SKIP
        >>> net(batch, inference=True).shape  # [G, 1]  # doctest: +SKIP
    """

    encoder: eqx.Module
    readout: eqx.Module
    head: MLP
    batching: BatchingStrategy = eqx.field(static=True, default=BatchingStrategy())

    def __call__(
        self, g: GraphBatch, *, key: PRNGKeyArray | None = None, inference: bool = False
    ) -> Float[Array, "G n_targets"]:
        ekey, hkey = jax.random.split(key) if key is not None else (None, None)
        h = self.encoder(g, key=ekey, inference=inference)
        pooled = jnp.concatenate([self.readout(h, g), g.mol_x], axis=-1)
        return self.head(pooled, key=hkey, inference=inference)

    def batcher(self, graphs: GraphSet, batch_size: int) -> Batcher:
        """How to batch ``graphs`` for this network (its :attr:`batching`)."""
        return self.batching.batcher(graphs, batch_size)


def batching_strategy(arch: dict) -> BatchingStrategy:
    """The family's batching for an architecture: SchNet reads the radius graph
    of each conformer, and SchNet and the transformer (attention over all
    atoms) batch molecules of one size class together."""
    layer = arch["layer"]
    return BatchingStrategy(
        by_size=layer in PAIRWISE_LAYERS,
        radius=float(arch["cutoff"]) if layer == "schnet" else None,
    )


def _legacy(config: dict) -> dict:
    """Network configs written before architectures had a ``layer`` key."""
    if "layer" in config or "model" not in config:
        return config
    old = dict(config)
    model = old.pop("model")
    arch = {
        "layer": model,
        "head": [old.pop("ffn_hidden", 256)] * old.pop("ffn_layers", 1),
        "norm": "none",
        "residual": model != "mpnn",
        "readout": "sum",
        "hidden": 256,
        "depth": 3,
        "dropout": 0.0,
    }
    return {**arch, **old}


DIMENSIONS = ("atom_dim", "atom_onehot", "bond_dim", "mol_dim", "n_targets")


def architecture_of(config: dict) -> dict:
    """The architecture part of a network config (data dimensions left out)."""
    return {k: v for k, v in _legacy(config).items() if k not in DIMENSIONS}


def build_model(config: dict, *, key: PRNGKeyArray) -> PropertyNet:
    """Build a :class:`PropertyNet` from a network config.

    The config is an architecture (see :mod:`molmat.models.gnn.config`) plus
    the data dimensions ``atom_dim``, ``atom_onehot`` (leading one-hot atom
    feature columns), ``bond_dim``, ``mol_dim`` (whole-molecule features
    joined to the readout) and ``n_targets``;
    :meth:`PropertyModel.network_config_` writes it into the archive.
    """
    config = _legacy(config)
    if config.get("layer") not in ENCODERS:
        raise ValueError(
            f"unknown model {config.get('layer')!r}; choose one of {list(ENCODERS)}"
        )
    dims = {
        "atom_onehot": 0,
        "mol_dim": 0,
        **{k: config[k] for k in DIMENSIONS if k in config},
    }
    arch = check_architecture(
        {k: v for k, v in config.items() if k not in dims}, "model"
    )
    ekey, rkey, hkey = jax.random.split(key, 3)
    encoder = build_encoder(arch, dims, key=ekey)
    readout = make_readout(arch["readout"], arch["hidden"], key=rkey)
    head = MLP(
        readout_dim(arch["readout"], arch["hidden"]) + dims["mol_dim"],
        arch["head"],
        dims["n_targets"],
        dropout=arch["dropout"],
        key=hkey,
    )
    return PropertyNet(
        encoder=encoder, readout=readout, head=head, batching=batching_strategy(arch)
    )


def build_encoder(arch: dict, dims: dict, *, key: PRNGKeyArray) -> eqx.Module:
    """The encoder of ``arch`` for atom/bond features of the sizes in ``dims``."""
    hidden, depth, layer = arch["hidden"], arch["depth"], arch["layer"]
    if layer == "mpnn":
        return DMPNNEncoder(
            dims["atom_dim"],
            dims["bond_dim"],
            hidden=hidden,
            depth=depth,
            dropout=arch["dropout"],
            atom_onehot=dims["atom_onehot"],
            norms=tuple(make_norm(arch["norm"], hidden) for _ in range(depth)),
            key=key,
        )
    layer_options = ("heads", "max_distance", "cutoff", "n_rbf", "positions")
    options = {k: arch[k] for k in layer_options if k in arch}
    keys = jax.random.split(key, depth + 1)
    return NodeEncoder(
        embed=OneHotDense(
            dims["atom_dim"], hidden, n_onehot=dims["atom_onehot"], key=keys[0]
        ),
        layers=tuple(
            ENCODERS[layer](hidden, dims["bond_dim"], **options, key=k)
            for k in keys[1:]
        ),
        norms=tuple(make_norm(arch["norm"], hidden) for _ in range(depth)),
        residual=arch["residual"],
        rate=arch["dropout"],
    )


def encoder_levels(arch: dict) -> list[list[str]]:
    """Parameter-path prefixes (in a :class:`PropertyNet`) of the encoder of
    ``arch``, one list per level from the atom embedding to the top layer.
    The D-MPNN shares its message weights across steps: its levels are the
    input, message and output weights."""
    if arch["layer"] == "mpnn":
        return [
            [".encoder.w_i_atom", ".encoder.w_i_bond"],
            [".encoder.w_h", ".encoder.norms"],
            [".encoder.w_o_atom", ".encoder.w_o_message"],
        ]
    levels = [[".encoder.embed"]]
    levels += [
        [f".encoder.layers[{i}]", f".encoder.norms[{i}]"] for i in range(arch["depth"])
    ]
    return levels


def _is_batch_norm(node) -> bool:
    return isinstance(node, BatchNorm)


def calibrate_batch_norm(
    net: PropertyNet, graphs: GraphSet, batch_size: int
) -> PropertyNet:
    """``net`` with population statistics in its :class:`BatchNorm` layers.

    Averages each layer's masked batch statistics (weighted by real rows) over
    ``graphs`` with the final weights, so inference no longer depends on the
    batch. Returns ``net`` unchanged when it has no batch norm.
    """
    norms = [
        x
        for x in jax.tree_util.tree_leaves(net, is_leaf=_is_batch_norm)
        if _is_batch_norm(x)
    ]
    if not norms or len(graphs) == 0:
        return net

    @eqx.filter_jit
    def batch_stats(model, batch):
        with collect_batch_stats() as stats:
            model(batch, inference=False)
        return stats

    batcher = net.batcher(graphs, batch_size)
    sums = None
    for idx, budget in batcher.plan(graphs, np.arange(len(graphs))):
        stats = batch_stats(net, batcher.batch(graphs, idx, budget))
        weighted = [(m * n, s * n, n) for m, s, n in stats]
        sums = weighted if sums is None else jax.tree.map(jnp.add, sums, weighted)
    if len(sums) != len(norms):
        raise RuntimeError("batch-norm layers and collected statistics disagree")
    calibrated = [
        norm.with_stats(m / n, jnp.maximum(s / n - (m / n) ** 2, 0.0))
        for norm, (m, s, n) in zip(norms, sums, strict=True)
    ]
    return eqx.tree_at(
        lambda model: [
            x
            for x in jax.tree_util.tree_leaves(model, is_leaf=_is_batch_norm)
            if _is_batch_norm(x)
        ],
        net,
        calibrated,
    )
