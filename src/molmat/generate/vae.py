"""A SELFIES variational autoencoder whose latent space predicts properties.

Training minimises, per molecule, the reconstruction NLL (nats) + β·KL(q(z|x)
‖ N(0, I)) + ``property_weight``·MSE of the property head on standardised
properties (logP, QED and SA by default, computed with RDKit, plus any
columns given to :meth:`VAE.fit`). β rises linearly from 0 to ``beta`` over
the first ``kl_anneal_epochs`` epochs.

Example:
    >>> from molmat.generate.vae import VAE
    >>> vae = VAE(latent=64, epochs=10).fit(smiles)  # doctest: +SKIP
    >>> vae.sample(1000)  # doctest: +SKIP
    >>> vae.interpolate("CCO", "c1ccccc1O", steps=8)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from molmat.data.sequences import PAD, SequenceBatch, SequenceBatcher
from molmat.data.statistics import Standardizer
from molmat.generate.language import SequenceGenerator, _subset, parse_condition
from molmat.models.generative.vae import SequenceVAE
from molmat.tasks.corpus import compute_property
from molmat.training.losses import token_nll
from molmat.training.sequence import (
    SequenceData,
    SequenceTrainConfig,
    SequenceTrainer,
    mean_token_nll,
)

DEFAULT_PROPERTIES = ("logP", "QED", "SA")
TERM_NAMES = ("nll", "kl", "property_mse", "beta")


def _vae_sums(model: SequenceVAE, batch: SequenceBatch, key, inference: bool):
    """Sums over the real rows of a batch: reconstruction NLL, KL, squared
    property errors, and the counts of rows and of known property values."""
    n_cond = model.n_condition
    logits, mu, logvar, pred = model(
        batch.tokens, batch.condition[:, :n_cond], key=key, inference=inference
    )
    nll, _ = token_nll(logits, batch.tokens[:, 1:], batch.weight)
    kl_rows = 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)
    target = batch.condition[:, n_cond:]
    known = jnp.isfinite(target) & (batch.weight[:, None] > 0)
    err = jnp.where(known, pred - jnp.where(known, target, 0.0), 0.0)
    rows = batch.weight.sum()
    return nll, (kl_rows * batch.weight).sum(), (err**2).sum(), known.sum(), rows


@dataclass(frozen=True)
class VAELoss:
    """``(model, batch, key) -> (loss, [nll, kl, property_mse, beta])``, per
    molecule; hashable, so fits with equal settings share a compiled step."""

    beta: float = 1.0
    anneal_epochs: float = 5.0
    property_weight: float = 1.0

    def beta_at(self, epoch):
        """β after ``epoch`` (fractional) epochs: linear from 0 to ``beta``."""
        if self.anneal_epochs <= 0:
            return jnp.asarray(self.beta, jnp.float32)
        return self.beta * jnp.clip(epoch / self.anneal_epochs, 0.0, 1.0)

    def __call__(self, model, batch: SequenceBatch, key):
        nll, kl, se, known, rows = _vae_sums(model, batch, key, inference=False)
        rows = jnp.maximum(rows, 1.0)
        nll, kl, mse = nll / rows, kl / rows, se / jnp.maximum(known, 1)
        beta = self.beta_at(batch.epoch)
        loss = nll + beta * kl + self.property_weight * mse
        return loss, jnp.stack([nll, kl, mse, beta])


@eqx.filter_jit
def _elbo_sums(model, batch: SequenceBatch):
    """Summed NLL + KL (z = the posterior mean) and the number of molecules."""
    nll, kl, _, _, rows = _vae_sums(model, batch, None, inference=True)
    return nll + kl, rows


@eqx.filter_jit
def _posterior_mean(model, tokens):
    return model.encode(tokens, (tokens != PAD).sum(axis=1))[0]


@eqx.filter_jit
def _predict(model, z):
    return model.predict(z)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation [T, Z] from ``a`` to ``b`` [Z] at fractions ``t``
    [T] (linear when the two are parallel)."""
    t = t[:, None]
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def _columns(values, n: int) -> np.ndarray:
    """Optional per-molecule columns as float32 [n, k] (k = 0 for ``None``)."""
    if values is None:
        return np.zeros((n, 0), np.float32)
    return np.asarray(values, np.float32).reshape(n, -1)


class VAE(SequenceGenerator):
    """A (conditional) sequence VAE with a property head on its latent space.

    Args:
        tokens: ``selfies`` (every decoded string is a valid molecule) or
            ``smiles``.
        cell, embed, hidden, layers, dropout: the GRU/LSTM decoder.
        encoder_hidden: width of each direction of the encoder GRU.
        latent: size of the latent space.
        head_hidden: width of the property head's hidden layer.
        word_dropout: rate of decoder inputs replaced by ``<pad>`` in training.
        beta, kl_anneal_epochs: the KL weight and its linear warm-up (epochs).
        property_weight: weight of the property head's MSE.
        properties: RDKit properties the head predicts (see
            :func:`~molmat.tasks.corpus.compute_property`).
        epochs, epoch_size, batch_size, lr, patience, time_limit: see
            :class:`~molmat.training.sequence.SequenceTrainConfig`
            (``time_limit`` in minutes).
        seed: initialisation, shuffling, dropout and the validation split.
    """

    kind = "vae"

    def __init__(
        self,
        tokens: str = "selfies",
        cell: str = "gru",
        embed: int = 64,
        hidden: int = 256,
        layers: int = 2,
        dropout: float = 0.0,
        encoder_hidden: int = 256,
        latent: int = 64,
        head_hidden: int = 128,
        word_dropout: float = 0.0,
        beta: float = 1.0,
        kl_anneal_epochs: float = 5.0,
        property_weight: float = 1.0,
        properties: Sequence[str] = DEFAULT_PROPERTIES,
        epochs: int = 20,
        epoch_size: int | None = None,
        batch_size: int = 128,
        lr: float = 1e-3,
        patience: int | None = 5,
        time_limit: float | None = None,
        seed: int = 0,
        progress: bool = True,
    ):
        super().__init__(tokens, seed, progress)
        self.cell, self.embed, self.hidden, self.layers = cell, embed, hidden, layers
        self.dropout, self.encoder_hidden, self.latent = dropout, encoder_hidden, latent
        self.head_hidden, self.word_dropout = head_hidden, word_dropout
        self.beta, self.kl_anneal_epochs = beta, kl_anneal_epochs
        self.property_weight, self.properties = property_weight, tuple(properties)
        self.epochs, self.epoch_size, self.batch_size = epochs, epoch_size, batch_size
        self.lr, self.patience, self.time_limit = lr, patience, time_limit

    def get_params(self) -> dict:
        names = ["tokens", "cell", "embed", "hidden", "layers", "dropout"]
        names += ["encoder_hidden", "latent", "head_hidden", "word_dropout", "beta"]
        names += ["kl_anneal_epochs", "property_weight", "properties", "epochs"]
        names += ["epoch_size", "batch_size", "lr", "patience", "time_limit", "seed"]
        params = {n: getattr(self, n) for n in names}
        return {**params, "properties": list(self.properties)}

    def network_config_(self) -> dict:
        return {
            "vocab": len(self.vocab_),
            "cell": self.cell,
            "embed": self.embed,
            "hidden": self.hidden,
            "layers": self.layers,
            "dropout": self.dropout,
            "encoder_hidden": self.encoder_hidden,
            "latent": self.latent,
            "n_properties": len(self.property_names_),
            "head_hidden": self.head_hidden,
            "n_condition": len(self.condition_names_),
            "word_dropout": self.word_dropout,
        }

    def loss(self) -> VAELoss:
        return VAELoss(self.beta, self.kl_anneal_epochs, self.property_weight)

    # -- training --------------------------------------------------------------
    def fit(
        self,
        smiles: Sequence[str],
        condition: np.ndarray | None = None,
        condition_names: Sequence[str] = (),
        properties: np.ndarray | None = None,
        property_names: Sequence[str] = (),
        val_size: int | None = None,
        checkpoint_dir: str | Path | None = None,
        metrics_log: str | Path | None = None,
        resume: bool = False,
        callbacks: Sequence = (),
    ) -> VAE:
        """Learn to encode and decode ``smiles``.

        Args:
            condition: [n, C] conditions of a conditional VAE, named
                ``condition_names`` (sampling then needs them).
            properties: [n, K] more columns for the property head (NaN:
                unknown), named ``property_names``.
            val_size: molecules held out (default 5%, at most 10,000) to pick
                the best epoch by reconstruction NLL + KL per molecule.
        """
        corpus, self.vocab_ = self._encode(smiles, fit_vocab=True)
        kept = [smiles[i] for i in corpus.kept]
        cond = _columns(condition, len(smiles))[corpus.kept]
        extra = _columns(properties, len(smiles))[corpus.kept]
        self.condition_names_ = tuple(condition_names) or tuple(
            f"c{i}" for i in range(cond.shape[1])
        )
        self.property_names_ = self.properties + (
            tuple(property_names) or tuple(f"p{i}" for i in range(extra.shape[1]))
        )
        computed = [compute_property(n, kept) for n in self.properties]  # cached
        props = np.column_stack([*computed, extra])
        self.condition_scaler_ = Standardizer.fit(cond)
        self.property_scaler_ = Standardizer.fit(props)
        columns = [self.condition_scaler_.transform(cond)]
        columns.append(self.property_scaler_.transform(props))
        self.max_len_ = int(corpus.lengths.max(initial=1)) + 2
        train_idx, val_idx = self._split(len(corpus), val_size)
        data = SequenceData(corpus, np.concatenate(columns, axis=1))
        train, val = _subset(data, train_idx), _subset(data, val_idx)
        self.net_ = _build(self.network_config_(), key=jax.random.key(self.seed))

        def validate(net):
            net = eqx.nn.inference_mode(net)
            return {"loss": mean_token_nll(net, val, 256, sums=_elbo_sums)}

        trainer = SequenceTrainer(
            self.train_config(),
            loss_fn=self.loss(),
            validate=validate if len(val) else None,
            term_names=TERM_NAMES,
            checkpoint_dir=checkpoint_dir,
            metrics_log=metrics_log,
            callbacks=callbacks,
            progress=self.progress,
        )
        self.net_, self.history_ = trainer.fit(self.net_, train, resume=resume)
        self.n_train_, self.n_skipped_ = len(train), len(corpus.errors)
        return self

    def train_config(self) -> SequenceTrainConfig:
        names = ("epochs", "epoch_size", "batch_size", "lr", "patience")
        names += ("time_limit", "seed")
        return SequenceTrainConfig(**{n: getattr(self, n) for n in names})

    # -- latent space ----------------------------------------------------------
    def encode(self, smiles: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Posterior means [n, latent]; NaN rows for strings that cannot be
        encoded (unknown tokens, too long)."""
        corpus, _ = self._encode(smiles, fit_vocab=False)
        mu = np.full((len(smiles), self.latent), np.nan, np.float32)
        batcher = SequenceBatcher(corpus.lengths, batch_size)
        for idx, length in batcher.plan(np.arange(len(corpus))):
            batch = batcher.batch(corpus.ids, corpus.offsets, idx, length)
            mu[corpus.kept[idx]] = np.asarray(_posterior_mean(self.net_, batch.tokens))[
                : len(idx)
            ]
        return mu

    def prior(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` latents [n, latent] drawn from N(0, I)."""
        key = jax.random.key(seed)
        return np.asarray(jax.random.normal(key, (n, self.latent)), np.float32)

    def predict_properties(self, z: np.ndarray) -> np.ndarray:
        """The head's properties [n, P] of latents ``z`` [n, latent], in the
        properties' own units (columns: ``property_names_``)."""
        z = np.asarray(z, np.float32).reshape(-1, self.latent)
        return self.property_scaler_.inverse(np.asarray(_predict(self.net_, z)))

    def decode(
        self,
        z: np.ndarray,
        temperature: float = 1.0,
        greedy: bool = False,
        top_k: int | None = None,
        top_p: float | None = None,
        condition: Mapping[str, float] | Sequence[float] | None = None,
        seed: int = 0,
        batch_size: int = 2000,
        max_len: int | None = None,
    ) -> list[str]:
        """SMILES decoded from latents ``z`` [n, latent].

        Args:
            greedy: the likeliest token at every step (deterministic).
            temperature, top_k, top_p: sampling, as for
                :meth:`SequenceGenerator.sample`.
            condition: property values of a conditional VAE, by name.
            seed: the same seed (and batch size) gives the same molecules.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        z = np.asarray(z, np.float32).reshape(-1, self.latent)
        values = parse_condition(condition, self.condition_names_)
        if len(values):
            values = self.condition_scaler_.transform(values[None])[0]
        full = np.zeros((len(z), self.latent + len(values)), np.float32)
        full[:, : self.latent], full[:, self.latent :] = z, values
        if greedy:
            top_k, top_p = 1, None
        return self._draw(
            full,
            seed,
            batch_size,
            max_len or self.max_len_,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
        )

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
        """``n`` SMILES decoded from latents z ~ N(0, I) drawn with ``seed``."""
        return self.decode(
            self.prior(n, seed),
            temperature,
            top_k=top_k,
            top_p=top_p,
            condition=condition,
            seed=seed,
            batch_size=batch_size,
            max_len=max_len,
        )

    def interpolate(
        self, smiles_a: str, smiles_b: str, steps: int = 10, spherical: bool = True
    ) -> list[str]:
        """``steps`` SMILES decoded greedily along the path between the two
        molecules' latent means (spherical or linear)."""
        a, b = self.encode([smiles_a, smiles_b])
        t = np.linspace(0.0, 1.0, steps)
        path = slerp(a, b, t) if spherical else (1 - t[:, None]) * a + t[:, None] * b
        return self.decode(path, greedy=True)

    # -- archive ---------------------------------------------------------------
    @staticmethod
    def _build_network(config: dict, *, key) -> SequenceVAE:
        return _build(config, key=key)

    def _archive_config(self) -> dict:
        return {
            **super()._archive_config(),
            "property_names": list(self.property_names_),
            "property_scaler": self.property_scaler_.to_dict(),
        }

    def _restore(self, config: dict) -> None:
        super()._restore(config)
        self.property_names_ = tuple(config["property_names"])
        self.property_scaler_ = Standardizer.from_dict(config["property_scaler"])


@eqx.filter_jit
def _build(config: dict, *, key) -> SequenceVAE:
    """The network of an archive's ``network`` config (initialised in one
    compiled call, not one small compilation per random draw)."""
    return SequenceVAE(**config, key=key)


def load_vae(folder: Path, config: dict) -> VAE:
    """Rebuild a :class:`VAE` from its archive."""
    return VAE.from_archive(folder, config)
