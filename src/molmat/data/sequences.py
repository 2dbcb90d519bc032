"""Padded batches of token sequences, bucketed by length.

A batch holds ``batch_size`` sequences padded to one of a few bucket lengths,
so a training run compiles once per bucket, not once per batch. Each row is
``<bos> t1 ... tn <eos> <pad> ...``; a language model reads
``tokens[:, :-1]`` and predicts ``tokens[:, 1:]``, an encoder reads the whole
row. Padded rows (the tail of the last batch of a bucket) have ``weight`` 0
(:class:`SequenceBatch`) or ``row_mask`` False (:class:`TokenBatch`, the
labelled batches of sequence property models).

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


class TokenBatch(NamedTuple):
    """Labelled sequences for a property model: ``tokens`` [B, L] int32
    (``<bos> t1 ... tn <eos>`` then padding), ``row_mask`` [B] bool (False
    for padded rows), ``y`` [B, T] float32 (0 where missing) and ``y_mask``
    [B, T] bool (True where a label exists)."""

    tokens: np.ndarray
    row_mask: np.ndarray
    y: np.ndarray
    y_mask: np.ndarray


class TokenBatcher:
    """Length-bucketed labelled batches of a ragged token corpus (an object
    with ``ids``, ``offsets`` and ``lengths``, such as
    :class:`~molmat.featurizers.tokens.EncodedCorpus`); the interface of the
    graph :class:`~molmat.data.batching.Batcher` (``plan``, ``batch``,
    ``budgets``), so the property trainer drives both.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, step: int = 16):
        self.sequences = SequenceBatcher(lengths, batch_size, step)
        used = np.unique(np.searchsorted(self.sequences.buckets, lengths + 2))
        self.budgets = {int(b): int(self.sequences.buckets[b]) for b in used}

    def plan(self, corpus, order: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """``(indices, bucket length)`` per batch, each bucket cut in ``order``;
        batches follow the position of their first sequence in ``order``, so
        a shuffled ``order`` mixes the buckets."""
        rank = np.empty(len(self.sequences.lengths), np.int64)
        rank[order] = np.arange(len(order))
        plan = self.sequences.plan(np.asarray(order))
        return sorted(plan, key=lambda batch: rank[batch[0][0]])

    def batch(
        self,
        corpus,
        idx: np.ndarray,
        length: int,
        y: np.ndarray | None = None,
        n_targets: int = 0,
    ) -> TokenBatch:
        """The padded batch of sequences ``idx`` with their targets (NaN =
        missing) from ``y`` [n, T], or ``n_targets`` empty columns."""
        rows = self.sequences.batch(corpus.ids, corpus.offsets, idx, length)
        width = n_targets if y is None else y.shape[1]
        targets = np.zeros((len(rows.weight), width), np.float32)
        mask = np.zeros((len(rows.weight), width), bool)
        if y is not None:
            labels = y[idx]
            mask[: len(idx)] = ~np.isnan(labels)
            targets[: len(idx)] = np.nan_to_num(labels)
        return TokenBatch(rows.tokens, rows.weight > 0, targets, mask)
