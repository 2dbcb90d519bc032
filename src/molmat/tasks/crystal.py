"""``CrystalModel``: a property network on periodic structures, scikit-learn style.

Example:
    >>> from ase.build import bulk
    >>> from molmat.tasks.crystal import CrystalModel
    >>> model = CrystalModel("cgcnn", epochs=100)
    >>> model.fit(structures, band_gaps)  # doctest: +SKIP
    >>> model.predict([bulk("Si", "diamond", a=5.43)])  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from sklearn.base import BaseEstimator

from molmat.data.crystals import element_lists, structures
from molmat.data.csv import DataError
from molmat.data.graphs import GraphSet
from molmat.data.statistics import Standardizer
from molmat.data.structures import structure_graphs
from molmat.featurizers.descriptors import DESCRIPTOR_CLIP
from molmat.featurizers.structure import check_structure_kind, structure_features
from molmat.models.crystal import (
    CRYSTAL_MODELS,
    CRYSTAL_READOUTS,
    build_crystal_net,
    crystal_encoder_levels,
    mean_neighbors,
    neighbour_sample,
)
from molmat.nn.core import copy_weights
from molmat.tasks.neural import NeuralPropertyModel
from molmat.training import archive
from molmat.training.engine import History
from molmat.training.losses import REGRESSION_LOSSES
from molmat.training.property import TrainConfig, predict_outputs

log = logging.getLogger("molmat")


class CrystalModel(NeuralPropertyModel, BaseEstimator):
    """Graph network for properties of crystals and other periodic structures.

    Inputs are :class:`ase.Atoms` or :class:`~molmat.data.structures.Frame`
    objects (periodic or not); see :mod:`molmat.models.crystal` for the
    networks. Regression targets are standardised on the training data;
    classification returns probabilities.

    Args:
        model: ``"cgcnn"``, ``"painn"``, ``"nequip"`` or ``"alignn"``.
        hidden: width of the atom states (NequIP: channels per irrep).
        depth: interaction layers.
        cutoff: radius of the periodic neighbour graph (Å).
        n_basis: radial basis functions per distance.
        lmax: highest rotation order of NequIP's features.
        angle_cutoff: the line-graph model's bonds: pairs shorter than this
            (Å) meet at angles.
        readout: ``"mean"`` over the atoms for intensive targets (band gap,
            energy per atom; the same for any choice of unit cell), ``"max"``
            over the atoms (intensive too: a highest phonon frequency), or
            ``"sum"`` for extensive ones (energy per cell: a sum of per-atom
            contributions, targets scaled by their root mean square without
            centring, so a supercell predicts exactly the multiple).
        features: ``"magpie-structure"``: the structure's descriptors
            (:mod:`molmat.featurizers.structure`), standardised on the
            training data, join the pooled atom states before the head (mean
            and max readouts); ``None``: the graph alone.
        ffn_hidden, ffn_layers: the MLP head.
        dropout: dropout rate in the head.
        loss: regression loss on the standardised targets, ``"mse"`` or
            ``"l1"`` (mean absolute error: what MAE leaderboards rank, and
            robust to a few extreme labels).
        task: and ``epochs``, ``batch_size``, ``max_lr``, ``init_lr``,
            ``final_lr``, ``warmup_epochs``, ``weight_decay``, ``patience``,
            ``select_by``, ``val_fraction``, ``class_weight``, ``seed``,
            ``progress``: as for :class:`~molmat.tasks.property.PropertyModel`.
        init: a crystal encoder pretrained with
            :func:`~molmat.tasks.crystal_pretrain.pretrain_crystals`, or a
            trained crystal model (archive or run folder), of the same
            ``model``: its embedding and encoder are the start, and its
            network settings win over the options above.
        freeze_encoder: train only the head on the ``init`` encoder.
        layer_lr_decay: layer-wise learning rates of the encoder (see
            :class:`~molmat.tasks.property.PropertyModel`).
    """

    def __init__(
        self,
        model: str = "cgcnn",
        hidden: int = 64,
        depth: int = 3,
        cutoff: float = 5.0,
        n_basis: int = 32,
        lmax: int = 1,
        angle_cutoff: float = 3.0,
        readout: str = "mean",
        features: str | None = None,
        ffn_hidden: int = 64,
        ffn_layers: int = 1,
        dropout: float = 0.0,
        loss: str = "mse",
        task: str = "auto",
        epochs: int = 100,
        batch_size: int = 32,
        max_lr: float = 1e-3,
        init_lr: float = 1e-4,
        final_lr: float = 1e-4,
        warmup_epochs: float = 2.0,
        weight_decay: float = 0.0,
        patience: int | None = 20,
        select_by: str = "metric",
        val_fraction: float = 0.1,
        class_weight: str | None = None,
        seed: int = 0,
        progress: bool = True,
        init: str | None = None,
        freeze_encoder: bool = False,
        layer_lr_decay: float = 1.0,
    ):
        self.model = model
        self.hidden = hidden
        self.depth = depth
        self.cutoff = cutoff
        self.n_basis = n_basis
        self.lmax = lmax
        self.angle_cutoff = angle_cutoff
        self.readout = readout
        self.features = features
        self.ffn_hidden = ffn_hidden
        self.ffn_layers = ffn_layers
        self.dropout = dropout
        self.loss = loss
        self.task = task
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_lr = max_lr
        self.init_lr = init_lr
        self.final_lr = final_lr
        self.warmup_epochs = warmup_epochs
        self.weight_decay = weight_decay
        self.patience = patience
        self.select_by = select_by
        self.val_fraction = val_fraction
        self.class_weight = class_weight
        self.seed = seed
        self.progress = progress
        self.init = init
        self.freeze_encoder = freeze_encoder
        self.layer_lr_decay = layer_lr_decay

    # -- fitting -----------------------------------------------------------
    def fit(
        self,
        X: Sequence,
        y,
        *,
        X_val: Sequence | None = None,
        y_val=None,
        target_names: list[str] | None = None,
        checkpoint_dir: str | Path | None = None,
        metrics_log: str | Path | None = None,
        resume: bool = False,
    ) -> CrystalModel:
        """Train on structures ``X`` and targets ``y`` [n] or [n, T].

        Args: as :meth:`~molmat.tasks.property.PropertyModel.fit`.

        Raises:
            DataError: for unusable structures (overlapping atoms, no atoms)
                or non-finite, non-missing targets.
        """
        self._check_params()
        start = self._initial_model()
        X = self._frames(X, "X")
        X_val = None if X_val is None else self._frames(X_val, "X_val")
        X, y, X_val, y_val = self._hold_out(X, y, X_val, y_val)
        self.feature_scaler_ = None
        if self.features is not None:
            self.feature_scaler_ = Standardizer.fit(
                structure_features(X, self.features), DESCRIPTOR_CLIP
            )
        train = self._graphs(X)
        val = None if X_val is None else self._graphs(X_val)
        pos_weight = self._fit_targets(y, target_names)
        if self.readout == "sum" and self.task_ == "regression":
            # no centring: a shifted sum would not scale with the cell
            rms = np.sqrt(np.nanmean(np.square(y), axis=0))
            self.y_scaler_ = Standardizer(
                np.zeros_like(rms), np.where(rms > 0, rms, 1.0)
            )
        self._record_elements(X)
        self.network_ = self._network(train, start)
        net = build_crystal_net(self.network_, key=jax.random.key(self.seed))
        if start is not None:
            net = eqx.tree_at(
                lambda n: (n.embed, n.encoder),
                net,
                copy_weights(
                    (net.embed, net.encoder), (start.net_.embed, start.net_.encoder)
                ),
            )
            self.pretraining_ = {
                "init": str(self.init),
                **getattr(start, "provenance", {}),
            }
        trainer = self._trainer(y_val, pos_weight, checkpoint_dir, metrics_log)
        self.net_, self.history_ = trainer.fit(
            net, train, self.y_scaler_.transform(y), val, resume=resume
        )
        return self

    def _check_params(self) -> None:
        self._check_training_params()
        if self.model not in CRYSTAL_MODELS:
            raise ValueError(
                f"unknown crystal model {self.model!r}; choose one of "
                f"{list(CRYSTAL_MODELS)}"
            )
        if self.readout not in CRYSTAL_READOUTS:
            raise ValueError(
                f"readout must be mean or max (intensive targets) or sum "
                f"(extensive targets), got {self.readout!r}"
            )
        if self.features is not None:
            check_structure_kind(self.features)
            if self.readout == "sum":
                raise ValueError(
                    "structure features join a mean or max readout; a sum "
                    "readout adds per-atom contributions"
                )
        if self.loss not in REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {list(REGRESSION_LOSSES)}")

    def _initial_model(self):
        """The crystal model or pretrained crystal encoder of ``init``."""
        if self.init is None:
            if self.freeze_encoder:
                raise ValueError("freeze_encoder needs a pretrained encoder (init)")
            return None
        from molmat.tasks.archives import load
        from molmat.tasks.crystal_pretrain import PretrainedCrystalEncoder

        folder = Path(self.init)
        if (folder / "model" / "config.json").exists():
            folder = folder / "model"
        start = load(folder)
        if not isinstance(start, CrystalModel | PretrainedCrystalEncoder):
            raise archive.ArchiveError(
                f"{self.init}: neither a crystal model nor a pretrained crystal "
                f"encoder (a {type(start).__name__})"
            )
        if start.network_["model"] != self.model:
            raise ValueError(
                f"{self.init} is a {start.network_['model']} encoder; this model is "
                f"a {self.model}: choose --model {start.network_['model']}"
            )
        return start

    def _network(self, train, start) -> dict:
        """The network config: the options, the training elements and the
        mean neighbour count of (a sample of) the training structures; an
        ``init`` model's encoder settings win."""
        sample = train.subset(neighbour_sample(len(train), self.seed))
        config = {
            "model": self.model,
            "hidden": self.hidden,
            "depth": self.depth,
            "cutoff": float(self.cutoff),
            "n_basis": self.n_basis,
            "lmax": self.lmax,
            "angle_cutoff": float(self.angle_cutoff),
            "readout": self.readout,
            "head": [self.ffn_hidden] * self.ffn_layers,
            "dropout": float(self.dropout),
            "n_targets": self.n_targets_,
            "mol_dim": train.mol_x.shape[1],
            "species": sorted({int(z) for z in train.numbers}),
            "avg_neighbors": mean_neighbors(sample, self.cutoff),
        }
        if start is not None:
            keep = ("readout", "head", "dropout", "n_targets")
            theirs = start.network_
            config = {**config, **{k: v for k, v in theirs.items() if k not in keep}}
        return config

    def _train_config(self) -> TrainConfig:
        return dataclasses.replace(super()._train_config(), loss=self.loss)

    def _encoder_levels(self) -> list[list[str]]:
        return crystal_encoder_levels(self.network_)

    def _graphs(self, frames: list):
        """Graphs of usable ``frames``, with their scaled structure features."""
        graphs = structure_graphs(frames)
        if self.feature_scaler_ is None:
            return graphs
        features = structure_features(frames, self.features)
        return dataclasses.replace(
            graphs, mol_x=self.feature_scaler_.transform(features)
        )

    def _frames(self, X: Sequence, name: str) -> list:
        """The structures of ``X`` as frames; DataError naming bad ones."""
        frames, reasons = structures(X)
        bad = [f"{i}: {r}" for i, r in enumerate(reasons) if r]
        if bad:
            raise DataError(
                f"{name} has {len(bad)} unusable structures: " + "; ".join(bad[:5])
            )
        return frames

    def _record_elements(self, X: Sequence) -> None:
        self.elements_ = sorted({e for found in element_lists(X) for e in found})

    def unseen_elements(self, X: Sequence) -> list[list[str]] | None:
        known = getattr(self, "elements_", None)
        if known is None:
            return None
        return [sorted(set(found) - set(known)) for found in element_lists(X)]

    # -- prediction --------------------------------------------------------
    def input_graphs(self, X: Sequence) -> tuple[GraphSet, np.ndarray]:
        """The network's input graphs of the usable structures of ``X``
        (structure features scaled) and their positions [g] in ``X``;
        unusable structures are logged and left out."""
        frames, reasons = structures(list(X))
        for i, r in enumerate(reasons):
            if r:
                log.warning("structure %d skipped: %s", i, r)
        rows = np.array([i for i, r in enumerate(reasons) if not r], np.int64)
        return self._graphs([frames[i] for i in rows]), rows

    def predict_values(self, X: Sequence) -> np.ndarray:
        """Predictions [n, T]: original units or probabilities; NaN rows
        (logged) for unusable structures."""
        graphs, rows = self.input_graphs(X)
        out = np.full((len(X), self.n_targets_), np.nan, dtype=np.float32)
        if len(rows):
            raw = predict_outputs(self.net_, graphs, self.batch_size, self.n_targets_)
            out[rows] = self._from_raw(raw)
        return out

    # -- persistence -------------------------------------------------------
    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write a model archive folder (config.json, params.npz, metrics.json)."""
        config = {
            "kind": "crystal",
            "network": self.network_,
            "params": self.get_params(),
            "task": self.task_,
            "target_names": self.target_names_,
            "scaler": self.y_scaler_.to_dict(),
            "feature_scaler": self.feature_scaler_ and self.feature_scaler_.to_dict(),
            "history": {
                "best_epoch": self.history_.best_epoch,
                "epochs_run": len(self.history_.records),
            },
            "pretraining": getattr(self, "pretraining_", None),
            **self.archive_extras(path),
        }
        return archive.save_archive(path, self.net_, config, metrics)


def load_crystal(folder: Path, config: dict) -> CrystalModel:
    """Rebuild a :class:`CrystalModel` from its archive folder and config."""
    try:
        model = CrystalModel(**{**config["params"], "progress": False})
        model.task_ = config["task"]
        model.target_names_ = list(config["target_names"])
        model.n_targets_ = len(model.target_names_)
        model.y_scaler_ = Standardizer.from_dict(config["scaler"])
        scaler = config.get("feature_scaler")
        model.feature_scaler_ = scaler and Standardizer.from_dict(
            scaler, DESCRIPTOR_CLIP
        )
        model.network_ = dict(config["network"])
        model.history_ = History(best_epoch=config["history"]["best_epoch"])
        model.pretraining_ = config.get("pretraining")
        template = jax.eval_shape(
            lambda: build_crystal_net(model.network_, key=jax.random.key(0))
        )
    except (KeyError, TypeError, ValueError) as err:
        raise archive.ArchiveError(
            f"{folder}: incomplete or invalid config ({err!r})"
        ) from err
    model.net_ = archive.load_params(folder, template)
    model.restore_extras(folder, config)
    return model
