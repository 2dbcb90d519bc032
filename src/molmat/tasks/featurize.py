"""Descriptor tables for use elsewhere: ``molmat featurize``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from molmat.classic.estimators import DescriptorCleaner
from molmat.data.csv import DataReport, read_molecules
from molmat.featurizers.descriptors import feature_names, molecule_features_cached
from molmat.tasks.runs import report_data

log = logging.getLogger("molmat")

FORMATS = (".parquet", ".csv")


def featurize_file(
    data: str | Path,
    features: str,
    out: str | Path,
    smiles_col: str | None = None,
    radius: int = 2,
    n_bits: int = 2048,
    keep_all: bool = False,
) -> tuple[pd.DataFrame, DataReport, dict[str, list[str]]]:
    """Write ``row``, ``smiles`` and one column per feature to Parquet or CSV.

    Constant and all-NaN columns are reported and dropped (``keep_all`` keeps
    them). Values are not scaled: fit scalers on training rows only, where the
    table is used.

    Returns:
        The table, the data report, and the dropped columns by reason.
    """
    out = Path(out)
    if out.suffix not in FORMATS:
        raise ValueError(f"{out}: output must end in {' or '.join(FORMATS)}")
    table = read_molecules(data, smiles_col, targets=[], require_targets=False)
    report_data(table.report)
    values = molecule_features_cached(
        table.smiles, table.mols, features, radius, n_bits
    )
    names = np.array(feature_names(features, radius, n_bits))
    dropped = {"constant": [], "all_nan": []}
    if not keep_all and len(table):
        cleaner = DescriptorCleaner(scale=False).fit(values)
        dropped = {
            "constant": names[cleaner.dropped_constant_].tolist(),
            "all_nan": names[cleaner.dropped_nan_].tolist(),
        }
        values, names = values[:, cleaner.kept_], names[cleaner.kept_]
    frame = pd.concat(
        [
            pd.DataFrame({"row": table.rows, "smiles": table.smiles}),
            pd.DataFrame(values, columns=names),
        ],
        axis=1,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    return frame, table.report, dropped
