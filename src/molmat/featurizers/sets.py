"""Every named feature set, whatever it describes: molecules, compositions or
crystal structures, and the column names of each."""

from __future__ import annotations

from molmat.featurizers import composition, structure
from molmat.featurizers.descriptors import FEATURE_SETS, feature_names

ALL_SETS = (*FEATURE_SETS, *composition.COMPOSITION_SETS, *structure.STRUCTURE_SETS)


def column_names(kind: str, radius: int = 2, n_bits: int = 2048) -> list[str]:
    """Column names of feature set ``kind`` (Morgan sets: ``radius``, ``n_bits``)."""
    if kind in composition.COMPOSITION_SETS:
        return composition.feature_names(kind)
    if kind in structure.STRUCTURE_SETS:
        return structure.feature_names(kind)
    return feature_names(kind, radius, n_bits)
