"""Basic layers: a dense layer on the last axis and an MLP with dropout."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


class Dense(eqx.Module):
    """``x @ weight + bias`` on the last axis; PyTorch-style uniform init.

    Example:
        >>> layer = Dense(4, 2, key=jax.random.key(0))
        >>> layer(jnp.ones((3, 4))).shape
        (3, 2)
    """

    weight: Float[Array, "d_in d_out"]
    bias: Float[Array, " d_out"] | None

    def __init__(
        self, d_in: int, d_out: int, *, use_bias: bool = True, key: PRNGKeyArray
    ):
        wkey, bkey = jax.random.split(key)
        bound = 1.0 / jnp.sqrt(max(d_in, 1))
        self.weight = jax.random.uniform(
            wkey, (d_in, d_out), minval=-bound, maxval=bound
        )
        self.bias = (
            jax.random.uniform(bkey, (d_out,), minval=-bound, maxval=bound)
            if use_bias
            else None
        )

    def __call__(self, x: Float[Array, "... d_in"]) -> Float[Array, "... d_out"]:
        y = x @ self.weight
        return y if self.bias is None else y + self.bias


class OneHotDense(eqx.Module):
    """``x @ weight + bias`` for inputs whose first ``n_onehot`` columns are one-hot.

    The one-hot block (at most one non-zero entry per row, e.g. the element of an
    atom) is applied as a row lookup scaled by that entry, so it costs nothing
    like a matmul; the rest is a dense product. The result equals a
    :class:`Dense` layer with the stacked weights.

    Example:
        >>> layer = OneHotDense(5, 3, n_onehot=3, key=jax.random.key(0))
        >>> layer(jnp.array([[0.0, 1.0, 0.0, 0.5, 2.0]])).shape
        (1, 3)
    """

    onehot: Float[Array, "n_onehot d_out"]
    dense: Dense
    n_onehot: int = eqx.field(static=True)

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        n_onehot: int,
        use_bias: bool = True,
        key: PRNGKeyArray,
    ):
        full = Dense(d_in, d_out, use_bias=use_bias, key=key)
        self.onehot = full.weight[:n_onehot]
        self.dense = eqx.tree_at(lambda d: d.weight, full, full.weight[n_onehot:])
        self.n_onehot = n_onehot

    def __call__(self, x: Float[Array, "n d_in"]) -> Float[Array, "n d_out"]:
        block = x[:, : self.n_onehot]
        hot = jnp.argmax(block, axis=-1)
        scale = jnp.take_along_axis(block, hot[:, None], axis=-1)
        return self.onehot[hot] * scale + self.dense(x[:, self.n_onehot :])


def dropout(x: Array, rate: float, key: PRNGKeyArray | None, inference: bool) -> Array:
    """Inverted dropout; identity when ``inference`` or ``rate == 0``."""
    if inference or rate == 0.0 or key is None:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


class MLP(eqx.Module):
    """Feed-forward network: (Dense -> ReLU -> dropout) x n_hidden -> Dense.

    ``d_hidden`` is one width (used ``n_hidden`` times) or a list of widths.

    Example:
        >>> mlp = MLP(8, 16, 1, n_hidden=2, key=jax.random.key(0))
        >>> mlp(jnp.ones((5, 8)), inference=True).shape
        (5, 1)
        >>> MLP(8, [32, 16], 1, key=jax.random.key(0)).layers[1].weight.shape
        (32, 16)
    """

    layers: tuple[Dense, ...]
    rate: float = eqx.field(static=True)

    def __init__(
        self,
        d_in: int,
        d_hidden: int | Sequence[int],
        d_out: int,
        *,
        n_hidden: int = 1,
        dropout: float = 0.0,
        key: PRNGKeyArray,
    ):
        widths = [d_hidden] * n_hidden if isinstance(d_hidden, int) else d_hidden
        sizes = [d_in, *widths, d_out]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            Dense(a, b, key=k)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        )
        self.rate = dropout

    def __call__(
        self,
        x: Float[Array, "... d_in"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = False,
    ) -> Float[Array, "... d_out"]:
        keys = (
            jax.random.split(key, len(self.layers))
            if key is not None
            else [None] * len(self.layers)
        )
        for layer, k in zip(self.layers[:-1], keys[:-1], strict=True):
            x = dropout(jax.nn.relu(layer(x)), self.rate, k, inference)
        return self.layers[-1](x)


class GRUCell(eqx.Module):
    """Gated recurrent unit on rows (PyTorch's equations), batched as matmuls.

    ``r, z = sigmoid(x W_xr + h W_hr), sigmoid(x W_xz + h W_hz)``,
    ``n = tanh(x W_xn + r * (h W_hn))``, returns ``(1 - z) n + z h``.

    Example:
        >>> gru = GRUCell(4, 8, key=jax.random.key(0))
        >>> gru(jnp.ones((3, 4)), jnp.zeros((3, 8))).shape
        (3, 8)
    """

    input: Dense
    hidden: Dense

    def __init__(self, d_in: int, d_hidden: int, *, key: PRNGKeyArray):
        k1, k2 = jax.random.split(key)
        self.input = Dense(d_in, 3 * d_hidden, key=k1)
        self.hidden = Dense(d_hidden, 3 * d_hidden, key=k2)

    def __call__(
        self, x: Float[Array, "n d_in"], h: Float[Array, "n d_hidden"]
    ) -> Float[Array, "n d_hidden"]:
        xr, xz, xn = jnp.split(self.input(x), 3, axis=-1)
        hr, hz, hn = jnp.split(self.hidden(h), 3, axis=-1)
        r = jax.nn.sigmoid(xr + hr)
        z = jax.nn.sigmoid(xz + hz)
        n = jnp.tanh(xn + r * hn)
        return (1.0 - z) * n + z * h


def copy_weights(target, source):
    """``target`` (a module or pytree) holding the arrays of ``source``, an
    equally shaped one (e.g. a pretrained encoder); ``target``'s static
    settings (such as its dropout rate) are kept.

    Raises:
        ValueError: the two differ in structure or shapes.
    """
    mine, theirs = jax.tree.leaves(target), jax.tree.leaves(source)
    if [x.shape for x in mine] != [x.shape for x in theirs]:
        raise ValueError(
            "the pretrained weights do not fit this network (other layers or sizes)"
        )
    return jax.tree.unflatten(jax.tree.structure(target), theirs)
