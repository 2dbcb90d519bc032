"""Gradient attributions of a function of a pytree of inputs, as pure functions.

``f(context, inputs) -> [G]`` maps a padded batch's input arrays (any
pytree) to one output per graph or sequence, given a ``context`` (the
network and the rest of the batch); graphs of a batch do not interact, so
the gradient of ``f(context, inputs).sum()`` holds every graph's own
gradient. ``f`` should be a module-level function: each new function object
compiles anew. Each
method returns attributions shaped like ``inputs``; summing them over the
entries of one graph gives that graph's total.

* :func:`integrated_gradients`: ``(x - b) * ∫₀¹ ∇f(b + α(x - b)) dα`` by
  the midpoint rule, so ``Σ attributions ≈ f(x) - f(b)`` (completeness).
  ReLU networks are piecewise linear along the path, with kinks where a
  unit switches; the midpoint rule handles them better than Gauss–Legendre
  nodes (measured: 95th-percentile completeness error 3.0% against 7.4% at
  64 nodes on an ESOL GIN).
* :func:`gradient_x_input`: ``x * ∇f(x)``.
* :func:`smoothgrad`: ``x * mean(∇f(x + ε))`` over Gaussian noise ``ε``.

All are jit-compiled and vmap the path points or noise samples in chunks
(``lax.map``), never a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

Inputs = object  # a pytree of arrays


def midpoint_nodes(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint-rule nodes ``(k + 1/2) / steps`` and weights ``1 / steps`` on [0, 1]."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    nodes = (np.arange(steps) + 0.5) / steps
    return nodes.astype(np.float32), np.full(steps, 1.0 / steps, np.float32)


def _chunked_mean(grad_at: Callable, points: jax.Array, weights: jax.Array, chunk: int):
    """``Σ_k weights[k] * grad_at(points[k])`` with ``chunk`` points vmapped at once."""
    n = points.shape[0]
    chunk = max(1, min(chunk, n))
    pad = -n % chunk
    points = jnp.concatenate([points, jnp.repeat(points[:1], pad, axis=0)])
    weights = jnp.concatenate([weights, jnp.zeros((pad,), weights.dtype)])
    shape = (-1, chunk, *points.shape[1:])

    def block(args):
        p, w = args
        grads = jax.vmap(grad_at)(p)
        return jax.tree.map(lambda g: jnp.tensordot(w, g, axes=1), grads)

    parts = jax.lax.map(block, (points.reshape(shape), weights.reshape(-1, chunk)))
    return jax.tree.map(lambda s: s.sum(axis=0), parts)


def _grad(f: Callable, context) -> Callable:
    return jax.grad(lambda x: f(context, x).sum())


@eqx.filter_jit
def integrated_gradients(
    f: Callable,
    context,
    inputs: Inputs,
    baseline: Inputs,
    steps: int = 64,
    chunk: int = 16,
) -> tuple[Inputs, jax.Array, jax.Array]:
    """Integrated gradients along the straight path from ``baseline`` to ``inputs``.

    Args:
        f: pure function ``(context, inputs) -> [G]`` per-graph outputs.
        context: what ``f`` reads besides the inputs (a pytree).
        inputs, baseline: pytrees of identical structure and shapes.
        steps: midpoint-rule nodes on the path.
        chunk: path points evaluated at once (memory against speed).

    Returns:
        ``(attributions, f(inputs), f(baseline))``: attributions like
        ``inputs``; outputs [G].
    """
    nodes, weights = midpoint_nodes(steps)
    delta = jax.tree.map(jnp.subtract, inputs, baseline)
    grad_f = _grad(f, context)

    def grad_at(alpha):
        return grad_f(jax.tree.map(lambda b, d: b + alpha * d, baseline, delta))

    mean_grad = _chunked_mean(grad_at, jnp.asarray(nodes), jnp.asarray(weights), chunk)
    attributions = jax.tree.map(jnp.multiply, delta, mean_grad)
    return attributions, f(context, inputs), f(context, baseline)


@eqx.filter_jit
def gradient_x_input(f: Callable, context, inputs: Inputs) -> tuple[Inputs, jax.Array]:
    """``inputs * ∇f(context, inputs)`` and the outputs [G]."""
    grads = _grad(f, context)(inputs)
    return jax.tree.map(jnp.multiply, inputs, grads), f(context, inputs)


@eqx.filter_jit
def smoothgrad(
    f: Callable,
    context,
    inputs: Inputs,
    key: jax.Array,
    noise: float = 0.15,
    samples: int = 32,
    chunk: int = 16,
) -> tuple[Inputs, jax.Array]:
    """``inputs * mean ∇f(context, inputs + ε)``, ``ε ~ N(0, (noise ·
    range)²)`` per array (``range`` = its max − min), and the outputs [G].

    Noise reaches every entry of an input array, padding included; padding
    never reaches a real graph's output, so it changes nothing.
    """
    leaves, treedef = jax.tree.flatten(inputs)
    keys = jax.random.split(key, samples)
    sigmas = [noise * (jnp.max(x) - jnp.min(x)) if x.size else 0.0 for x in leaves]
    grad_f = _grad(f, context)

    def grad_at(k):
        ks = jax.random.split(k, len(leaves))
        noisy = [
            x + s * jax.random.normal(kk, x.shape, x.dtype)
            for x, s, kk in zip(leaves, sigmas, ks, strict=True)
        ]
        return grad_f(jax.tree.unflatten(treedef, noisy))

    weights = jnp.full((samples,), 1.0 / samples, jnp.float32)
    mean_grad = _chunked_mean(grad_at, keys, weights, chunk)
    return jax.tree.map(jnp.multiply, inputs, mean_grad), f(context, inputs)
