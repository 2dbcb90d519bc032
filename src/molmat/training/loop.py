"""The training loop: one jitted step, early stopping, checkpoints, resume.

Determinism: the shuffle of epoch ``e`` comes from ``default_rng([seed, e])``
and the dropout key of step ``s`` from ``fold_in(key(seed), s)``, so a run
resumed from a checkpoint continues exactly as if it had never stopped.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from molmat.data.batching import GraphBatch
from molmat.featurizers.graph import GraphSet
from molmat.training.losses import masked_bce, masked_mse
from molmat.training.metrics import is_better, selection_metric
from molmat.training.serialization import (
    arrays_to_tree,
    load_npz,
    save_npz,
    tree_to_arrays,
)

log = logging.getLogger("molmat")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    The learning rate rises linearly from ``init_lr`` to ``max_lr`` over
    ``warmup_epochs`` and then decays exponentially to ``final_lr`` at the last
    epoch. Training stops early after ``patience`` epochs without a better
    validation metric (``None``: never) and keeps the best parameters.
    """

    task: str = "regression"
    epochs: int = 50
    batch_size: int = 64
    init_lr: float = 1e-4
    max_lr: float = 1e-3
    final_lr: float = 1e-4
    warmup_epochs: float = 2.0
    weight_decay: float = 0.0
    grad_clip: float | None = 10.0
    patience: int | None = None
    seed: int = 0


@dataclass
class History:
    """Per-epoch records and the best epoch so far.

    ``compilations`` counts traces of the train step: one per batch shape,
    that is one per size class (``size_classes``, see
    :class:`~molmat.data.batching.Batcher`).
    """

    records: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float | None = None
    compilations: int = 0
    size_classes: int = 1
    train_seconds: float = 0.0


class CompileCounter:
    """Counts traces of the jitted functions it wraps (each trace = a compilation)."""

    def __init__(self) -> None:
        self.count = 0

    def wrap(self, fn: Callable) -> Callable:
        def traced(*args, **kwargs):
            self.count += 1
            return fn(*args, **kwargs)

        return traced


def make_optimizer(
    cfg: TrainConfig, steps_per_epoch: int
) -> optax.GradientTransformation:
    """Adam(W) with linear warm-up, exponential decay and global-norm clipping."""
    total = max(cfg.epochs * steps_per_epoch, 1)
    warm = min(max(int(cfg.warmup_epochs * steps_per_epoch), 1), total)
    schedule = optax.join_schedules(
        [
            optax.linear_schedule(cfg.init_lr, cfg.max_lr, warm),
            optax.exponential_decay(
                cfg.max_lr, max(total - warm, 1), cfg.final_lr / cfg.max_lr
            ),
        ],
        [warm],
    )
    chain = [optax.clip_by_global_norm(cfg.grad_clip)] if cfg.grad_clip else []
    chain.append(optax.adamw(schedule, weight_decay=cfg.weight_decay))
    return optax.chain(*chain)


def batch_loss(
    model, batch: GraphBatch, task: str, pos_weight, key, inference: bool
) -> jax.Array:
    """Masked loss of one batch (standardised MSE or weighted BCE)."""
    out = model(batch, key=key, inference=inference)
    mask = batch.y_mask & batch.graph_mask[:, None]
    if task == "regression":
        return masked_mse(out, batch.y, mask)
    return masked_bce(out, batch.y, mask, pos_weight)


@eqx.filter_jit
def _forward(model, batch: GraphBatch) -> jax.Array:
    return model(batch, inference=True)


def predict_graphs(
    model, graphs: GraphSet, batch_size: int = 64, n_targets: int | None = None
) -> np.ndarray:
    """Raw outputs [n_mols, T] for every molecule of ``graphs``, in order.

    Batches are padded to bucketed budgets (``model.batcher``), so the result
    of a molecule does not depend on the batch it lands in.
    """
    if len(graphs) == 0:
        return np.zeros((0, n_targets or 0), np.float32)
    batcher = model.batcher(graphs, batch_size)
    outputs = []
    for idx, budget in batcher.plan(graphs, np.arange(len(graphs))):
        batch = batcher.batch(graphs, idx, budget, n_targets=n_targets or 0)
        outputs.append((idx, _forward(model, batch)))
    result = None
    for idx, out in outputs:
        out = np.asarray(out)[: len(idx)]
        if result is None:
            result = np.zeros((len(graphs), out.shape[1]), out.dtype)
        result[idx] = out
    return result


class Trainer:
    """Fits a graph model; see :meth:`fit`."""

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
                holding ``selection_metric(cfg.task)``.
            pos_weight: [T] positive-class weights (classification).
            checkpoint_dir: where ``checkpoint.npz``/``checkpoint.json`` go.
            metrics_log: JSON-lines file receiving one record per epoch.
            progress: show a progress bar.
        """
        self.cfg = cfg
        self.evaluate = evaluate
        self.pos_weight = None if pos_weight is None else jnp.asarray(pos_weight)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.metrics_log = Path(metrics_log) if metrics_log else None
        self.progress = progress
        self.counter = CompileCounter()

    def fit(
        self,
        model,
        train: GraphSet,
        y_train: np.ndarray,
        val: GraphSet | None = None,
        resume: bool = False,
    ) -> tuple[object, History]:
        """Train ``model`` on ``train`` with targets ``y_train`` (NaN = missing).

        Returns the best model (by validation metric, or the last one without
        validation data) and the history.
        """
        cfg = self.cfg
        batcher = model.batcher(train, cfg.batch_size)
        steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        optimizer = make_optimizer(cfg, steps_per_epoch)
        params, static = eqx.partition(model, eqx.is_array)
        opt_state = optimizer.init(params)
        metric = selection_metric(cfg.task)
        history, best, start_epoch, step = History(), params, 0, 0

        if resume:
            restored = self._restore(params, opt_state)
            if restored is not None:
                params, opt_state, best, history, step = restored
                start_epoch = len(history.records)
                log.info("resumed from checkpoint at epoch %d", start_epoch)
        train_step = self._make_step(optimizer, static)
        base_key = jax.random.key(cfg.seed)

        bar = tqdm(
            range(start_epoch, cfg.epochs),
            desc="training",
            unit="epoch",
            disable=None if self.progress else True,  # None: only on a terminal
            initial=start_epoch,
            total=cfg.epochs,
        )
        for epoch in bar:
            tick = time.perf_counter()
            order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))
            losses = []
            for idx, budget in batcher.plan(train, order):
                batch = jax.device_put(batcher.batch(train, idx, budget, y_train))
                params, opt_state, loss = train_step(
                    params, opt_state, batch, base_key, jnp.int32(step)
                )
                losses.append(loss)
                step += 1
            train_loss = float(jnp.mean(jnp.stack(losses)))
            seconds = time.perf_counter() - tick
            record = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "seconds": seconds,
                "molecules_per_second": len(train) / seconds,
            }
            if val is not None and len(val):
                model = eqx.combine(params, static)
                scores = self.evaluate(predict_graphs(model, val, cfg.batch_size))
                if selection_metric(cfg.task, scores) != metric:
                    metric = selection_metric(cfg.task, scores)
                    log.warning(
                        "validation ROC-AUC is undefined (one class only); the best "
                        "epoch is chosen by validation %s",
                        metric,
                    )
                record.update({f"val_{k}": v for k, v in scores.items() if k != "n"})
                if is_better(metric, scores[metric], history.best_score):
                    history.best_score, history.best_epoch = scores[metric], epoch + 1
                    best = params
            else:
                best, history.best_epoch = params, epoch + 1
            history.records.append(record)
            history.train_seconds += seconds
            self._log_epoch(record)
            postfix = {"loss": f"{train_loss:.4f}"}
            if f"val_{metric}" in record:
                postfix[f"val_{metric}"] = f"{record[f'val_{metric}']:.4f}"
            bar.set_postfix(postfix)
            self._checkpoint(params, opt_state, best, history, step)
            if (
                cfg.patience is not None
                and history.best_epoch > 0
                and epoch + 1 - history.best_epoch >= cfg.patience
            ):
                log.info(
                    "early stop at epoch %d: no better val %s since epoch %d",
                    epoch + 1,
                    metric,
                    history.best_epoch,
                )
                break
        bar.close()
        history.compilations = self.counter.count
        history.size_classes = len(batcher.budgets)
        log.info(
            "compilations of the train step: %d (size classes: %d)",
            self.counter.count,
            history.size_classes,
        )
        return eqx.combine(best, static), history

    def _make_step(self, optimizer, static):
        """One jitted step on the array leaves ``params`` of the model."""
        task, pos_weight = self.cfg.task, self.pos_weight

        @jax.jit
        @self.counter.wrap
        def step_fn(params, opt_state, batch, base_key, step):
            def loss_fn(params):
                model = eqx.combine(params, static)
                key = jax.random.fold_in(base_key, step)
                return batch_loss(model, batch, task, pos_weight, key, False)

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        return step_fn

    def _log_epoch(self, record: dict) -> None:
        if self.metrics_log is not None:
            with open(self.metrics_log, "a") as fh:
                fh.write(json.dumps(record) + "\n")

    # -- checkpoints -------------------------------------------------------
    def _checkpoint(self, params, opt_state, best, history, step) -> None:
        if self.checkpoint_dir is None:
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        arrays = {
            **{f"model{k}": v for k, v in tree_to_arrays(params).items()},
            **{f"best{k}": v for k, v in tree_to_arrays(best).items()},
            **{f"opt{k}": v for k, v in tree_to_arrays(opt_state).items()},
        }
        save_npz(self.checkpoint_dir / "checkpoint.npz", arrays)
        meta = {
            "config": asdict(self.cfg),
            "step": step,
            "history": asdict(history),
        }
        tmp = self.checkpoint_dir / "checkpoint.json.tmp"
        tmp.write_text(json.dumps(meta))
        tmp.replace(self.checkpoint_dir / "checkpoint.json")

    def _restore(self, params, opt_state):
        if self.checkpoint_dir is None:
            raise ValueError("resume needs a checkpoint directory")
        meta_path = self.checkpoint_dir / "checkpoint.json"
        if not meta_path.exists():
            log.warning(
                "no checkpoint in %s; starting from scratch", self.checkpoint_dir
            )
            return None
        meta = json.loads(meta_path.read_text())
        saved = {k: v for k, v in meta["config"].items() if k != "epochs"}
        now = {k: v for k, v in asdict(self.cfg).items() if k != "epochs"}
        if saved != now:
            changed = sorted(k for k in now if saved.get(k) != now[k])
            raise ValueError(
                f"checkpoint in {self.checkpoint_dir} was made with other settings "
                f"({', '.join(changed)}); resume with the same settings"
            )
        arrays = load_npz(self.checkpoint_dir / "checkpoint.npz")

        def part(prefix):
            return {
                k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)
            }

        params = arrays_to_tree(params, part("model"), "checkpoint model")
        best = arrays_to_tree(params, part("best"), "checkpoint best model")
        opt_state = arrays_to_tree(opt_state, part("opt"), "checkpoint optimiser")
        history = History(**meta["history"])
        return params, opt_state, best, history, meta["step"]
