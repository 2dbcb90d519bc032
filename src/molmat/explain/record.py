"""The record of one explained prediction."""

from __future__ import annotations

from dataclasses import dataclass, field

import ase
import numpy as np
from rdkit import Chem

from molmat.data.compositions import Composition
from molmat.data.structures import Frame
from molmat.explain.shapley import ShapleyReport
from molmat.featurizers.structure import cell_composition


@dataclass(frozen=True)
class Attribution:
    """How one molecule's, structure's or sequence's parts add up to its
    prediction.

    Attributes:
        item: the input as given (SMILES or sequence; an RDKit molecule's
            SMILES; a structure's or composition's formula).
        row: its position in the explained inputs.
        method: ``ig``, ``gradient``, ``smoothgrad`` or ``shap``.
        target: the explained target's name.
        parts: [n] atom symbols or tokens.
        values: [n] attribution of each part, in prediction units.
        prediction: the model's prediction for the item.
        reference: the prediction at the baseline (no atom or bond features,
            zero element embeddings, or no tokens; NaN for ``gradient`` and
            ``smoothgrad``, which have none).
        rest: the molecule or structure descriptors' share (0 without
            descriptors).
        report: the Shapley estimate's convergence report (``shap`` only).
        features: Shapley value of each feature column, largest first
            (descriptor and fingerprint models only).
    """

    item: str
    row: int
    method: str
    target: str
    parts: list[str]
    values: np.ndarray
    prediction: float
    reference: float
    rest: float = 0.0
    report: ShapleyReport | None = field(default=None, repr=False)
    features: dict[str, float] | None = field(default=None, repr=False)

    @property
    def total(self) -> float:
        """Σ values + rest."""
        return float(self.values.sum() + self.rest)

    @property
    def completeness_error(self) -> float:
        """``|total - (prediction - reference)|`` (NaN without a reference)."""
        return abs(self.total - (self.prediction - self.reference))


def item_text(item) -> str:
    """An input as text: SMILES for an RDKit molecule, the formula of a
    composition or a structure's cell, else as given."""
    if isinstance(item, Chem.Mol):
        return Chem.MolToSmiles(item)
    if isinstance(item, Composition):
        return item.formula
    if isinstance(item, ase.Atoms):
        item = Frame.from_atoms(item)
    if isinstance(item, Frame):
        return cell_composition(item).formula
    return str(item)
