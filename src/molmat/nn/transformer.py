"""Transformer blocks: causal (decoders, with a key/value cache) and
bidirectional with a padding mask (encoders).

:meth:`TransformerBlock.__call__` runs a whole sequence, with a causal mask
for a decoder block; :meth:`TransformerBlock.step` runs one position of a
decoder against the cache of the earlier ones (for sampling) and gives the
same numbers. Pre-layer-norm residual blocks (GPT-2 style). An encoder block
attends only to the real tokens of each row, so padding never changes the
states of real tokens.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from molmat.nn.core import Dense, dropout

# Cache of one block: keys and values [B, L_max, heads, d_head].
Cache = tuple[Array, Array]


def layer_norm(x: Float[Array, "... d"], scale, offset, eps: float = 1e-5):
    mean = x.mean(-1, keepdims=True)
    var = jnp.mean((x - mean) ** 2, -1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * scale + offset


class TransformerBlock(eqx.Module):
    """``x + attn(ln(x))`` then ``x + mlp(ln(x))``; attention is causal in a
    decoder block (``causal=True``).

    Example:
        >>> block = TransformerBlock(16, 4, causal=True, key=jax.random.key(0))
        >>> block(jnp.ones((2, 5, 16))).shape
        (2, 5, 16)
    """

    qkv: Dense
    out: Dense
    up: Dense
    down: Dense
    norms: Float[Array, "4 d"]  # scale1, offset1, scale2, offset2
    heads: int = eqx.field(static=True)
    rate: float = eqx.field(static=True)
    causal: bool = eqx.field(static=True)

    def __init__(
        self,
        d: int,
        heads: int,
        dropout: float = 0.0,
        *,
        causal: bool,
        key: PRNGKeyArray,
    ):
        if d % heads:
            raise ValueError(f"width {d} is not divisible by {heads} heads")
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.qkv = Dense(d, 3 * d, key=k1)
        self.out = Dense(d, d, key=k2)
        self.up = Dense(d, 4 * d, key=k3)
        self.down = Dense(4 * d, d, key=k4)
        self.norms = jnp.stack([jnp.ones(d), jnp.zeros(d), jnp.ones(d), jnp.zeros(d)])
        self.heads, self.rate, self.causal = heads, dropout, causal

    def _split(self, x: Float[Array, "... d"]) -> tuple[Array, Array, Array]:
        q, k, v = jnp.split(self.qkv(x), 3, axis=-1)
        shape = (*x.shape[:-1], self.heads, x.shape[-1] // self.heads)
        return q.reshape(shape), k.reshape(shape), v.reshape(shape)

    def _mlp(self, x, key, inference):
        h = layer_norm(x, self.norms[2], self.norms[3])
        h = self.down(jax.nn.gelu(self.up(h)))
        return x + dropout(h, self.rate, key, inference)

    def __call__(
        self,
        x: Float[Array, "B L d"],
        mask: Bool[Array, "B L"] | None = None,
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> Float[Array, "B L d"]:
        """States of every position; ``mask`` marks the real tokens (keys
        outside it are not attended to)."""
        k1, k2 = jax.random.split(key) if key is not None else (None, None)
        q, k, v = self._split(layer_norm(x, self.norms[0], self.norms[1]))
        a = _attend(q, k, v, self._allowed(x.shape[1], mask))
        x = x + dropout(self.out(a.reshape(x.shape)), self.rate, k1, inference)
        return self._mlp(x, k2, inference)

    def attention_weights(
        self, x: Float[Array, "B L d"], mask: Bool[Array, "B L"] | None = None
    ) -> Float[Array, "B h L L"]:
        """Attention probabilities of every head (query rows, key columns)."""
        q, k, _ = self._split(layer_norm(x, self.norms[0], self.norms[1]))
        return _weights(q, k, self._allowed(x.shape[1], mask))

    def _allowed(self, length: int, mask) -> Bool[Array, "B|1 1 L L"]:
        allowed = jnp.ones((1, 1, length, length), bool)
        if self.causal:
            allowed = jnp.tril(allowed)
        if mask is not None:
            allowed = allowed & mask[:, None, None, :]
        return allowed

    def step(
        self, x: Float[Array, "B d"], cache: Cache, t: Array
    ) -> tuple[Float[Array, "B d"], Cache]:
        """Position ``t`` [B] of each row, attending to its cached positions
        ≤ ``t`` (earlier entries past ``t`` are stale and masked)."""
        q, k, v = self._split(layer_norm(x, self.norms[0], self.norms[1]))
        rows = jnp.arange(x.shape[0])
        keys = cache[0].at[rows, t].set(k)
        values = cache[1].at[rows, t].set(v)
        seen = jnp.arange(keys.shape[1])[None, :] <= t[:, None]  # [B, L]
        a = _attend(q[:, None], keys, values, seen[:, None, None, :])
        x = x + self.out(a.reshape(x.shape))
        return self._mlp(x, None, True), (keys, values)


def _weights(q, k, mask) -> Array:
    """Softmax attention weights [B, h, Lq, Lk]; q [B, Lq, h, dh], k [B, Lk,
    h, dh], mask broadcastable to [B, h, Lq, Lk]."""
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(q.shape[-1])
    # a finite floor: a row with no allowed key (a padded row) stays finite
    floor = jnp.finfo(logits.dtype).min
    return jax.nn.softmax(jnp.where(mask, logits, floor), axis=-1)


def _attend(q, k, v, mask) -> Array:
    """Softmax attention of q [B, Lq, h, dh] over k/v [B, Lk, h, dh]. Returns
    [B, Lq, h, dh]."""
    return jnp.einsum("bhqk,bkhd->bqhd", _weights(q, k, mask), v)
