"""Normalizing-flow bijections on Equinox.

Every bijection maps one data-side vector ``x`` [D] to a base-side vector
``z`` [D] given a condition ``c`` [C] (C may be 0) and returns the log
absolute Jacobian determinant of that direction:

- ``forward(x, c) -> (z, log|det dz/dx|)`` (density evaluation),
- ``inverse(z, c) -> (x, log|det dx/dz|)`` (sampling).

Batches are ``jax.vmap`` over the leading axis (see
:class:`molmat.models.generative.flow.Flow`).

Transforms:

- :class:`AffineCoupling`: RealNVP (Dinh et al. 2017): half the variables
  shift and scale the other half.
- :class:`MaskedAffineAutoregressive`: MAF (Papamakarios et al. 2017): each
  variable shifted and scaled by a MADE network of the ones before it; the
  density pass is one network call, sampling takes D.
- :class:`SplineCoupling`: rational-quadratic splines (Durkan et al. 2019)
  with ``bins`` bins on [-bound, bound] and the identity outside, their
  knots and slopes set by the other half of the variables.
- :class:`Permute`: a fixed reordering between layers.
- :class:`Domain`: positive variables through ``log``, bounded ones
  through ``logit`` of their position in the interval, then a fixed
  standardisation: densities of constrained data without clipping.

Conditioners end in a zero-initialised layer, so a new flow is the identity.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from molmat.nn.core import MLP

REAL, POSITIVE, BOUNDED = 0, 1, 2  # Domain kinds
MIN_BIN = 1e-3  # smallest spline bin width/height, as a share of 2 * bound
MIN_SLOPE = 1e-3  # smallest spline derivative at a knot


class Bijection(eqx.Module):
    """``x`` [D] <-> ``z`` [D] given ``c`` [C]; each direction returns its
    log absolute Jacobian determinant."""

    def forward(self, x: Float[Array, " D"], c: Float[Array, " C"]):
        raise NotImplementedError

    def inverse(self, z: Float[Array, " D"], c: Float[Array, " C"]):
        raise NotImplementedError


def zero_last(mlp: MLP) -> MLP:
    """``mlp`` with its output layer's weight and bias at zero."""
    last = mlp.layers[-1]
    return eqx.tree_at(
        lambda m: (m.layers[-1].weight, m.layers[-1].bias),
        mlp,
        (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)),
    )


def soft_clamp(raw: Array, limit: float = 3.0) -> Array:
    """``limit * tanh(raw / limit)``: log-scales kept in (-limit, limit)."""
    return limit * jnp.tanh(raw / limit)


class Permute(Bijection):
    """``z = x[perm]``."""

    perm: tuple[int, ...] = eqx.field(static=True)

    def forward(self, x, c):
        return x[np.asarray(self.perm)], jnp.zeros((), x.dtype)

    def inverse(self, z, c):
        return z[np.argsort(self.perm)], jnp.zeros((), z.dtype)


class Domain(Bijection):
    """Constrained data to standardised real values, per variable.

    ``kinds[i]`` is :data:`REAL`, :data:`POSITIVE` (``u = log x``) or
    :data:`BOUNDED` (``u = logit((x - low) / (high - low))``); then
    ``z = (u - mean) / std`` with the training data's statistics of ``u``.
    """

    kinds: tuple[int, ...] = eqx.field(static=True)
    low: tuple[float, ...] = eqx.field(static=True)
    high: tuple[float, ...] = eqx.field(static=True)
    mean: tuple[float, ...] = eqx.field(static=True)
    std: tuple[float, ...] = eqx.field(static=True)

    def _arrays(self, dtype):
        return (
            np.asarray(self.kinds),
            *(
                jnp.asarray(v, dtype)
                for v in (self.low, self.high, self.mean, self.std)
            ),
        )

    def forward(self, x, c):
        kinds, low, high, mean, std = self._arrays(x.dtype)
        positive, bounded = kinds == POSITIVE, kinds == BOUNDED
        width = high - low
        p = (x - low) / width
        safe_x = jnp.where(positive, x, 1.0)
        safe_p = jnp.where(bounded, p, 0.5)
        u = jnp.where(
            positive,
            jnp.log(safe_x),
            jnp.where(bounded, jnp.log(safe_p) - jnp.log1p(-safe_p), x),
        )
        log_du = jnp.where(
            positive,
            -jnp.log(safe_x),
            jnp.where(
                bounded, -jnp.log(safe_p) - jnp.log1p(-safe_p) - jnp.log(width), 0.0
            ),
        )
        return (u - mean) / std, jnp.sum(log_du - jnp.log(std))

    def inverse(self, z, c):
        kinds, low, high, mean, std = self._arrays(z.dtype)
        positive, bounded = kinds == POSITIVE, kinds == BOUNDED
        u = z * std + mean
        x = jnp.where(
            positive,
            jnp.exp(u),
            jnp.where(bounded, low + (high - low) * jax.nn.sigmoid(u), u),
        )
        log_dx = jnp.where(
            positive,
            u,
            jnp.where(
                bounded,
                jnp.log(high - low) + jax.nn.log_sigmoid(u) + jax.nn.log_sigmoid(-u),
                0.0,
            ),
        )
        return x, jnp.sum(log_dx + jnp.log(std))


def split_mask(dim: int, parity: int) -> tuple[bool, ...]:
    """Alternating halves: ``True`` marks the variables that condition."""
    return tuple(bool((i + parity) % 2) for i in range(dim))


class AffineCoupling(Bijection):
    """``z_b = x_b * exp(s) + t`` with ``(s, t) = net(x_a, c)``, ``z_a = x_a``."""

    net: MLP
    mask: tuple[bool, ...] = eqx.field(static=True)

    def __init__(self, mask, cond_dim: int, hidden: int, depth: int, *, key):
        self.mask = tuple(mask)
        n_a = sum(self.mask)
        n_b = len(self.mask) - n_a
        self.net = zero_last(
            MLP(n_a + cond_dim, hidden, 2 * n_b, n_hidden=depth, key=key)
        )

    def _shift_scale(self, x_a, c):
        s, t = jnp.split(self.net(jnp.concatenate([x_a, c])), 2)
        return soft_clamp(s), t

    def forward(self, x, c):
        a, b = _halves(self.mask)
        s, t = self._shift_scale(x[a], c)
        return x.at[b].set(x[b] * jnp.exp(s) + t), jnp.sum(s)

    def inverse(self, z, c):
        a, b = _halves(self.mask)
        s, t = self._shift_scale(z[a], c)
        return z.at[b].set((z[b] - t) * jnp.exp(-s)), -jnp.sum(s)


def _halves(mask: tuple[bool, ...]) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(mask)
    return np.flatnonzero(m), np.flatnonzero(~m)


class MaskedDense(eqx.Module):
    """``x @ (weight * mask) + bias`` (MADE's masked layer): input ``i``
    reaches output ``j`` when its degree is at most (``strict``: below)
    output ``j``'s."""

    weight: Float[Array, "d_in d_out"]
    bias: Float[Array, " d_out"]
    rows: tuple[int, ...] = eqx.field(static=True)  # input degrees
    cols: tuple[int, ...] = eqx.field(static=True)  # output degrees
    strict: bool = eqx.field(static=True)

    def __init__(self, rows, cols, strict: bool, *, key: PRNGKeyArray, zero=False):
        self.rows, self.cols, self.strict = tuple(rows), tuple(cols), strict
        shape = (len(self.rows), len(self.cols))
        bound = 1.0 / math.sqrt(max(shape[0], 1))
        self.weight = (
            jnp.zeros(shape)
            if zero
            else jax.random.uniform(key, shape, minval=-bound, maxval=bound)
        )
        self.bias = jnp.zeros(shape[1])

    @property
    def mask(self) -> np.ndarray:
        rows, cols = np.asarray(self.rows)[:, None], np.asarray(self.cols)[None]
        return rows < cols if self.strict else rows <= cols

    def __call__(self, x):
        return x @ (self.weight * jnp.asarray(self.mask, x.dtype)) + self.bias


class MADE(eqx.Module):
    """Autoregressive network [D + C] -> [D, n_params]: the parameters of
    variable i see the variables before it and the condition.

    Degrees: variables 1..D, condition 0, hidden units 0..D-1 in turn, the
    outputs of variable i degree i (reached strictly from below).
    """

    layers: tuple[MaskedDense, ...]
    n_params: int = eqx.field(static=True)

    def __init__(self, dim, cond_dim, hidden, depth, n_params, *, key):
        inputs = [*range(1, dim + 1), *[0] * cond_dim]
        units = [h % max(dim, 1) for h in range(hidden)]
        outputs = [i for i in range(1, dim + 1) for _ in range(n_params)]
        keys = jax.random.split(key, depth + 1)
        layers = [MaskedDense(inputs, units, False, key=keys[0])]
        layers += [MaskedDense(units, units, False, key=k) for k in keys[1:-1]]
        layers.append(MaskedDense(units, outputs, True, key=keys[-1], zero=True))
        self.layers = tuple(layers)
        self.n_params = n_params

    def __call__(self, x, c):
        h = jnp.concatenate([x, c])
        for layer in self.layers[:-1]:
            h = jax.nn.relu(layer(h))
        return self.layers[-1](h).reshape(x.shape[0], self.n_params)


class MaskedAffineAutoregressive(Bijection):
    """MAF layer: ``z_i = (x_i - mu_i(x_<i, c)) * exp(-s_i(x_<i, c))``."""

    made: MADE

    def __init__(self, dim, cond_dim, hidden, depth, *, key):
        self.made = MADE(dim, cond_dim, hidden, depth, 2, key=key)

    def _params(self, x, c):
        out = self.made(x, c)
        return out[:, 0], soft_clamp(out[:, 1])

    def forward(self, x, c):
        mu, s = self._params(x, c)
        return (x - mu) * jnp.exp(-s), -jnp.sum(s)

    def inverse(self, z, c):
        def step(_, x):  # after step i, variables 0..i are exact
            mu, s = self._params(x, c)
            return z * jnp.exp(s) + mu

        x = jax.lax.fori_loop(0, z.shape[0], step, jnp.zeros_like(z))
        _, s = self._params(x, c)
        return x, jnp.sum(s)


class SplineCoupling(Bijection):
    """Rational-quadratic spline of ``x_b`` on [-bound, bound] (identity
    outside, slopes 1 at the ends), its knots set by ``net(x_a, c)``."""

    net: MLP
    mask: tuple[bool, ...] = eqx.field(static=True)
    bins: int = eqx.field(static=True)
    bound: float = eqx.field(static=True)

    def __init__(
        self, mask, cond_dim, hidden, depth, bins: int = 8, bound: float = 4.0, *, key
    ):
        self.mask = tuple(mask)
        n_a = sum(self.mask)
        n_b = len(self.mask) - n_a
        self.bins, self.bound = int(bins), float(bound)
        self.net = zero_last(
            MLP(n_a + cond_dim, hidden, n_b * (3 * bins - 1), n_hidden=depth, key=key)
        )

    def _knots(self, x_a, c):
        raw = self.net(jnp.concatenate([x_a, c])).reshape(-1, 3 * self.bins - 1)
        return spline_knots(raw, self.bins, self.bound)

    def forward(self, x, c):
        a, b = _halves(self.mask)
        y, log_d = rq_spline(x[b], *self._knots(x[a], c), self.bound, inverse=False)
        return x.at[b].set(y), jnp.sum(log_d)

    def inverse(self, z, c):
        a, b = _halves(self.mask)
        y, log_d = rq_spline(z[b], *self._knots(z[a], c), self.bound, inverse=True)
        return z.at[b].set(y), jnp.sum(log_d)


def spline_knots(raw: Float[Array, "n 3K-1"], bins: int, bound: float):
    """Knot positions ``xs, ys`` [n, K+1] and slopes [n, K+1] on [-bound,
    bound] from unconstrained parameters (zeros: the identity)."""
    w, h, d = raw[:, :bins], raw[:, bins : 2 * bins], raw[:, 2 * bins :]

    def positions(logits):
        size = MIN_BIN + (1 - MIN_BIN * bins) * jax.nn.softmax(logits, axis=-1)
        edges = jnp.cumsum(size, axis=-1)
        edges = jnp.concatenate([jnp.zeros_like(edges[:, :1]), edges], axis=-1)
        return 2 * bound * edges - bound

    # zero parameters give slope 1 (and so the identity)
    inner = MIN_SLOPE + jax.nn.softplus(d + math.log(math.expm1(1 - MIN_SLOPE)))
    ones = jnp.ones_like(inner[:, :1])
    return positions(w), positions(h), jnp.concatenate([ones, inner, ones], axis=-1)


def rq_spline(v, xs, ys, slopes, bound: float, inverse: bool):
    """The rational-quadratic spline (or its inverse) of each ``v`` [n] with
    its own knots; returns the values and log|derivative| [n]."""
    inside = jnp.abs(v) < bound
    knots = ys if inverse else xs
    k = jnp.clip(
        jnp.sum(v[:, None] >= knots[:, 1:-1], axis=-1), 0, xs.shape[1] - 2
    )  # bin of each value

    def pick(a, shift=0):
        return jnp.take_along_axis(a, (k + shift)[:, None], axis=-1)[:, 0]

    x0, w = pick(xs), pick(xs, 1) - pick(xs)
    y0, h = pick(ys), pick(ys, 1) - pick(ys)
    d0, d1 = pick(slopes), pick(slopes, 1)
    s = h / w
    if inverse:
        dy = jnp.where(inside, v, y0) - y0
        qa = h * (s - d0) + dy * (d1 + d0 - 2 * s)
        qb = h * d0 - dy * (d1 + d0 - 2 * s)
        qc = -s * dy
        root = jnp.sqrt(jnp.maximum(qb**2 - 4 * qa * qc, 0.0))
        xi = 2 * qc / (-qb - root)
        out = x0 + xi * w
    else:
        xi = (jnp.where(inside, v, x0) - x0) / w
        out = y0 + h * (s * xi**2 + d0 * xi * (1 - xi)) / (
            s + (d1 + d0 - 2 * s) * xi * (1 - xi)
        )
    t = xi * (1 - xi)
    denominator = s + (d1 + d0 - 2 * s) * t
    derivative = (
        s**2 * (d1 * xi**2 + 2 * s * t + d0 * (1 - xi) ** 2) / denominator**2
    )  # dy/dx at xi
    log_d = jnp.log(derivative)
    log_d = -log_d if inverse else log_d
    return jnp.where(inside, out, v), jnp.where(inside, log_d, 0.0)
