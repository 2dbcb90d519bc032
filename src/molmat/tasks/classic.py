"""``ClassicModel``: descriptors or fingerprints + a scikit-learn model.

The same interface as :class:`~molmat.tasks.property.PropertyModel`, so run
folders, ``molmat predict`` and ``molmat evaluate`` treat both alike.

Example:
    >>> from molmat.tasks.classic import ClassicModel
    >>> rf = ClassicModel("rf", features="morgan").fit(smiles, logS)  # doctest: +SKIP
    >>> gp = ClassicModel(model="gp").fit(smiles, logS)  # doctest: +SKIP
    >>> mean, std = gp.predict_with_std(["CCO"])  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import skops.io as sio
from scipy.special import expit
from sklearn.base import BaseEstimator

from molmat.classic.models import make_estimator
from molmat.data.compositions import compositions
from molmat.data.console import reported_warnings
from molmat.data.crystals import element_lists, structures
from molmat.data.csv import DataError
from molmat.data.molecules import (
    TASKS,
    as_targets,
    infer_task,
    molecules,
    valid_molecules,
)
from molmat.featurizers.composition import COMPOSITION_SETS, composition_features
from molmat.featurizers.descriptors import check_kind, molecule_features_cached
from molmat.featurizers.structure import STRUCTURE_SETS, structure_features
from molmat.tasks.predictor import MoleculePredictor
from molmat.training import archive
from molmat.training.engine import History

# Every type a saved ClassicModel holds beyond skops's own safe defaults, named
# one by one: a name under numpy/scipy/sklearn can be any function, and loading
# a function node can call it. tests/classic/test_archive_security.py rebuilds
# this set from every estimator make_estimator returns.
TRUSTED_TYPES = frozenset(
    {
        "molmat.classic.estimators.DescriptorCleaner",
        "molmat.classic.estimators.TanimotoKernel",
        "molmat.classic.estimators.TanimotoKernelRidge",
        "molmat.classic.estimators.TanimotoKernelRidgeClassifier",
        "molmat.classic.estimators.TanimotoSVC",
        "molmat.classic.estimators.TanimotoSVR",
        "molmat.classic.mlp.MLPClassifier",
        "molmat.classic.mlp.MLPRegressor",
        "molmat.data.statistics.Standardizer",
        "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
        "sklearn.gaussian_process.kernels.ConstantKernel",
        "sklearn.gaussian_process.kernels.Product",
        "sklearn.gaussian_process.kernels.RBF",
        "sklearn.gaussian_process.kernels.Sum",
        "sklearn.gaussian_process.kernels.WhiteKernel",
        "sklearn.tree._tree.Tree",
    }
)


class ClassicModel(MoleculePredictor, BaseEstimator):
    """A descriptor/fingerprint model: one scikit-learn pipeline per target.

    Args:
        model: ``rf``, ``gp``, ``krr``, ``svr`` (SVM; SVC for classification),
            ``ridge``, ``lasso``, ``linear``, ``logistic`` or ``mlp`` (a JAX
            network, :mod:`molmat.classic.mlp`).
        features: ``morgan`` (default), ``morgan-counts``, ``fragprints``,
            ``maccs``, ``rdkit2d``, ``physchem`` or ``mordred`` of molecules
            (SMILES); ``magpie`` of compositions (chemical formulas, see
            :mod:`molmat.featurizers.composition`); or ``magpie-structure``
            of crystal structures (:mod:`molmat.featurizers.structure`).
        radius, n_bits: Morgan options (radius 2, 2048 bits = ECFP4).
        task: ``auto``, ``regression`` or ``classification``.
        class_weight: ``"balanced"`` or ``None`` (classification).
        seed: random state of the model.
        use_cache: cache features on disk.
    """

    def __init__(
        self,
        model: str = "rf",
        features: str = "morgan",
        radius: int = 2,
        n_bits: int = 2048,
        task: str = "auto",
        class_weight: str | None = None,
        seed: int = 0,
        use_cache: bool = True,
    ):
        self.model = model
        self.features = features
        self.radius = radius
        self.n_bits = n_bits
        self.task = task
        self.class_weight = class_weight
        self.seed = seed
        self.use_cache = use_cache

    @property
    def input_kind(self) -> str:
        """What the model reads: ``molecule`` (SMILES), ``composition``
        (chemical formulas) or ``structure`` (crystal structures)."""
        if self.features in COMPOSITION_SETS:
            return "composition"
        if self.features in STRUCTURE_SETS:
            return "structure"
        return "molecule"

    def _features(self, X: Sequence, name: str) -> np.ndarray:
        if self.input_kind == "molecule":
            keys, mols = valid_molecules(X, name)
            return molecule_features_cached(
                keys, mols, self.features, self.radius, self.n_bits, self.use_cache
            )
        items, reasons = self._parsed(X)
        bad = [f"{i}: {r}" for i, r in enumerate(reasons) if r]
        if bad:
            raise DataError(
                f"{name} has {len(bad)} bad {self.input_kind}s: " + "; ".join(bad[:5])
            )
        if self.input_kind == "composition":
            return composition_features(items, self.features)
        return structure_features(items, self.features)

    def _parsed(self, X: Sequence) -> tuple[list, list[str]]:
        """Per item of ``X``: its molecule, composition or structure (``None``
        if unusable) and the reason (``""`` if usable)."""
        if self.input_kind == "composition":
            return compositions(X)
        if self.input_kind == "structure":
            return structures(X)
        _, mols, reasons = molecules(X)
        return mols, reasons

    def _elements(self, X: Sequence) -> list[list[str]]:
        """Element symbols of each usable item of ``X`` ([] if unusable)."""
        if self.input_kind == "structure":
            return element_lists(X)
        items, _ = compositions(X)
        return [list(c.symbols) if c is not None else [] for c in items]

    def _record_elements(self, X: Sequence) -> None:
        if self.input_kind == "molecule":
            super()._record_elements(X)
        else:
            self.elements_ = sorted({e for found in self._elements(X) for e in found})

    def unseen_elements(self, X: Sequence) -> list[list[str]] | None:
        if self.input_kind == "molecule" or getattr(self, "elements_", None) is None:
            return super().unseen_elements(X)
        known = set(self.elements_)
        return [sorted(set(found) - known) for found in self._elements(X)]

    def fit(
        self,
        X: Sequence,
        y,
        *,
        target_names: list[str] | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        **_,
    ):
        """Fit one pipeline per target on its labelled rows.

        ``checkpoint_dir`` and ``resume`` reach the epoch-wise ``mlp`` (one
        ``target_<j>`` sub-folder each); the deep models' ``X_val``, ``y_val``
        and ``metrics_log`` keywords are accepted and ignored, so both kinds
        of model run through the same code.
        """
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.input_kind == "molecule":
            check_kind(self.features)
        y = as_targets(y, "y")
        features = self._features(X, "X")
        if len(features) != len(y):
            raise DataError(f"X has {len(features)} molecules but y has {len(y)} rows")
        self.task_ = infer_task(y) if self.task == "auto" else self.task
        self.n_targets_ = y.shape[1]
        self.target_names_ = list(target_names or [f"y{j}" for j in range(y.shape[1])])
        self._record_elements(X)
        tick = time.perf_counter()
        self.estimators_ = []
        for j in range(self.n_targets_):
            known = ~np.isnan(y[:, j])
            estimator = make_estimator(
                self.model, self.task_, self.features, self.seed, self.class_weight
            )
            fit_params = {}
            if self.model == "mlp" and checkpoint_dir is not None:
                fit_params = {
                    "model__checkpoint_dir": Path(checkpoint_dir) / f"target_{j}",
                    "model__resume": resume,
                }
            context = f"{self.model} on {self.features}, {self.target_names_[j]}"
            with reported_warnings(context):
                fitted = estimator.fit(features[known], y[known, j], **fit_params)
            self.estimators_.append(fitted)
        self.history_ = History(train_seconds=time.perf_counter() - tick, best_epoch=0)
        return self

    def predict_values(self, X: Sequence) -> np.ndarray:
        """Predictions [n, T]: values, or positive-class probabilities/scores."""
        X = list(X)
        features, rows = self.input_features(X)
        out = np.full((len(X), self.n_targets_), np.nan, dtype=np.float32)
        if len(rows):
            for j in range(self.n_targets_):
                out[rows, j] = self.predict_features(features, j)
        return out

    def input_features(self, X: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Feature matrix [g, F] of the usable molecules (compositions,
        structures) of ``X`` and their positions [g] in ``X``."""
        items, reasons = self._parsed(X)
        rows = np.array([i for i, r in enumerate(reasons) if not r], np.int64)
        if not len(rows):
            return np.zeros((0, 0), np.float32), rows
        return self._features([items[i] for i in rows], "X"), rows

    def predict_features(self, features: np.ndarray, target: int = 0) -> np.ndarray:
        """Predictions [n] of target ``target`` from a feature matrix [n, F]
        (as :meth:`input_features` makes them)."""
        return self._predict_one(self.estimators_[target], features)

    def _predict_one(self, estimator, features: np.ndarray) -> np.ndarray:
        if self.task_ == "regression":
            return estimator.predict(features)
        if hasattr(estimator, "predict_proba"):
            return estimator.predict_proba(features)[:, 1]
        return expit(estimator.decision_function(features))

    def predict_with_std(self, X: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Gaussian-process mean and predictive standard deviation, [n, T] each
        (NaN for unusable molecules)."""
        if not self._is_gp_regression():
            raise AttributeError("predictive standard deviations need a GP regression")
        X = list(X)
        features, rows = self.input_features(X)
        mean = np.full((len(X), self.n_targets_), np.nan)
        std = np.full((len(X), self.n_targets_), np.nan)
        if len(rows):
            for j, estimator in enumerate(self.estimators_):
                mean[rows, j], std[rows, j] = estimator.predict(
                    features, return_std=True
                )
        return mean, std

    def _is_gp_regression(self) -> bool:
        return self.model == "gp" and self.task_ == "regression"

    def _values_and_std(self, X: Sequence) -> tuple[np.ndarray, np.ndarray | None]:
        """GP regressions: mean and predictive σ; other models: values, ``None``."""
        if self._is_gp_regression():
            return self.predict_with_std(X)
        return super()._values_and_std(X)

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Archive folder: config.json, one skops file per target, metrics.json."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for j, estimator in enumerate(self.estimators_):
            sio.dump(estimator, path / f"target_{j}.skops")
        config = {
            "kind": "classic",
            "params": self.get_params(),
            "task": self.task_,
            "target_names": self.target_names_,
            **self.archive_extras(path),
        }
        return archive.save_archive(path, None, config, metrics)


def load_classic(folder: Path, config: dict) -> ClassicModel:
    """Rebuild a :class:`ClassicModel`; only the types molmat writes load.

    Raises:
        ArchiveError: incomplete config, a missing or damaged model file, or a
            file holding any type outside :data:`TRUSTED_TYPES`.
    """
    try:
        model = ClassicModel(**config["params"])
        model.task_ = config["task"]
        model.target_names_ = list(config["target_names"])
    except (KeyError, TypeError) as err:
        raise archive.ArchiveError(f"{folder}: incomplete config ({err!r})") from err
    model.n_targets_ = len(model.target_names_)
    model.estimators_ = [
        _load_estimator(folder, folder / f"target_{j}.skops")
        for j in range(model.n_targets_)
    ]
    model.history_ = History(best_epoch=0)
    model.restore_extras(folder, config)
    return model


def _load_estimator(folder: Path, file: Path):
    """One skops file, refused before anything in it is built if it is not ours."""
    try:
        refused = sorted(set(sio.get_untrusted_types(file=file)) - TRUSTED_TYPES)
        if refused:
            raise archive.ArchiveError(
                f"{file}: refusing to load types molmat does not write: {refused}"
            )
        return sio.load(file, trusted=sorted(TRUSTED_TYPES))
    except FileNotFoundError as err:
        raise archive.ArchiveError(f"{folder}: {file.name} is missing") from err
    except archive.ArchiveError:
        raise
    except Exception as err:  # a damaged zip or schema raises many types
        raise archive.ArchiveError(f"{file}: corrupted model file ({err})") from err
