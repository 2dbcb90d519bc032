"""Autoregressive language models over molecule tokens.

Both networks read ``<bos> t1 ... tn`` and predict ``t1 ... tn <eos>``; an
optional condition vector [C] (standardised properties, or a VAE latent) is
projected and added to every input embedding (and, for the RNN, sets the
initial hidden state). Both expose the same sampling interface::

    state = model.start(condition, batch)
    logits, state = model.step(state, token, t)  # [B, V]

which gives the same logits as the full forward pass.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from molmat.nn.core import Dense, dropout
from molmat.nn.recurrent import Recurrent
from molmat.nn.transformer import TransformerBlock, layer_norm

ARCHITECTURES = ("rnn", "transformer")


def _embedding(key, vocab: int, dim: int) -> Array:
    return jax.random.normal(key, (vocab, dim)) * dim**-0.5


class RNNLanguageModel(eqx.Module):
    """Token embedding → stacked GRU/LSTM → linear layer to the vocabulary."""

    embed: Float[Array, "V E"]
    rnn: Recurrent
    head: Dense
    cond: Dense | None
    init: Dense | None
    rate: float = eqx.field(static=True)

    def __init__(
        self,
        vocab: int,
        *,
        cell: str = "gru",
        embed: int = 64,
        hidden: int = 256,
        layers: int = 2,
        dropout: float = 0.0,
        n_condition: int = 0,
        key: PRNGKeyArray,
    ):
        k = jax.random.split(key, 5)
        self.embed = _embedding(k[0], vocab, embed)
        self.rnn = Recurrent(cell, embed, hidden, layers, dropout, key=k[1])
        self.head = Dense(hidden, vocab, key=k[2])
        self.cond = Dense(n_condition, embed, key=k[3]) if n_condition else None
        self.init = (
            Dense(n_condition, layers * hidden, key=k[4]) if n_condition else None
        )
        self.rate = dropout

    def _inputs(self, tokens, condition):
        x = self.embed[tokens]
        if self.cond is not None:
            c = self.cond(condition)
            x = x + (c[:, None] if x.ndim == 3 else c)
        return x

    def start(self, condition: Float[Array, "B C"], batch: int):
        if self.init is None:
            return self.rnn.zeros(batch)
        h0 = jnp.tanh(self.init(condition)).reshape(batch, len(self.rnn.inputs), -1)
        return self.rnn.with_hidden(jnp.swapaxes(h0, 0, 1))

    def __call__(
        self,
        tokens: Int[Array, "B L"],
        condition: Float[Array, "B C"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> Float[Array, "B L V"]:
        k1, k2 = jax.random.split(key) if key is not None else (None, None)
        x = dropout(self._inputs(tokens, condition), self.rate, k1, inference)
        h, _ = self.rnn(
            x, self.start(condition, tokens.shape[0]), key=k2, inference=inference
        )
        return self.head(dropout(h, self.rate, k1, inference))

    def step(self, state, token: Int[Array, " B"], t: Array, condition=None):
        # the first layer's input projection of every token is one small
        # table [V, G*H]: a row lookup replaces a matmul per step
        first = self.rnn.inputs[0]
        xw = first(self.embed)[token]
        if self.cond is not None:
            xw = xw + self.cond(condition) @ first.weight
        h, state = self.rnn.step_projected(xw, state)
        return self.head(h), state


class TransformerLanguageModel(eqx.Module):
    """Token + learned position embeddings → causal blocks → final norm →
    linear layer to the vocabulary (GPT-style), with a key/value cache."""

    embed: Float[Array, "V d"]
    position: Float[Array, "P d"]
    blocks: tuple[TransformerBlock, ...]
    final_norm: Float[Array, "2 d"]
    head: Dense
    cond: Dense | None
    rate: float = eqx.field(static=True)

    def __init__(
        self,
        vocab: int,
        *,
        width: int = 256,
        heads: int = 8,
        layers: int = 4,
        max_len: int = 128,
        dropout: float = 0.0,
        n_condition: int = 0,
        key: PRNGKeyArray,
    ):
        k = jax.random.split(key, layers + 4)
        self.embed = _embedding(k[0], vocab, width)
        self.position = jax.random.normal(k[1], (max_len, width)) * 0.02
        self.blocks = tuple(
            TransformerBlock(width, heads, dropout, causal=True, key=k[4 + i])
            for i in range(layers)
        )
        self.final_norm = jnp.stack([jnp.ones(width), jnp.zeros(width)])
        self.head = Dense(width, vocab, key=k[2])
        self.cond = Dense(n_condition, width, key=k[3]) if n_condition else None
        self.rate = dropout

    @property
    def max_len(self) -> int:
        return self.position.shape[0]

    def __call__(
        self,
        tokens: Int[Array, "B L"],
        condition: Float[Array, "B C"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> Float[Array, "B L V"]:
        length = tokens.shape[1]
        if length > self.max_len:
            raise ValueError(f"{length} positions, the model has {self.max_len}")
        x = self.embed[tokens] + self.position[:length]
        if self.cond is not None:
            x = x + self.cond(condition)[:, None]
        keys = (
            jax.random.split(key, len(self.blocks) + 1)
            if key is not None
            else [None] * (len(self.blocks) + 1)
        )
        x = dropout(x, self.rate, keys[-1], inference)
        for block, k in zip(self.blocks, keys, strict=False):
            x = block(x, key=k, inference=inference)
        return self.head(layer_norm(x, *self.final_norm))

    def start(self, condition: Float[Array, "B C"], batch: int):
        heads = self.blocks[0].heads
        shape = (batch, self.max_len, heads, self.embed.shape[1] // heads)
        return tuple((jnp.zeros(shape), jnp.zeros(shape)) for _ in self.blocks)

    def step(self, state, token: Int[Array, " B"], t: Array, condition=None):
        t = jnp.broadcast_to(jnp.asarray(t), token.shape)  # one position per row
        x = self.embed[token] + self.position[t]
        if self.cond is not None:
            x = x + self.cond(condition)
        caches = []
        for block, cache in zip(self.blocks, state, strict=True):
            x, cache = block.step(x, cache, t)
            caches.append(cache)
        return self.head(layer_norm(x, *self.final_norm)), tuple(caches)
