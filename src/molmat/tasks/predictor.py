"""What every molecular property estimator shares, whatever its model.

Besides predictions, every model records the elements of its training
molecules (``elements_``, saved in its archive as ``elements``) and may carry
the calibration of prediction intervals (``intervals_``, one
:class:`~molmat.classic.intervals.Calibration` per target, saved under
``intervals`` and, for bootstrap models, ``intervals/target_<j>/``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molmat.classic.intervals import Calibration
from molmat.data.csv import MoleculeTable
from molmat.data.molecules import (
    as_predictions,
    as_targets,
    elements,
    molecules,
    unseen_elements,
)
from molmat.tasks.archives import load
from molmat.training import archive
from molmat.training.metrics import score
from molmat.training.serialization import load_npz, save_npz

log = logging.getLogger("molmat")


class MoleculePredictor:
    """``predict``, ``predict_proba`` and ``score_molecules`` from ``predict_values``.

    Shared by every property model; subclasses define ``predict_values(X)``
    ([n, T] values or probabilities) and the fitted ``task_``, ``n_targets_``
    and ``target_names_``; a model with its own predictive spread overrides
    ``_values_and_std``.
    """

    def predict(self, X: Sequence) -> np.ndarray:
        """Values [n] (or [n, T] for several targets); 0/1 labels for classification."""
        return as_predictions(self.predict_values(X), self.task_)

    def predict_proba(self, X: Sequence) -> np.ndarray:
        """Positive-class probabilities [n] (or [n, T]); classification only."""
        if self.task_ != "classification":
            raise AttributeError("predict_proba is for classification models")
        values = self.predict_values(X)
        return values[:, 0] if self.n_targets_ == 1 else values

    def score_molecules(self, X: Sequence, y) -> dict:
        """Metrics of the predictions for ``X`` against ``y`` (see :func:`score`)."""
        y = as_targets(y, "y")
        return score(self.task_, y, self.predict_values(X), self.target_names_)

    def predict_with_uncertainty(self, X: Sequence) -> dict[str, np.ndarray]:
        """Predictions and the uncertainty this model has, [n, T] each (NaN: none).

        Keys: ``pred`` (values or probabilities, as :meth:`predict_values`);
        ``std`` for Gaussian-process regressions (predictive σ), ensembles
        (spread over members) and bootstrap-interval models (spread over the
        refits); ``lower``/``upper`` for models trained with prediction
        intervals (at the ``alpha`` they were trained with).
        """
        pred, std = self._values_and_std(X)
        result = {"pred": np.asarray(pred, np.float64)}
        if std is not None:
            result["std"] = np.asarray(std, np.float64)
        calibrations = self._calibrations()
        if not calibrations:
            return result
        shape = result["pred"].shape
        lower, upper, spreads = (np.full(shape, np.nan) for _ in range(3))
        for j, calibration in enumerate(calibrations):
            own = result["std"][:, j] if "std" in result else None
            low, high, _, spread = calibration.bounds(X, result["pred"][:, j], own)
            lower[:, j], upper[:, j] = low, high
            if spread is not None:
                spreads[:, j] = spread
        if "std" not in result and not np.isnan(spreads).all():
            result["std"] = spreads  # a model's own spread wins over its refits'
        return {**result, "lower": lower, "upper": upper}

    def _values_and_std(self, X: Sequence) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions [n, T] and the model's own predictive spread (``None``)."""
        return self.predict_values(X), None

    def _calibrations(self) -> list[Calibration]:
        return list(getattr(self, "intervals_", None) or [])

    def unseen_elements(self, X: Sequence) -> list[list[str]] | None:
        """Per molecule of ``X``, the elements absent from the training molecules.

        ``None`` for models saved without that record (older archives).
        """
        known = getattr(self, "elements_", None)
        if known is None:
            return None
        return unseen_elements(molecules(X)[1], known)

    def _record_elements(self, X: Sequence) -> None:
        """Remember the elements of the training molecules ``X``."""
        self.elements_ = elements(molecules(X)[1])

    def archive_extras(self, path: str | Path) -> dict:
        """Config entries of the training elements and interval calibration;
        bootstrap refits and residuals are written under ``path/intervals``."""
        extras = {}
        if getattr(self, "elements_", None) is not None:
            extras["elements"] = list(self.elements_)
        calibrations = self._calibrations()
        if calibrations:
            extras["intervals"] = [
                _save_calibration(c, Path(path) / "intervals" / f"target_{j}")
                for j, c in enumerate(calibrations)
            ]
        return extras

    def restore_extras(self, folder: Path, config: dict) -> None:
        """Set ``elements_`` and ``intervals_`` from an archive (absent: ``None``).

        Raises:
            ArchiveError: an ``intervals`` entry that cannot be read.
        """
        self.elements_ = config.get("elements")
        entries = config.get("intervals")
        try:
            self.intervals_ = entries and [
                _load_calibration(folder / "intervals" / f"target_{j}", entry)
                for j, entry in enumerate(entries)
            ]
        except (KeyError, TypeError, ValueError, OSError) as err:
            if isinstance(err, archive.ArchiveError):
                raise
            raise archive.ArchiveError(
                f"{folder}: unreadable interval calibration ({err!r})"
            ) from err


def table_predictions(
    model: MoleculePredictor, table: MoleculeTable
) -> dict[str, np.ndarray]:
    """:meth:`~MoleculePredictor.predict_with_uncertainty` of ``table``'s
    molecules placed at their input rows: [n_rows, T] each, NaN for rows
    whose SMILES cannot be used."""
    shape = (table.report.n_rows, model.n_targets_)
    if not len(table):
        return {"pred": np.full(shape, np.nan, np.float32)}
    placed = {}
    for key, values in model.predict_with_uncertainty(table.inputs).items():
        placed[key] = np.full(shape, np.nan, np.float32)
        placed[key][table.rows] = values
    return placed


def in_domain(model: MoleculePredictor, table: MoleculeTable, shown: int = 5):
    """Whether each input row's elements all occur in the training molecules.

    Returns a nullable boolean array [n_rows] (missing for unusable rows), or
    ``None`` for a model saved without the record of its training elements.
    Rows outside are summarised in one warning: their count, the first
    ``shown`` rows and the unseen elements.
    """
    unseen = model.unseen_elements(table.inputs)
    if unseen is None:
        return None
    flags = pd.array([pd.NA] * table.report.n_rows, dtype="boolean")
    flags[table.rows] = [not u for u in unseen]
    outside = [(int(r), u) for r, u in zip(table.rows, unseen, strict=True) if u]
    if outside:
        symbols = sorted({e for _, u in outside for e in u})
        rows = ", ".join(str(r) for r, _ in outside[:shown])
        more = ", ..." if len(outside) > shown else ""
        log.warning(
            "%s: %d of %d molecules hold elements absent from the model's "
            "training molecules (%s): rows %s%s (0-based, header excluded); "
            "their predictions are extrapolations, marked in_domain = False",
            table.report.source,
            len(outside),
            len(table),
            ", ".join(symbols),
            rows,
            more,
        )
    return flags


def _save_calibration(calibration: Calibration, folder: Path) -> dict:
    """The JSON entry of ``calibration``; bootstrap models and residuals go to
    ``folder``."""
    entry = {"method": calibration.method, "alpha": calibration.alpha}
    if calibration.method in ("cv+", "jackknife+"):
        entry["half_width"] = calibration.half_width
    if calibration.method == "bootstrap":
        folder.mkdir(parents=True, exist_ok=True)
        for b, model in enumerate(calibration.models):
            model.save(folder / f"model_{b}")
        save_npz(
            folder / "residuals.npz",
            {f"model_{b}": r for b, r in enumerate(calibration.residuals)},
        )
        entry["models"] = len(calibration.models)
    return entry


def _load_calibration(folder: Path, entry: dict) -> Calibration:
    calibration = Calibration(
        entry["method"],
        float(entry["alpha"]),
        float(entry.get("half_width", float("nan"))),
    )
    if calibration.method == "bootstrap":
        residuals = load_npz(folder / "residuals.npz")
        n = int(entry["models"])
        calibration.models = [load(folder / f"model_{b}") for b in range(n)]
        calibration.residuals = [residuals[f"model_{b}"] for b in range(n)]
    return calibration
