"""Training interatomic potentials: energy + force (+ stress) loss, EMA, plateau.

One jitted step per batch shape. The loss, in units of the per-atom energy
scale ``s`` of the model (so one learning rate suits any data set), is::

    w_E mean_g ((E_g - E*_g) / n_g / s)^2
      + w_F mean_{atoms, xyz} ((F - F*) / s)^2
      + w_S mean_{g, ab} ((S - S*) / s)^2

over structures that have each label. An exponential moving average (EMA) of
the weights is validated after every epoch and the best EMA model kept; the
learning rate is reduced when the validation loss stops improving.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from molmat.data.atoms_batch import AtomsBatch
from molmat.data.batching import Budget, plan_batches
from molmat.data.neighbors import NeighborGraphs, make_atoms_batch
from molmat.models.potentials.base import (
    Potential,
    energy_and_forces,
    energy_forces_stress,
    total_energy,
)
from molmat.models.potentials.compilation import compiler_options
from molmat.models.potentials.inference import (
    Predictions,
    param_dtype,
    predict_graphs,
)
from molmat.training.loop import CompileCounter

log = logging.getLogger("molmat")

LR_SCHEDULES = ("plateau", "cosine")


@dataclass(frozen=True)
class PotentialTrainConfig:
    """Optimisation settings of a potential.

    Attributes:
        epochs: most epochs to run.
        time_limit: stop after this many minutes of training (None: no limit).
        batch_size: structures per batch.
        lr: initial Adam learning rate.
        min_lr: the learning rate is never reduced below this.
        lr_schedule: ``"plateau"`` (reduce on validation plateaus) or
            ``"cosine"`` (decay to ``min_lr`` at the end of the budget, which
            suits a fixed ``time_limit``).
        plateau_patience: epochs without a better validation loss before the
            learning rate is multiplied by ``plateau_factor``.
        plateau_factor: learning-rate reduction factor.
        ema_decay: decay of the exponential moving average of the weights
            (0 turns the average off).
        energy_weight, forces_weight, stress_weight: loss weights.
        grad_clip: global-norm gradient clipping (None: off).
        seed: shuffling seed.
    """

    epochs: int = 1000
    time_limit: float | None = None
    batch_size: int = 8
    lr: float = 5e-3
    min_lr: float = 1e-5
    lr_schedule: str = "plateau"
    plateau_patience: int = 10
    plateau_factor: float = 0.5
    ema_decay: float = 0.99
    energy_weight: float = 1.0
    forces_weight: float = 10.0
    stress_weight: float = 1.0
    grad_clip: float | None = 100.0
    seed: int = 0

    def __post_init__(self):
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"unknown learning-rate schedule {self.lr_schedule!r}; "
                f"use one of {LR_SCHEDULES}"
            )
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name} must be at least 1, got {getattr(self, name)}"
                )
        for name in ("time_limit", "lr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")

    def cosine_lr(self, progress: float) -> float:
        """Learning rate at ``progress`` (0 to 1) through the budget."""
        shape = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        return self.min_lr + (self.lr - self.min_lr) * shape


@dataclass
class PotentialHistory:
    """Per-epoch records and the best epoch."""

    records: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float | None = None
    compilations: int = 0
    train_seconds: float = 0.0
    stopped_by: str = "epochs"


def loss_terms(
    model: Potential,
    batch: AtomsBatch,
    scale: float,
    stress: bool = True,
    forces: bool = True,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Energy, force and stress mean squared errors in units of ``scale``.

    ``stress=False`` skips the strain derivative (no structure has a stress);
    ``forces=False`` (energies alone, e.g. QM9) skips every derivative.
    """
    if stress:
        energy, forces, stress = energy_forces_stress(model, batch)
    elif forces:
        energy, forces = energy_and_forces(model, batch)
        stress = batch.stress
    else:
        energy, forces, stress = total_energy(model, batch), batch.forces, batch.stress
    n_atoms = jax.ops.segment_sum(
        batch.node_mask.astype(energy.dtype), batch.node_graph, batch.n_graphs
    )
    graphs = batch.graph_mask
    e_err = (energy - batch.energy) / jnp.maximum(n_atoms, 1.0) / scale
    e_mse = jnp.sum(jnp.where(graphs, e_err**2, 0.0)) / jnp.maximum(graphs.sum(), 1)
    atom_has_f = batch.has_forces[batch.node_graph] & batch.node_mask
    f_err = jnp.where(atom_has_f[:, None], (forces - batch.forces) / scale, 0.0)
    f_mse = jnp.sum(f_err**2) / jnp.maximum(3 * atom_has_f.sum(), 1)
    has_s = batch.has_stress & graphs
    s_err = jnp.where(has_s[:, None, None], (stress - batch.stress) / scale, 0.0)
    s_mse = jnp.sum(s_err**2) / jnp.maximum(9 * has_s.sum(), 1)
    return e_mse, f_mse, s_mse


def weighted_loss(cfg: PotentialTrainConfig, e_mse, f_mse, s_mse):
    return (
        cfg.energy_weight * e_mse
        + cfg.forces_weight * f_mse
        + cfg.stress_weight * s_mse
    )


def potential_metrics(graphs: NeighborGraphs, pred: Predictions) -> dict:
    """Energy (meV, meV/atom), force (meV/Å) and stress (meV/Å^3) MAE and RMSE.

    Only structures that carry a label enter its metric.
    """

    def mae_rmse(err, name, unit):
        if err.size == 0:
            return {}
        return {
            f"{name}_mae_{unit}": float(np.mean(np.abs(err)) * 1000),
            f"{name}_rmse_{unit}": float(np.sqrt(np.mean(err**2)) * 1000),
        }

    known = ~np.isnan(graphs.energy)
    e_err = (pred.energy - graphs.energy)[known]
    out = {"n_structures": len(graphs)}
    out.update(mae_rmse(e_err, "energy", "meV"))
    out.update(mae_rmse(e_err / graphs.n_atoms[known], "energy", "meV_per_atom"))
    atom_has_f = np.repeat(graphs.has_forces, graphs.n_atoms)
    out.update(
        mae_rmse((pred.forces - graphs.forces)[atom_has_f], "forces", "meV_per_A")
    )
    out.update(
        mae_rmse(
            (pred.stress - graphs.stress)[graphs.has_stress], "stress", "meV_per_A3"
        )
    )
    return out


def validation_loss(cfg: PotentialTrainConfig, metrics: dict, scale: float) -> float:
    """The training loss's weighting applied to validation RMSEs."""

    def mse(key):
        return (metrics.get(key, 0.0) / 1000 / scale) ** 2

    return weighted_loss(
        cfg,
        mse("energy_rmse_meV_per_atom"),
        mse("forces_rmse_meV_per_A"),
        mse("stress_rmse_meV_per_A3"),
    )


EPOCH_COLUMNS = (
    ("epoch", "epoch", "{:>5d}"),
    ("lr", "lr", "{:>8.1e}"),
    ("train_loss", "train loss", "{:>10.4g}"),
    ("val_energy_mae_meV", "val E MAE meV", "{:>13.2f}"),
    ("val_forces_mae_meV_per_A", "val F MAE meV/Å", "{:>15.2f}"),
    ("seconds", "s", "{:>6.1f}"),
)


def epoch_row(record: dict, header: bool = False) -> str:
    """One line of the per-epoch table (with its header line first if asked)."""
    cols = [c for c in EPOCH_COLUMNS if c[0] in record]
    row = "  ".join(fmt.format(record[key]) for key, _, fmt in cols)
    if not header:
        return row
    widths = [len(fmt.format(record[key])) for key, _, fmt in cols]
    names = "  ".join(
        name.rjust(w) for (_, name, _), w in zip(cols, widths, strict=True)
    )
    return f"{names}\n{row}"


class PotentialTrainer:
    """Fits a :class:`Potential`; see :meth:`fit`."""

    def __init__(
        self,
        cfg: PotentialTrainConfig,
        on_improve: Callable[[Potential, dict, int], None] | None = None,
        on_epoch: Callable[[dict], None] | None = None,
        progress: bool = True,
    ):
        """
        Args:
            cfg: optimisation settings.
            on_improve: called with the best (EMA) model, its validation
                metrics and its (1-based) epoch whenever validation improves
                (e.g. to archive it).
            on_epoch: called with each epoch's record.
            progress: show a progress bar.
        """
        self.cfg = cfg
        self.on_improve = on_improve
        self.on_epoch = on_epoch
        self.progress = progress
        self.counter = CompileCounter()

    def fit(
        self, model: Potential, train: NeighborGraphs, val: NeighborGraphs | None
    ) -> tuple[Potential, PotentialHistory]:
        """Train on ``train``; choose the best EMA model on ``val``.

        Without validation data the last EMA model is returned.
        """
        cfg = self.cfg
        scale = float(model.scaling.scale)
        dtype = param_dtype(model)
        budget = Budget.for_data(train, cfg.batch_size)
        params, static = eqx.partition(model, eqx.is_inexact_array)
        optimizer = self._optimizer()
        opt_state = optimizer.init(params)
        ema = params
        step_fn = self._make_step(
            optimizer,
            static,
            scale,
            stress=cfg.stress_weight > 0 and bool(train.has_stress.any()),
            forces=cfg.forces_weight > 0 and bool(train.has_forces.any()),
        )
        history, best = PotentialHistory(), params
        lr, stale = cfg.lr, 0
        start = time.perf_counter()
        bar = tqdm(
            range(cfg.epochs),
            desc="training",
            unit="epoch",
            disable=None if self.progress else True,
        )
        for epoch in bar:
            tick = time.perf_counter()
            order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))
            terms_per_step = []  # device arrays: no sync inside the epoch
            batches = plan_batches(train, order, budget)
            for idx in batches:
                batch = make_atoms_batch(train, idx, budget, dtype)
                params, opt_state, ema, terms = step_fn(
                    params, opt_state, ema, jax.device_put(batch)
                )
                terms_per_step.append(terms)
            mean_terms = np.asarray(jnp.stack(terms_per_step), np.float64).mean(0)
            loss, e_mse, f_mse, s_mse = mean_terms
            seconds = time.perf_counter() - tick
            record = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": float(loss),
                "train_energy_rmse_meV_per_atom": float(np.sqrt(e_mse) * scale * 1000),
                "train_forces_rmse_meV_per_A": float(np.sqrt(f_mse) * scale * 1000),
                "seconds": seconds,
            }
            current = eqx.combine(ema, static)
            if val is not None and len(val):
                pred = predict_graphs(current, val, forces=val.has_derivative_labels)
                scores = potential_metrics(val, pred)
                val_loss = validation_loss(cfg, scores, scale)
                record.update(
                    {f"val_{k}": v for k, v in scores.items() if k != "n_structures"}
                )
                record["val_loss"] = val_loss
                if history.best_loss is None or val_loss < history.best_loss:
                    history.best_loss, history.best_epoch = val_loss, epoch + 1
                    best, stale = ema, 0
                    if self.on_improve is not None:
                        self.on_improve(current, scores, epoch + 1)
                else:
                    stale += 1
                plateau = cfg.lr_schedule == "plateau" and stale >= cfg.plateau_patience
                if plateau and lr > cfg.min_lr:
                    lr = max(lr * cfg.plateau_factor, cfg.min_lr)
                    log.info("epoch %d: learning rate reduced to %.2g", epoch + 1, lr)
                    stale = 0
            else:
                best, history.best_epoch = ema, epoch + 1
            elapsed = (time.perf_counter() - start) / 60
            if cfg.lr_schedule == "cosine":
                lr = cfg.cosine_lr(self._progress(epoch + 1, elapsed))
            current_lr = opt_state.hyperparams["learning_rate"]
            # same dtype and weak type as before, so the step is not retraced
            opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, current_lr.dtype)
            history.records.append(record)
            history.train_seconds += seconds
            for line in epoch_row(record, header=epoch == 0).splitlines():
                log.info("%s", line)
            if self.on_epoch is not None:
                self.on_epoch(record)
            postfix = {"loss": f"{loss:.3g}"}
            if "val_forces_mae_meV_per_A" in record:
                postfix["val F MAE"] = f"{record['val_forces_mae_meV_per_A']:.1f}"
            if "val_energy_mae_meV" in record:
                postfix["val E MAE"] = f"{record['val_energy_mae_meV']:.2f}"
            bar.set_postfix(postfix)
            if cfg.time_limit is not None and elapsed >= cfg.time_limit:
                history.stopped_by = "time limit"
                log.info(
                    "time limit of %.1f min reached at epoch %d",
                    cfg.time_limit,
                    epoch + 1,
                )
                break
            if not math.isfinite(loss):
                history.stopped_by = "non-finite loss"
                log.warning(
                    "training loss is not finite at epoch %d; stopping", epoch + 1
                )
                break
        bar.close()
        history.compilations = self.counter.count
        return eqx.combine(best, static), history

    def _progress(self, epochs_done: int, minutes: float) -> float:
        """Fraction of the budget (epochs or time limit) used so far."""
        done = epochs_done / self.cfg.epochs
        if self.cfg.time_limit is not None:
            done = max(done, minutes / self.cfg.time_limit)
        return done

    def _optimizer(self) -> optax.GradientTransformation:
        """Adam after optional clipping; the learning rate stays settable."""
        clip = self.cfg.grad_clip

        def chain(learning_rate):
            steps = [optax.clip_by_global_norm(clip)] if clip else []
            return optax.chain(*steps, optax.adam(learning_rate))

        return optax.inject_hyperparams(chain)(learning_rate=self.cfg.lr)

    def _make_step(self, optimizer, static, scale: float, stress: bool, forces: bool):
        cfg = self.cfg

        @functools.partial(jax.jit, compiler_options=compiler_options())
        @self.counter.wrap
        def step(params, opt_state, ema, batch):
            def loss_fn(params):
                model = eqx.combine(params, static)
                terms = loss_terms(model, batch, scale, stress, forces)
                return weighted_loss(cfg, *terms), terms

            (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            d = cfg.ema_decay
            ema = jax.tree_util.tree_map(lambda e, p: d * e + (1 - d) * p, ema, params)
            return params, opt_state, ema, jnp.stack([loss, *terms])

        return step
