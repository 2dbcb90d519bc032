"""scikit-learn building blocks: molecule featuriser, cleaner, kernel models.

All follow scikit-learn's contract, so they compose with ``Pipeline``,
``cross_val_score`` and ``GridSearchCV``:

    >>> from sklearn.pipeline import make_pipeline
    >>> model = make_pipeline(MoleculeFeaturizer("morgan"), TanimotoKernelRidge())
    >>> model.fit(["CCO", "CCN", "c1ccccc1"], [0.1, 0.3, -1.2]).predict(["CCC"])
    ... # doctest: +SKIP
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.gaussian_process.kernels import Hyperparameter, Kernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.preprocessing import LabelBinarizer
from sklearn.svm import SVC, SVR
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from molmat.classic.kernels import kernel_matrix
from molmat.data.molecules import valid_molecules
from molmat.featurizers.descriptors import check_kind, molecule_features_cached

log = logging.getLogger("molmat")


class MoleculeFeaturizer(TransformerMixin, BaseEstimator):
    """SMILES (or RDKit Mols) -> feature matrix [n, d]; see ``featurizers.descriptors``.

    Args:
        kind: ``morgan``, ``morgan-counts``, ``maccs``, ``rdkit2d``, ``physchem``
            or ``mordred``.
        radius, n_bits: Morgan fingerprint options.
        use_cache: cache features on disk.
    """

    def __init__(
        self, kind: str = "morgan", radius: int = 2, n_bits: int = 2048, use_cache=True
    ):
        self.kind = kind
        self.radius = radius
        self.n_bits = n_bits
        self.use_cache = use_cache

    def fit(self, X, y=None):
        check_kind(self.kind)
        return self

    def transform(self, X) -> np.ndarray:
        keys, mols = valid_molecules(X, "X")
        return molecule_features_cached(
            keys, mols, self.kind, self.radius, self.n_bits, self.use_cache
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags


class DescriptorCleaner(TransformerMixin, BaseEstimator):
    """Drop constant and all-NaN columns, fill NaN, optionally standardise.

    Everything is learned in ``fit`` (training data only): the kept columns,
    their medians (used for missing values) and the scaling. ``clip`` bounds
    the standardised values to ±``clip`` standard deviations (for networks: a
    column almost constant in training cannot send a new input thousands of
    deviations away).

    Attributes:
        kept_: [d_kept] indices of the kept columns.
        dropped_constant_, dropped_nan_: indices of dropped columns.
    """

    def __init__(self, scale: bool = True, clip: float | None = None):
        self.scale = scale
        self.clip = clip

    def fit(self, X, y=None):
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        all_nan = np.isnan(X).all(axis=0)
        with np.errstate(invalid="ignore"):
            spread = np.nanmax(np.where(all_nan, 0, X), axis=0) - np.nanmin(
                np.where(all_nan, 0, X), axis=0
            )
        constant = (spread == 0) & ~all_nan
        self.dropped_nan_ = np.flatnonzero(all_nan)
        self.dropped_constant_ = np.flatnonzero(constant)
        self.kept_ = np.flatnonzero(~all_nan & ~constant)
        kept = X[:, self.kept_]
        self.median_ = np.nanmedian(kept, axis=0) if len(kept) else np.zeros(0)
        filled = np.where(np.isnan(kept), self.median_, kept)
        self.mean_ = filled.mean(axis=0) if self.scale else np.zeros(len(self.kept_))
        std = filled.std(axis=0) if self.scale else np.ones(len(self.kept_))
        self.std_ = np.where(std > 0, std, 1.0)
        if len(self.dropped_nan_) or len(self.dropped_constant_):
            log.debug(
                "dropped %d constant and %d all-NaN feature columns of %d",
                len(self.dropped_constant_),
                len(self.dropped_nan_),
                X.shape[1],
            )
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "kept_")
        X = validate_data(
            self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False
        )
        kept = X[:, self.kept_]
        filled = np.where(np.isnan(kept), self.median_, kept)
        scaled = (filled - self.mean_) / self.std_
        clip = getattr(self, "clip", None)  # archives written before clip: none
        return scaled if clip is None else np.clip(scaled, -clip, clip)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class TanimotoKernel(Kernel):
    """Tanimoto (or MinMax) similarity as a Gaussian-process kernel.

    No hyperparameters of its own: combine it, e.g.
    ``ConstantKernel() * TanimotoKernel() + WhiteKernel()``.
    """

    def __init__(self, kind: str = "tanimoto"):
        self.kind = kind

    @property
    def hyperparameters(self) -> list[Hyperparameter]:
        return []

    def __call__(self, X, Y=None, eval_gradient=False):
        k = kernel_matrix(X, Y, self.kind).astype(np.float64)
        if eval_gradient:
            if Y is not None:
                raise ValueError("gradient only for K(X, X)")
            return k, np.empty((len(X), len(X), 0))
        return k

    def diag(self, X) -> np.ndarray:
        return np.ones(len(X))

    def is_stationary(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"TanimotoKernel(kind={self.kind!r})"


class _PrecomputedKernelModel(BaseEstimator):
    """Fits an estimator with ``kernel="precomputed"`` on Tanimoto/MinMax matrices.

    ``kind`` is ``tanimoto``, ``minmax`` or any scikit-learn pairwise kernel
    (``rbf``, ``linear``...) for continuous descriptors.
    """

    kind: str

    def _gram(self, X, Y) -> np.ndarray:
        if self.kind in ("tanimoto", "minmax"):
            return kernel_matrix(X, Y, self.kind)
        return pairwise_kernels(X, Y, metric=self.kind)

    def _make(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=True)
        self.X_fit_ = X
        self.estimator_ = self._make().fit(self._gram(X, X), y)
        return self

    def _kernel(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self._gram(X, self.X_fit_)

    def predict(self, X) -> np.ndarray:
        k = self._kernel(X)  # checks the model is fitted first
        return self.estimator_.predict(k)


class TanimotoKernelRidge(RegressorMixin, _PrecomputedKernelModel):
    """Kernel ridge regression with a Tanimoto (``kind="minmax"``: MinMax) kernel."""

    def __init__(self, alpha: float = 0.1, kind: str = "tanimoto"):
        self.alpha = alpha
        self.kind = kind

    def _make(self):
        return KernelRidge(alpha=self.alpha, kernel="precomputed")


class TanimotoSVR(RegressorMixin, _PrecomputedKernelModel):
    """Support-vector regression with a Tanimoto/MinMax kernel."""

    def __init__(self, C: float = 1.0, epsilon: float = 0.1, kind: str = "tanimoto"):
        self.C = C
        self.epsilon = epsilon
        self.kind = kind

    def _make(self):
        return SVR(C=self.C, epsilon=self.epsilon, kernel="precomputed")


class TanimotoSVC(ClassifierMixin, _PrecomputedKernelModel):
    """Support-vector classification with a Tanimoto/MinMax kernel.

    Scores come from ``decision_function`` (margins; enough for ROC-AUC).
    """

    def __init__(self, C: float = 1.0, kind: str = "tanimoto", class_weight=None):
        self.C = C
        self.kind = kind
        self.class_weight = class_weight

    def _make(self):
        return SVC(C=self.C, kernel="precomputed", class_weight=self.class_weight)

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.X_fit_ = X
        self.estimator_ = self._make().fit(self._gram(X, X), y)
        self.classes_ = self.estimator_.classes_
        return self

    def decision_function(self, X) -> np.ndarray:
        k = self._kernel(X)  # checks the model is fitted first
        return self.estimator_.decision_function(k)


class TanimotoKernelRidgeClassifier(ClassifierMixin, _PrecomputedKernelModel):
    """Kernel ridge on ±1 class indicators with a Tanimoto/MinMax (or RBF) kernel.

    The kernel analogue of scikit-learn's ``RidgeClassifier``: one kernel ridge
    fit per class (one column for two classes) to +1/−1 targets around their
    (weighted) mean, which acts as the intercept; the class with the largest
    output wins. ``class_weight="balanced"`` weighs each training molecule by
    n / (n_classes · n_of_its_class). Scores come from ``decision_function``
    ([n] for two classes, [n, n_classes] otherwise).
    """

    def __init__(self, alpha: float = 0.1, kind: str = "tanimoto", class_weight=None):
        self.alpha = alpha
        self.kind = kind
        self.class_weight = class_weight

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
        targets = binarizer.fit_transform(y).astype(np.float64)
        self.classes_ = binarizer.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"needs at least 2 classes; got 1 class: {self.classes_}")
        weights = compute_sample_weight(self.class_weight, y)
        self.intercept_ = np.average(targets, axis=0, weights=weights)
        self.X_fit_ = X
        self.estimator_ = KernelRidge(alpha=self.alpha, kernel="precomputed").fit(
            self._gram(X, X), targets - self.intercept_, sample_weight=weights
        )
        return self

    def decision_function(self, X) -> np.ndarray:
        k = self._kernel(X)  # checks the model is fitted first
        scores = self.estimator_.predict(k).reshape(len(k), -1) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]
