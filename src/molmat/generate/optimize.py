"""Molecule optimisation in a VAE's latent space, and latent-space maps.

:func:`optimize_latent` scores a pool of known molecules with the true
objective, fits a small MLP surrogate ``f(z) -> score`` on their latent
means, and climbs it by normalised gradient steps from the latents of the
best and of random pool molecules, inside a ball that the prior rarely leaves
(``‖z‖²`` at most ``trust`` standard deviations above its mean). Every
``decode_every`` steps each latent is decoded (greedily and by sampling),
the new valid molecules are scored with the true objective, the surrogate
is refitted on every (z, score) pair seen so far, and the worst latents
restart near the best molecules found.

The surrogate is trained rather than read off the VAE's property head: it
learns exactly the objective (penalised logP's ring penalty, QED, or any
model's predictions), and the molecules decoded during the search correct it
where the climb leads.

Example:
    >>> from molmat.generate.optimize import optimize_latent
    >>> result = optimize_latent(vae, "plogp", train_smiles)  # doctest: +SKIP
    >>> result.smiles[:3], result.scores[:3], result.objective_calls  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from matplotlib.figure import Figure

from molmat.data.console import progress_bar
from molmat.data.rdkit_log import silence_rdkit
from molmat.generate.metrics import canonical_smiles
from molmat.nn.core import MLP
from molmat.tasks.corpus import compute_property
from molmat.training.plots import save_figure, titled, with_units

OBJECTIVES = {"qed": "QED", "plogp": "plogP"}


@dataclass
class OptimizationResult:
    """The best molecules found by :func:`optimize_latent`.

    Attributes:
        smiles: the best valid decoded molecules that are not among the
            known ones (canonical, unique), best first.
        scores: [k] their true objective values.
        objective_calls: molecules scored by the true objective (the pool
            included; a molecule is scored once).
        start_best: the best true score among the starting molecules.
        trajectory: one record per decoding round (step, objective calls,
            best score so far, mean score of the round's greedy decodes,
            mean standardised surrogate value of the latents).
    """

    smiles: list[str]
    scores: np.ndarray
    objective_calls: int
    start_best: float
    trajectory: list[dict] = field(default_factory=list)


class CountedObjective:
    """The true objective on canonical SMILES, each molecule scored once.

    ``objective``: ``"qed"``, ``"plogp"``, or a callable SMILES list -> scores
    [n] or [n, k] (the first column counts), e.g. a property model's
    ``predict``. ``calls`` counts the molecules passed to it.
    """

    def __init__(self, objective: str | Callable[[list[str]], np.ndarray]):
        if isinstance(objective, str):
            if objective.lower() not in OBJECTIVES:
                raise ValueError(
                    f"unknown objective {objective!r}; choose from "
                    f"{', '.join(OBJECTIVES)} or pass a function"
                )
            name = OBJECTIVES[objective.lower()]
            objective = lambda smiles: compute_property(name, smiles)  # noqa: E731
        self.function = objective
        self.calls = 0
        self.known: dict[str, float] = {}

    def __call__(self, smiles: Sequence[str]) -> np.ndarray:
        """Scores [n] of canonical SMILES (new ones go to the objective)."""
        new = [s for s in dict.fromkeys(smiles) if s not in self.known]
        if new:
            scores = np.asarray(self.function(new), float).reshape(len(new), -1)
            self.known.update(zip(new, scores[:, 0].tolist(), strict=True))
            self.calls += len(new)
        return np.array([self.known[s] for s in smiles], float)


def canonical(smiles: Sequence[str]) -> list[str | None]:
    """MOSES' canonical SMILES, ``None`` for invalid or empty strings."""
    silence_rdkit()
    return [canonical_smiles(s) for s in smiles]


class _Surrogate:
    """An MLP f(z) -> standardised score, refitted on a fixed-size buffer (one
    compilation) of every (z, score) pair seen."""

    def __init__(self, latent: int, capacity: int, key, steps: int = 300):
        self.net = MLP(latent, 128, 1, n_hidden=2, key=key)
        self.z = np.zeros((capacity, latent), np.float32)
        self.y = np.zeros(capacity, np.float32)
        self.size, self.steps = 0, steps

    def add(self, z: np.ndarray, y: np.ndarray) -> None:
        keep = np.isfinite(y) & np.isfinite(z).all(1)
        n = min(int(keep.sum()), len(self.y) - self.size)
        self.z[self.size : self.size + n] = z[keep][:n]
        self.y[self.size : self.size + n] = y[keep][:n]
        self.size += n

    def fit(self) -> None:
        mask = np.arange(len(self.y)) < self.size
        y = self.y[mask]
        scaled = (self.y - y.mean()) / max(float(y.std()), 1e-6)
        self.net = _fit_mlp(
            self.net, self.z, np.where(mask, scaled, 0.0), mask, self.steps
        )


@eqx.filter_jit
def _fit_mlp(net, z, y, mask, steps: int):
    """``steps`` full-batch Adam steps on the masked MSE of ``net(z)`` vs ``y``."""
    opt = optax.adam(3e-3)
    params, static = eqx.partition(net, eqx.is_array)

    def loss(p):
        pred = eqx.combine(p, static)(z, inference=True)[:, 0]
        return jnp.sum(jnp.where(mask, (pred - y) ** 2, 0.0)) / jnp.sum(mask)

    def body(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(loss)(p), state)
        return (optax.apply_updates(p, updates), state), None

    (params, _), _ = jax.lax.scan(body, (params, opt.init(params)), None, steps)
    return eqx.combine(params, static)


def trust_radius(latent: int, trust: float) -> float:
    """Largest ``‖z‖`` whose ``‖z‖²`` (χ² with ``latent`` degrees of freedom
    under the prior) is at most ``trust`` standard deviations above its mean."""
    return float(np.sqrt(latent + trust * np.sqrt(2.0 * latent)))


@eqx.filter_jit
def _ascend(net, z, lr, radius, steps: int):
    """``steps`` gradient steps of length ``lr`` on ``net``, projected on the
    ball ``‖z‖ ≤ radius``."""

    def body(_, z):
        g = jax.grad(lambda z: net(z, inference=True).sum())(z)
        g = g / jnp.maximum(jnp.linalg.norm(g, axis=-1, keepdims=True), 1e-8)
        z = z + lr * g
        norm = jnp.linalg.norm(z, axis=-1, keepdims=True)
        return z * jnp.minimum(1.0, radius / jnp.maximum(norm, 1e-8))

    z = jax.lax.fori_loop(0, steps, body, z)
    return z, net(z, inference=True)[:, 0]


def optimize_latent(
    vae,
    objective: str | Callable[[list[str]], np.ndarray],
    smiles: Sequence[str],
    n_starts: int = 50,
    steps: int = 100,
    lr: float = 0.1,
    decode_every: int = 10,
    samples: int = 4,
    n_pool: int = 2000,
    trust: float = 3.0,
    restart: float = 0.5,
    top: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> OptimizationResult:
    """Gradient ascent on a surrogate in the latent space of ``vae``.

    Args:
        vae: a fitted :class:`~molmat.generate.vae.VAE`.
        objective: ``"qed"``, ``"plogp"`` or a callable SMILES list -> scores.
        smiles: known molecules (e.g. the training set); ``n_pool`` of them,
            drawn at random, are scored to fit the surrogate.
        n_starts: starting latents: the best half of them are the pool's
            best molecules, the rest are random pool molecules.
        steps, lr: gradient steps, each of length ``lr`` in latent units.
        decode_every: steps between decoding rounds.
        samples: decodes per latent and round by sampling (besides the
            greedy one).
        trust: latents stay where the prior's ``‖z‖²`` is at most ``trust``
            of its standard deviations above its mean (see
            :func:`trust_radius`).
        restart: after each round, this fraction of the latents (those
            whose greedy decodes scored worst) restarts from the latents of
            the best molecules scored so far (pool included), jittered.
        top: how many molecules to return.
    """
    rng = np.random.default_rng(seed)
    score = CountedObjective(objective)
    known = {s for s in canonical(list(smiles)) if s}
    pool = sorted(known)
    pool = [pool[i] for i in rng.permutation(len(pool))[:n_pool]]
    y_pool = score(pool)
    z_pool = vae.encode(pool)
    usable = np.flatnonzero(np.isfinite(y_pool) & np.isfinite(z_pool).all(axis=1))
    order = usable[np.argsort(-y_pool[usable])]
    best = order[: n_starts // 2]
    rest = rng.permutation(order[n_starts // 2 :])[: n_starts - len(best)]
    starts = np.concatenate([best, rest])
    z = z_pool[starts]
    rounds = -(-steps // decode_every)
    radius = trust_radius(vae.latent, trust)
    surrogate = _Surrogate(
        vae.latent, len(pool) + rounds * len(z), jax.random.key(seed)
    )
    surrogate.add(z_pool, y_pool)
    found: dict[str, float] = {}
    trajectory = []
    bar = progress_bar(total=rounds, desc="optimising", unit="round", enabled=progress)
    for r in range(rounds):
        surrogate.fit()
        n_steps = min(decode_every, steps - r * decode_every)
        z, predicted = _ascend(surrogate.net, z, lr, radius, n_steps)
        z = np.asarray(z)
        greedy = _decode_scored(vae, z, score, found, greedy=True, seed=seed)
        for s in range(samples):
            _decode_scored(vae, z, score, found, greedy=False, seed=seed + 1 + s)
        surrogate.add(z, greedy)
        trajectory.append(
            {
                "step": r * decode_every + n_steps,
                "objective_calls": score.calls,
                "best": max(found.values(), default=float("nan")),
                "round_mean": _mean_known(greedy),
                "surrogate_mean": float(np.mean(predicted)),
            }
        )
        z = _restart(vae, z, greedy, score.known, restart, rng)
        bar.update(1)
    bar.close()
    new = [(s, v) for s, v in found.items() if s not in known]
    ranked = sorted(new, key=lambda kv: -kv[1])[:top]
    return OptimizationResult(
        [s for s, _ in ranked],
        np.array([v for _, v in ranked]),
        score.calls,
        float(np.nanmax(y_pool[starts])),
        trajectory,
    )


def _restart(vae, z, greedy, scored: dict, fraction: float, rng) -> np.ndarray:
    """``z`` with its worst ``fraction`` (by greedy score) replaced by the
    latents of the best molecules scored so far, jittered by N(0, 0.5²)."""
    n = int(fraction * len(z))
    if n == 0:
        return z
    finite = {s: v for s, v in scored.items() if np.isfinite(v)}
    elite = vae.encode(sorted(finite, key=finite.get, reverse=True)[:n])
    elite = elite[np.isfinite(elite).all(axis=1)]
    worst = np.argsort(np.nan_to_num(greedy, nan=-np.inf))[: len(elite)]
    z = z.copy()
    z[worst] = elite + rng.normal(0.0, 0.5, elite.shape).astype(np.float32)
    return z


def _decode_scored(vae, z, score, found: dict, greedy: bool, seed: int) -> np.ndarray:
    """True scores [n] of the molecules decoded from ``z`` (NaN if invalid);
    valid ones are added to ``found``."""
    decoded = canonical(vae.decode(z, greedy=greedy, seed=seed))
    valid = [s for s in decoded if s is not None]
    found.update(zip(valid, score(valid).tolist(), strict=True))
    return np.array([found[s] if s else np.nan for s in decoded])


def _mean_known(values: np.ndarray) -> float:
    """Mean of the finite ``values`` (NaN when there are none)."""
    known = values[np.isfinite(values)]
    return float(known.mean()) if len(known) else float("nan")


def pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Projections [n, k] on the first ``k`` principal axes of ``x`` [n, d],
    and the fraction of the variance each explains [k]."""
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T, (s[:k] ** 2) / max(float((s**2).sum()), 1e-12)


def latent_map(
    vae,
    smiles: Sequence[str],
    values: np.ndarray,
    path: str | Path,
    label: str = "property",
    units: str = "",
    title: str = "",
) -> Path:
    """PNG of the 2-D PCA of the molecules' latent means coloured by ``values``
    [n] (molecules that cannot be encoded, or without a value, are left out)."""
    z, values = vae.encode(smiles), np.asarray(values, float)
    known = np.isfinite(z).all(axis=1) & np.isfinite(values)
    xy, explained = pca(z[known])
    fig = Figure(figsize=(6.5, 5.5), dpi=120)
    ax = fig.subplots()
    points = ax.scatter(
        xy[:, 0], xy[:, 1], c=values[known], s=8, cmap="viridis", edgecolors="none"
    )
    fig.colorbar(points, ax=ax, label=with_units(label, units))
    ax.set_xlabel(f"latent PC 1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"latent PC 2 ({explained[1]:.0%} of variance)")
    ax.set_title(titled(title or f"VAE latent space, {label}", int(known.sum())))
    return save_figure(fig, path)
