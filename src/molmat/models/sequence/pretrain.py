"""Masked-token pretraining of sequence encoders (BERT / ChemBERTa style).

A pretraining vocabulary holds ``<mask>`` at id :data:`MASK` (right after
the padding, begin and end ids). Each step picks ``rate`` of the real tokens
of every row; a picked token is replaced by ``<mask>`` (80 %), by a random
real token (10 %) or kept (10 %), and the network predicts the original
tokens at the picked positions from the whole row. The encoder and embedding
then initialise a property model (:meth:`SequenceNet.with_encoder`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from molmat.data.sequences import EOS, PAD, SequenceBatch
from molmat.models.sequence.network import build_encoder, encoder_width
from molmat.nn.core import Dense

MASK = 3  # id of "<mask>" in a pretraining vocabulary
MASK_TOKEN = "<mask>"


def mask_tokens(
    key: PRNGKeyArray, tokens: Int[Array, "B L"], vocab: int, rate: float = 0.15
) -> tuple[Int[Array, "B L"], Bool[Array, "B L"]]:
    """The corrupted input and the picked positions (real tokens only: never
    padding, ``<bos>`` or ``<eos>``)."""
    k_pick, k_how, k_random = jax.random.split(key, 3)
    real = tokens > MASK
    picked = real & (jax.random.uniform(k_pick, tokens.shape) < rate)
    how = jax.random.uniform(k_how, tokens.shape)
    random_ids = jax.random.randint(k_random, tokens.shape, MASK + 1, vocab)
    corrupted = jnp.where(how < 0.8, MASK, jnp.where(how < 0.9, random_ids, tokens))
    return jnp.where(picked, corrupted, tokens), picked


class MaskedTokenNet(eqx.Module):
    """Embedding → encoder → linear layer to the vocabulary, per token."""

    embed: Float[Array, "V e"]
    encoder: eqx.Module
    out: Dense
    rate: float = eqx.field(static=True)

    def __init__(self, config: dict, rate: float = 0.15, *, key: PRNGKeyArray):
        k_enc, k_out = jax.random.split(key)
        self.embed, self.encoder = build_encoder(config, key=k_enc)
        self.out = Dense(encoder_width(config), config["vocab"], key=k_out)
        self.rate = rate

    def __call__(
        self,
        tokens: Int[Array, "B L"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> Float[Array, "B L V"]:
        h = self.encoder(
            self.embed[tokens], tokens != PAD, key=key, inference=inference
        )
        return self.out(h)


def masked_token_sums(
    model: MaskedTokenNet, batch: SequenceBatch, key: PRNGKeyArray, inference: bool
) -> tuple[Array, Array]:
    """Summed cross-entropy (nats) over the picked tokens, and their count."""
    k_mask, k_drop = jax.random.split(key)
    tokens = batch.tokens
    inputs, picked = mask_tokens(k_mask, tokens, model.embed.shape[0], model.rate)
    logits = model(inputs, key=k_drop, inference=inference)
    logp = jax.nn.log_softmax(logits, axis=-1)
    target = jnp.take_along_axis(logp, tokens[..., None], axis=-1)[..., 0]
    counted = picked & (batch.weight[:, None] > 0) & (tokens > EOS)
    return -jnp.where(counted, target, 0.0).sum(), counted.sum()


def masked_token_loss(model, batch: SequenceBatch, key) -> tuple[Array, Array]:
    """Mean cross-entropy of the picked tokens (nats/token); no extra terms."""
    total, count = masked_token_sums(model, batch, key, inference=False)
    return total / jnp.maximum(count, 1), jnp.zeros(0)
