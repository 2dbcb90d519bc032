"""What every molecular property estimator shares, whatever its model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from molmat.data.molecules import as_predictions, as_targets
from molmat.training.metrics import score


class MoleculePredictor:
    """``predict``, ``predict_proba`` and ``score_molecules`` from ``predict_values``.

    Shared by every property model; subclasses define ``predict_values(X)``
    ([n, T] values or probabilities) and the fitted ``task_``, ``n_targets_``
    and ``target_names_``.
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
