"""``SequenceModel``: property prediction from token sequences, scikit-learn style.

Amino-acid sequences (peptides, proteins) or molecules read as SMILES or
SELFIES tokens go through a 1D CNN, a bidirectional GRU or a transformer
encoder, are pooled and mapped to the targets by an MLP head. Training,
checkpoints, early stopping and archives are those of the graph models.

Example:
    >>> from molmat.tasks.sequence import SequenceModel
    >>> model = SequenceModel(model="cnn1d", tokens="aa", epochs=30)
    >>> model.fit(peptides, hemolytic)  # doctest: +SKIP
    >>> model.predict_proba(["GLFDIIKKIAESF"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from rdkit import Chem
from sklearn.base import BaseEstimator

from molmat.data.csv import DataError
from molmat.data.molecules import molecules
from molmat.data.sequences import BOS, EOS
from molmat.data.statistics import Standardizer
from molmat.featurizers.tokens import (
    MOLECULE_TOKENS,
    EncodedCorpus,
    Vocabulary,
    encode_corpus,
    tokenizer,
)
from molmat.models.sequence import ENCODERS, build_sequence_net, check_network
from molmat.models.sequence.network import encoder_levels
from molmat.nn.core import copy_weights
from molmat.tasks.neural import NeuralPropertyModel
from molmat.tasks.pretrain import PretrainedEncoder, load_pretrained
from molmat.training import archive, plots
from molmat.training.engine import History
from molmat.training.property import predict_outputs

log = logging.getLogger("molmat")


class SequenceModel(NeuralPropertyModel, BaseEstimator):
    """Property model over token sequences.

    Args:
        model: encoder, ``"cnn1d"``, ``"gru"`` (bidirectional) or
            ``"transformer"``.
        tokens: ``"aa"`` (one-letter amino-acid codes), ``"smiles"``
            (atom-level) or ``"selfies"``; with SMILES/SELFIES tokens inputs
            are SMILES strings or RDKit Mols, read as RDKit canonical SMILES.
        embed: token embedding width.
        hidden: encoder width (per direction for the GRU).
        depth: encoder layers.
        heads: attention heads (transformer).
        kernel: convolution width in tokens (cnn1d).
        dropout: dropout rate in encoder and head.
        pool: ``"mean"`` or ``"max"`` over the tokens, or ``"cls"`` (the
            state of the leading ``<bos>`` token).
        ffn_hidden, ffn_layers: the MLP head.
        task: and ``epochs``, ``batch_size``, ``max_lr``, ``init_lr``,
            ``final_lr``, ``warmup_epochs``, ``weight_decay``, ``patience``,
            ``select_by``, ``val_fraction``, ``class_weight``, ``seed``,
            ``progress``: as for :class:`~molmat.tasks.property.PropertyModel`.
        use_cache: cache the token encodings on disk (``$MOLMAT_CACHE_DIR``).
        init: a pretrained encoder (the ``model/`` folder of
            :func:`~molmat.tasks.pretrain.pretrain_sequences`, or its run
            folder) to start from: its vocabulary, embedding and encoder (its
            ``embed``, ``hidden``, ``depth``, ``heads`` and ``kernel`` win over
            the options above); ``model`` and ``tokens`` must match it. Tokens
            of the training data that the encoder never saw are added to the
            vocabulary with new embedding rows.
        freeze_encoder: train only the head on top of the ``init`` encoder.
        layer_lr_decay: layer-wise learning rates: the top encoder layer
            learns at ``layer_lr_decay`` times the rate, each layer below at
            one more factor (1: one rate everywhere).
    """

    def __init__(
        self,
        model: str = "cnn1d",
        tokens: str = "smiles",
        embed: int = 64,
        hidden: int = 128,
        depth: int = 2,
        heads: int = 4,
        kernel: int = 5,
        dropout: float = 0.0,
        pool: str = "mean",
        ffn_hidden: int = 128,
        ffn_layers: int = 1,
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
        self.tokens = tokens
        self.embed = embed
        self.hidden = hidden
        self.depth = depth
        self.heads = heads
        self.kernel = kernel
        self.dropout = dropout
        self.pool = pool
        self.ffn_hidden = ffn_hidden
        self.ffn_layers = ffn_layers
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
    ) -> SequenceModel:
        """Train on sequences ``X`` and targets ``y`` [n] or [n, T] (NaN = missing).

        The vocabulary is the token set of the training sequences; a
        validation sequence with another token is reported and left out.

        Raises:
            DataError: an untokenisable training sequence, bad targets.
        """
        self._check_training_params()
        if self.model not in ENCODERS:
            raise ValueError(
                f"unknown sequence model {self.model!r}; choose from "
                f"{', '.join(ENCODERS)}"
            )
        pretrained = self._pretrained()
        X, y, X_val, y_val = self._hold_out(X, y, X_val, y_val)
        self.dropped_ = []
        base = None if pretrained is None else pretrained.vocabulary
        train = self._fit_vocabulary(X, base)
        val = None
        if X_val is not None:
            val, kept, dropped = self._encode(X_val, "X_val")
            self.dropped_ += dropped
            y_val = y_val[kept]
        if len(train) == 0:
            raise DataError("no training sequences left")
        pos_weight = self._fit_targets(y, target_names)
        self.elements_ = None  # amino acids: no elements to compare
        if self.tokens in MOLECULE_TOKENS:
            self._record_elements(X)
        self.network_ = self._network_config(pretrained)
        net = build_sequence_net(self.network_, key=jax.random.key(self.seed))
        if pretrained is not None:  # tokens new to the encoder keep a fresh row
            known = len(pretrained.vocabulary)
            embed = net.embed.at[:known].set(pretrained.net.embed)
            encoder = copy_weights(net.encoder, pretrained.net.encoder)
            net = eqx.tree_at(lambda n: (n.embed, n.encoder), net, (embed, encoder))
            self.pretraining_ = {"init": str(self.init), **pretrained.provenance}
        trainer = self._trainer(y_val, pos_weight, checkpoint_dir, metrics_log)
        self.net_, self.history_ = trainer.fit(
            net, train, self.y_scaler_.transform(y), val, resume=resume
        )
        return self

    def _fit_vocabulary(
        self, X: Sequence, base: Vocabulary | None = None
    ) -> EncodedCorpus:
        """Encode the training strings, fitting ``vocabulary_`` on them: the
        ``base`` vocabulary (a pretrained encoder's) followed by the tokens of
        ``X`` it lacks, or the tokens of ``X`` alone.

        Raises:
            DataError: naming the strings that cannot be tokenised.
        """
        texts, reasons = self._texts(X)
        bad = [f"{i}: {r}" for i, r in enumerate(reasons) if r]
        tok = tokenizer(self.tokens)
        options = dict(progress=self.progress, use_cache=self.use_cache)
        train, self.vocabulary_ = encode_corpus(texts, tok, **options)
        if base is not None and not train.errors:
            known = set(base.tokens)
            extra = [t for t in self.vocabulary_.tokens if t not in known]
            if extra:
                log.info(
                    "%d tokens new to the pretrained encoder: %s",
                    len(extra),
                    " ".join(extra[:20]),
                )
            self.vocabulary_ = Vocabulary(base.tokens + tuple(extra))
            train, _ = encode_corpus(texts, tok, self.vocabulary_, **options)
        bad += [f"{i}: {r}" for i, r in sorted(train.errors.items()) if not reasons[i]]
        if bad:
            raise DataError(
                f"X has {len(bad)} sequences that cannot be tokenised: "
                + "; ".join(bad[:5])
            )
        return train

    def _pretrained(self) -> PretrainedEncoder | None:
        """The ``init`` encoder, checked against ``model`` and ``tokens``."""
        if self.init is None:
            if self.freeze_encoder:
                raise ValueError("freeze_encoder needs a pretrained encoder (init)")
            return None
        pretrained = load_pretrained(self.init, PretrainedEncoder)
        found = (pretrained.network["encoder"], pretrained.tokens)
        if found != (self.model, self.tokens):
            raise ValueError(
                f"{self.init} is a {found[0]} encoder of {found[1]} tokens; this "
                f"model is a {self.model} on {self.tokens} tokens: choose "
                f"--model {found[0]} --tokens {found[1]}"
            )
        return pretrained

    def _network_config(self, pretrained: PretrainedEncoder | None = None) -> dict:
        own = {
            "encoder": self.model,
            "vocab": len(self.vocabulary_),
            "embed": self.embed,
            "hidden": self.hidden,
            "depth": self.depth,
            "heads": self.heads,
            "kernel": self.kernel,
        }
        if pretrained is not None:  # its sizes; the vocabulary may have grown
            own = {
                k: pretrained.network[k] if k != "vocab" else v for k, v in own.items()
            }
        return check_network(
            {
                **own,
                "dropout": float(self.dropout),
                "pool": self.pool,
                "head": [self.ffn_hidden] * self.ffn_layers,
                "n_targets": self.n_targets_,
            }
        )

    def _encoder_levels(self) -> list[list[str]]:
        return encoder_levels(self.network_)

    def _texts(self, X: Sequence) -> tuple[list[str], list[str]]:
        """The strings to tokenise (canonical SMILES for molecule tokens) and,
        per item, why it cannot be used (``""`` when it can)."""
        if self.tokens not in MOLECULE_TOKENS:
            texts = [x if isinstance(x, str) else "" for x in X]
            reasons = [
                "" if isinstance(x, str) else f"not a sequence string: {x!r}" for x in X
            ]
            return texts, reasons
        _, mols, reasons = molecules(X)
        texts = [Chem.MolToSmiles(m) if m is not None else "" for m in mols]
        return texts, reasons

    def _encode(
        self, X: Sequence, name: str, shown: int = 5
    ) -> tuple[EncodedCorpus, np.ndarray, list[dict]]:
        """Encoded items of ``X`` with the model's vocabulary, their positions
        in ``X``, and a ``{"set", "index", "reason"}`` record per item left
        out (the first ``shown`` logged one by one, the rest counted)."""
        texts, reasons = self._texts(X)
        corpus, _ = encode_corpus(
            texts,
            tokenizer(self.tokens),
            self.vocabulary_,
            use_cache=self.use_cache,
        )
        problems = {i: r for i, r in enumerate(reasons) if r}
        for i, r in corpus.errors.items():
            problems.setdefault(i, r)
        dropped = [
            {"set": name, "index": i, "reason": r} for i, r in sorted(problems.items())
        ]
        for d in dropped[:shown]:
            log.warning("%s sequence %d skipped: %s", name, d["index"], d["reason"])
        if len(dropped) > shown:
            log.warning(
                "%s: %d more of %d sequences skipped",
                name,
                len(dropped) - shown,
                len(X),
            )
        if problems:  # an unusable item never reaches the encoder
            usable = np.setdiff1d(corpus.kept, sorted(problems))
            corpus = corpus.subset(np.searchsorted(corpus.kept, usable))
        return corpus, corpus.kept, dropped

    # -- prediction --------------------------------------------------------
    def predict_values(self, X: Sequence) -> np.ndarray:
        """Predictions [n, T]: original units or probabilities; NaN for items
        that cannot be tokenised with the model's vocabulary (logged)."""
        out = np.full((len(X), self.n_targets_), np.nan, dtype=np.float32)
        corpus, kept, _ = self._encode(list(X), "X")
        if len(corpus):
            raw = predict_outputs(self.net_, corpus, self.batch_size, self.n_targets_)
            out[kept] = self._from_raw(raw)
        return out

    def input_tokens(self, X: Sequence) -> tuple[EncodedCorpus, np.ndarray]:
        """Token ids of ``X`` with the model's vocabulary (no ``<bos>`` or
        ``<eos>``) and their positions [n] in ``X``; items that cannot be
        tokenised are logged and left out."""
        corpus, kept, _ = self._encode(list(X), "X")
        return corpus, kept

    def attention(self, item) -> tuple[list[str], np.ndarray]:
        """Tokens of one sequence or molecule and the transformer's attention
        probabilities over them, [layers, heads, L, L] (``<bos>`` and
        ``<eos>`` included).

        Raises:
            ValueError: not a transformer, or an untokenisable input.
        """
        if self.network_["encoder"] != "transformer":
            raise ValueError(f"a {self.model} model has no attention maps")
        corpus, _, dropped = self._encode([item], "X")
        if dropped:
            raise ValueError(f"{item!r}: {dropped[0]['reason']}")
        ids = np.concatenate([[BOS], corpus.ids, [EOS]])[None]
        mask = np.ones_like(ids, bool)
        weights = self.net_.encoder.attention_weights(self.net_.embed[ids], mask)
        tokens = [self.vocabulary_.tokens[i] for i in ids[0]]
        return tokens, np.asarray(weights[:, 0])

    def attention_plot(self, item, path: str | Path) -> Path:
        """Draw :meth:`attention` of ``item`` (a PNG or SVG at ``path``)."""
        tokens, weights = self.attention(item)
        title = f"{item if isinstance(item, str) else 'molecule'}: {self.model}"
        return plots.attention_plot(weights, tokens, path, title)

    # -- persistence -------------------------------------------------------
    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write a model archive folder (config.json, params.npz, metrics.json)."""
        config = {
            "kind": "sequence",
            "network": self.network_,
            "vocabulary": list(self.vocabulary_.tokens),
            "params": self.get_params(),
            "task": self.task_,
            "target_names": self.target_names_,
            "scaler": self.y_scaler_.to_dict(),
            "history": {
                "best_epoch": self.history_.best_epoch,
                "epochs_run": len(self.history_.records),
            },
            "pretraining": getattr(self, "pretraining_", None),
            **self.archive_extras(path),
        }
        return archive.save_archive(path, self.net_, config, metrics)


def load_sequence(folder: Path, config: dict) -> SequenceModel:
    """Rebuild a :class:`SequenceModel` from its archive folder and config."""
    try:
        model = SequenceModel(**{**config["params"], "progress": False})
        model.task_ = config["task"]
        model.target_names_ = list(config["target_names"])
        model.n_targets_ = len(model.target_names_)
        model.y_scaler_ = Standardizer.from_dict(config["scaler"])
        model.vocabulary_ = Vocabulary(tuple(config["vocabulary"]))
        model.network_ = check_network(config["network"])
        model.history_ = History(best_epoch=config["history"]["best_epoch"])
        model.pretraining_ = config.get("pretraining")
        template = jax.eval_shape(
            lambda: build_sequence_net(model.network_, key=jax.random.key(0))
        )
    except (KeyError, TypeError, ValueError) as err:
        raise archive.ArchiveError(
            f"{folder}: incomplete or invalid config ({err!r})"
        ) from err
    model.net_ = archive.load_params(folder, template)
    model.restore_extras(folder, config)
    return model
