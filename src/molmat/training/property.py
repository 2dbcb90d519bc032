"""Training property models (graph and sequence networks) on the shared engine.

The family supplies its loss (standardised MSE or weighted BCE over labelled
targets), its batches (molecules or token sequences packed into bucketed
padded batches by the network's ``batcher``, epoch ``e`` shuffled by
``default_rng([seed, e])``) and its validation metric; the
:class:`~molmat.training.engine.Engine` does the rest, checkpoints and exact
resume included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from molmat.data.batching import GraphBatch
from molmat.data.graphs import GraphSet
from molmat.data.sequences import TokenBatch
from molmat.featurizers.tokens import EncodedCorpus
from molmat.training.engine import (
    EarlyStopping,
    Engine,
    History,
    MetricsLog,
    OptimizerConfig,
)
from molmat.training.losses import REGRESSION_LOSSES, masked_bce
from molmat.training.metrics import LOWER_IS_BETTER, selection_metric

log = logging.getLogger("molmat")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    The learning rate rises linearly from ``init_lr`` to ``max_lr`` over
    ``warmup_epochs`` and then decays exponentially to ``final_lr`` at the last
    epoch. Training stops early after ``patience`` epochs without a better
    validation metric (``None``: never) and keeps the best parameters; the
    metric is chosen by ``select_by`` (see
    :func:`~molmat.training.metrics.selection_metric`).
    ``lr_scales`` scale the updates of parts of the network (a frozen or
    slower pretrained encoder; see
    :class:`~molmat.training.engine.OptimizerConfig`). Regression minimises
    ``loss`` on standardised targets: ``mse``, or ``l1`` (the mean absolute
    error: what MAE benchmarks rank, and robust to a few extreme labels).
    """

    task: str = "regression"
    loss: str = "mse"
    epochs: int = 50
    batch_size: int = 64
    init_lr: float = 1e-4
    max_lr: float = 1e-3
    final_lr: float = 1e-4
    warmup_epochs: float = 2.0
    weight_decay: float = 0.0
    grad_clip: float | None = 10.0
    patience: int | None = None
    select_by: str = "metric"
    seed: int = 0
    lr_scales: tuple[tuple[str, float], ...] = ()

    def optimizer(self, steps_per_epoch: int) -> OptimizerConfig:
        """Warm-up then exponential decay, AdamW, global-norm clipping."""
        return OptimizerConfig(
            lr=self.max_lr,
            schedule="warmup_exponential",
            init_lr=self.init_lr,
            final_lr=self.final_lr,
            warmup_steps=int(self.warmup_epochs * steps_per_epoch),
            total_steps=self.epochs * steps_per_epoch,
            weight_decay=self.weight_decay,
            grad_clip=self.grad_clip,
            scales=self.lr_scales,
        )


def batch_loss(
    model,
    batch: GraphBatch | TokenBatch,
    task: str,
    pos_weight,
    key,
    inference: bool,
    loss: str = "mse",
) -> jax.Array:
    """Masked loss of one batch (standardised MSE or L1, or weighted BCE)."""
    out = model(batch, key=key, inference=inference)
    mask = batch.y_mask & batch.row_mask[:, None]
    if task == "regression":
        return REGRESSION_LOSSES[loss](out, batch.y, mask)
    return masked_bce(out, batch.y, mask, pos_weight)


@dataclass(frozen=True)
class TrainingLoss:
    """:func:`batch_loss` in training mode, ``(model, batch, key) -> (loss,
    no terms)``. Equal settings compare equal, so fits with the same network
    and optimiser (ensemble members, folds, targets) share one compiled step.
    """

    task: str
    pos_weight: tuple[float, ...] | None  # [T] positive-class weights
    loss: str

    def __call__(self, model, batch, key) -> tuple[jax.Array, jax.Array]:
        pos_weight = None
        if self.pos_weight is not None:
            pos_weight = jnp.asarray(self.pos_weight, jnp.float32)
        value = batch_loss(model, batch, self.task, pos_weight, key, False, self.loss)
        return value, jnp.zeros(0)


@eqx.filter_jit
def _forward(model, batch: GraphBatch) -> jax.Array:
    return model(batch, inference=True)


def predict_outputs(
    model, data, batch_size: int = 64, n_targets: int | None = None
) -> np.ndarray:
    """Raw outputs [n, T] for every entry of ``data``, in order.

    ``data`` is what the network's ``batcher`` takes (a :class:`GraphSet` of
    molecules, an encoded token corpus). Batches are padded to bucketed
    sizes, so the result of a molecule does not depend on the batch it lands
    in.
    """
    if len(data) == 0:
        return np.zeros((0, n_targets or 0), np.float32)
    batcher = model.batcher(data, batch_size)
    outputs = []
    for idx, budget in batcher.plan(data, np.arange(len(data))):
        batch = batcher.batch(data, idx, budget, n_targets=n_targets or 0)
        outputs.append((idx, _forward(model, batch)))
    result = None
    for idx, out in outputs:
        out = np.asarray(out)[: len(idx)]
        if result is None:
            result = np.zeros((len(data), out.shape[1]), out.dtype)
        result[idx] = out
    return result


class Trainer:
    """Fits a property network (graph or sequence); see :meth:`fit`."""

    def __init__(
        self,
        cfg: TrainConfig,
        evaluate: Callable[[np.ndarray], dict],
        pos_weight: np.ndarray | None = None,
        checkpoint_dir: str | Path | None = None,
        metrics_log: str | Path | None = None,
        progress: bool = True,
    ):
        """
        Args:
            cfg: optimisation settings.
            evaluate: maps raw validation outputs [n_val, T] to a metrics dict
                holding ``selection_metric(cfg.task, None, cfg.select_by)``.
            pos_weight: [T] positive-class weights (classification).
            checkpoint_dir: where ``checkpoint.npz`` goes after every epoch.
            metrics_log: JSON-lines file receiving one record per epoch.
            progress: show a progress bar.
        """
        self.cfg = cfg
        self.evaluate = evaluate
        self.pos_weight = (
            None
            if pos_weight is None
            else tuple(np.asarray(pos_weight, np.float32).tolist())
        )
        self.checkpoint_dir = checkpoint_dir
        self.metrics_log = metrics_log
        self.progress = progress

    def fit(
        self,
        model,
        train: GraphSet | EncodedCorpus,
        y_train: np.ndarray,
        val: GraphSet | EncodedCorpus | None = None,
        resume: bool = False,
    ) -> tuple[object, History]:
        """Train ``model`` on ``train`` with targets ``y_train`` (NaN = missing).

        Returns the best model (by validation metric, or the last one without
        validation data) and the history.
        """
        cfg = self.cfg
        batcher = model.batcher(train, cfg.batch_size)
        loss_fn = TrainingLoss(cfg.task, self.pos_weight, cfg.loss)

        def batches(epoch: int):
            order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))
            for idx, budget in batcher.plan(train, order):
                yield batcher.batch(train, idx, budget, y_train)

        callbacks = []
        if cfg.patience is not None:
            callbacks.append(EarlyStopping(cfg.patience))
        if self.metrics_log is not None:
            callbacks.append(MetricsLog(self.metrics_log))
        # size classes and atom budgets can cut more batches than n / batch_size
        steps_per_epoch = len(batcher.plan(train, np.arange(len(train))))
        engine = Engine(
            loss_fn,
            cfg.optimizer(steps_per_epoch),
            epochs=cfg.epochs,
            seed=cfg.seed,
            callbacks=callbacks,
            validate=self._validator(val) if val is not None and len(val) else None,
            checkpoint_dir=self.checkpoint_dir,
            fingerprint={k: v for k, v in asdict(cfg).items() if k != "epochs"},
            throughput=("molecules", len(train)),
            progress=self.progress,
        )
        model, history = engine.fit(model, batches, resume=resume)
        history.size_classes = len(batcher.budgets)
        log.info(
            "compilations of the train step: %d (size classes: %d)",
            history.compilations,
            history.size_classes,
        )
        return model, history

    def _validator(self, val: GraphSet | EncodedCorpus):
        """Validation scores and the objective (lower is better) of a model."""
        task, select_by = self.cfg.task, self.cfg.select_by
        chosen = [selection_metric(task, None, select_by)]

        def validate(model) -> tuple[dict, float]:
            scores = self.evaluate(predict_outputs(model, val, self.cfg.batch_size))
            metric = selection_metric(task, scores, select_by)
            if metric != chosen[0]:
                chosen[0] = metric
                log.warning(
                    "validation ROC-AUC is undefined (one class only); the best "
                    "epoch is chosen by validation %s",
                    metric,
                )
            value = scores[metric]
            objective = value if metric in LOWER_IS_BETTER else -value
            return {k: v for k, v in scores.items() if k != "n"}, objective

        return validate
