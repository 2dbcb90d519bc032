"""Noise processes that turn a :class:`CrystalDenoiser` into a generator.

Two processes over lattices ``L``, fractional coordinates ``F`` (on the
torus) and relaxed atom types ``A`` (one-hot rows as ±1, made continuous):

- ``diffusion`` (DiffCSP): ``L`` and ``A`` by DDPM with a cosine schedule
  (the network predicts the noise), ``F`` by score matching of a wrapped
  normal whose width grows geometrically from ``sigma_min`` to
  ``sigma_max``; sampled with a predictor-corrector (Langevin) scheme.
- ``flow-matching`` (FlowMM): straight paths from Gaussian ``L``, ``A`` and
  uniform ``F``, the torus geodesic for ``F`` with its mean (a global
  translation, which does not change a crystal) removed; sampled by Euler
  steps.

Crystals whose types are ``known`` (structure prediction for a given
composition) keep clean types; their type loss is not counted. Sampling is
one ``lax.scan`` over the steps, seeded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from molmat.models.generative.crystal import CrystalDenoiser

PROCESSES = ("diffusion", "flow-matching")


class CrystalBatch(NamedTuple):
    """Dense padded crystals (see :func:`~.crystal.pad_crystals`).

    Attributes:
        lattice: [B, 3, 3] lattice rows in units of the model's length scale.
        frac: [B, A, 3] fractional coordinates in [0, 1).
        types: [B, A, T] one-hot types as ±1 (any values where padded).
        mask: [B, A] real atoms.
        known: [B] crystals whose types are given, not generated.
        weight: [B] 1 for real crystals, 0 for batch padding.
    """

    lattice: Float[Array, "B 3 3"]
    frac: Float[Array, "B A 3"]
    types: Float[Array, "B A T"]
    mask: Bool[Array, "B A"]
    known: Bool[Array, " B"]
    weight: Float[Array, " B"]


def wrap(d: Array) -> Array:
    """The shortest periodic representative of a fractional difference, in [-½, ½]."""
    return d - jnp.round(d)


def wrapped_normal_score(d: Array, sigma: Array, images: int = 3) -> Array:
    """``∂/∂d log Σ_k N(d + k; 0, σ²)`` elementwise (``sigma`` broadcasts)."""
    k = jnp.arange(-images, images + 1, dtype=d.dtype)
    x = d[..., None] + k
    s = jnp.asarray(sigma, d.dtype)[..., None]
    w = jax.nn.softmax(-(x**2) / (2 * s**2), axis=-1)
    return -(w * x).sum(-1) / s[..., 0] ** 2


def _score_norms(sigmas: np.ndarray, samples: int = 5000) -> np.ndarray:
    """``E[score²]`` of the wrapped normal at each width (Monte Carlo, fixed seed)."""
    d = sigmas[:, None] * np.random.default_rng(0).standard_normal(samples)
    d = np.asarray(d - np.round(d), np.float32)
    with jax.ensure_compile_time_eval():  # also when first asked inside a trace
        score = wrapped_normal_score(jnp.asarray(d), jnp.asarray(sigmas[:, None]))
        return np.asarray(jnp.mean(score**2, axis=1), np.float64)


@functools.cache
def diffusion_schedule(
    steps: int, sigma_min: float, sigma_max: float
) -> dict[str, np.ndarray]:
    """Arrays indexed by ``t = 0..T``: ``alpha``, ``alpha_bar`` (cosine
    schedule), ``sigma`` (geometric, 0 at ``t = 0``) and ``score_norm``
    (``E[score²]`` at ``sigma``)."""
    s, n = 0.008, steps
    f = np.cos((np.arange(n + 1) / n + s) / (1 + s) * np.pi / 2) ** 2
    alpha_bar = f / f[0]
    beta = np.clip(1 - alpha_bar[1:] / alpha_bar[:-1], 1e-4, 0.999)
    alpha = np.concatenate([[1.0], 1 - beta])
    alpha_bar = np.cumprod(alpha)
    ratio = np.arange(n) / max(n - 1, 1)
    sigma = sigma_min * (sigma_max / sigma_min) ** ratio
    norm = np.concatenate([[1.0], _score_norms(sigma)])
    sigma = np.concatenate([[0.0], sigma])
    return {
        "alpha": alpha.astype(np.float32),
        "alpha_bar": alpha_bar.astype(np.float32),
        "sigma": sigma.astype(np.float32),
        "score_norm": norm.astype(np.float32),
    }


def _masked_mean(x: Array, mask: Array) -> Array:
    """Mean of ``x`` over the entries where ``mask`` (broadcast) is true."""
    mask = jnp.broadcast_to(mask, x.shape).astype(x.dtype)
    return (x * mask).sum() / jnp.maximum(mask.sum(), 1.0)


def _noise_loss(out, target, batch: CrystalBatch, weights) -> tuple[Array, Array]:
    """Weighted total and the [3] lattice, coordinate and type mean squared errors."""
    real = batch.weight > 0
    atoms = batch.mask & real[:, None]
    terms = jnp.stack(
        [
            _masked_mean((out.lattice - target[0]) ** 2, real[:, None, None]),
            _masked_mean((out.frac - target[1]) ** 2, atoms[..., None]),
            _masked_mean(
                (out.types - target[2]) ** 2, (atoms & ~batch.known[:, None])[..., None]
            ),
        ]
    )
    return jnp.dot(jnp.asarray(weights, terms.dtype), terms), terms


@dataclass(frozen=True)
class Diffusion:
    """DiffCSP's processes: DDPM for lattices and types, wrapped normal for
    coordinates.

    Args:
        steps: discrete times ``T``.
        sigma_min, sigma_max: widths of the coordinate noise at ``t = 1``
            and ``t = T`` (fractional units).
        corrector_step: Langevin step scale of the corrector (``γ`` in
            ``γ (σ_t / σ_min)²``).
        weights: loss weights of lattice, coordinates and types.
    """

    steps: int = 1000
    sigma_min: float = 0.005
    sigma_max: float = 0.5
    corrector_step: float = 1e-5
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def schedule(self) -> dict[str, Array]:
        """:func:`diffusion_schedule` of these settings, as JAX arrays."""
        found = diffusion_schedule(self.steps, self.sigma_min, self.sigma_max)
        return {k: jnp.asarray(v) for k, v in found.items()}

    def loss(
        self, net: CrystalDenoiser, batch: CrystalBatch, key
    ) -> tuple[Array, Array]:
        """Mean squared errors of the predicted noises and normalised score."""
        schedule = self.schedule()
        b = batch.lattice.shape[0]
        kt, kl, kf, ka = jax.random.split(key, 4)
        t = jax.random.randint(kt, (b,), 1, self.steps + 1)
        ab = schedule["alpha_bar"][t]
        sigma = schedule["sigma"][t]
        norm = schedule["score_norm"][t]
        e_l = jax.random.normal(kl, batch.lattice.shape)
        e_f = jax.random.normal(kf, batch.frac.shape)
        e_a = jax.random.normal(ka, batch.types.shape)
        lattice = _mix(ab, batch.lattice, e_l)
        shift = sigma[:, None, None] * e_f
        frac = jnp.mod(batch.frac + shift, 1.0)
        types = jnp.where(
            batch.known[:, None, None], batch.types, _mix(ab, batch.types, e_a)
        )
        score = wrapped_normal_score(wrap(shift), sigma[:, None, None])
        target = (e_l, score / jnp.sqrt(norm)[:, None, None], e_a)
        out = net(lattice, frac, types, batch.known, t / self.steps, batch.mask)
        return _noise_loss(out, target, batch, self.weights)

    def sample(self, net, start: CrystalBatch, key) -> CrystalBatch:
        """Run the reverse process from ``start`` (its noise draws ``L``, ``F``
        and unknown ``A``; its mask, known types and weights are kept)."""
        sched = self.schedule()
        known = start.known[:, None, None]
        clean_types = start.types

        def model(state, t):
            lattice, frac, types = state
            tb = jnp.full(lattice.shape[:1], t / self.steps)
            return net(lattice, frac, types, start.known, tb, start.mask)

        def step(state, inputs):
            t, k = inputs
            lattice, frac, types = state
            kc, kf, kl, ka = jax.random.split(k, 4)
            sigma, sigma_prev = sched["sigma"][t], sched["sigma"][t - 1]
            root_norm = jnp.sqrt(sched["score_norm"][t])
            # corrector: a Langevin step on the coordinates at time t
            size = self.corrector_step * (sigma / self.sigma_min) ** 2
            score = model(state, t).frac * root_norm
            noise = jax.random.normal(kc, frac.shape)
            frac = jnp.mod(frac + size * score + jnp.sqrt(2 * size) * noise, 1.0)
            # predictor: one reverse step of every variable
            out = model((lattice, frac, types), t)
            size = sigma**2 - sigma_prev**2
            std = jnp.sqrt(sigma_prev**2 * size / sigma**2)
            noise = jax.random.normal(kf, frac.shape)
            frac = jnp.mod(frac + size * out.frac * root_norm + std * noise, 1.0)
            lattice = self._ddpm_step(sched, t, lattice, out.lattice, kl)
            types = jnp.where(
                known, clean_types, self._ddpm_step(sched, t, types, out.types, ka)
            )
            frac = frac * start.mask[..., None]
            return (lattice, frac, types), None

        ts = jnp.arange(self.steps, 0, -1)
        keys = jax.random.split(key, self.steps)
        state = (start.lattice, start.frac, start.types)
        (lattice, frac, types), _ = jax.lax.scan(step, state, (ts, keys))
        return start._replace(lattice=lattice, frac=frac, types=types)

    def _ddpm_step(self, sched, t, x, eps, key):
        alpha, ab = sched["alpha"][t], sched["alpha_bar"][t]
        mean = (x - (1 - alpha) / jnp.sqrt(1 - ab) * eps) / jnp.sqrt(alpha)
        var = (1 - alpha) * (1 - sched["alpha_bar"][t - 1]) / (1 - ab)
        noise = jax.random.normal(key, x.shape)
        return mean + jnp.where(t > 1, jnp.sqrt(var), 0.0) * noise


def _mix(alpha_bar: Array, x: Array, noise: Array) -> Array:
    """``√ᾱ x + √(1 − ᾱ) ε`` with ``ᾱ`` [B] broadcast over ``x``'s other axes."""
    ab = alpha_bar.reshape(-1, *([1] * (x.ndim - 1)))
    return jnp.sqrt(ab) * x + jnp.sqrt(1 - ab) * noise


@dataclass(frozen=True)
class FlowMatching:
    """FlowMM's processes: straight paths from noise to data, the torus
    geodesic for coordinates.

    Args:
        steps: Euler steps of sampling.
        anti_annealing: coordinate velocities are scaled by ``1 + s t``
            when sampling (FlowMM's inference anti-annealing; 0: off).
        weights: loss weights of lattice, coordinates and types.
    """

    steps: int = 500
    anti_annealing: float = 0.0
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def loss(
        self, net: CrystalDenoiser, batch: CrystalBatch, key
    ) -> tuple[Array, Array]:
        """Mean squared errors of the predicted velocities."""
        b = batch.lattice.shape[0]
        kt, kl, kf, ka = jax.random.split(key, 4)
        t = jax.random.uniform(kt, (b,))
        tt = t[:, None, None]
        l0 = jax.random.normal(kl, batch.lattice.shape)
        f0 = jax.random.uniform(kf, batch.frac.shape)
        a0 = jax.random.normal(ka, batch.types.shape)
        velocity = wrap(batch.frac - f0)
        m = batch.mask[..., None]
        mean = (velocity * m).sum(1, keepdims=True) / jnp.maximum(
            m.sum(1, keepdims=True), 1
        )
        velocity = (velocity - mean) * m
        lattice = (1 - tt) * l0 + tt * batch.lattice
        frac = jnp.mod(f0 + tt * velocity, 1.0)
        types = jnp.where(
            batch.known[:, None, None], batch.types, (1 - tt) * a0 + tt * batch.types
        )
        out = net(lattice, frac, types, batch.known, t, batch.mask)
        target = (batch.lattice - l0, velocity, batch.types - a0)
        return _noise_loss(out, target, batch, self.weights)

    def sample(self, net, start: CrystalBatch, key) -> CrystalBatch:
        """Integrate from ``start`` (noise) to data with Euler steps."""
        del key
        dt = 1.0 / self.steps
        known = start.known[:, None, None]

        def step(state, t):
            lattice, frac, types = state
            tb = jnp.full(lattice.shape[:1], t)
            out = net(lattice, frac, types, start.known, tb, start.mask)
            speed = 1.0 + self.anti_annealing * t
            lattice = lattice + dt * out.lattice
            frac = jnp.mod(frac + dt * speed * out.frac, 1.0) * start.mask[..., None]
            types = jnp.where(known, start.types, types + dt * out.types)
            return (lattice, frac, types), None

        ts = jnp.arange(self.steps) * dt
        state = (start.lattice, start.frac, start.types)
        (lattice, frac, types), _ = jax.lax.scan(step, state, ts)
        return start._replace(lattice=lattice, frac=frac, types=types)


def noise_start(batch: CrystalBatch, key) -> CrystalBatch:
    """The starting noise of sampling for ``batch``'s shapes: Gaussian
    lattices and unknown types; wrapped-normal at ``σ_max`` (≈ uniform) or
    uniform coordinates."""
    kl, kf, ka = jax.random.split(key, 3)
    lattice = jax.random.normal(kl, batch.lattice.shape)
    frac = jax.random.uniform(kf, batch.frac.shape) * batch.mask[..., None]
    noise = jax.random.normal(ka, batch.types.shape)
    types = jnp.where(batch.known[:, None, None], batch.types, noise)
    return batch._replace(lattice=lattice, frac=frac, types=types)


def make_process(name: str, **settings) -> Diffusion | FlowMatching:
    """The process called ``name`` (:data:`PROCESSES`)."""
    if name == "diffusion":
        return Diffusion(**settings)
    if name == "flow-matching":
        return FlowMatching(**settings)
    raise ValueError(f"unknown process {name!r}; choose one of {PROCESSES}")
