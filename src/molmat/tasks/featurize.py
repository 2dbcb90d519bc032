"""Descriptor tables for use elsewhere: ``molmat featurize``.

Molecules (SMILES), compositions (``magpie``: chemical formulas) or crystal
structures (``magpie-structure``), read as the models read them.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from molmat.data.csv import DataReport
from molmat.featurizers.composition import COMPOSITION_SETS, composition_features
from molmat.featurizers.descriptors import molecule_features_cached
from molmat.featurizers.sets import column_names
from molmat.featurizers.structure import STRUCTURE_SETS, structure_features
from molmat.tasks.runs import read_inputs, report_data

log = logging.getLogger("molmat")

FORMATS = (".parquet", ".csv")


def featurize_file(
    data: str | Path,
    features: str,
    out: str | Path,
    smiles_col: str | None = None,
    radius: int = 2,
    n_bits: int = 2048,
    sep: str | None = None,
) -> tuple[pd.DataFrame, DataReport, dict[str, list[str]]]:
    """Write ``row``, the input (``smiles``, ``composition`` or ``structure``)
    and one column per feature to Parquet or CSV.

    Every file gets every column of the feature set, in one order, so tables
    of training and test files made separately line up; constant and all-NaN
    columns are reported, not dropped (clean them on training rows only,
    where the table is used). Values are not scaled.

    Returns:
        The table, the data report, and the constant and all-NaN columns
        (``{"constant": [...], "all_nan": [...]}``) of this file.
    """
    out = Path(out)
    if out.suffix not in FORMATS:
        raise ValueError(f"{out}: output must end in {' or '.join(FORMATS)}")
    table = read_inputs(
        data, smiles_col, [], features=features, require_targets=False, sep=sep
    )
    report_data(table.report)
    if features in COMPOSITION_SETS:
        values = composition_features(table.inputs, features)
    elif features in STRUCTURE_SETS:
        values = structure_features(table.inputs, features)
    else:
        values = molecule_features_cached(
            table.smiles, table.mols, features, radius, n_bits
        )
    names = column_names(features, radius, n_bits)
    frame = pd.concat(
        [
            pd.DataFrame({"row": table.rows, table.input_name: table.texts}),
            pd.DataFrame(values, columns=names),
        ],
        axis=1,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    return frame, table.report, degenerate_columns(values, names)


def degenerate_columns(values: np.ndarray, names: list[str]) -> dict[str, list[str]]:
    """Names of the constant and all-NaN columns of ``values`` [n, d]."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return {"constant": [], "all_nan": []}
    with warnings.catch_warnings():  # all-NaN columns give NaN spreads
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
    return {
        "constant": [n for n, s in zip(names, spread, strict=True) if s == 0],
        "all_nan": [n for n, s in zip(names, spread, strict=True) if np.isnan(s)],
    }
