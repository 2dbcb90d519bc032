"""Graph property networks: encoder -> readout -> MLP head."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.nn.core import MLP
from molmat.nn.graph import DMPNNEncoder, GCNEncoder, readout

ENCODERS = {"mpnn": DMPNNEncoder, "gcn": GCNEncoder}


class PropertyNet(eqx.Module):
    """Molecule -> [n_targets] outputs (standardised values or logits).

    Example:
        >>> net = build_model({"atom_dim": 141, "bond_dim": 14, "n_targets": 1},
        ...                   key=jax.random.key(0))  # doctest: +SKIP
        >>> net(batch, inference=True).shape  # [G, 1]  # doctest: +SKIP
    """

    encoder: eqx.Module
    head: MLP
    pooling: str = eqx.field(static=True)

    def __call__(
        self, g: GraphBatch, *, key: PRNGKeyArray | None = None, inference: bool = False
    ) -> Float[Array, "G n_targets"]:
        ekey, hkey = jax.random.split(key) if key is not None else (None, None)
        h = self.encoder(g, key=ekey, inference=inference)
        pooled = jnp.concatenate([readout(h, g, self.pooling), g.mol_x], axis=-1)
        return self.head(pooled, key=hkey, inference=inference)


def build_model(config: dict, *, key: PRNGKeyArray) -> PropertyNet:
    """Build a :class:`PropertyNet` from a config dict.

    Keys: ``model`` (``"mpnn"`` or ``"gcn"``), ``hidden``, ``depth``,
    ``ffn_hidden``, ``ffn_layers``, ``dropout``, ``readout``, ``atom_dim``,
    ``atom_onehot`` (leading one-hot atom-feature columns), ``bond_dim``,
    ``mol_dim`` (whole-molecule features joined to the readout) and
    ``n_targets``; :meth:`PropertyModel.network_config_` writes them all.
    """
    cfg = config
    if cfg["model"] not in ENCODERS:
        raise ValueError(
            f"unknown model {cfg['model']!r}; choose one of {sorted(ENCODERS)}"
        )
    ekey, hkey = jax.random.split(key)
    encoder = ENCODERS[cfg["model"]](
        cfg["atom_dim"],
        cfg["bond_dim"],
        hidden=cfg["hidden"],
        depth=cfg["depth"],
        dropout=cfg["dropout"],
        atom_onehot=cfg["atom_onehot"],
        key=ekey,
    )
    head = MLP(
        cfg["hidden"] + cfg["mol_dim"],
        cfg["ffn_hidden"],
        cfg["n_targets"],
        n_hidden=cfg["ffn_layers"],
        dropout=cfg["dropout"],
        key=hkey,
    )
    return PropertyNet(encoder=encoder, head=head, pooling=cfg["readout"])
