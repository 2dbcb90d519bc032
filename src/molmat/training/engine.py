"""The training engine under every model family.

A family (property networks, potentials, descriptor MLPs, and the generative,
sequence and pretraining models that build on them) supplies only:

- a **loss** ``loss_fn(model, batch, key) -> (loss, terms)`` where ``terms``
  is a 1-D array of numbers to average and log (may be empty);
- the **batches** of an epoch, ``batches(epoch) -> iterable`` of host pytrees
  (or, with ``scan=True``, one pytree stacked along a leading step axis);
- optionally a **validation** ``validate(model) -> (scores, objective)``,
  where the objective is minimised to pick the best epoch.

The engine owns the rest: the :class:`TrainState` (parameters, optimiser
state, EMA, step, RNG key, learning-rate scale), the optax chain
(:func:`make_optimizer`), one jitted step, the epoch loop with callbacks
(progress, log, early stopping, time limit, plateau), and atomic checkpoints.

Exact resume: epoch ``e`` is shuffled by the family from ``(seed, e)``, the
key of step ``s`` is ``fold_in(key, s)``, and a checkpoint is a single file
(``checkpoint.npz``) holding every array and, as JSON bytes in the same file,
the history and every callback's state; it is replaced by rename, so a run
killed at any instant resumes from the last complete epoch and ends with the
same parameters and metrics as a run never stopped.

Example:
    >>> import jax.numpy as jnp, numpy as np
    >>> from molmat.training.engine import Engine, OptimizerConfig
    >>> model = jnp.zeros(3)
    >>> def loss_fn(w, batch, key):
    ...     return jnp.mean((batch @ w - 1.0) ** 2), jnp.zeros(0)
    >>> opt = OptimizerConfig(
    ...     lr=0.1, schedule="warmup_cosine", total_steps=50, final_lr=1e-3
    ... )
    >>> engine = Engine(loss_fn, opt, epochs=50, progress=False)
    >>> trained, history = engine.fit(model, lambda epoch: [np.eye(3)])
    >>> bool(history.records[-1]["train_loss"] < 1e-2)
    True
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from molmat.data.console import progress_bar
from molmat.training.serialization import (
    arrays_to_tree,
    atomic_write_bytes,
    load_npz,
    save_npz,
    tree_to_arrays,
)

log = logging.getLogger("molmat")

SCHEDULES = ("constant", "warmup_exponential", "warmup_cosine")
CHECKPOINT = "checkpoint.npz"
_META = "__meta__"


class ResumeError(ValueError):
    """A checkpoint that cannot be resumed (other settings, damaged file)."""


# -- optimiser -----------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerConfig:
    """One optax chain for every family: clipping, Adam(W), a schedule.

    Attributes:
        lr: peak learning rate.
        schedule: ``constant``; ``warmup_exponential`` (linear from
            ``init_lr`` to ``lr`` over ``warmup_steps``, then exponential decay
            to ``final_lr`` at ``total_steps``); ``warmup_cosine`` (the same
            warm-up, then cosine decay to ``final_lr``).
        init_lr, final_lr: start of the warm-up and end of the decay
            (default: ``lr``).
        warmup_steps, total_steps: schedule length in optimiser steps.
        weight_decay: decoupled weight decay (AdamW); 0 gives Adam.
        grad_clip: global-norm gradient clipping (None: off).
        scales: ``(path prefix, factor)`` pairs scaling the updates of the
            parameters whose path (``jax.tree_util.keystr``, e.g.
            ``.encoder.blocks[0].qkv.weight``) lies under the prefix (here
            ``.encoder.blocks[0]``, which does not hold ``blocks[10]``); the
            first match wins. Factor 0 freezes them; factors below 1 give layer-wise
            learning rates.
    """

    lr: float = 1e-3
    schedule: str = "constant"
    init_lr: float | None = None
    final_lr: float | None = None
    warmup_steps: int = 0
    total_steps: int = 1
    weight_decay: float = 0.0
    grad_clip: float | None = None
    scales: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"unknown schedule {self.schedule!r}; use one of {SCHEDULES}"
            )
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


def learning_rate_schedule(cfg: OptimizerConfig) -> optax.Schedule:
    """The schedule of ``cfg`` as a function of the step."""
    if cfg.schedule == "constant":
        return optax.constant_schedule(cfg.lr)
    init = cfg.lr if cfg.init_lr is None else cfg.init_lr
    final = cfg.lr if cfg.final_lr is None else cfg.final_lr
    total = max(cfg.total_steps, 1)
    warm = min(max(cfg.warmup_steps, 1), total)
    if cfg.schedule == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(init, cfg.lr, warm, total, final)
    return optax.join_schedules(
        [
            optax.linear_schedule(init, cfg.lr, warm),
            optax.exponential_decay(
                cfg.lr, max(total - warm, 1), final / cfg.lr, end_value=final
            ),
        ],
        [warm],
    )


def make_optimizer(cfg: OptimizerConfig) -> optax.GradientTransformation:
    """Clip by global norm (optional), then Adam or AdamW on the schedule."""
    schedule = learning_rate_schedule(cfg)
    chain = [optax.clip_by_global_norm(cfg.grad_clip)] if cfg.grad_clip else []
    if cfg.weight_decay:
        chain.append(optax.adamw(schedule, weight_decay=cfg.weight_decay))
    else:
        chain.append(optax.adam(schedule))
    if cfg.scales:
        chain.append(scale_by_path(cfg.scales))
    return optax.chain(*chain)


def scale_by_path(
    scales: tuple[tuple[str, float], ...],
) -> optax.GradientTransformation:
    """Multiply each update by the factor of the first ``(prefix, factor)``
    whose prefix starts its parameter path (1 when none does)."""

    def inside(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith((prefix + ".", prefix + "["))

    def factor(path) -> float:
        name = jax.tree_util.keystr(path)
        return next((f for prefix, f in scales if inside(name, prefix)), 1.0)

    def update(updates, state, params=None):
        scaled = jax.tree_util.tree_map_with_path(
            lambda path, u: u * factor(path), updates
        )
        return scaled, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


# -- state and history -----------------------------------------------------------


class TrainState(eqx.Module):
    """Everything that changes from step to step (a pytree of arrays).

    ``key`` is raw key data (``jax.random.key_data``), so the state saves as
    plain arrays; ``lr_scale`` multiplies the schedule (plateau reductions,
    host-set budgets); ``ema`` is None when no moving average is kept.
    """

    params: object
    opt_state: object
    ema: object
    step: jax.Array
    key: jax.Array
    lr_scale: jax.Array


@dataclass
class History:
    """Per-epoch records and what the loop decided.

    ``compilations`` counts traces of the train step (one per batch shape);
    ``best_score`` is the best validation objective (lower is better);
    ``train_seconds`` counts training steps, ``wall_seconds`` whole epochs
    (validation and callbacks included), both summed across resumes.
    """

    records: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float | None = None
    compilations: int = 0
    size_classes: int = 1
    train_seconds: float = 0.0
    wall_seconds: float = 0.0
    stopped_by: str = "epochs"


# -- callbacks ---------------------------------------------------------------


class Callback:
    """Hooks into the epoch loop; state that must survive a resume is JSON.

    ``on_train_start`` sees the history the run starts from (empty, or the
    resumed one); ``on_epoch_end`` sees the finished epoch's record and the
    loop and returns a reason to stop (a short string) or None.
    """

    def on_train_start(self, history: History) -> None:
        pass

    def on_epoch_end(self, loop: Loop, record: dict) -> str | None:
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a better validation objective."""

    def __init__(self, patience: int):
        self.patience = patience

    def on_epoch_end(self, loop: Loop, record: dict) -> str | None:
        best = loop.history.best_epoch
        if best > 0 and record["epoch"] - best >= self.patience:
            log.info(
                "early stop at epoch %d: no better validation since epoch %d",
                record["epoch"],
                best,
            )
            return "early stopping"
        return None


class TimeLimit(Callback):
    """Stop once the epochs have taken ``minutes`` of wall time (validation
    included, counted across resumes)."""

    def __init__(self, minutes: float):
        self.minutes = minutes

    def on_epoch_end(self, loop: Loop, record: dict) -> str | None:
        if loop.history.wall_seconds / 60 >= self.minutes:
            log.info(
                "time limit of %.1f min reached at epoch %d",
                self.minutes,
                record["epoch"],
            )
            return "time limit"
        return None


class ReduceOnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` stale epochs."""

    def __init__(self, patience: int, factor: float = 0.5, min_scale: float = 0.0):
        self.patience, self.factor, self.min_scale = patience, factor, min_scale
        self.stale = 0

    def on_epoch_end(self, loop: Loop, record: dict) -> str | None:
        if "val_objective" not in record:
            return None
        self.stale = 0 if loop.improved else self.stale + 1
        scale = float(loop.state.lr_scale)
        if self.stale >= self.patience and scale > self.min_scale:
            loop.set_lr_scale(max(scale * self.factor, self.min_scale))
            log.info(
                "epoch %d: learning rate reduced to %.2g of its start",
                record["epoch"],
                float(loop.state.lr_scale),
            )
            self.stale = 0
        return None

    def state_dict(self) -> dict:
        return {"stale": self.stale}

    def load_state_dict(self, state: dict) -> None:
        self.stale = int(state["stale"])


class CosineBudget(Callback):
    """Cosine decay of the learning rate over the epoch or time budget.

    After each epoch the scale becomes ``min_scale + (1 - min_scale) *
    (1 + cos(pi p)) / 2`` where ``p`` is the share of the budget used
    (the larger of epochs and minutes), which suits a fixed time limit.
    """

    def __init__(self, epochs: int, minutes: float | None, min_scale: float):
        self.epochs, self.minutes, self.min_scale = epochs, minutes, min_scale

    def on_epoch_end(self, loop: Loop, record: dict) -> str | None:
        used = record["epoch"] / self.epochs
        if self.minutes is not None:
            used = max(used, loop.history.wall_seconds / 60 / self.minutes)
        shape = 0.5 * (1.0 + math.cos(math.pi * min(used, 1.0)))
        loop.set_lr_scale(self.min_scale + (1.0 - self.min_scale) * shape)
        return None


class MetricsLog(Callback):
    """One JSON line per epoch in ``path``; on resume it is rewritten to match."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_train_start(self, history: History) -> None:
        text = "".join(json.dumps(r) + "\n" for r in history.records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, text.encode())

    def on_epoch_end(self, loop: Loop, record: dict) -> str | None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        return None


def plateau_callbacks(
    validated: bool,
    patience: int,
    plateau_patience: int,
    metrics_log: str | Path | None = None,
) -> list[Callback]:
    """With validation: halve the learning rate after ``plateau_patience``
    epochs without a better objective (down to 1% of it) and stop after
    ``patience``; and log every epoch to ``metrics_log`` if given."""
    callbacks: list[Callback] = []
    if validated:
        callbacks += [
            ReduceOnPlateau(plateau_patience, 0.5, 0.01),
            EarlyStopping(patience),
        ]
    if metrics_log is not None:
        callbacks.append(MetricsLog(metrics_log))
    return callbacks


# -- the loop ----------------------------------------------------------------------


@dataclass
class Loop:
    """What callbacks see: the live state, the best parameters, the history.

    ``improved`` says whether this epoch gave the best model so far.
    """

    state: TrainState
    best: object
    static: object
    history: History
    improved: bool = False

    def best_model(self):
        """The best model so far (EMA parameters when an average is kept)."""
        return eqx.combine(self.best, self.static)

    def set_lr_scale(self, scale: float) -> None:
        dtype = self.state.lr_scale.dtype
        self.state = eqx.tree_at(
            lambda s: s.lr_scale, self.state, jnp.asarray(scale, dtype)
        )


Batches = Callable[[int], Iterable]
Validate = Callable[[object], tuple[dict, float]]


class Engine:
    """Fits any model to any loss; see the module docstring.

    Args:
        loss_fn: ``(model, batch, key) -> (loss, terms)``; ``terms`` [K] are
            averaged over the epoch and logged under ``term_names``.
        optimizer: an :class:`OptimizerConfig` or any optax transformation.
        epochs: most epochs to run.
        seed: the RNG seed (dropout, noise) of the run.
        ema_decay: keep an exponential moving average of the parameters
            (0: none); validation and the returned model use it.
        callbacks: extra :class:`Callback` objects, run in order after each
            epoch.
        validate: ``model -> (scores, objective)``; the epoch with the lowest
            objective gives the returned model.
        checkpoint_dir: write ``checkpoint.npz`` here after every epoch.
        fingerprint: settings that must match to resume (JSON-able).
        term_names: names of the loss terms in the records.
        scan: ``batches(epoch)`` returns one pytree stacked on a leading step
            axis, and an epoch runs as one jitted ``lax.scan``.
        throughput: ``(name, samples per epoch)``: records ``name_per_second``.
        progress: show a progress bar.
        jit: the compiler wrapper of the step (e.g. with compiler options).
    """

    def __init__(
        self,
        loss_fn: Callable,
        optimizer: OptimizerConfig | optax.GradientTransformation,
        *,
        epochs: int,
        seed: int = 0,
        ema_decay: float = 0.0,
        callbacks: Iterable[Callback] = (),
        validate: Validate | None = None,
        checkpoint_dir: str | Path | None = None,
        fingerprint: dict | None = None,
        term_names: tuple[str, ...] = (),
        scan: bool = False,
        throughput: tuple[str, int] | None = None,
        progress: bool = True,
        jit: Callable = jax.jit,
    ):
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        self.loss_fn = loss_fn
        if isinstance(optimizer, OptimizerConfig):
            self.schedule = learning_rate_schedule(optimizer)
            self.optimizer = make_optimizer(optimizer)
            self.optimizer_key = optimizer
        else:
            self.schedule, self.optimizer = None, optimizer
            self.optimizer_key = optimizer
        self.epochs = epochs
        self.seed = seed
        self.ema_decay = ema_decay
        self.callbacks = list(callbacks)
        self.validate = validate
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.fingerprint = json.loads(json.dumps(fingerprint or {}, default=str))
        self.term_names = tuple(term_names)
        self.scan = scan
        self.throughput = throughput
        self.progress = progress
        self.jit = jit

    # -- public ------------------------------------------------------------------
    def init_state(self, model) -> tuple[TrainState, object]:
        """The starting state for ``model`` and its static (non-array) part."""
        params, static = eqx.partition(model, eqx.is_inexact_array)
        state = TrainState(
            params=params,
            opt_state=self.optimizer.init(params),
            ema=params if self.ema_decay else None,
            step=jnp.asarray(0, jnp.int32),
            key=jax.random.key_data(jax.random.key(self.seed)),
            lr_scale=jnp.asarray(1.0, jnp.float32),
        )
        return state, static

    def fit(
        self, model, batches: Batches, resume: bool = False
    ) -> tuple[object, History]:
        """Train ``model``; returns the best (or last) model and the history.

        Args:
            model: an Equinox module (or any pytree of arrays).
            batches: ``epoch -> batches`` of that epoch, in order.
            resume: continue from ``checkpoint_dir/checkpoint.npz`` if there
                is one (settings must match ``fingerprint``).
        """
        state, static = self.init_state(model)
        history = History()
        best = self._evaluated(state)
        if resume:
            restored = self._restore(state, best)
            if restored is not None:
                state, best, history = restored
                log.info("resumed from checkpoint at epoch %d", len(history.records))
        for cb in self.callbacks:
            cb.on_train_start(history)
        loop = Loop(state, best, static, history)
        step_fn = self._make_step(static)
        traces_before = step_fn.traces
        start = len(history.records)
        bar = progress_bar(
            range(start, self.epochs),
            desc="training",
            unit="epoch",
            enabled=self.progress,
            initial=start,
            total=self.epochs,
        )
        for epoch in bar:
            if history.stopped_by != "epochs":  # a resumed run that had stopped
                break
            tick = time.perf_counter()
            loop.state, terms, n_steps = self._run_epoch(
                step_fn, loop.state, batches(epoch)
            )
            seconds = time.perf_counter() - tick
            record = {"epoch": epoch + 1, "lr": self._lr(loop.state)}
            record["train_loss"] = float(terms[0])
            record.update(zip(self.term_names, map(float, terms[1:]), strict=True))
            record["seconds"] = seconds
            record["steps"] = n_steps
            if self.throughput is not None:
                name, samples = self.throughput
                record[f"{name}_per_second"] = samples / seconds
            history.train_seconds += seconds
            loop.improved = False
            current = self._evaluated(loop.state)
            if self.validate is not None:
                scores, objective = self.validate(eqx.combine(current, static))
                record.update({f"val_{k}": v for k, v in scores.items()})
                record["val_objective"] = objective
                best_score = history.best_score
                if math.isfinite(objective) and (
                    best_score is None or objective < best_score
                ):
                    history.best_score, history.best_epoch = objective, epoch + 1
                    loop.best, loop.improved = current, True
            else:
                loop.best, history.best_epoch, loop.improved = current, epoch + 1, True
            if not math.isfinite(record["train_loss"]):
                history.stopped_by = "non-finite loss"
                log.warning("training loss is not finite at epoch %d", epoch + 1)
            history.records.append(record)
            history.wall_seconds += time.perf_counter() - tick
            for cb in self.callbacks:
                reason = cb.on_epoch_end(loop, record)
                if reason and history.stopped_by == "epochs":
                    history.stopped_by = reason
            self._checkpoint(loop.state, loop.best, history)
            bar.set_postfix(self._postfix(record))
            if history.stopped_by != "epochs":
                break
        bar.close()
        history.compilations = step_fn.traces - traces_before
        return loop.best_model(), history

    # -- steps -------------------------------------------------------------------
    def _lr(self, state: TrainState) -> float:
        """The learning rate of the last step (schedule x scale)."""
        scale = float(state.lr_scale)
        if self.schedule is None:
            return scale
        return float(self.schedule(max(int(state.step) - 1, 0))) * scale

    def _evaluated(self, state: TrainState):
        """The parameters that are validated and returned (EMA if kept)."""
        return state.params if state.ema is None else state.ema

    def _make_step(self, static) -> _CompiledStep:
        """The jitted step, shared by engines with the same loss and settings.

        Estimators that fit many times (cross-validation, one model per
        target) thus compile once, as long as ``loss_fn`` is one function
        (not a new closure per fit) and the optimiser settings are equal.
        """
        key = (
            self.loss_fn,
            self.optimizer_key,
            self.ema_decay,
            self.scan,
            self.jit,
            static,
        )
        try:
            cached = _STEPS.get(key)
        except TypeError:  # an unhashable part: no sharing
            key, cached = None, None
        if cached is None:
            cached = _CompiledStep(
                self.loss_fn,
                self.optimizer,
                self.ema_decay,
                self.scan,
                self.jit,
                static,
            )
            if key is not None:
                if len(_STEPS) >= _MAX_STEPS:
                    _STEPS.pop(next(iter(_STEPS)))
                _STEPS[key] = cached
        return cached

    def _run_epoch(self, step_fn, state: TrainState, batches):
        """Run one epoch; returns the state, mean [loss, *terms] and step count."""
        if self.scan:
            state, terms = step_fn(state, jax.device_put(batches))
            terms = np.asarray(terms, np.float64)
            return state, terms.mean(0), len(terms)
        per_step = []  # device arrays: no sync inside the epoch
        for batch in batches:
            state, terms = step_fn(state, jax.device_put(batch))
            per_step.append(terms)
        if not per_step:
            raise ValueError("an epoch produced no batches")
        terms = np.asarray(jnp.stack(per_step), np.float64)
        return state, terms.mean(0), len(per_step)

    def _postfix(self, record: dict) -> dict:
        postfix = {"loss": f"{record['train_loss']:.4g}"}
        if "val_objective" in record:
            postfix["val"] = f"{record['val_objective']:.4g}"
        return postfix

    # -- checkpoints -------------------------------------------------------------
    def _checkpoint(self, state: TrainState, best, history: History) -> None:
        if self.checkpoint_dir is None:
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        meta = {
            "fingerprint": self.fingerprint,
            "epochs": self.epochs,
            "history": asdict(history),
            "callbacks": [cb.state_dict() for cb in self.callbacks],
        }
        arrays = {
            **{f"state{k}": v for k, v in tree_to_arrays(state).items()},
            **{f"best{k}": v for k, v in tree_to_arrays(best).items()},
            _META: np.frombuffer(json.dumps(meta).encode(), np.uint8),
        }
        save_npz(self.checkpoint_dir / CHECKPOINT, arrays)

    def _restore(self, state: TrainState, best):
        """State, best parameters and history from the checkpoint, or None."""
        if self.checkpoint_dir is None:
            raise ResumeError("resume needs a checkpoint directory")
        path = self.checkpoint_dir / CHECKPOINT
        if not path.exists():
            log.warning("no checkpoint in %s; starting from scratch", path.parent)
            return None
        meta, arrays = read_checkpoint(path)
        check_fingerprint(path, meta["fingerprint"], self.fingerprint)

        def part(prefix):
            n = len(prefix)
            return {k[n:]: v for k, v in arrays.items() if k.startswith(prefix)}

        try:
            state = arrays_to_tree(state, part("state"), "checkpoint state")
            best = arrays_to_tree(best, part("best"), "checkpoint best model")
        except ValueError as err:
            raise ResumeError(f"{path}: {err}") from err
        for cb, saved in zip(self.callbacks, meta["callbacks"], strict=False):
            cb.load_state_dict(saved)
        return state, best, History(**meta["history"])


class _CompiledStep:
    """One jitted train step (or scanned epoch) and how often it was traced."""

    def __init__(self, loss_fn, optimizer, decay: float, scan: bool, jit, static):
        self.traces = 0

        def step(state: TrainState, batch):
            key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)

            def objective(params):
                return loss_fn(eqx.combine(params, static), batch, key)

            (loss, terms), grads = jax.value_and_grad(objective, has_aux=True)(
                state.params
            )
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            updates = jax.tree_util.tree_map(
                lambda u: u * state.lr_scale.astype(u.dtype), updates
            )
            params = optax.apply_updates(state.params, updates)
            ema = state.ema
            if ema is not None:
                ema = jax.tree_util.tree_map(
                    lambda e, p: decay * e + (1 - decay) * p, ema, params
                )
            new = TrainState(
                params, opt_state, ema, state.step + 1, state.key, state.lr_scale
            )
            return new, jnp.concatenate([loss[None], jnp.ravel(terms)])

        def traced(state, batch):
            self.traces += 1
            if scan:
                return jax.lax.scan(step, state, batch)
            return step(state, batch)

        self._fn = jit(traced)

    def __call__(self, state: TrainState, batch):
        return self._fn(state, batch)


_STEPS: dict = {}  # compiled steps shared across engines (see Engine._make_step)
_MAX_STEPS = 16


def read_checkpoint(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The metadata and arrays of a checkpoint file."""
    try:
        arrays = load_npz(path)
        meta = json.loads(arrays.pop(_META).tobytes().decode())
    except Exception as err:  # a damaged zip or JSON raises many types
        raise ResumeError(f"{path}: damaged checkpoint ({err})") from err
    return meta, arrays


def check_fingerprint(path: Path, saved: dict, now: dict) -> None:
    """Refuse to resume under settings other than the checkpoint's."""
    changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if changed:
        raise ResumeError(
            f"checkpoint {path} was made with other settings ({', '.join(changed)}); "
            "resume with the same settings"
        )
