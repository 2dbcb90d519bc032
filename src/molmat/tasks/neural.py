"""What the neural property estimators (graph and sequence networks) share:
the validation hold-out, target scaling and class weights, the training
settings and the mapping of raw network outputs to predictions.

Subclasses are scikit-learn estimators whose ``__init__`` stores ``task``,
``class_weight``, ``epochs``, ``batch_size``, the learning-rate schedule
(``init_lr``, ``max_lr``, ``final_lr``, ``warmup_epochs``),
``weight_decay``, ``patience``, ``val_fraction``, ``seed``, ``progress``,
and for fine-tuning ``init``, ``freeze_encoder`` and ``layer_lr_decay``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy.special import expit

from molmat.data.csv import DataError
from molmat.data.molecules import TASKS, as_targets, infer_task
from molmat.data.statistics import Standardizer
from molmat.tasks.predictor import MoleculePredictor
from molmat.training.metrics import score
from molmat.training.property import TrainConfig, Trainer


def level_scales(
    levels: list[list[str]], freeze: bool = False, decay: float = 1.0
) -> tuple[tuple[str, float], ...]:
    """``(path prefix, factor)`` rules for the optimiser (see
    :class:`~molmat.training.engine.OptimizerConfig`) from an encoder's
    ``levels`` (input first): all 0 (``freeze``), or layer-wise rates: the
    top level gets ``decay``, each level below one more factor of ``decay``
    (the head keeps 1). No rules for neither."""
    if not freeze and decay == 1.0:
        return ()
    top = len(levels)
    return tuple(
        (prefix, 0.0 if freeze else float(decay ** (top - level)))
        for level, prefixes in enumerate(levels)
        for prefix in prefixes
    )


class NeuralPropertyModel(MoleculePredictor):
    """Shared fitting steps of :class:`~molmat.tasks.property.PropertyModel`
    and :class:`~molmat.tasks.sequence.SequenceModel`."""

    def _check_training_params(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(
                f"class_weight must be None or 'balanced', got {self.class_weight!r}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")

    def _hold_out(self, X: Sequence, y, X_val, y_val):
        """``(X, y, X_val, y_val)``: targets as [n, T] arrays; without ``X_val``,
        a seeded ``val_fraction`` of ``X`` validates."""
        y = as_targets(y, "y")
        if X_val is None and self.val_fraction > 0:
            order = np.random.default_rng(self.seed).permutation(len(y))
            n_val = max(1, int(round(self.val_fraction * len(y))))
            X = list(X)
            X_val, y_val = [X[i] for i in order[:n_val]], y[order[:n_val]]
            X, y = [X[i] for i in order[n_val:]], y[order[n_val:]]
        if len(X) != len(y):
            raise DataError(f"X has {len(X)} molecules but y has {len(y)} rows")
        if X_val is not None:
            y_val = as_targets(y_val, "y_val")
        return X, y, X_val, y_val

    def _fit_targets(self, y: np.ndarray, target_names) -> np.ndarray | None:
        """Set ``task_``, ``n_targets_``, ``target_names_`` and ``y_scaler_``
        from the training targets [n, T]; returns the positive-class weights
        [T] (``class_weight="balanced"``) or ``None``."""
        self.task_ = infer_task(y) if self.task == "auto" else self.task
        self.n_targets_ = y.shape[1]
        self.target_names_ = list(target_names or [f"y{j}" for j in range(y.shape[1])])
        if len(self.target_names_) != self.n_targets_:
            raise ValueError(
                f"{len(self.target_names_)} target names for {y.shape[1]} targets"
            )
        if self.task_ == "regression":
            self.y_scaler_ = Standardizer.fit(y)
            return None
        if not np.isin(y[~np.isnan(y)], (0, 1)).all():
            raise DataError("classification labels must be 0 or 1")
        self.y_scaler_ = Standardizer.identity(self.n_targets_)
        if self.class_weight is None:
            return None
        pos = np.nansum(y, axis=0)
        neg = np.sum(~np.isnan(y), axis=0) - pos
        return (neg / np.maximum(pos, 1)).astype(np.float32)

    def _train_config(self) -> TrainConfig:
        return TrainConfig(
            lr_scales=self._lr_scales(),
            task=self.task_,
            epochs=self.epochs,
            batch_size=self.batch_size,
            init_lr=self.init_lr,
            max_lr=self.max_lr,
            final_lr=self.final_lr,
            warmup_epochs=self.warmup_epochs,
            weight_decay=self.weight_decay,
            patience=self.patience or None,
            select_by=self.select_by,
            seed=self.seed,
        )

    def _lr_scales(self) -> tuple[tuple[str, float], ...]:
        """Update scales of the encoder: frozen (``freeze_encoder``) or
        layer-wise (``layer_lr_decay``); none by default."""
        return level_scales(
            self._encoder_levels(), self.freeze_encoder, self.layer_lr_decay
        )

    def _encoder_levels(self) -> list[list[str]]:
        """Parameter-path prefixes of the encoder, input level first."""
        raise NotImplementedError

    def _trainer(
        self,
        y_val: np.ndarray | None,
        pos_weight: np.ndarray | None,
        checkpoint_dir: str | Path | None,
        metrics_log: str | Path | None,
    ) -> Trainer:
        """The property trainer, validating raw outputs against ``y_val``."""
        evaluate: Callable[[np.ndarray], dict] = lambda raw: score(  # noqa: E731
            self.task_, y_val, self._from_raw(raw), self.target_names_
        )
        return Trainer(
            self._train_config(),
            evaluate,
            pos_weight=pos_weight,
            checkpoint_dir=checkpoint_dir,
            metrics_log=metrics_log,
            progress=self.progress,
        )

    def _from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Network outputs -> original units (regression) or probabilities."""
        if self.task_ == "regression":
            return self.y_scaler_.inverse(raw)
        return expit(raw)  # no overflow warning for large negative logits
