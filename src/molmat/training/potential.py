"""Training interatomic potentials: energy + force (+ stress) loss, EMA, plateau.

One jitted step per batch shape. The loss, in units of the per-atom energy
scale ``s`` of the model (so one learning rate suits any data set), is::

    w_E mean_g ((E_g - E*_g) / n_g / s)^2
      + w_F mean_{atoms, xyz} ((F - F*) / s)^2
      + w_S mean_{g, ab} ((S - S*) / s)^2

over structures that have each label. An exponential moving average (EMA) of
the weights is validated after every epoch and the best EMA model kept; the
learning rate is reduced when the validation loss stops improving. The loop,
checkpoints and exact resume are the shared
:class:`~molmat.training.engine.Engine`'s.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from molmat.data.batching import Batcher, GraphBatch
from molmat.data.graphs import GraphSet
from molmat.models.potentials.base import (
    Potential,
    energy_and_forces,
    energy_forces_stress,
    total_energy,
)
from molmat.models.potentials.inference import (
    PREDICT_BATCH,
    Predictions,
    param_dtype,
    potential_batching,
    predict_structures,
)
from molmat.nn.compilation import compiler_options
from molmat.training.engine import (
    Callback,
    CosineBudget,
    Engine,
    History,
    Loop,
    OptimizerConfig,
    ReduceOnPlateau,
    TimeLimit,
)

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


def loss_terms(
    model: Potential,
    batch: GraphBatch,
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
    has_e = batch.y_mask[:, 0] & graphs
    e_err = (energy - batch.y[:, 0]) / jnp.maximum(n_atoms, 1.0) / scale
    e_mse = jnp.sum(jnp.where(has_e, e_err**2, 0.0)) / jnp.maximum(has_e.sum(), 1)
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


def potential_metrics(graphs: GraphSet, pred: Predictions) -> dict:
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


class PotentialRecord(Callback):
    """Turns the loss terms of a record into RMSEs in meV and logs the row."""

    def __init__(self, scale: float):
        self.scale = scale

    def on_epoch_end(self, loop: Loop, record: dict) -> str | None:
        for term, key in (
            ("energy_mse", "train_energy_rmse_meV_per_atom"),
            ("forces_mse", "train_forces_rmse_meV_per_A"),
            ("stress_mse", "train_stress_rmse_meV_per_A3"),
        ):
            mse = record.pop(term)
            if term != "stress_mse" or mse:
                record[key] = float(np.sqrt(mse) * self.scale * 1000)
        for line in epoch_row(record, header=record["epoch"] == 1).splitlines():
            log.info("%s", line)
        return None


class PotentialTrainer:
    """Fits a :class:`Potential` on the shared engine; see :meth:`fit`."""

    def __init__(
        self,
        cfg: PotentialTrainConfig,
        callbacks: list[Callback] | None = None,
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
    ):
        """
        Args:
            cfg: optimisation settings.
            callbacks: run after the trainer's own ones each epoch (e.g. a
                metrics log, or archiving the best model when it improves).
            checkpoint_dir: write ``checkpoint.npz`` here after every epoch.
            progress: show a progress bar.
        """
        self.cfg = cfg
        self.callbacks = list(callbacks or [])
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress

    def fit(
        self,
        model: Potential,
        train: GraphSet,
        val: GraphSet | None,
        resume: bool = False,
        train_batcher: Batcher | None = None,
    ) -> tuple[Potential, History]:
        """Train on ``train``; choose the best EMA model on ``val``.

        Structures carry their labels (``energy`` relative to anything
        constant per element, ``forces``, ``stress``). Without validation
        data the last EMA model is returned. ``resume`` continues from the
        checkpoint in ``checkpoint_dir``. ``train_batcher``: the batcher of
        ``train`` if already built (its radius graphs are the model's).
        """
        cfg = self.cfg
        scale = float(model.scaling.scale)
        dtype = param_dtype(model)
        strategy = potential_batching(model.cutoff)
        batcher = train_batcher or strategy.batcher(
            train, cfg.batch_size, self.progress
        )
        energy = train.energy[:, None]
        stress = cfg.stress_weight > 0 and bool(train.has_stress.any())
        forces = cfg.forces_weight > 0 and bool(train.has_forces.any())

        def loss_fn(model, batch, key):
            terms = loss_terms(model, batch, scale, stress, forces)
            return weighted_loss(cfg, *terms), jnp.stack(terms)

        def batches(epoch: int):
            order = np.random.default_rng([cfg.seed, epoch]).permutation(len(train))
            for idx, budget in batcher.plan(train, order):
                yield batcher.batch(train, idx, budget, energy, dtype=dtype)

        has_val = val is not None and len(val) > 0
        if has_val:
            val_batcher = strategy.batcher(val, PREDICT_BATCH)
            val_derivatives = bool(val.has_forces.any() or val.has_stress.any())

        def validate(model) -> tuple[dict, float]:
            pred = predict_structures(
                model, val, forces=val_derivatives, batcher=val_batcher
            )
            scores = potential_metrics(val, pred)
            scores.pop("n_structures")
            scores["loss"] = validation_loss(cfg, scores, scale)
            return scores, scores["loss"]

        min_scale = cfg.min_lr / cfg.lr
        own: list[Callback] = [PotentialRecord(scale)]
        if cfg.lr_schedule == "plateau":
            own.append(
                ReduceOnPlateau(cfg.plateau_patience, cfg.plateau_factor, min_scale)
            )
        else:
            own.append(CosineBudget(cfg.epochs, cfg.time_limit, min_scale))
        if cfg.time_limit is not None:
            own.append(TimeLimit(cfg.time_limit))
        engine = Engine(
            loss_fn,
            OptimizerConfig(lr=cfg.lr, grad_clip=cfg.grad_clip),
            epochs=cfg.epochs,
            seed=cfg.seed,
            ema_decay=cfg.ema_decay,
            callbacks=own + self.callbacks,
            validate=validate if has_val else None,
            checkpoint_dir=self.checkpoint_dir,
            fingerprint={
                k: v
                for k, v in asdict(cfg).items()
                if k not in ("epochs", "time_limit")
            },
            term_names=("energy_mse", "forces_mse", "stress_mse"),
            progress=self.progress,
            jit=functools.partial(jax.jit, compiler_options=compiler_options()),
        )
        return engine.fit(model, batches, resume=resume)
