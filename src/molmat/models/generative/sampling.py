"""Batched autoregressive sampling inside one compiled loop.

Every row starts from ``<bos>`` and draws one token per step from the
model's logits, divided by the temperature and optionally restricted to the
``top_k`` most likely tokens and to the smallest set whose probability
reaches ``top_p`` (nucleus sampling). The loop stops when every row has
emitted ``<eos>`` or after ``max_len`` tokens. The random key of step ``t``
is ``fold_in(key, t)``: a seed gives the same molecules every time.
"""

from __future__ import annotations

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

PAD, BOS, EOS = 0, 1, 2


def filter_logits(
    logits: Float[Array, "B V"], top_k: int | None, top_p: float | None
) -> Float[Array, "B V"]:
    """``-inf`` outside the top-k tokens and outside the top-p nucleus."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    if top_p is not None and top_p < 1.0:
        order = jnp.argsort(-logits, axis=-1)
        sorted_logits = jnp.take_along_axis(logits, order, axis=-1)
        probs = jax.nn.softmax(sorted_logits, axis=-1)
        # keep a token if the mass of the tokens before it is below top_p
        keep_sorted = (jnp.cumsum(probs, axis=-1) - probs) < top_p
        keep = (
            jnp.zeros_like(keep_sorted)
            .at[jnp.arange(logits.shape[0])[:, None], order]
            .set(keep_sorted)
        )
        logits = jnp.where(keep, logits, -jnp.inf)
    return logits


@partial(eqx.filter_jit, donate="none")
def sample_tokens(
    model,
    key: PRNGKeyArray,
    condition: Float[Array, "B C"],
    max_len: int,
    temperature: float | Array = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Int[Array, "B max_len"]:
    """Token ids [B, max_len] (``<eos>`` then ``<pad>`` after each molecule).

    ``model`` has ``start(condition, batch)`` and
    ``step(state, token, t, condition) -> (logits, state)``.
    """
    batch = condition.shape[0]
    out = jnp.full((batch, max_len), PAD, jnp.int32)
    token = jnp.full((batch,), BOS, jnp.int32)
    done = jnp.zeros((batch,), bool)
    carry = (0, model.start(condition, batch), token, done, out)

    def running(carry):
        t, _, _, done, _ = carry
        return (t < max_len) & ~jnp.all(done)

    def body(carry):
        t, state, token, done, out = carry
        logits, state = model.step(state, token, t, condition)
        logits = filter_logits(logits / temperature, top_k, top_p)
        drawn = jax.random.categorical(jax.random.fold_in(key, t), logits)
        drawn = jnp.where(done, PAD, drawn).astype(jnp.int32)
        out = jax.lax.dynamic_update_slice_in_dim(out, drawn[:, None], t, axis=1)
        return t + 1, state, drawn, done | (drawn == EOS), out

    return jax.lax.while_loop(running, body, carry)[-1]
