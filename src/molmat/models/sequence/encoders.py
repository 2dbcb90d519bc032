"""Encoders of token sequences: 1D CNN, bidirectional GRU, transformer.

Every encoder maps embedded tokens ``x`` [B, L, d] and the mask of real
tokens [B, L] to per-token states [B, L, width]. Padding never reaches a real
token's state: the CNN zeroes padded positions before every convolution (as
a row alone with zero padding would see them), the backward GRU runs over
each row reversed within its own length, and the transformer attends only to
real tokens. A sequence therefore gets the same states alone or in any
padded batch.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from molmat.nn.core import dropout
from molmat.nn.recurrent import Recurrent, reverse_within
from molmat.nn.transformer import TransformerBlock, layer_norm

ENCODERS = ("cnn1d", "gru", "transformer")


class Conv1D(eqx.Module):
    """A 'same'-padded 1D convolution over the length axis of [B, L, d_in]."""

    weight: Float[Array, "k d_in d_out"]
    bias: Float[Array, " d_out"]

    def __init__(self, d_in: int, d_out: int, width: int, *, key: PRNGKeyArray):
        bound = 1.0 / jnp.sqrt(d_in * width)
        wkey, bkey = jax.random.split(key)
        self.weight = jax.random.uniform(
            wkey, (width, d_in, d_out), minval=-bound, maxval=bound
        )
        self.bias = jax.random.uniform(bkey, (d_out,), minval=-bound, maxval=bound)

    def __call__(self, x: Float[Array, "B L d_in"]) -> Float[Array, "B L d_out"]:
        y = jax.lax.conv_general_dilated(
            x, self.weight, (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC")
        )
        return y + self.bias


class CNNEncoder(eqx.Module):
    """``depth`` residual blocks ``x + relu(conv(x))`` (kernel ``kernel``)
    after a projection to ``width`` channels."""

    project: Conv1D
    convs: tuple[Conv1D, ...]
    rate: float = eqx.field(static=True)

    def __init__(
        self,
        d_in: int,
        width: int,
        depth: int,
        kernel: int = 5,
        dropout: float = 0.0,
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, depth + 1)
        self.project = Conv1D(d_in, width, 1, key=keys[0])
        self.convs = tuple(Conv1D(width, width, kernel, key=k) for k in keys[1:])
        self.rate = dropout

    def __call__(self, x, mask, *, key=None, inference=True) -> Array:
        keep = mask[..., None]
        h = self.project(x) * keep
        keys = _keys(key, len(self.convs))
        for conv, k in zip(self.convs, keys, strict=True):
            h = h + dropout(jax.nn.relu(conv(h)), self.rate, k, inference)
            h = h * keep
        return h


class BiGRUEncoder(eqx.Module):
    """Stacked forward and backward GRUs; states are the two concatenated
    (width = 2 × ``hidden``)."""

    forward: Recurrent
    backward: Recurrent

    def __init__(
        self,
        d_in: int,
        hidden: int,
        depth: int,
        dropout: float = 0.0,
        *,
        key: PRNGKeyArray,
    ):
        k1, k2 = jax.random.split(key)
        self.forward = Recurrent("gru", d_in, hidden, depth, dropout, key=k1)
        self.backward = Recurrent("gru", d_in, hidden, depth, dropout, key=k2)

    def __call__(self, x, mask, *, key=None, inference=True) -> Array:
        lengths = mask.sum(axis=1)
        k1, k2 = _keys(key, 2)
        batch = x.shape[0]
        fwd, _ = self.forward(x, self.forward.zeros(batch), key=k1, inference=inference)
        flipped = reverse_within(x, lengths)
        bwd, _ = self.backward(
            flipped, self.backward.zeros(batch), key=k2, inference=inference
        )
        both = jnp.concatenate([fwd, reverse_within(bwd, lengths)], axis=-1)
        return both * mask[..., None]


def sinusoid(length: int, width: int) -> Float[Array, "L d"]:
    """Fixed sinusoidal position encodings (Vaswani et al. 2017)."""
    pos = jnp.arange(length)[:, None]
    freq = jnp.exp(-jnp.log(10000.0) * jnp.arange(0, width, 2) / width)
    angles = pos * freq[None]
    table = jnp.zeros((length, width))
    table = table.at[:, 0::2].set(jnp.sin(angles))
    return table.at[:, 1::2].set(jnp.cos(angles[:, : width // 2]))


class TransformerEncoder(eqx.Module):
    """Projection + sinusoidal positions → bidirectional pre-norm blocks that
    attend to real tokens only → final layer norm. Any length is accepted."""

    project: Conv1D
    blocks: tuple[TransformerBlock, ...]
    final_norm: Float[Array, "2 d"]
    rate: float = eqx.field(static=True)

    def __init__(
        self,
        d_in: int,
        width: int,
        depth: int,
        heads: int = 4,
        dropout: float = 0.0,
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, depth + 1)
        self.project = Conv1D(d_in, width, 1, key=keys[0])
        self.blocks = tuple(
            TransformerBlock(width, heads, dropout, causal=False, key=k)
            for k in keys[1:]
        )
        self.final_norm = jnp.stack([jnp.ones(width), jnp.zeros(width)])
        self.rate = dropout

    def _inputs(self, x: Array) -> Array:
        return self.project(x) + sinusoid(x.shape[1], self.final_norm.shape[1])

    def __call__(self, x, mask, *, key=None, inference=True) -> Array:
        keys = _keys(key, len(self.blocks) + 1)
        h = dropout(self._inputs(x), self.rate, keys[-1], inference)
        for block, k in zip(self.blocks, keys, strict=False):
            h = block(h, mask, key=k, inference=inference)
        return layer_norm(h, *self.final_norm) * mask[..., None]

    def attention_weights(
        self, x: Float[Array, "B L d"], mask: Bool[Array, "B L"]
    ) -> Float[Array, "layers B heads L L"]:
        """Attention probabilities of every block and head (inference)."""
        h, maps = self._inputs(x), []
        for block in self.blocks:
            maps.append(block.attention_weights(h, mask))
            h = block(h, mask)
        return jnp.stack(maps)


def _keys(key: PRNGKeyArray | None, n: int) -> list:
    return list(jax.random.split(key, n)) if key is not None else [None] * n
