"""Language models that generate molecules: a GRU/LSTM and a transformer.

Example:
    >>> from molmat.generate import LanguageModel
    >>> lm = LanguageModel(model="rnn", tokens="selfies", epochs=5)  # doctest: +SKIP
    >>> lm.fit(smiles).sample(1000, temperature=0.9)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from molmat.data.console import progress_bar
from molmat.data.sequences import bucket_lengths
from molmat.data.statistics import Standardizer
from molmat.featurizers.tokens import Vocabulary, encode_corpus, tokenizer
from molmat.models.generative.language import (
    ARCHITECTURES,
    RNNLanguageModel,
    TransformerLanguageModel,
)
from molmat.models.generative.sampling import sample_tokens
from molmat.training import archive
from molmat.training.engine import History
from molmat.training.sequence import (
    SequenceData,
    SequenceTrainConfig,
    SequenceTrainer,
    mean_token_nll,
)

log = logging.getLogger("molmat")

MAX_TOKENS = 120  # longer molecules are reported and left out of training


def build_network(config: dict, *, key):
    """The network described by an archive's ``network`` config."""
    config = dict(config)
    kind = config.pop("architecture")
    if kind == "rnn":
        return RNNLanguageModel(**config, key=key)
    if kind == "transformer":
        return TransformerLanguageModel(**config, key=key)
    raise ValueError(f"unknown architecture {kind!r}; choose from {ARCHITECTURES}")


def parse_condition(
    condition: Mapping[str, float] | Sequence[float] | None, names: Sequence[str]
) -> np.ndarray:
    """A condition given by name (``{"logP": 2.5}``) or position, as [C]."""
    if not names:
        if condition:
            raise ValueError("this model is not conditional; drop the condition")
        return np.zeros(0, np.float32)
    if condition is None:
        raise ValueError(f"this model needs a condition on {', '.join(names)}")
    if isinstance(condition, Mapping):
        unknown = set(condition) - set(names)
        missing = [n for n in names if n not in condition]
        if unknown or missing:
            raise ValueError(
                f"the model is conditioned on {', '.join(names)}; got "
                f"{', '.join(condition) or 'nothing'}"
            )
        condition = [condition[n] for n in names]
    values = np.asarray(condition, np.float32)
    if values.shape != (len(names),):
        raise ValueError(f"expected {len(names)} condition values, got {values.shape}")
    return values


class SequenceGenerator:
    """What every sequence generator shares: tokens, sampling, archives.

    Subclasses define ``kind``, ``get_params``, ``network_config_`` and
    ``fit``, and extend ``_build_network``, ``_archive_config`` and
    ``_restore`` when their archive holds more.
    """

    kind = "generator"

    def __init__(self, tokens: str, seed: int, progress: bool):
        self.tokens = tokens
        self.seed = seed
        self.progress = progress

    # -- data ------------------------------------------------------------------
    def _encode(self, smiles: Sequence[str], fit_vocab: bool):
        tok = tokenizer(self.tokens)
        corpus, vocab = encode_corpus(
            smiles,
            tok,
            None if fit_vocab else self.vocab_,
            max_tokens=MAX_TOKENS,
            progress=self.progress,
        )
        if corpus.errors:
            log.warning(
                "%d of %d molecules cannot be encoded and are left out; first: %s",
                len(corpus.errors),
                len(smiles),
                next(iter(corpus.errors.values())),
            )
        return corpus, vocab

    def _split(self, n: int, val_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        if val_size is None:
            val_size = min(10_000, n // 20) if n >= 40 else 0
        order = np.random.default_rng([self.seed, 7]).permutation(n)
        return np.sort(order[val_size:]), np.sort(order[:val_size])

    # -- sampling --------------------------------------------------------------
    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        condition: Mapping[str, float] | Sequence[float] | None = None,
        seed: int = 0,
        batch_size: int = 2000,
        max_len: int | None = None,
    ) -> list[str]:
        """``n`` generated SMILES (invalid strings kept: validity is a metric).

        Args:
            temperature: > 1 flattens, < 1 sharpens the token distribution.
            top_k: sample among the ``top_k`` likeliest tokens only.
            top_p: nucleus sampling: the smallest token set of mass ``top_p``.
            condition: property values of a conditional model, by name.
            seed: the same seed (and batch size) gives the same molecules.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        values = parse_condition(condition, self.condition_names_)
        if len(values):
            values = self.condition_scaler_.transform(values[None])[0]
        conditions = np.broadcast_to(values, (n, len(values)))
        return self._draw(
            conditions,
            seed,
            batch_size,
            max_len or self.max_len_,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
        )

    def _sampler(self):
        """The network whose ``start/step`` generate tokens."""
        return self.net_

    def _draw(self, conditions, seed, batch_size, max_len, **options) -> list[str]:
        """SMILES of one molecule per row of ``conditions`` [n, C], sampled in
        chunks of ``8 * batch_size`` (one progress-bar tick each)."""
        n = len(conditions)
        tok = tokenizer(self.tokens)
        key = jax.random.key(seed)
        chunk = max(min(n, 8 * batch_size), 1)
        out: list[str] = []
        bar = progress_bar(total=n, desc="sampling", unit="mol", enabled=self.progress)
        for c in range(-(-n // chunk)):
            part = np.asarray(conditions[c * chunk : (c + 1) * chunk], np.float32)
            rows = len(part)
            part = np.concatenate([part, np.repeat(part[:1], chunk - rows, 0)])
            ids = sample_tokens(
                self._sampler(),
                jax.random.fold_in(key, c),
                part,
                max_len,
                batch=min(batch_size, chunk),
                **options,
            )
            out.extend(tok.join(self.vocab_.decode(r)) for r in np.asarray(ids)[:rows])
            bar.update(rows)
        bar.close()
        return out

    # -- archive ---------------------------------------------------------------
    @staticmethod
    def _build_network(config: dict, *, key):
        return build_network(config, key=key)

    def _archive_config(self) -> dict:
        """Everything but the parameters that the archive must hold."""
        return {
            "kind": self.kind,
            "network": self.network_config_(),
            "params": self.get_params(),
            "vocabulary": list(self.vocab_.tokens[3:]),
            "max_len": self.max_len_,
            "conditions": list(self.condition_names_),
            "condition_scaler": self.condition_scaler_.to_dict(),
            "history": {
                "best_epoch": self.history_.best_epoch,
                "epochs_run": len(self.history_.records),
            },
        }

    def _restore(self, config: dict) -> None:
        """Set the fitted attributes from an archive's config."""
        self.vocab_ = Vocabulary.from_tokens(config["vocabulary"])
        self.max_len_ = int(config["max_len"])
        self.condition_names_ = tuple(config["conditions"])
        self.condition_scaler_ = Standardizer.from_dict(config["condition_scaler"])
        self.history_ = History(best_epoch=config["history"]["best_epoch"])

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the archive folder (config.json, params.npz, metrics.json)."""
        return archive.save_archive(path, self.net_, self._archive_config(), metrics)

    @classmethod
    def from_archive(cls, folder: Path, config: dict):
        """Rebuild a fitted generator from its archive folder and config."""
        try:
            model = cls(**{**config["params"], "progress": False})
            model._restore(config)
            template = jax.eval_shape(
                lambda: cls._build_network(config["network"], key=jax.random.key(0))
            )
        except (KeyError, TypeError, ValueError) as err:
            raise archive.ArchiveError(
                f"{folder}: config does not describe a {cls.__name__} ({err})"
            ) from err
        model.net_ = archive.load_params(folder, template)
        return model


class LanguageModel(SequenceGenerator):
    """An autoregressive generator of SMILES or SELFIES strings.

    Args:
        model: ``rnn`` (GRU/LSTM) or ``transformer`` (decoder-only).
        tokens: ``smiles`` (atom-level) or ``selfies``.
        cell: ``gru`` or ``lstm`` (``rnn`` only).
        embed, hidden, layers: RNN sizes; width, heads, layers: transformer.
        dropout: dropout rate while training.
        epochs, epoch_size, batch_size, lr, patience, time_limit: see
            :class:`~molmat.training.sequence.SequenceTrainConfig`
            (``time_limit`` in minutes).
        seed: initialisation, shuffling and dropout.
    """

    kind = "generator"

    def __init__(
        self,
        model: str = "rnn",
        tokens: str = "smiles",
        cell: str = "gru",
        embed: int = 64,
        hidden: int = 256,
        width: int = 256,
        heads: int = 8,
        layers: int = 2,
        dropout: float = 0.0,
        epochs: int = 20,
        epoch_size: int | None = None,
        batch_size: int = 128,
        lr: float = 1e-3,
        patience: int | None = 5,
        time_limit: float | None = None,
        seed: int = 0,
        progress: bool = True,
    ):
        if model not in ARCHITECTURES:
            raise ValueError(f"unknown model {model!r}; choose from {ARCHITECTURES}")
        super().__init__(tokens, seed, progress)
        self.model, self.cell = model, cell
        self.embed, self.hidden, self.width, self.heads = embed, hidden, width, heads
        self.layers, self.dropout = layers, dropout
        self.epochs, self.epoch_size, self.batch_size = epochs, epoch_size, batch_size
        self.lr, self.patience, self.time_limit = lr, patience, time_limit

    def get_params(self) -> dict:
        names = ["model", "tokens", "cell", "embed", "hidden", "width", "heads"]
        names += ["layers", "dropout", "epochs", "epoch_size", "batch_size", "lr"]
        names += ["patience", "time_limit", "seed"]
        return {n: getattr(self, n) for n in names}

    def network_config_(self) -> dict:
        common = {
            "vocab": len(self.vocab_),
            "layers": self.layers,
            "dropout": self.dropout,
            "n_condition": len(self.condition_names_),
        }
        if self.model == "rnn":
            return {
                "architecture": "rnn",
                "cell": self.cell,
                "embed": self.embed,
                "hidden": self.hidden,
                **common,
            }
        return {
            "architecture": "transformer",
            "width": self.width,
            "heads": self.heads,
            "max_len": int(bucket_lengths(self.max_len_ - 2)[-1]),  # longest bucket
            **common,
        }

    def train_config(self) -> SequenceTrainConfig:
        return SequenceTrainConfig(
            epochs=self.epochs,
            epoch_size=self.epoch_size,
            batch_size=self.batch_size,
            lr=self.lr,
            patience=self.patience,
            time_limit=self.time_limit,
            seed=self.seed,
        )

    def fit(
        self,
        smiles: Sequence[str],
        condition: np.ndarray | None = None,
        condition_names: Sequence[str] = (),
        val_size: int | None = None,
        checkpoint_dir: str | Path | None = None,
        metrics_log: str | Path | None = None,
        resume: bool = False,
        callbacks: Sequence = (),
    ) -> LanguageModel:
        """Learn the distribution of ``smiles`` (optionally given conditions
        [n, C] named ``condition_names``); ``val_size`` molecules (default 5%,
        at most 10,000) are held out to pick the best epoch."""
        corpus, self.vocab_ = self._encode(smiles, fit_vocab=True)
        n_cond = 0 if condition is None else np.asarray(condition).shape[1]
        self.condition_names_ = tuple(condition_names) or tuple(
            f"c{i}" for i in range(n_cond)
        )
        cond = (
            np.zeros((len(smiles), 0), np.float32) if condition is None else condition
        )
        cond = np.asarray(cond, np.float32)[corpus.kept]
        self.condition_scaler_ = Standardizer.fit(cond)
        cond = self.condition_scaler_.transform(cond)
        self.max_len_ = int(corpus.lengths.max(initial=1)) + 2
        train_idx, val_idx = self._split(len(corpus), val_size)
        data = SequenceData(corpus, cond)
        train, val = _subset(data, train_idx), _subset(data, val_idx)
        cfg = self.train_config()
        self.net_ = build_network(self.network_config_(), key=jax.random.key(self.seed))

        def validate(net):
            return {"loss": mean_token_nll(eqx.nn.inference_mode(net), val, 256)}

        trainer = SequenceTrainer(
            cfg,
            validate=validate if len(val) else None,
            checkpoint_dir=checkpoint_dir,
            metrics_log=metrics_log,
            callbacks=callbacks,
            progress=self.progress,
        )
        self.net_, self.history_ = trainer.fit(self.net_, train, resume=resume)
        self.n_train_, self.n_skipped_ = len(train), len(corpus.errors)
        return self

    def log_likelihood(self, smiles: Sequence[str]) -> float:
        """Mean NLL per token (nats) of ``smiles`` under the model."""
        corpus, _ = self._encode(smiles, fit_vocab=False)
        cond = np.zeros((len(corpus), len(self.condition_names_)), np.float32)
        return mean_token_nll(self.net_, SequenceData(corpus, cond), 256)


def _subset(data: SequenceData, idx: np.ndarray) -> SequenceData:
    """Molecules ``idx`` of ``data`` as a new contiguous corpus."""
    return SequenceData(data.corpus.subset(idx), data.condition[idx])


def load_generator(folder: Path, config: dict) -> LanguageModel:
    """Rebuild a :class:`LanguageModel` from its archive."""
    return LanguageModel.from_archive(folder, config)
