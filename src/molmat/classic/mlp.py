"""A multilayer perceptron on descriptor vectors, in JAX, with scikit-learn's contract.

The first deep model of the field: fingerprints or descriptors in, a few
dense ReLU layers, one number out. Training is minibatch AdamW; one epoch is
one jitted ``lax.scan`` over shuffled batches on the shared training engine
(checkpoints and exact resume included), and the epoch with the best loss on a
held-out share of the training data is kept (early stopping).
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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from molmat.data.batching import row_batches
from molmat.data.statistics import Standardizer
from molmat.nn.compilation import precision
from molmat.nn.core import MLP
from molmat.training.engine import EarlyStopping, Engine, OptimizerConfig


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

    def fit(self, X, y, checkpoint_dir=None, resume: bool = False):
        """Fit on features X [n, d] and targets y [n]; returns self.

        Args:
            checkpoint_dir: write a checkpoint after every epoch here.
            resume: continue from the checkpoint in ``checkpoint_dir``.
        """
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=False)
        targets = self._targets(y)
        n, class_weight = len(X), getattr(self, "class_weights_", None)
        weight = (  # per row: its class weight (classification) or 1
            np.ones(n, np.float32) if class_weight is None else class_weight[targets]
        )
        n_val = int(round(self.val_fraction * n)) if n >= 20 else 0
        order = np.random.default_rng(self.seed).permutation(n)
        val, train = order[:n_val], order[n_val:]
        batch = min(self.batch_size, len(train))
        loss_fn = _LOSSES[self._task]

        def validate(net):
            loss = float(_eval_loss(net, X[val], targets[val], weight[val]))
            return {"loss": loss}, loss

        engine = Engine(
            loss_fn,
            OptimizerConfig(lr=self.lr, weight_decay=self.weight_decay),
            epochs=self.epochs,
            seed=self.seed,
            callbacks=[EarlyStopping(self.patience)] if n_val else [],
            validate=validate if n_val else None,
            checkpoint_dir=checkpoint_dir,
            fingerprint={**self.get_params(), "epochs": None},
            scan=True,
            progress=False,
        )
        init_key = jax.random.split(jax.random.key(self.seed))[1]
        net = self._template(X.shape[1], self.n_outputs_, init_key)

        def batches(epoch: int):
            rows = np.random.default_rng([self.seed, epoch]).permutation(train)
            return _padded_batches(X, targets, weight, rows, batch)

        best, history = engine.fit(net, batches, resume=resume)
        self.loss_curve_ = [r["train_loss"] for r in history.records]
        self.n_epochs_ = len(self.loss_curve_)
        self.weights_ = [
            np.asarray(a) for a in jax.tree.leaves(eqx.filter(best, eqx.is_array))
        ]
        return self

    def _raw(self, X) -> np.ndarray:
        """Network outputs [n, n_outputs], computed in float64.

        Double precision makes each row's output independent of the rows
        beside it (float32 matrix kernels round a row differently by its
        position in the batch), so predictions do not depend on row order.
        """
        check_is_fitted(self, "weights_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        with precision(True):
            net = jax.tree.map(
                lambda a: a.astype(jnp.float64) if eqx.is_array(a) else a,
                self._network(),
            )
            return np.asarray(_apply(net, jnp.asarray(X)))


def _regression_loss(net: MLP, data, key) -> tuple[jax.Array, jax.Array]:
    """Weighted mean squared error of a batch ``(x, t, w)``."""
    x, t, w = data
    per_row = ((net(x, key=key, inference=key is None) - t) ** 2).sum(axis=-1)
    return (per_row * w).sum() / jnp.maximum(w.sum(), 1e-12), jnp.zeros(0)


def _classification_loss(net: MLP, data, key) -> tuple[jax.Array, jax.Array]:
    """Weighted softmax cross-entropy of a batch ``(x, t, w)``."""
    x, t, w = data
    out = net(x, key=key, inference=key is None)
    per_row = optax.softmax_cross_entropy_with_integer_labels(out, t)
    return (per_row * w).sum() / jnp.maximum(w.sum(), 1e-12), jnp.zeros(0)


_LOSSES = {"regression": _regression_loss, "classification": _classification_loss}


@eqx.filter_jit
def _eval_loss(net: MLP, x, t, w) -> jax.Array:
    loss_fn = _LOSSES["regression" if t.ndim == 2 else "classification"]
    return loss_fn(net, (x, t, w), None)[0]


def _padded_batches(X, targets, weight, rows: np.ndarray, batch: int):
    """``rows`` in batches (:func:`~molmat.data.batching.row_batches`):
    ``(x [B, batch, d], t [B, batch, ...], w [B, batch])``, padding at
    weight 0."""
    idx, real = row_batches(rows, batch)
    return X[idx], targets[idx], (weight[idx] * real).astype(np.float32)


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
        self.y_scaler_ = Standardizer.fit(y[:, None])
        return self.y_scaler_.transform(y[:, None])

    def predict(self, X) -> np.ndarray:
        """Predicted values [n]."""
        raw = self._raw(X)
        return self.y_scaler_.inverse(raw)[:, 0]


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
