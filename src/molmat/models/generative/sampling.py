"""Batched autoregressive sampling inside one compiled loop.

``batch`` rows decode at once; each row draws one token per step from the
model's logits, divided by the temperature and optionally restricted to the
``top_k`` most likely tokens and to the smallest set whose probability
reaches ``top_p`` (nucleus sampling). A row that emits ``<eos>`` (or reaches
``max_len``) hands its molecule to the output and starts the next one at
once, so no row idles while the longest molecule of its batch finishes. The
random key of step ``s`` is ``fold_in(key, s)``: a seed (and batch size)
gives the same molecules every time.
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
        rows = jnp.arange(logits.shape[0])[:, None]
        keep = jnp.zeros_like(keep_sorted).at[rows, order].set(keep_sorted)
        logits = jnp.where(keep, logits, -jnp.inf)
    return logits


@partial(eqx.filter_jit, donate="none")
def sample_tokens(
    model,
    key: PRNGKeyArray,
    condition: Float[Array, "N C"],
    max_len: int,
    temperature: float | Array = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    batch: int | None = None,
) -> Int[Array, "N max_len"]:
    """Token ids of ``N`` molecules, molecule ``i`` conditioned on
    ``condition[i]``; each row is the tokens then ``<eos>`` then padding
    (no ``<eos>`` when it ran out of ``max_len``). ``batch`` rows decode at
    once (default: all ``N``).

    ``model`` has ``start(condition [B, C], B)`` and ``step(state, token [B],
    t [B], condition [B, C]) -> (logits [B, V], state)`` with ``t`` each
    row's position.
    """
    n = condition.shape[0]
    batch = n if batch is None else batch
    rows = jnp.arange(batch)
    slot = jnp.where(rows < n, rows, n)  # slot n: an idle row
    padded = jnp.concatenate([condition, condition[:1] * 0], 0)
    out = jnp.full((n + 1, max_len), PAD, jnp.int32)
    carry = (
        jnp.asarray(0),  # step
        model.start(padded[slot], batch),
        jnp.full((batch,), BOS, jnp.int32),  # last token
        jnp.zeros((batch,), jnp.int32),  # position of each row
        slot,
        jnp.minimum(batch, n),  # next free slot
        out,
    )

    def running(carry):
        return jnp.any(carry[4] < n)

    def body(carry):
        step, state, token, t, slot, next_slot, out = carry
        cond = padded[slot]
        logits, state = model.step(state, token, t, cond)
        logits = filter_logits(logits / temperature, top_k, top_p)
        drawn = jax.random.categorical(jax.random.fold_in(key, step), logits)
        drawn = drawn.astype(jnp.int32)
        out = out.at[slot, t].set(drawn)
        ended = ((drawn == EOS) | (t + 1 >= max_len)) & (slot < n)
        # finished rows take the next free slots, in row order
        new_slot = next_slot + jnp.cumsum(ended) - 1
        slot = jnp.where(ended, jnp.minimum(new_slot, n), slot)
        next_slot = next_slot + ended.sum()
        fresh = model.start(padded[slot], batch)
        state = jax.tree.map(
            lambda a, b: jnp.where(ended.reshape(-1, *[1] * (a.ndim - 1)), a, b),
            fresh,
            state,
        )
        token = jnp.where(ended, BOS, drawn)
        t = jnp.where(ended, 0, t + 1)
        return step + 1, state, token, t, slot, next_slot, out

    return jax.lax.while_loop(running, body, carry)[-1][:n]
