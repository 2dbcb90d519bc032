"""``PropertyModel``: a graph neural network property predictor, scikit-learn style.

Example:
    >>> from molmat import PropertyModel, load
    >>> model = PropertyModel(epochs=50).fit(smiles, logS)  # doctest: +SKIP
    >>> model.predict(["CCO", "c1ccccc1"])  # log S for two molecules  # doctest: +SKIP
    >>> model.save("runs/logS"); load("runs/logS").predict(["CCO"])  # doctest: +SKIP
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

from molmat.data.csv import DataError
from molmat.data.graphs import GraphSet
from molmat.data.molecules import (
    molecules,
    valid_molecules,
)
from molmat.data.statistics import Standardizer
from molmat.featurizers.conformer_store import ConformerStore
from molmat.featurizers.conformers import ConformerOptions
from molmat.featurizers.descriptors import DESCRIPTOR_CLIP, check_kind, feature_names
from molmat.featurizers.graph import (
    ATOM_DIM,
    BOND_DIM,
    ELEMENT_ONEHOT,
    FEATURIZER_VERSION,
    featurize,
    featurize_cached,
)
from molmat.models.gnn import (
    architecture_of,
    build_model,
    calibrate_batch_norm,
    needs_positions,
    resolve_architecture,
)
from molmat.models.gnn.network import encoder_levels
from molmat.nn.core import copy_weights
from molmat.tasks.neural import NeuralPropertyModel
from molmat.tasks.pretrain import PretrainedGraphEncoder, load_pretrained
from molmat.training import archive
from molmat.training.engine import History
from molmat.training.property import predict_outputs

log = logging.getLogger("molmat")


def drop_failed(
    graphs: GraphSet, keys: list[str], name: str
) -> tuple[GraphSet, np.ndarray, list[dict]]:
    """Leave out molecules whose featurisation failed (no conformer), logging each.

    Returns the remaining graphs, their positions among ``keys`` and one
    ``{"set", "index", "smiles", "reason"}`` record per dropped molecule.
    """
    if graphs.errors is None:
        return graphs, np.arange(len(keys)), []
    failed = np.flatnonzero(graphs.errors != "")
    dropped = []
    for i in failed:
        reason = str(graphs.errors[i])
        log.warning("%s molecule %d (%s) skipped: %s", name, i, keys[i], reason)
        dropped.append(
            {"set": name, "index": int(i), "smiles": keys[i], "reason": reason}
        )
    kept = np.flatnonzero(graphs.errors == "")
    return (graphs.subset(kept) if len(failed) else graphs), kept, dropped


class PropertyModel(NeuralPropertyModel, BaseEstimator):
    """Graph neural network for molecular properties.

    Regression targets are standardised on the training data and predictions
    come back in the original units; classification uses logits and returns
    probabilities from :meth:`predict_proba`. Several targets train one
    multitask model; NaN labels are masked out of the loss.

    Args:
        model: ``"mpnn"`` (directed message passing, chemprop's D-MPNN),
            ``"gcn"``, ``"gin"`` (GINE), ``"gat"``, ``"attentivefp"``,
            ``"schnet"`` (3D), ``"transformer"``, or an architecture: a
            YAML/JSON file or a dict (see :mod:`molmat.models.gnn.config`)
            whose keys win over the options below.
        hidden: width of the message-passing layers.
        depth: number of message-passing steps.
        ffn_hidden: width of the MLP head.
        ffn_layers: hidden layers in the MLP head.
        dropout: dropout rate in encoder and head.
        readout: ``"sum"`` (extensive properties), ``"mean"``, ``"max"``,
            ``"attention"``, ``"set2set"``, ``"attentivefp"`` (intensive; see
            :mod:`molmat.nn.readout`); ``None``: the model's default (sum;
            attentivefp for AttentiveFP).
        conformers: ETKDG conformers embedded per molecule for 3D models; the
            lowest-energy one is used (:mod:`molmat.featurizers.conformers`).
            ``None``: 1 for models that read positions (schnet), else none.
            Molecules that cannot be embedded are reported and skipped.
        mmff: relax the conformers with MMFF94 before choosing.
        mol_features: whole-molecule RDKit descriptors joined to the readout
            (``"physchem"``) or ``None``; standardised on the training data.
        task: ``"regression"``, ``"classification"`` or ``"auto"`` (0/1 labels
            mean classification).
        epochs: training epochs.
        batch_size: molecules per batch.
        max_lr, init_lr, final_lr, warmup_epochs: learning-rate schedule
            (linear warm-up to ``max_lr``, exponential decay to ``final_lr``).
        weight_decay: AdamW weight decay.
        patience: stop after this many epochs without a better validation
            metric (the one that picks the best epoch, e.g. RMSE); the best
            epoch is kept either way (0 or ``None``: train all epochs).
        select_by: what picks the best epoch: ``"metric"`` (RMSE, or ROC-AUC
            for classification) or ``"loss"`` (validation log-loss for
            classification; steadier on small validation sets).
        val_fraction: share of the training data held out for validation when
            ``fit`` gets no ``X_val`` (0: no validation, keep the last epoch).
        class_weight: ``"balanced"`` weights positives by n_negative/n_positive
            per task (classification only); ``None`` for none.
        seed: seed of initialisation, shuffling, dropout and the hold-out.
        use_cache: cache featurised graphs of training data and conformers of
            every molecule on disk (``$MOLMAT_CACHE_DIR``).
        progress: show a progress bar while training.
        init: an encoder pretrained with
            :func:`~molmat.tasks.pretrain.pretrain_graphs` (its run folder or
            ``model/``) to start from; its layer must be ``model``'s and its
            encoder settings (``hidden``, ``depth``, norm, residual...) win
            over the options above.
        freeze_encoder: train only the readout and head on the ``init``
            encoder.
        layer_lr_decay: layer-wise learning rates: the top encoder level
            learns at ``layer_lr_decay`` times the rate, each level below at
            one more factor (1: one rate everywhere).
    """

    def __init__(
        self,
        model: str = "mpnn",
        hidden: int = 256,
        depth: int = 3,
        ffn_hidden: int = 256,
        ffn_layers: int = 1,
        dropout: float = 0.0,
        readout: str | None = None,
        conformers: int | None = None,
        mmff: bool = False,
        mol_features: str | None = "physchem",
        task: str = "auto",
        epochs: int = 50,
        batch_size: int = 64,
        max_lr: float = 1e-3,
        init_lr: float = 1e-4,
        final_lr: float = 1e-4,
        warmup_epochs: float = 2.0,
        weight_decay: float = 0.0,
        patience: int | None = 10,
        select_by: str = "metric",
        val_fraction: float = 0.1,
        class_weight: str | None = None,
        seed: int = 0,
        use_cache: bool = True,
        progress: bool = True,
        init: str | None = None,
        freeze_encoder: bool = False,
        layer_lr_decay: float = 1.0,
    ):
        self.model = model
        self.hidden = hidden
        self.depth = depth
        self.ffn_hidden = ffn_hidden
        self.ffn_layers = ffn_layers
        self.dropout = dropout
        self.readout = readout
        self.conformers = conformers
        self.mmff = mmff
        self.mol_features = mol_features
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
        self.use_cache = use_cache
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
    ) -> PropertyModel:
        """Train on SMILES (or RDKit Mols) ``X`` and targets ``y`` [n] or [n, T].

        Args:
            X_val, y_val: validation data for early stopping and best-epoch
                selection; without them ``val_fraction`` of ``X`` is held out.
            target_names: names of the T targets (default ``y0``, ``y1``...).
            checkpoint_dir: write a checkpoint every epoch here.
            metrics_log: append one JSON line per epoch here.
            resume: continue from the checkpoint in ``checkpoint_dir``.

        Raises:
            DataError: for unparsable molecules or non-finite, non-missing targets.
        """
        self._check_params()
        pretrained = self._pretrained()
        self.architecture_ = self._architecture(pretrained)
        X, y, X_val, y_val = self._hold_out(X, y, X_val, y_val)
        train_graphs, kept, self.dropped_ = self._graphs(X, "X")
        y = y[kept]
        val_graphs = None
        if X_val is not None:
            val_graphs, kept, dropped = self._graphs(X_val, "X_val")
            y_val = y_val[kept]
            self.dropped_ += dropped
        if len(train_graphs) == 0:
            raise DataError("no training molecules left")

        pos_weight = self._fit_targets(y, target_names)
        self._record_elements(X)
        self.mol_scaler_ = Standardizer.fit(train_graphs.mol_x, DESCRIPTOR_CLIP)
        train_graphs = self._scaled(train_graphs)
        if val_graphs is not None:
            val_graphs = self._scaled(val_graphs)

        net = build_model(self.network_config_(), key=jax.random.key(self.seed))
        if pretrained is not None:
            encoder = copy_weights(net.encoder, pretrained.net.encoder)
            net = eqx.tree_at(lambda n: n.encoder, net, encoder)
            self.pretraining_ = {"init": str(self.init), **pretrained.provenance}
        trainer = self._trainer(y_val, pos_weight, checkpoint_dir, metrics_log)
        net, self.history_ = trainer.fit(
            net,
            train_graphs,
            self.y_scaler_.transform(y),
            val_graphs,
            resume=resume,
        )
        self.net_ = calibrate_batch_norm(net, train_graphs, self.batch_size)
        return self

    def _check_params(self) -> None:
        self._check_training_params()
        check_kind(self.mol_features)
        if self.conformers is not None and self.conformers < 0:
            raise ValueError(f"conformers must be >= 0, got {self.conformers}")

    def _architecture(self, pretrained: PretrainedGraphEncoder | None = None) -> dict:
        """The network architecture: ``model`` completed by the options (and
        by the encoder settings of a pretrained encoder, which win)."""
        options = {
            "hidden": self.hidden,
            "depth": self.depth,
            "dropout": float(self.dropout),
            "head": [self.ffn_hidden] * self.ffn_layers,
        }
        if self.readout is not None:
            options["readout"] = self.readout
        arch = resolve_architecture(self.model, options)
        if pretrained is None:
            return arch
        theirs = pretrained.architecture
        if theirs["layer"] != arch["layer"]:
            raise ValueError(
                f"{self.init} is a {theirs['layer']} encoder; this model is a "
                f"{arch['layer']}: choose --model {theirs['layer']}"
            )
        keep = ("readout", "head", "dropout")
        return {**arch, **{k: v for k, v in theirs.items() if k not in keep}}

    def _pretrained(self) -> PretrainedGraphEncoder | None:
        if self.init is None:
            if self.freeze_encoder:
                raise ValueError("freeze_encoder needs a pretrained encoder (init)")
            return None
        return load_pretrained(self.init, PretrainedGraphEncoder)

    def _encoder_levels(self) -> list[list[str]]:
        return encoder_levels(self.architecture_)

    def _conformer_options(self) -> ConformerOptions | None:
        """How to embed conformers; ``None`` when the network reads no positions."""
        layer = self.architecture_["layer"]
        if not needs_positions(self.architecture_):
            if self.conformers:
                log.warning("%s does not read 3D positions; conformers unused", layer)
            return None
        if self.conformers == 0:
            raise ValueError(f"{layer} reads 3D positions; conformers must be >= 1")
        return ConformerOptions(n=self.conformers or 1, mmff=self.mmff, seed=self.seed)

    def network_config_(self) -> dict:
        """Everything :func:`build_model` needs to rebuild the network."""
        return {
            **self.architecture_,
            "mol_dim": len(feature_names(self.mol_features)),
            "atom_dim": ATOM_DIM,
            "atom_onehot": ELEMENT_ONEHOT,
            "bond_dim": BOND_DIM,
            "n_targets": self.n_targets_,
        }

    def _graphs(
        self, X: Sequence, name: str
    ) -> tuple[GraphSet, np.ndarray, list[dict]]:
        """Featurised molecules of ``X``, their positions in ``X`` and the dropped.

        Molecules without a conformer (3D models) are logged and left out.
        """
        keys, mols = valid_molecules(X, name)
        graphs = featurize_cached(
            keys, mols, self.mol_features, self.use_cache, self._conformer_options()
        )
        return drop_failed(graphs, keys, name)

    def _scaled(self, graphs: GraphSet) -> GraphSet:
        """Graphs with their molecule descriptors standardised."""
        return dataclasses.replace(
            graphs, mol_x=self.mol_scaler_.transform(graphs.mol_x)
        )

    # -- prediction --------------------------------------------------------
    def predict_values(self, X: Sequence) -> np.ndarray:
        """Predictions [n, T]: original units or probabilities, NaN for bad SMILES."""
        X = list(X)
        graphs, rows = self.input_graphs(X)
        out = np.full((len(X), self.n_targets_), np.nan, dtype=np.float32)
        if len(rows):
            raw = predict_outputs(self.net_, graphs, self.batch_size, self.n_targets_)
            out[rows] = self._from_raw(raw)
        return out

    def input_graphs(self, X: Sequence) -> tuple[GraphSet, np.ndarray]:
        """The network's input graphs of ``X`` (molecule descriptors
        standardised) and their positions [g] in ``X``; unparsable SMILES and
        molecules without a conformer (3D models) are logged and left out."""
        keys, mols, reasons = molecules(X)
        good = [i for i, r in enumerate(reasons) if not r]
        for i, r in enumerate(reasons):
            if r:
                log.warning("molecule %d skipped: %s", i, r)
        options = self._conformer_options()
        graphs = featurize(
            [mols[i] for i in good],
            self.mol_features,
            options,
            ConformerStore() if options and self.use_cache else None,
        )
        graphs, kept, _ = drop_failed(graphs, [keys[i] for i in good], "X")
        rows = np.asarray(good, np.int64)[kept]
        return (self._scaled(graphs) if len(rows) else graphs), rows

    # -- persistence -------------------------------------------------------
    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write a model archive folder (config.json, params.npz, metrics.json)."""
        config = {
            "kind": "property",
            "featurizer": {
                "name": "graph",
                "version": FEATURIZER_VERSION,
                "atom_dim": ATOM_DIM,
                "bond_dim": BOND_DIM,
            },
            "network": self.network_config_(),
            "params": self.get_params(),
            "task": self.task_,
            "target_names": self.target_names_,
            "scaler": self.y_scaler_.to_dict(),
            "descriptor_scaler": self.mol_scaler_.to_dict(),
            "history": {
                "best_epoch": self.history_.best_epoch,
                "epochs_run": len(self.history_.records),
            },
            "pretraining": getattr(self, "pretraining_", None),
            **self.archive_extras(path),
        }
        return archive.save_archive(path, self.net_, config, metrics)


def load_property(folder: Path, config: dict) -> PropertyModel:
    """Rebuild a :class:`PropertyModel` from its archive folder and config."""
    try:
        feat = config["featurizer"]
        if feat["version"] != FEATURIZER_VERSION or (
            feat["atom_dim"],
            feat["bond_dim"],
        ) != (ATOM_DIM, BOND_DIM):
            raise archive.ArchiveError(
                f"{folder}: featuriser {feat['version']} differs from this molmat's "
                f"{FEATURIZER_VERSION}; retrain the model"
            )
        params = {**config["params"], "progress": False}
        model = PropertyModel(**params)
        model.task_ = config["task"]
        model.target_names_ = list(config["target_names"])
        model.n_targets_ = len(model.target_names_)
        model.y_scaler_ = Standardizer.from_dict(config["scaler"])
        model.architecture_ = architecture_of(config["network"])
        model.mol_scaler_ = Standardizer.from_dict(
            config["descriptor_scaler"], DESCRIPTOR_CLIP
        )
        model.history_ = History(
            best_epoch=config["history"]["best_epoch"],
        )
        model.pretraining_ = config.get("pretraining")
        template = jax.eval_shape(
            lambda: build_model(config["network"], key=jax.random.key(0))
        )
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, archive.ArchiveError):
            raise
        raise archive.ArchiveError(
            f"{folder}: incomplete or invalid config ({err!r})"
        ) from err
    model.net_ = archive.load_params(folder, template)
    model.restore_extras(folder, config)
    return model
