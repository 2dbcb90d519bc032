"""Stacked GRU/LSTM layers over padded sequences, and their one-step form.

A whole sequence runs as one input projection per layer (a single matmul over
all time steps) followed by a ``lax.scan`` over time of the hidden-state
update only; :meth:`Recurrent.step` advances every layer by one token (for
sampling). Both give identical numbers.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.nn.core import Dense, dropout

CELLS = ("gru", "lstm")

# State: one [B, H] array per layer (GRU) or one (h, c) pair per layer (LSTM).
State = tuple


class Recurrent(eqx.Module):
    """``n_layers`` stacked GRU or LSTM layers (PyTorch's gate equations).

    Example:
        >>> rnn = Recurrent("gru", 4, 8, 2, key=jax.random.key(0))
        >>> ys, state = rnn(jnp.ones((3, 5, 4)), rnn.zeros(3))
        >>> ys.shape
        (3, 5, 8)
    """

    inputs: tuple[Dense, ...]
    hiddens: tuple[Dense, ...]
    cell: str = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    rate: float = eqx.field(static=True)

    def __init__(
        self,
        cell: str,
        d_in: int,
        hidden: int,
        n_layers: int,
        dropout: float = 0.0,
        *,
        key: PRNGKeyArray,
    ):
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")
        gates = 3 if cell == "gru" else 4
        keys = jax.random.split(key, 2 * n_layers)
        self.inputs = tuple(
            Dense(d_in if i == 0 else hidden, gates * hidden, key=keys[2 * i])
            for i in range(n_layers)
        )
        self.hiddens = tuple(
            Dense(hidden, gates * hidden, key=keys[2 * i + 1]) for i in range(n_layers)
        )
        self.cell, self.hidden, self.rate = cell, hidden, dropout

    def zeros(self, batch: int) -> State:
        """The all-zero state of a batch."""
        h = jnp.zeros((batch, self.hidden))
        return tuple(h if self.cell == "gru" else (h, h) for _ in self.inputs)

    def with_hidden(self, h0: Float[Array, "L B H"]) -> State:
        """A state whose hidden vectors are ``h0`` (LSTM cells start at 0)."""
        return tuple(h if self.cell == "gru" else (h, jnp.zeros_like(h)) for h in h0)

    def _update(self, layer: int, xw: Array, state):
        """One time step of one layer from its projected input ``xw`` [B, G*H]."""
        hw = self.hiddens[layer](state if self.cell == "gru" else state[0])
        if self.cell == "gru":
            xr, xz, xn = jnp.split(xw, 3, axis=-1)
            hr, hz, hn = jnp.split(hw, 3, axis=-1)
            r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)
            h = (1.0 - z) * n + z * state
            return h, h
        i, f, g, o = jnp.split(xw + hw, 4, axis=-1)
        c = jax.nn.sigmoid(f) * state[1] + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return h, (h, c)

    def __call__(
        self,
        xs: Float[Array, "B L d"],
        state: State,
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> tuple[Float[Array, "B L H"], State]:
        """Outputs of the last layer at every step, and the final state."""
        keys = jax.random.split(key, len(self.inputs)) if key is not None else None
        final = []
        for layer, proj in enumerate(self.inputs):
            if layer:
                k = None if keys is None else keys[layer]
                xs = dropout(xs, self.rate, k, inference)
            xw = jnp.swapaxes(proj(xs), 0, 1)  # [L, B, G*H]: one matmul

            def body(s, x, layer=layer):
                h, s = self._update(layer, x, s)
                return s, h

            s, hs = jax.lax.scan(body, state[layer], xw)
            xs = jnp.swapaxes(hs, 0, 1)
            final.append(s)
        return xs, tuple(final)

    def step(
        self, x: Float[Array, "B d"], state: State
    ) -> tuple[Float[Array, "B H"], State]:
        """One token through every layer (inference: no dropout)."""
        return self.step_projected(self.inputs[0](x), state)

    def step_projected(
        self, xw: Float[Array, "B GH"], state: State
    ) -> tuple[Float[Array, "B H"], State]:
        """:meth:`step` given the first layer's projected input ``xw``."""
        x, s = self._update(0, xw, state[0])
        new = [s]
        for layer in range(1, len(self.inputs)):
            x, s = self._update(layer, self.inputs[layer](x), state[layer])
            new.append(s)
        return x, tuple(new)


def reverse_within(x: Array, lengths: Array) -> Array:
    """Each row of ``x`` [B, L, ...] reversed within its first ``lengths`` [B]
    positions; the padding after them stays in place (so a backward
    recurrence over the result starts at each row's last real token)."""
    pos = jnp.arange(x.shape[1])
    last = lengths[:, None] - 1
    order = jnp.where(pos < lengths[:, None], last - pos, pos)
    order = order.reshape(order.shape + (1,) * (x.ndim - 2))
    return jnp.take_along_axis(x, order, axis=1)
