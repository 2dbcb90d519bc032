"""A periodic denoiser for crystal generation (in the spirit of DiffCSP's CSPNet).

A crystal of ``n`` atoms is a lattice ``L`` [3, 3] (rows are the lattice
vectors, in units of a fixed length scale), fractional coordinates ``F``
[n, 3] on the torus [0, 1)³ and atom types (one-hot rows over a vocabulary,
or a noisy relaxation of them). Batches are dense: ``B`` crystals padded to
``A`` atoms with a mask, every atom of a crystal messaging every other.

The network sees the lattice only through its Gram matrix ``L Lᵀ`` and the
atoms only through their types and the Fourier features of fractional
differences ``f_j − f_i``, so it is

- invariant to rotations of the lattice (``L → L Q``): the coordinate and
  type outputs are unchanged and the lattice output ``φ(h) L`` turns with
  it (equivariant);
- invariant to translations of all fractional coordinates (mod 1);
- equivariant to permutations of the atoms.

Example:
    >>> net = CrystalDenoiser(n_types=4, hidden=32, layers=2, key=key)  # doctest: +SKIP
    >>> out = net(lattice, frac, types, known, t, mask)  # doctest: +SKIP
    >>> out.frac.shape  # doctest: +SKIP
    (B, A, 3)
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from molmat.nn.core import Dense


class DenoiserOutput(NamedTuple):
    """What the denoiser predicts for each crystal of a batch.

    Attributes:
        lattice: [B, 3, 3] the lattice's noise (diffusion) or velocity (flow
            matching), rotating with the lattice.
        frac: [B, A, 3] the fractional coordinates' (normalised) score or
            velocity.
        types: [B, A, T] the atom types' noise or velocity.
    """

    lattice: Float[Array, "B 3 3"]
    frac: Float[Array, "B A 3"]
    types: Float[Array, "B A T"]


def fourier_features(d: Float[Array, "... 3"], frequencies: int) -> Array:
    """``sin, cos(2π k d)`` for ``k = 1..frequencies``: periodic in each
    component of ``d`` with period 1; [..., 6 · frequencies]."""
    k = 2.0 * jnp.pi * jnp.arange(1, frequencies + 1, dtype=d.dtype)
    phase = (d[..., None] * k).reshape(*d.shape[:-1], -1)
    return jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], axis=-1)


def time_features(t: Float[Array, " B"], size: int = 32) -> Float[Array, "B size"]:
    """Sinusoidal features of the time ``t`` ∈ [0, 1] at log-spaced rates."""
    rates = jnp.exp(jnp.linspace(0.0, jnp.log(1000.0), size // 2))
    phase = t[:, None] * rates
    return jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], axis=-1)


def _layer_norm(x: Array) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + 1e-6)


class DenoiserLayer(eqx.Module):
    """One round of messages between all atom pairs of each crystal.

    ``m_ij = MLP(h_i, h_j, L Lᵀ, fourier(f_j − f_i))``, ``h_i += MLP(h_i,
    mean_j m_ij)``, with the first edge layer split by input so nothing of
    size [B, A, A, 2H] is built.
    """

    source: Dense
    target: Dense
    gram: Dense
    fourier: Dense
    edge: Dense
    node_in: Dense
    node_out: Dense

    def __init__(self, hidden: int, frequencies: int, *, key: PRNGKeyArray):
        keys = jax.random.split(key, 7)
        self.source = Dense(hidden, hidden, key=keys[0])
        self.target = Dense(hidden, hidden, use_bias=False, key=keys[1])
        self.gram = Dense(9, hidden, use_bias=False, key=keys[2])
        self.fourier = Dense(6 * frequencies, hidden, use_bias=False, key=keys[3])
        self.edge = Dense(hidden, hidden, key=keys[4])
        self.node_in = Dense(2 * hidden, hidden, key=keys[5])
        self.node_out = Dense(hidden, hidden, key=keys[6])

    def __call__(
        self,
        h: Float[Array, "B A H"],
        pair_features: Float[Array, "B A A F"],
        gram: Float[Array, "B 9"],
        pairs: Bool[Array, "B A A"],
    ) -> Float[Array, "B A H"]:
        x = _layer_norm(h)
        e = (
            self.source(x)[:, :, None]
            + self.target(x)[:, None, :]
            + self.gram(gram)[:, None, None]
            + self.fourier(pair_features)
        )
        m = jax.nn.silu(self.edge(jax.nn.silu(e))) * pairs[..., None]
        agg = m.sum(2) / jnp.maximum(pairs.sum(2, keepdims=True), 1)
        update = self.node_out(jax.nn.silu(self.node_in(jnp.concatenate([x, agg], -1))))
        return h + update


class CrystalDenoiser(eqx.Module):
    """Predicts the noise (or velocity) of a noisy batch of crystals.

    Args:
        n_types: size of the atom-type vocabulary ``T``.
        hidden: width ``H`` of atom features and messages.
        layers: message rounds.
        frequencies: Fourier frequencies of fractional differences.
    """

    types_in: Dense
    time_in: Dense
    layers: tuple[DenoiserLayer, ...]
    lattice_out: Dense
    frac_out: Dense
    types_out: Dense
    n_types: int = eqx.field(static=True)
    frequencies: int = eqx.field(static=True)

    def __init__(
        self,
        n_types: int,
        hidden: int = 128,
        layers: int = 4,
        frequencies: int = 16,
        *,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, layers + 5)
        self.n_types = n_types
        self.frequencies = frequencies
        self.types_in = Dense(n_types + 1, hidden, key=keys[0])
        self.time_in = Dense(32, hidden, key=keys[1])
        self.layers = tuple(DenoiserLayer(hidden, frequencies, key=k) for k in keys[5:])
        self.lattice_out = Dense(hidden, 9, key=keys[2])
        self.frac_out = Dense(hidden, 3, key=keys[3])
        self.types_out = Dense(hidden, n_types, key=keys[4])

    def __call__(
        self,
        lattice: Float[Array, "B 3 3"],
        frac: Float[Array, "B A 3"],
        types: Float[Array, "B A T"],
        known: Bool[Array, " B"],
        t: Float[Array, " B"],
        mask: Bool[Array, "B A"],
    ) -> DenoiserOutput:
        """Outputs for crystals at time ``t`` ∈ [0, 1] (0: data); ``known``
        marks crystals whose ``types`` are clean (structure prediction)."""
        flag = jnp.broadcast_to(known[:, None, None], (*types.shape[:2], 1))
        h = self.types_in(jnp.concatenate([types, flag.astype(types.dtype)], -1))
        h = h + self.time_in(time_features(t))[:, None]
        gram = jnp.einsum("bik,bjk->bij", lattice, lattice).reshape(-1, 9)
        diff = frac[:, None, :, :] - frac[:, :, None, :]
        pair_features = fourier_features(diff, self.frequencies)
        pairs = mask[:, :, None] & mask[:, None, :]
        for layer in self.layers:
            h = layer(h, pair_features, gram, pairs)
        h = _layer_norm(h)
        pooled = (h * mask[..., None]).sum(1) / jnp.maximum(
            mask.sum(1, keepdims=True), 1
        )
        lattice_out = self.lattice_out(pooled).reshape(-1, 3, 3) @ lattice
        frac_out = self.frac_out(h) * mask[..., None]
        types_out = self.types_out(h) * mask[..., None]
        return DenoiserOutput(lattice_out, frac_out, types_out)


def pad_crystals(
    lattices: list[np.ndarray],
    fracs: list[np.ndarray],
    types: list[np.ndarray],
    atoms: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dense padded arrays of crystals: lattices [B, 3, 3], fractional
    coordinates [B, A, 3], type indices [B, A] (0 where padded) and the
    mask [B, A], with ``A = atoms``."""
    b = len(lattices)
    frac = np.zeros((b, atoms, 3), np.float32)
    index = np.zeros((b, atoms), np.int32)
    mask = np.zeros((b, atoms), bool)
    for i, (f, z) in enumerate(zip(fracs, types, strict=True)):
        frac[i, : len(f)] = f
        index[i, : len(z)] = z
        mask[i, : len(z)] = True
    return np.asarray(lattices, np.float32).reshape(b, 3, 3), frac, index, mask
