"""Sequence property networks: token embedding → encoder → pooling → MLP head.

The network config (a JSON-able dict, kept in the archive) has ``encoder``
(``cnn1d``, ``gru``, ``transformer``), ``vocab`` (vocabulary size),
``embed``, ``hidden``, ``depth``, ``heads`` (transformer), ``kernel``
(cnn1d), ``dropout``, ``pool`` (``mean``, ``max`` or ``cls``: the state of
the ``<bos>`` token), ``head`` (hidden widths of the MLP head) and
``n_targets``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from molmat.data.sequences import PAD, TokenBatch, TokenBatcher
from molmat.models.sequence.encoders import (
    ENCODERS,
    BiGRUEncoder,
    CNNEncoder,
    TransformerEncoder,
)
from molmat.nn.core import MLP

POOLS = ("mean", "max", "cls")
KEYS = (
    "encoder",
    "vocab",
    "embed",
    "hidden",
    "depth",
    "heads",
    "kernel",
    "dropout",
    "pool",
    "head",
    "n_targets",
)


def pool_tokens(h: Float[Array, "B L d"], mask, kind: str) -> Float[Array, "B d"]:
    """Mean or max over each row's real tokens, or its first (``<bos>``) state."""
    if kind == "cls":
        return h[:, 0]
    keep = mask[..., None]
    if kind == "max":
        top = jnp.where(keep, h, -jnp.inf).max(axis=1)
        return jnp.where(jnp.isfinite(top), top, 0.0)  # padded rows: 0
    return (h * keep).sum(axis=1) / jnp.maximum(keep.sum(axis=1), 1)


class SequenceNet(eqx.Module):
    """Tokens [B, L] → outputs [B, n_targets] (standardised values or logits).

    Example:
        >>> net = build_sequence_net({"encoder": "gru", "vocab": 30, "embed": 16,
        ...     "hidden": 16, "depth": 1, "n_targets": 1}, key=jax.random.key(0))
        >>> net.encode(jnp.array([[1, 5, 6, 2, 0]])).shape
        (1, 5, 32)
    """

    embed: Float[Array, "V e"]
    encoder: eqx.Module
    head: MLP
    pool: str = eqx.field(static=True)

    def encode(
        self,
        tokens: Int[Array, "B L"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> Float[Array, "B L d"]:
        """Per-token states; 0 at padding."""
        return self.encoder(
            self.embed[tokens], tokens != PAD, key=key, inference=inference
        )

    def __call__(
        self,
        batch: TokenBatch,
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
    ) -> Float[Array, "B n_targets"]:
        x = self.embed[batch.tokens]
        return self.from_embeddings(
            x, batch.tokens != PAD, key=key, inference=inference
        )

    def from_embeddings(
        self,
        x: Float[Array, "B L e"],
        mask: Bool[Array, "B L"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
    ) -> Float[Array, "B n_targets"]:
        """Outputs from token embeddings ``x`` (``embed[tokens]``) and the
        real-token ``mask``: what gradient attributions differentiate."""
        ekey, hkey = jax.random.split(key) if key is not None else (None, None)
        h = self.encoder(x, mask, key=ekey, inference=inference)
        pooled = pool_tokens(h, mask, self.pool)
        return self.head(pooled, key=hkey, inference=inference)

    def batcher(self, corpus, batch_size: int) -> TokenBatcher:
        """Length-bucketed batches of an encoded corpus."""
        return TokenBatcher(corpus.lengths, batch_size)


def check_network(config: dict) -> dict:
    """``config`` with defaults filled in; a clear error for a bad value."""
    unknown = sorted(set(config) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown sequence-network key(s) {unknown}")
    full = {
        "embed": 64,
        "hidden": 128,
        "depth": 2,
        "heads": 4,
        "kernel": 5,
        "dropout": 0.0,
        "pool": "mean",
        "head": [128],
        **config,
    }
    if full["encoder"] not in ENCODERS:
        raise ValueError(
            f"unknown sequence encoder {full['encoder']!r}; choose from "
            f"{', '.join(ENCODERS)}"
        )
    if full["pool"] not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {full['pool']!r}")
    if full["encoder"] == "transformer" and full["hidden"] % full["heads"]:
        raise ValueError(
            f"transformer width {full['hidden']} is not divisible by "
            f"{full['heads']} heads"
        )
    return full


def encoder_width(config: dict) -> int:
    """Width of the per-token states of the encoder of ``config``."""
    return 2 * config["hidden"] if config["encoder"] == "gru" else config["hidden"]


def build_encoder(config: dict, *, key: PRNGKeyArray) -> tuple[Array, eqx.Module]:
    """The token embedding [V, embed] and the encoder of a network config."""
    c = check_network(config)
    k_embed, k_enc = jax.random.split(key)
    size = (c["embed"], c["hidden"], c["depth"])
    if c["encoder"] == "cnn1d":
        encoder = CNNEncoder(*size, c["kernel"], c["dropout"], key=k_enc)
    elif c["encoder"] == "gru":
        encoder = BiGRUEncoder(*size, c["dropout"], key=k_enc)
    else:
        encoder = TransformerEncoder(*size, c["heads"], c["dropout"], key=k_enc)
    embed = jax.random.normal(k_embed, (c["vocab"], c["embed"])) * 0.1
    return embed.at[PAD].set(0.0), encoder


def build_sequence_net(config: dict, *, key: PRNGKeyArray) -> SequenceNet:
    """The :class:`SequenceNet` of a network config."""
    c = check_network(config)
    k_enc, k_head = jax.random.split(key)
    embed, encoder = build_encoder(c, key=k_enc)
    head = MLP(
        encoder_width(c),
        list(c["head"]),
        c["n_targets"],
        dropout=c["dropout"],
        key=k_head,
    )
    return SequenceNet(embed, encoder, head, c["pool"])


def encoder_levels(config: dict) -> list[list[str]]:
    """Parameter-path prefixes of the embedding and encoder, one list per
    level from the input (level 0: embedding and input projection) to the
    top layer."""
    c = check_network(config)
    layers = range(c["depth"])
    if c["encoder"] == "gru":
        upper = [
            [
                f".encoder.{d}.{part}[{i}]"
                for d in ("forward", "backward")
                for part in ("inputs", "hiddens")
            ]
            for i in layers
        ]
        return [[".embed"], *upper]
    stack = "convs" if c["encoder"] == "cnn1d" else "blocks"
    levels = [[".embed", ".encoder.project"]]
    levels += [[f".encoder.{stack}[{i}]"] for i in layers]
    if c["encoder"] == "transformer":
        levels[-1].append(".encoder.final_norm")
    return levels
