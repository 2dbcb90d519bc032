"""A variational autoencoder over molecule tokens, with a property head.

The encoder reads ``<bos> t1 ... tn <eos>`` with a bidirectional GRU (the
backward pass reverses each row within its own length, so padding never
reaches it) and maps the two final states to the mean and log-variance of a
latent ``z`` [Z]. The decoder is an :class:`RNNLanguageModel` whose condition
is ``z`` (followed by the condition of a conditional VAE), and a small MLP
predicts standardised molecular properties [P] from ``z``. Sampling uses the
decoder's ``start/step`` with ``z`` as the condition::

    tokens = sample_tokens(vae, key, z, max_len)  # z [B, Z (+ C)]
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from molmat.nn.core import MLP, Dense
from molmat.nn.recurrent import Recurrent, reverse_within

from .language import RNNLanguageModel

PAD = 0


class SequenceVAE(eqx.Module):
    """Bidirectional GRU encoder → z → GRU/LSTM decoder, and MLP(z) → properties.

    Args:
        vocab: vocabulary size.
        cell, embed, hidden, layers, dropout: the decoder (the encoder shares
            its token embedding).
        encoder_hidden: width of each direction of the encoder GRU.
        latent: size Z of the latent space.
        n_properties: outputs P of the property head (0: no head).
        head_hidden: width of the head's hidden layer.
        n_condition: condition columns C of a conditional VAE (0: none).
        word_dropout: training-time rate at which decoder inputs are replaced
            by ``<pad>``, so the decoder must lean on ``z``.
    """

    decoder: RNNLanguageModel
    encoder_fwd: Recurrent
    encoder_bwd: Recurrent
    stats: Dense
    head: MLP | None
    latent: int = eqx.field(static=True)
    n_condition: int = eqx.field(static=True)
    word_dropout: float = eqx.field(static=True)

    def __init__(
        self,
        vocab: int,
        *,
        cell: str = "gru",
        embed: int = 64,
        hidden: int = 256,
        layers: int = 2,
        dropout: float = 0.0,
        encoder_hidden: int = 256,
        latent: int = 64,
        n_properties: int = 3,
        head_hidden: int = 128,
        n_condition: int = 0,
        word_dropout: float = 0.0,
        key: PRNGKeyArray,
    ):
        k = jax.random.split(key, 5)
        self.decoder = RNNLanguageModel(
            vocab,
            cell=cell,
            embed=embed,
            hidden=hidden,
            layers=layers,
            dropout=dropout,
            n_condition=latent + n_condition,
            key=k[0],
        )
        self.encoder_fwd = Recurrent("gru", embed, encoder_hidden, 1, key=k[1])
        self.encoder_bwd = Recurrent("gru", embed, encoder_hidden, 1, key=k[2])
        self.stats = Dense(2 * encoder_hidden, 2 * latent, key=k[3])
        self.head = (
            MLP(latent, head_hidden, n_properties, key=k[4]) if n_properties else None
        )
        self.latent, self.n_condition = latent, n_condition
        self.word_dropout = word_dropout

    def encode(
        self, tokens: Int[Array, "B L"], lengths: Int[Array, " B"]
    ) -> tuple[Float[Array, "B Z"], Float[Array, "B Z"]]:
        """Mean and log-variance of q(z | tokens).

        ``tokens``: rows ``<bos> t1 ... tn <eos>`` then padding;
        ``lengths``: n + 2, the tokens of each row before its padding.
        """
        batch = tokens.shape[0]
        last = lengths - 1
        flipped = reverse_within(tokens, lengths)
        embed = self.decoder.embed
        fwd, _ = self.encoder_fwd(embed[tokens], self.encoder_fwd.zeros(batch))
        bwd, _ = self.encoder_bwd(embed[flipped], self.encoder_bwd.zeros(batch))
        both = jnp.concatenate([fwd, bwd], axis=-1)
        final = jnp.take_along_axis(both, last[:, None, None], axis=1)[:, 0]
        mu, logvar = jnp.split(self.stats(final), 2, axis=-1)
        return mu, logvar

    def predict(self, z: Float[Array, "B Z"]) -> Float[Array, "B P"]:
        """Standardised properties predicted from latents."""
        if self.head is None:
            return jnp.zeros((*z.shape[:-1], 0))
        return self.head(z, inference=True)

    def __call__(
        self,
        tokens: Int[Array, "B L+1"],
        condition: Float[Array, "B C"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> tuple[Float[Array, "B L V"], Array, Array, Float[Array, "B P"]]:
        """Logits of ``tokens[:, 1:]`` decoded from z ~ q(z | tokens) (z = mean
        without a key), the mean and log-variance, and the properties of z."""
        mu, logvar = self.encode(tokens, (tokens != PAD).sum(axis=1))
        inputs = tokens[:, :-1]
        if key is None:
            z, k_dec = mu, None
        else:
            k_z, k_word, k_dec = jax.random.split(key, 3)
            z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(k_z, mu.shape)
            if not inference and self.word_dropout > 0:
                drop = jax.random.bernoulli(k_word, self.word_dropout, inputs.shape)
                inputs = jnp.where(
                    drop & (jnp.arange(inputs.shape[1]) > 0), PAD, inputs
                )
        cond = jnp.concatenate([z, condition], axis=-1)
        logits = self.decoder(inputs, cond, key=k_dec, inference=inference)
        return logits, mu, logvar, self.predict(z)

    def start(self, condition: Float[Array, "B Z+C"], batch: int):
        """The decoder's sampling state for latents (and conditions) ``condition``."""
        return self.decoder.start(condition, batch)

    def step(self, state, token: Int[Array, " B"], t: Array, condition=None):
        return self.decoder.step(state, token, t, condition)
