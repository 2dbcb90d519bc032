"""Deep ensembles: several copies of a model trained with different seeds.

Lakshminarayanan, Pritzel & Blundell, "Simple and scalable predictive
uncertainty estimation using deep ensembles", NeurIPS 2017. Members differ in
initialisation, shuffling, dropout and validation hold-out; the ensemble
predicts their mean and reports their spread (standard deviation) as the
uncertainty, which should rank molecules by how wrong the mean is.

Example:
    >>> from molmat import PropertyModel
    >>> from molmat.tasks.ensemble import EnsembleModel
    >>> ens = EnsembleModel(PropertyModel(epochs=30), size=5)  # doctest: +SKIP
    >>> mean, spread = ens.fit(smiles, y).predict_with_std(new)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone

from molmat.tasks.predictor import MoleculePredictor
from molmat.training import archive
from molmat.training.engine import History


class EnsembleModel(MoleculePredictor, BaseEstimator):
    """``size`` clones of ``base`` with seeds ``base.seed + i``.

    Args:
        base: an unfitted PropertyModel or ClassicModel (its settings are shared).
        size: number of members.
    """

    def __init__(self, base=None, size: int = 5):
        self.base = base
        self.size = size

    @property
    def model(self) -> str:
        return self.base.model

    def fit(self, X: Sequence, y, **fit_params) -> EnsembleModel:
        """Fit every member on the same data; ``fit_params`` go to each member.

        Members write checkpoints and epoch logs to ``member_<i>`` sub-folders
        of ``checkpoint_dir`` / next to ``metrics_log``.
        """
        if self.base is None or self.size < 2:
            raise ValueError("an ensemble needs a base model and size >= 2")
        tick = time.perf_counter()
        self.members_ = []
        for i in range(self.size):
            member = clone(self.base).set_params(seed=self.base.seed + i)
            params = dict(fit_params)
            if params.get("checkpoint_dir") is not None:
                params["checkpoint_dir"] = (
                    Path(params["checkpoint_dir"]) / f"member_{i}"
                )
            if params.get("metrics_log") is not None and i > 0:
                log = Path(params["metrics_log"])
                params["metrics_log"] = log.with_name(
                    f"{log.stem}_member_{i}{log.suffix}"
                )
            self.members_.append(member.fit(X, y, **params))
        first = self.members_[0]
        self.task_ = first.task_
        self.n_targets_ = first.n_targets_
        self.target_names_ = first.target_names_
        self.elements_ = getattr(first, "elements_", None)
        self.history_ = History(
            records=first.history_.records,
            best_epoch=first.history_.best_epoch,
            compilations=max(m.history_.compilations for m in self.members_),
            size_classes=first.history_.size_classes,
            train_seconds=time.perf_counter() - tick,
        )
        return self

    def member_values(self, X: Sequence) -> np.ndarray:
        """Every member's predictions [size, n, T] (values or probabilities)."""
        return np.stack([m.predict_values(X) for m in self.members_])

    def predict_values(self, X: Sequence) -> np.ndarray:
        """Mean over members [n, T]."""
        return self.member_values(X).mean(axis=0)

    def predict_with_std(self, X: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread (standard deviation over members), [n, T] each."""
        values = self.member_values(X)
        return values.mean(axis=0), values.std(axis=0)

    def _values_and_std(self, X: Sequence) -> tuple[np.ndarray, np.ndarray]:
        return self.predict_with_std(X)

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Folder with ``config.json`` and one member archive per ``member_<i>/``."""
        path = Path(path)
        for i, member in enumerate(self.members_):
            member.save(path / f"member_{i}")
        config = {
            "kind": "ensemble",
            "size": len(self.members_),
            **self.archive_extras(path),
        }
        return archive.save_archive(path, None, config, metrics)


def load_ensemble(folder: Path, config: dict) -> EnsembleModel:
    """Rebuild an :class:`EnsembleModel` from its member archives."""
    from molmat.tasks.archives import load

    try:
        members = [load(folder / f"member_{i}") for i in range(int(config["size"]))]
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, archive.ArchiveError):
            raise
        raise archive.ArchiveError(
            f"{folder}: invalid ensemble config ({err!r})"
        ) from err
    model = EnsembleModel(clone(members[0]), size=len(members))
    model.members_ = members
    model.task_ = members[0].task_
    model.n_targets_ = members[0].n_targets_
    model.target_names_ = members[0].target_names_
    model.history_ = History(best_epoch=members[0].history_.best_epoch)
    model.restore_extras(folder, config)
    return model
