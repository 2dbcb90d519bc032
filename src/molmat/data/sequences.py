"""Padded batches of token sequences, bucketed by length.

A batch holds ``batch_size`` sequences padded to one of a few bucket lengths,
so a training run compiles once per bucket, not once per batch. Each row is
``<bos> t1 ... tn <eos> <pad> ...``; the network reads ``tokens[:, :-1]`` and
predicts ``tokens[:, 1:]``. Padded rows (the tail of the last batch of a
bucket) have ``weight`` 0.

Example:
    >>> import numpy as np
    >>> ids, offsets = np.array([5, 6, 7, 5]), np.array([0, 3, 4])
    >>> batcher = SequenceBatcher(np.diff(offsets), batch_size=2, step=4)
    >>> [b.tokens.shape for b in batcher.batches(ids, offsets, np.arange(2))]
    [(2, 8)]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

PAD, BOS, EOS = 0, 1, 2  # the ids of molmat.featurizers.tokens' specials


class SequenceBatch(NamedTuple):
    """tokens [B, L+1] int32, weight [B] (0 for padded rows), condition
    [B, C], and ``epoch`` (scalar: training progress in epochs, for
    schedules such as KL annealing)."""

    tokens: np.ndarray
    weight: np.ndarray
    condition: np.ndarray
    epoch: np.ndarray


def bucket_lengths(max_tokens: int, step: int = 16) -> np.ndarray:
    """Bucket lengths (tokens + begin/end) in multiples of ``step``."""
    top = -(-(max_tokens + 2) // step) * step
    return np.arange(step, top + 1, step)


class SequenceBatcher:
    """Plans and fills the length-bucketed batches of a corpus.

    Args:
        lengths: [n] tokens per sequence (without begin/end).
        batch_size: rows per batch.
        step: bucket granularity in tokens.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, step: int = 16):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.buckets = bucket_lengths(int(self.lengths.max(initial=0)), step)

    def plan(self, order: np.ndarray, rng: np.random.Generator | None = None):
        """``(indices, bucket length)`` per batch: sequences of ``order`` grouped
        by bucket, batches shuffled by ``rng`` (kept in order when ``None``)."""
        bucket = np.searchsorted(self.buckets, self.lengths[order] + 2)
        plan = []
        for b in np.unique(bucket):
            members = order[bucket == b]
            for start in range(0, len(members), self.batch_size):
                plan.append(
                    (members[start : start + self.batch_size], int(self.buckets[b]))
                )
        if rng is not None:
            plan = [plan[i] for i in rng.permutation(len(plan))]
        return plan

    def batch(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        idx: np.ndarray,
        length: int,
        condition: np.ndarray | None = None,
    ) -> SequenceBatch:
        """The padded batch of sequences ``idx`` in a bucket of ``length``."""
        n = len(idx)
        tokens = np.full((self.batch_size, length), PAD, np.int32)
        tokens[:n, 0] = BOS
        lens = self.lengths[idx]
        rows = np.repeat(np.arange(n), lens)
        cols = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens) + 1
        starts = np.repeat(offsets[idx], lens)
        tokens[rows, cols] = ids[starts + cols - 1]
        tokens[np.arange(n), lens + 1] = EOS
        weight = np.zeros(self.batch_size, np.float32)
        weight[:n] = 1.0
        width = 0 if condition is None else condition.shape[1]
        cond = np.zeros((self.batch_size, width), np.float32)
        if width:
            cond[:n] = condition[idx]
        return SequenceBatch(tokens, weight, cond, np.float32(0.0))

    def batches(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        order: np.ndarray,
        rng: np.random.Generator | None = None,
        condition: np.ndarray | None = None,
    ) -> Iterator[SequenceBatch]:
        for idx, length in self.plan(order, rng):
            yield self.batch(ids, offsets, idx, length, condition)
