"""Shapley values of ``n`` players from a vectorised value function.

``value(masks) -> [K]`` scores coalitions given as boolean masks [K, n]
(True: the player is present). :func:`exact_shapley` enumerates all 2ⁿ
coalitions (small ``n``, for tests and tiny molecules);
:func:`sampled_shapley` averages marginal contributions over random
permutations, in antithetic pairs (a permutation and its reverse), and
reports its standard errors. Every sampled permutation telescopes to
``value(all) - value(none)``, so the estimate is efficient exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ValueFn = Callable[[np.ndarray], np.ndarray]
EXACT_MAX_PLAYERS = 14


@dataclass(frozen=True)
class ShapleyReport:
    """How far a Shapley estimate can be trusted.

    Attributes:
        method: ``exact`` or ``sampling``.
        permutations: permutations drawn (0 for exact).
        evaluations: calls of the value function, in coalitions.
        std_error: [n] standard error of each value (0 for exact).
        max_error_history: ``(permutations, max standard error)`` after a
            quarter, half and all of the permutations: the estimate has
            converged when the error falls as ``1/sqrt(permutations)``.
        total: ``value(all) - value(none)``, which the values sum to.
    """

    method: str
    permutations: int
    evaluations: int
    std_error: np.ndarray
    max_error_history: tuple[tuple[int, float], ...]
    total: float

    def summary(self) -> str:
        """One line: method, cost and the largest standard error."""
        if self.method == "exact":
            return f"exact Shapley values ({self.evaluations} coalitions)"
        steps = ", ".join(f"{m}: {e:.3g}" for m, e in self.max_error_history)
        return (
            f"sampled Shapley values, {self.permutations} permutations "
            f"({self.evaluations} coalitions); largest standard error by "
            f"permutations drawn: {steps}"
        )


def exact_shapley(value: ValueFn, n: int) -> tuple[np.ndarray, ShapleyReport]:
    """Exact Shapley values [n] from all 2ⁿ coalitions.

    Raises:
        ValueError: ``n`` above :data:`EXACT_MAX_PLAYERS`.
    """
    if n > EXACT_MAX_PLAYERS:
        raise ValueError(
            f"exact Shapley values of {n} players need 2^{n} evaluations; "
            f"use sampling above {EXACT_MAX_PLAYERS} players"
        )
    codes = np.arange(2**n)
    masks = (codes[:, None] >> np.arange(n)) & 1 == 1
    v = np.asarray(value(masks), np.float64)
    size = masks.sum(axis=1)
    fact = np.array([math.factorial(k) for k in range(n + 1)], np.float64)
    weight = fact[size] * fact[np.maximum(n - size - 1, 0)] / fact[n]  # [2^n]
    gains = v[codes[:, None] | (1 << np.arange(n))] - v[:, None]  # [2^n, n]
    phi = np.where(masks, 0.0, weight[:, None] * gains).sum(axis=0)
    report = ShapleyReport("exact", 0, len(codes), np.zeros(n), (), v[-1] - v[0])
    return phi, report


def sampled_shapley(
    value: ValueFn, n: int, permutations: int = 64, seed: int = 0
) -> tuple[np.ndarray, ShapleyReport]:
    """Monte-Carlo Shapley values [n] from ``permutations`` random orders.

    Orders come in antithetic pairs (an order and its reverse), whose average
    is one sample; the standard error is that of the mean over pairs.

    Args:
        value: coalition masks [K, n] -> values [K].
        n: number of players.
        permutations: orders to draw (rounded up to an even number, >= 2).
        seed: seed of the orders (same seed, same values).
    """
    pairs = max(1, -(-permutations // 2))
    rng = np.random.default_rng(seed)
    first = np.argsort(rng.random((pairs, n)), axis=1)
    orders = np.concatenate([first, first[:, ::-1]])  # [2p, n]
    m = len(orders)
    # coalition k of an order holds its first k players: [m, n + 1, n]
    rank = np.empty_like(orders)
    np.put_along_axis(rank, orders, np.arange(n)[None], axis=1)
    masks = rank[:, None, :] < np.arange(n + 1)[None, :, None]
    v = np.asarray(value(masks.reshape(-1, n)), np.float64).reshape(m, n + 1)
    gains = np.diff(v, axis=1)  # gain of the k-th player of each order
    contrib = np.empty_like(gains)
    np.put_along_axis(contrib, orders, gains, axis=1)  # per player
    samples = (contrib[:pairs] + contrib[pairs:]) / 2  # [p, n]
    phi = samples.mean(axis=0)

    def std_error(k: int) -> np.ndarray:
        """[n] standard errors after the first ``k`` pairs (NaN for one)."""
        if k < 2:
            return np.full(n, np.nan)
        return samples[:k].std(axis=0, ddof=1) / np.sqrt(k)

    steps = sorted({max(pairs // 4, 1), max(pairs // 2, 1), pairs})
    history = tuple((2 * k, float(std_error(k).max())) for k in steps)
    report = ShapleyReport(
        "sampling", m, m * (n + 1), std_error(pairs), history, float(v[0, -1] - v[0, 0])
    )
    return phi, report


def shapley(
    value: ValueFn, n: int, permutations: int = 64, seed: int = 0
) -> tuple[np.ndarray, ShapleyReport]:
    """Exact values when that costs no more coalitions than sampling
    ``permutations`` orders, sampled values otherwise."""
    if n <= EXACT_MAX_PLAYERS and 2**n <= max(permutations, 2) * (n + 1):
        return exact_shapley(value, n)
    return sampled_shapley(value, n, permutations, seed)
