"""A multilayer perceptron on descriptor vectors, in JAX, with scikit-learn's contract.

The first deep model of the field: fingerprints or descriptors in, a few
dense ReLU layers, one number out. Training is minibatch AdamW; one epoch is
one jitted ``lax.scan`` over shuffled batches, and the epoch with the best
loss on a held-out share of the training data is kept (early stopping).
Fitted weights are stored as plain NumPy arrays, so models pickle and save
with skops.

Example:
    >>> import numpy as np
    >>> from molmat.classic.mlp import MLPRegressor
    >>> X = np.random.default_rng(0).normal(size=(200, 8))
    >>> y = X @ np.arange(8.0)
    >>> MLPRegressor(epochs=50).fit(X, y).predict(X[:3]).shape
    (3,)
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from molmat.nn.core import MLP


class _MLPBase(BaseEstimator):
    """Shared fitting code; subclasses say how targets become outputs and loss."""

    def __init__(
        self,
        hidden: int = 512,
        layers: int = 2,
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 200,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        patience: int = 30,
        seed: int = 0,
    ):
        self.hidden = hidden
        self.layers = layers
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.patience = patience
        self.seed = seed

    _task = "regression"

    def _targets(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _template(self, n_in: int, n_out: int, key) -> MLP:
        return MLP(
            n_in,
            self.hidden,
            n_out,
            n_hidden=self.layers,
            dropout=self.dropout,
            key=key,
        )

    def _network(self) -> MLP:
        template = self._template(
            self.n_features_in_, self.n_outputs_, jax.random.key(0)
        )
        arrays, static = eqx.partition(template, eqx.is_array)
        treedef = jax.tree.structure(arrays)
        return eqx.combine(jax.tree.unflatten(treedef, self.weights_), static)

    def fit(self, X, y):
        """Fit on features X [n, d] and targets y [n]; returns self."""
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=False)
        weight = np.ones(len(X), np.float32)  # _run_epoch zeroes padded rows
        targets = self._targets(y)
        class_weight = getattr(self, "class_weights_", np.ones(1, np.float32))
        n = len(X)
        order = np.random.default_rng(self.seed).permutation(n)
        n_val = int(round(self.val_fraction * n)) if n >= 20 else 0
        val, train = order[:n_val], order[n_val:]
        key, init_key = jax.random.split(jax.random.key(self.seed))
        net = self._template(X.shape[1], self.n_outputs_, init_key)
        settings = _Settings(
            self._task, self.lr, self.weight_decay, min(self.batch_size, len(train))
        )
        opt_state = settings.optimizer().init(eqx.filter(net, eqx.is_array))
        train_data = (X[train], targets[train], weight[train], class_weight)
        val_data = (X[val], targets[val], weight[val], class_weight)
        best, best_loss, waited = net, np.inf, 0
        self.loss_curve_ = []
        for _ in range(self.epochs):
            key, epoch_key = jax.random.split(key)
            net, opt_state, loss = _run_epoch(
                net, opt_state, epoch_key, *train_data, settings
            )
            self.loss_curve_.append(float(loss))
            if n_val == 0:
                best = net
                continue
            val_loss = float(_eval_loss(net, *val_data, settings.task))
            if val_loss < best_loss:
                best, best_loss, waited = net, val_loss, 0
            else:
                waited += 1
                if waited > self.patience:
                    break
        self.n_epochs_ = len(self.loss_curve_)
        self.weights_ = [
            np.asarray(a) for a in jax.tree.leaves(eqx.filter(best, eqx.is_array))
        ]
        return self

    def _raw(self, X) -> np.ndarray:
        check_is_fitted(self, "weights_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return np.asarray(_apply(self._network(), jnp.asarray(X)))


@dataclass(frozen=True)
class _Settings:
    """Static training settings (hashable, so jitted code is reused across fits)."""

    task: str
    lr: float
    weight_decay: float
    batch: int

    def optimizer(self) -> optax.GradientTransformation:
        return optax.adamw(self.lr, weight_decay=self.weight_decay)


def _loss(task: str, out, t, w, class_weight) -> jax.Array:
    """Weighted mean squared error (regression) or weighted cross-entropy."""
    if task == "regression":
        per_row = ((out - t) ** 2).sum(axis=-1)
    else:
        w = w * class_weight[t]
        per_row = optax.softmax_cross_entropy_with_integer_labels(out, t)
    return (per_row * w).sum() / jnp.maximum(w.sum(), 1e-12)


@eqx.filter_jit
def _eval_loss(net: MLP, x, t, w, class_weight, task: str) -> jax.Array:
    return _loss(task, net(x, inference=True), t, w, class_weight)


@eqx.filter_jit
def _run_epoch(net: MLP, opt_state, key, x, t, w, class_weight, settings: _Settings):
    """One epoch: shuffle, cut into padded batches, ``lax.scan`` AdamW steps."""
    params, static = eqx.partition(net, eqx.is_array)
    optimizer = settings.optimizer()
    n, batch = x.shape[0], settings.batch
    n_batches = -(-n // batch)
    pad = n_batches * batch - n
    perm_key, drop_key = jax.random.split(key)
    rows = jnp.concatenate([jax.random.permutation(perm_key, n), jnp.zeros(pad, int)])
    real = jnp.concatenate([jnp.ones(n), jnp.zeros(pad)])

    def step(carry, inputs):
        params, opt_state = carry
        idx, mask, k = inputs

        def loss_fn(params):
            out = eqx.combine(params, static)(x[idx], key=k, inference=False)
            return _loss(settings.task, out, t[idx], w[idx] * mask, class_weight)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    keys = jax.random.split(drop_key, n_batches)
    inputs = (rows.reshape(n_batches, batch), real.reshape(n_batches, batch), keys)
    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), inputs)
    return eqx.combine(params, static), opt_state, losses.mean()


@eqx.filter_jit
def _apply(net: MLP, x: jax.Array) -> jax.Array:
    return net(x, inference=True)


class MLPRegressor(RegressorMixin, _MLPBase):
    """MLP regression on standardised targets; predictions in original units.

    Args:
        hidden: width of each hidden layer.
        layers: number of hidden layers.
        dropout: dropout rate after each hidden layer.
        lr, weight_decay: AdamW settings.
        epochs: maximum epochs.
        batch_size: rows per minibatch.
        val_fraction: share held out for early stopping (none under 20 rows).
        patience: epochs without a better held-out loss before stopping.
        seed: seed of initialisation, shuffling, dropout and the hold-out.
    """

    def _targets(self, y):
        y = np.asarray(y, np.float64)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D; got shape {y.shape}")
        self.n_outputs_ = 1
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32)[:, None]

    def predict(self, X) -> np.ndarray:
        """Predicted values [n]."""
        return self._raw(X)[:, 0] * self.y_scale_ + self.y_mean_


class MLPClassifier(ClassifierMixin, _MLPBase):
    """MLP classification with a softmax output over the classes.

    Takes the regressor's arguments and ``class_weight``: ``"balanced"``
    (each class weighted by n / (n_classes * n_class)), a ``{class: weight}``
    dict, or ``None``.
    """

    def __init__(
        self,
        hidden: int = 512,
        layers: int = 2,
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 200,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        patience: int = 30,
        seed: int = 0,
        class_weight: str | dict | None = None,
    ):
        super().__init__(
            hidden,
            layers,
            dropout,
            lr,
            weight_decay,
            epochs,
            batch_size,
            val_fraction,
            patience,
            seed,
        )
        self.class_weight = class_weight

    _task = "classification"

    def _targets(self, y):
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has 1 class ({self.classes_[0]!r}); a classifier needs two or more"
            )
        self.n_outputs_ = len(self.classes_)
        if self.class_weight == "balanced":
            counts = np.bincount(codes, minlength=self.n_outputs_)
            weights = len(codes) / (self.n_outputs_ * counts)
        elif isinstance(self.class_weight, dict):
            weights = [self.class_weight.get(c, 1.0) for c in self.classes_]
        else:
            weights = np.ones(self.n_outputs_)
        self.class_weights_ = np.asarray(weights, np.float32)
        return codes.astype(np.int32)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities [n, n_classes] in the order of ``classes_``."""
        return np.asarray(jax.nn.softmax(self._raw(X), axis=-1), np.float64)

    def predict(self, X) -> np.ndarray:
        """Most probable class of each row [n]."""
        raw = self._raw(X)
        return self.classes_[np.argmax(raw, axis=-1)]
