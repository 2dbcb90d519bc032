"""ChemNet (Preuer et al. 2018), the network behind the Fréchet ChemNet Distance.

A port of the ``fcd`` package's PyTorch model (version 1.2.2, weights
``ChemNet_v0.13_pretrained.pt``), layer for layer:

1. a SMILES is split into tokens (``Cl``, ``Br``, ``Si`` are one token; any
   character outside :data:`VOCAB` becomes ``X``), an end token ``.`` is
   appended, and the tokens are one-hot encoded, scaled by 1/35, into a
   ``[pad_length, 35]`` array whose unused rows are zero;
2. two 1-D convolutions (kernel 4, stride 2, no bias, TensorFlow's "same"
   padding), each followed by SELU: 350 positions become 88;
3. an LSTM (128 units) run over the positions backwards, then an LSTM (512
   units) run forwards over its outputs; the 512 outputs of its last step are
   the activations FCD compares.

The padding is part of the network's input, not masked: both LSTMs step
through the zero rows too (the convolutions keep them zero, having no bias),
and the second one ends on them. The activations of a molecule therefore
depend on ``pad_length``; fcd uses 350 characters, or one more than the
longest SMILES of the list when that is longer (:func:`pad_length`), and so
does this port. Every batch of a list shares that length, so one compilation
serves all of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from molmat.data.torch_weights import TorchFileError, load_torch_file

# fcd's vocabulary, in its index order; "X" stands for unknown characters, "." ends.
# fmt: off
VOCAB = (
    "C", "N", "O", "H", "F", "Cl", "P", "B", "Br", "S", "I", "Si", "#", "(", ")",
    "+", "-", "1", "2", "3", "4", "5", "6", "7", "8", "=", "[", "]", "@", "c",
    "n", "o", "s", "X", ".",
)
# fmt: on
INDEX = {token: i for i, token in enumerate(VOCAB)}
DEFAULT_PAD_LENGTH = 350  # characters, fcd's default
OUTPUT_SIZE = 512
# Longest tokens first, then any single character (unknown ones included).
_TOKENS = re.compile(
    "|".join(re.escape(t) for t in sorted(VOCAB, key=len, reverse=True)) + "|.",
    re.DOTALL,
)
_HIGHEST = jax.lax.Precision.HIGHEST  # no reduced-precision matmuls on GPUs


def tokenize(smiles: str) -> list[int]:
    """Vocabulary indices of ``smiles`` plus the end token ``.``."""
    return [INDEX.get(token, INDEX["X"]) for token in _TOKENS.findall(smiles + ".")]


def pad_length(smiles: list[str]) -> int:
    """fcd's padded length for a list: 350, or 1 + the longest SMILES (characters)."""
    return max(DEFAULT_PAD_LENGTH, max((len(s) + 1 for s in smiles), default=0))


def encode(smiles: list[str], length: int) -> np.ndarray:
    """Token indices ``[len(smiles), length]`` (int32), padded with -1."""
    out = np.full((len(smiles), length), -1, dtype=np.int32)
    for row, s in zip(out, smiles, strict=True):
        tokens = tokenize(s)
        if len(tokens) > length:
            raise ValueError(f"SMILES of {len(tokens)} tokens exceeds length {length}")
        row[: len(tokens)] = tokens
    return out


def same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """Zeros (before, after) for "same" padding, exactly as fcd computes them
    (TensorFlow's rule for stride 2, ChemNet's; fcd's own for other strides)."""
    pad = max(kernel - (length % stride or stride), 0)
    if pad % stride == 0:
        return pad // stride, pad // stride
    return pad // stride, pad - pad // stride


class Conv(eqx.Module):
    """1-D convolution without bias, "same" padding, then SELU."""

    weight: Float[Array, "c_out c_in kernel"]
    stride: int = eqx.field(static=True)

    def __call__(
        self, x: Float[Array, "batch c_in length"]
    ) -> Float[Array, "batch c_out length2"]:
        padding = same_padding(x.shape[-1], self.weight.shape[-1], self.stride)
        y = jax.lax.conv_general_dilated(
            x,
            self.weight,
            window_strides=(self.stride,),
            padding=[padding],
            dimension_numbers=("NCH", "OIH", "NCH"),
            precision=_HIGHEST,
        )
        return jax.nn.selu(y)


class LSTM(eqx.Module):
    """One LSTM layer, PyTorch's gate order (input, forget, cell, output)."""

    w_ih: Float[Array, "4h c_in"]
    w_hh: Float[Array, "4h h"]
    bias: Float[Array, " 4h"]  # b_ih + b_hh

    def __call__(self, xs: Float[Array, "time batch c_in"]) -> tuple[Array, Array]:
        """Outputs ``[time, batch, h]`` and the last ``[batch, h]``, from zero state."""
        gates_x = jnp.matmul(xs, self.w_ih.T, precision=_HIGHEST) + self.bias
        zeros = jnp.zeros((xs.shape[1], self.w_hh.shape[1]), xs.dtype)

        def step(carry, gx):
            h, c = carry
            z = gx + jnp.matmul(h, self.w_hh.T, precision=_HIGHEST)
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        (h, _), hs = jax.lax.scan(step, (zeros, zeros), gates_x)
        return hs, h


class ChemNet(eqx.Module):
    """ChemNet up to its penultimate layer: token indices -> 512 activations."""

    conv1: Conv
    conv2: Conv
    lstm1: LSTM  # run backwards
    lstm2: LSTM  # run forwards; its last output is the result

    def __call__(self, tokens: Int[Array, "batch length"]) -> Float[Array, "batch 512"]:
        """Activations of a padded batch (-1 = padding, see :func:`encode`)."""
        x = jax.nn.one_hot(tokens, len(VOCAB), dtype=jnp.float32) / len(VOCAB)
        x = self.conv2(self.conv1(jnp.swapaxes(x, 1, 2)))  # [batch, 32, time]
        x = jnp.transpose(x, (2, 0, 1))  # [time, batch, 32]
        backwards, _ = self.lstm1(x[::-1])
        _, last = self.lstm2(backwards[::-1])
        return last


def _conv(layer: tuple, name: str) -> Conv:
    state, kwargs, other = layer
    expected = {"activation": "selu", "padding": "same"}
    if kwargs.get("bias") or other != expected or kwargs.get("dilation", (1,)) != (1,):
        raise TorchFileError(f"{name}: convolution {kwargs} {other} is not ChemNet's")
    return Conv(jnp.asarray(state["weight"], jnp.float32), int(kwargs["stride"]))


def _lstm(layer: tuple, name: str, last: bool) -> LSTM:
    state, kwargs, other = layer
    if other != {"reverse": True, "last": last} or not kwargs.get("batch_first"):
        raise TorchFileError(f"{name}: LSTM {kwargs} {other} is not ChemNet's")
    bias = state["bias_ih_l0"].astype(np.float32) + state["bias_hh_l0"]
    return LSTM(
        jnp.asarray(state["weight_ih_l0"], jnp.float32),
        jnp.asarray(state["weight_hh_l0"], jnp.float32),
        jnp.asarray(bias),
    )


def load_chemnet(path: str | Path) -> ChemNet:
    """ChemNet from fcd's ``ChemNet_v0.13_pretrained.pt`` (no PyTorch needed).

    The file holds a list of ``(layer type, (state dict, kwargs, options))``;
    its layers must be ChemNet's: two "same" SELU convolutions, then two
    backwards LSTMs, the second one's last step kept.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        TorchFileError: if it is unreadable or not this architecture.
    """
    layers = load_torch_file(path)
    pairs = isinstance(layers, list) and all(
        isinstance(layer, tuple) and len(layer) == 2 for layer in layers
    )
    kinds = [kind for kind, _ in layers] if pairs else None
    if kinds != ["Conv1d", "Conv1d", "LSTM", "LSTM"]:
        raise TorchFileError(f"{path}: layers {kinds} are not ChemNet's")
    try:
        net = ChemNet(
            conv1=_conv(layers[0][1], str(path)),
            conv2=_conv(layers[1][1], str(path)),
            lstm1=_lstm(layers[2][1], str(path), last=False),
            lstm2=_lstm(layers[3][1], str(path), last=True),
        )
    except TorchFileError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise TorchFileError(f"{path}: malformed ChemNet layer ({e!r})") from e
    if (
        net.conv1.weight.shape[1] != len(VOCAB)
        or net.lstm2.w_hh.shape[1] != OUTPUT_SIZE
    ):
        raise TorchFileError(f"{path}: layer shapes are not ChemNet's")
    return net
