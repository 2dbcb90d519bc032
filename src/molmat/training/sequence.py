"""Training sequence models (language models, the VAE) on the shared engine.

An "epoch" is ``epoch_size`` molecules of an endless stream of shuffled
passes over the corpus (pass ``p`` is ``default_rng([seed, p])``'s
permutation), so a corpus of 1.6M molecules gets a checkpoint, a validation
score and a chance to stop on time every few minutes; with ``epoch_size``
left unset an epoch is one pass. Batches are bucketed by length
(:mod:`molmat.data.sequences`): each bucket compiles once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from molmat.data.sequences import SequenceBatch, SequenceBatcher
from molmat.featurizers.tokens import EncodedCorpus
from molmat.training.engine import (
    Callback,
    CosineBudget,
    EarlyStopping,
    Engine,
    History,
    MetricsLog,
    OptimizerConfig,
    TimeLimit,
)
from molmat.training.losses import token_nll

log = logging.getLogger("molmat")


@dataclass(frozen=True)
class SequenceTrainConfig:
    """Optimisation settings of a sequence model.

    The learning rate warms up linearly over ``warmup_steps`` (at most a
    tenth of the run) then follows a
    cosine to ``final_lr_fraction`` of ``lr`` over the epoch or time budget
    (whichever runs out first). ``patience``: stop after that many epochs
    without a better validation loss (``None``: never).
    """

    epochs: int = 20
    epoch_size: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    final_lr_fraction: float = 0.05
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    patience: int | None = 5
    time_limit: float | None = None  # minutes
    seed: int = 0

    def steps_per_epoch(self, n: int) -> int:
        return math.ceil((self.epoch_size or n) / self.batch_size)


@dataclass
class SequenceData:
    """An encoded corpus and its conditions [n, C] (C may be 0)."""

    corpus: EncodedCorpus
    condition: np.ndarray

    def __len__(self) -> int:
        return len(self.corpus)


def stream_order(n: int, epoch: int, epoch_size: int | None, seed: int) -> np.ndarray:
    """The molecule indices of ``epoch`` in the endless shuffled stream."""
    size = epoch_size or n
    start, stop = epoch * size, (epoch + 1) * size
    passes = range(start // n, (stop - 1) // n + 1)
    stream = np.concatenate(
        [np.random.default_rng([seed, p]).permutation(n) for p in passes]
    )
    offset = passes[0] * n
    return stream[start - offset : stop - offset]


def language_loss(model, batch: SequenceBatch, key) -> tuple[jax.Array, jax.Array]:
    """Mean next-token NLL (nats/token); terms: [NLL sum, token count]."""
    logits = model(batch.tokens[:, :-1], batch.condition, key=key, inference=False)
    total, count = token_nll(logits, batch.tokens[:, 1:], batch.weight)
    return total / jnp.maximum(count, 1), jnp.zeros(0)


@eqx.filter_jit
def _language_sums(model, batch: SequenceBatch):
    logits = model(batch.tokens[:, :-1], batch.condition)
    return token_nll(logits, batch.tokens[:, 1:], batch.weight)


def mean_token_nll(
    model, data: SequenceData, batch_size: int, sums: Callable = _language_sums
) -> float:
    """Mean NLL per token (nats) of ``data`` under ``model`` (no dropout)."""
    batcher = SequenceBatcher(data.corpus.lengths, batch_size)
    total, count = 0.0, 0
    for batch in batcher.batches(
        data.corpus.ids, data.corpus.offsets, np.arange(len(data)), None, data.condition
    ):
        t, c = sums(model, batch)
        total, count = total + float(t), count + int(c)
    return total / max(count, 1)


class SequenceTrainer:
    """Fits a sequence model with any loss; see :meth:`fit`.

    Args:
        cfg: optimisation settings.
        loss_fn: ``(model, batch, key) -> (loss, terms)`` (module level, so the
            compiled step is shared across fits).
        validate: ``model -> scores`` holding ``"loss"`` (lower is better).
        term_names: names of the loss terms.
        checkpoint_dir, metrics_log: as for every engine run.
        callbacks: more engine callbacks (e.g. snapshots), run last.
    """

    def __init__(
        self,
        cfg: SequenceTrainConfig,
        loss_fn: Callable = language_loss,
        validate: Callable[[object], dict] | None = None,
        term_names: tuple[str, ...] = (),
        checkpoint_dir: str | Path | None = None,
        metrics_log: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
    ):
        self.cfg = cfg
        self.callbacks = list(callbacks)
        self.loss_fn = loss_fn
        self.validate = validate
        self.term_names = term_names
        self.checkpoint_dir = checkpoint_dir
        self.metrics_log = metrics_log
        self.progress = progress

    def fit(
        self, model, data: SequenceData, resume: bool = False
    ) -> tuple[object, History]:
        cfg, n = self.cfg, len(data)
        if n == 0:
            raise ValueError("no molecules to train on")
        batcher = SequenceBatcher(data.corpus.lengths, cfg.batch_size)
        ids, offsets = data.corpus.ids, data.corpus.offsets

        def batches(epoch: int):
            order = stream_order(n, epoch, cfg.epoch_size, cfg.seed)
            plan = batcher.plan(order, np.random.default_rng([cfg.seed, epoch, 1]))
            for i, (idx, length) in enumerate(plan):
                batch = batcher.batch(ids, offsets, idx, length, data.condition)
                yield batch._replace(epoch=np.float32(epoch + i / len(plan)))

        callbacks = [CosineBudget(cfg.epochs, cfg.time_limit, cfg.final_lr_fraction)]
        if cfg.time_limit is not None:
            callbacks.append(TimeLimit(cfg.time_limit))
        if cfg.patience is not None and self.validate is not None:
            callbacks.append(EarlyStopping(cfg.patience))
        if self.metrics_log is not None:
            callbacks.append(MetricsLog(self.metrics_log))
        callbacks.extend(self.callbacks)
        validate = None
        if self.validate is not None:

            def validate(model):
                scores = self.validate(model)
                return scores, scores["loss"]

        # short runs (a small corpus) warm up over a tenth of their steps
        warmup = min(cfg.warmup_steps, cfg.epochs * cfg.steps_per_epoch(n) // 10)
        optimizer = OptimizerConfig(
            lr=cfg.lr,
            schedule="warmup_exponential",
            init_lr=cfg.lr * 0.01,
            final_lr=cfg.lr,
            warmup_steps=warmup,
            total_steps=warmup + 1,
            weight_decay=cfg.weight_decay,
            grad_clip=cfg.grad_clip,
        )
        size = cfg.epoch_size or n
        tokens = int(size * (float(data.corpus.lengths.mean()) + 1))
        engine = Engine(
            self.loss_fn,
            optimizer,
            epochs=cfg.epochs,
            seed=cfg.seed,
            callbacks=callbacks,
            validate=validate,
            checkpoint_dir=self.checkpoint_dir,
            fingerprint={
                **{
                    k: v
                    for k, v in asdict(cfg).items()
                    if k not in ("epochs", "time_limit")
                },
                "n": n,
            },
            term_names=self.term_names,
            throughput=("tokens", tokens),
            progress=self.progress,
        )
        model, history = engine.fit(model, batches, resume=resume)
        log.info(
            "compilations of the train step: %d (length buckets: %d)",
            history.compilations,
            len(batcher.buckets),
        )
        return model, history
