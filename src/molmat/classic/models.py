"""The classic model zoo: name + task + feature type -> scikit-learn estimator.

Fingerprints get similarity kernels (Tanimoto on bits, MinMax on counts);
continuous descriptors are cleaned (constant/NaN columns dropped, scaled on
the training data) and get RBF kernels. ``mlp`` is a JAX network on the same
features (:mod:`molmat.classic.mlp`).
"""

from __future__ import annotations

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, SVR

from molmat.classic.estimators import (
    DescriptorCleaner,
    TanimotoKernel,
    TanimotoKernelRidge,
    TanimotoKernelRidgeClassifier,
    TanimotoSVC,
    TanimotoSVR,
)
from molmat.classic.mlp import MLPClassifier, MLPRegressor
from molmat.featurizers.descriptors import BINARY_SETS, COUNT_SETS, DESCRIPTOR_CLIP

CLASSIC_MODELS = (
    "rf",
    "gp",
    "krr",
    "svr",
    "ridge",
    "lasso",
    "linear",
    "logistic",
    "mlp",
)
REGRESSORS = ("rf", "gp", "krr", "svr", "ridge", "lasso", "linear", "mlp")
# "svr" is the SVM (SVC) and "krr" kernel ridge on ±1 labels for classification.
CLASSIFIERS = ("rf", "gp", "krr", "svr", "logistic", "mlp")


def kernel_kind(features: str) -> str | None:
    """``tanimoto`` for bits, ``minmax`` for counts, ``None`` for real values."""
    if features in BINARY_SETS:
        return "tanimoto"
    if features in COUNT_SETS:
        return "minmax"
    return None


def make_estimator(
    name: str,
    task: str,
    features: str,
    seed: int = 0,
    class_weight: str | None = None,
) -> Pipeline:
    """A ``Pipeline(clean, model)`` for one target on a feature matrix.

    Raises:
        ValueError: unknown name, or a model that does not do this task.
    """
    allowed = REGRESSORS if task == "regression" else CLASSIFIERS
    if name not in allowed:
        raise ValueError(
            f"model {name!r} does not do {task}; choose one of {list(allowed)}"
        )
    kind = kernel_kind(features)
    # Fingerprints stay raw (similarity kernels, trees); descriptors get scaled,
    # and clipped for the network as the graph networks clip theirs.
    scale = kind is None
    clip = DESCRIPTOR_CLIP if scale and name == "mlp" else None
    clean = DescriptorCleaner(scale=scale, clip=clip)
    if task == "regression":
        model = _regressor(name, kind, seed)
    else:
        model = _classifier(name, kind, seed, class_weight)
    return Pipeline([("clean", clean), ("model", model)])


def _regressor(name: str, kind: str | None, seed: int):
    if name == "rf":
        return RandomForestRegressor(n_estimators=500, n_jobs=-1, random_state=seed)
    if name == "gp":
        similarity = TanimotoKernel(kind) if kind else RBF(length_scale=10.0)
        return GaussianProcessRegressor(
            ConstantKernel() * similarity + WhiteKernel(),
            normalize_y=True,
            random_state=seed,
        )
    if name == "krr":
        return TanimotoKernelRidge(kind=kind) if kind else KernelRidge(kernel="rbf")
    if name == "svr":
        return TanimotoSVR(kind=kind) if kind else SVR()
    if name == "ridge":
        return Ridge()
    if name == "lasso":
        return Lasso(alpha=0.01, max_iter=20000)
    if name == "mlp":
        return MLPRegressor(seed=seed)
    return LinearRegression()


def _classifier(name: str, kind: str | None, seed: int, class_weight: str | None):
    if name == "rf":
        return RandomForestClassifier(
            n_estimators=500, n_jobs=-1, random_state=seed, class_weight=class_weight
        )
    if name == "gp":
        similarity = TanimotoKernel(kind) if kind else RBF(length_scale=10.0)
        return GaussianProcessClassifier(
            ConstantKernel() * similarity, random_state=seed
        )
    if name == "krr":
        return TanimotoKernelRidgeClassifier(
            kind=kind or "rbf", class_weight=class_weight
        )
    if name == "svr":
        if kind:
            return TanimotoSVC(kind=kind, class_weight=class_weight)
        return SVC(class_weight=class_weight)
    if name == "mlp":
        return MLPClassifier(seed=seed, class_weight=class_weight)
    return LogisticRegression(max_iter=5000, class_weight=class_weight)
