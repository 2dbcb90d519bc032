"""Training corpora of SMILES (generative models, pretraining) and their conditions.

``read_corpus("moses")`` reads MOSES' training split (trusted, canonical
SMILES: parsed only when a condition must be computed); any other source is
a CSV/TSV/.smi/SDF file read by :func:`molmat.data.csv.read_molecules`, which
reports every bad row. Conditions are columns of the file or properties
computed with RDKit (``logP``, ``QED``, ``SA``, ``weight``, ``plogP``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from molmat.data.rdkit_log import silence_rdkit
from molmat.featurizers.cache import cached_arrays

log = logging.getLogger("molmat")

# name -> function of a list of RDKit molecules (NaN where None)
PROPERTY_NAMES = ("logP", "QED", "SA", "weight", "plogP")


def compute_property(name: str, smiles: Sequence[str]) -> np.ndarray:
    """``name`` (one of :data:`PROPERTY_NAMES`) of each molecule [n]."""
    from rdkit import Chem

    from molmat.featurizers import properties

    functions = {
        "logP": properties.logp,
        "QED": properties.qed,
        "SA": properties.sa_score,
        "weight": properties.weight,
        "plogP": properties.penalized_logp,
    }
    if name not in functions:
        raise KeyError(
            f"unknown property {name!r}; computed properties: {', '.join(functions)}"
        )

    def compute() -> dict[str, np.ndarray]:
        silence_rdkit()
        mols = [Chem.MolFromSmiles(s) for s in smiles]
        return {"values": np.asarray(functions[name](mols), float)}

    # cached: RDKit scores of a million molecules take many minutes
    return cached_arrays([f"property-v1:{name}"], list(smiles), compute)["values"]


@dataclass
class Corpus:
    """Molecules to learn from, with optional conditions [n, C]."""

    smiles: list[str]
    condition: np.ndarray
    condition_names: tuple[str, ...] = ()
    source: str = ""
    bad_rows: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.smiles)


def read_corpus(
    source: str,
    smiles_col: str | None = None,
    conditions: Sequence[str] = (),
) -> Corpus:
    """Read a corpus; ``conditions`` name columns of the file or computed
    properties. Rows whose condition is missing are reported and skipped."""
    bad: list[str] = []
    if source.lower() == "moses":
        from molmat.data.moses import read_moses

        smiles, frame = read_moses("train"), None
    else:
        from molmat.data.csv import read_molecules

        present = _file_columns(source, conditions)
        table = read_molecules(
            source, smiles_col, targets=present or None, require_targets=bool(present)
        )
        bad = [f"row {b.row}: {b.reason}" for b in table.report.bad_rows]
        smiles = list(table.canonical)
        frame = dict(zip(table.target_names, table.y.T, strict=True)) if present else {}
    columns = []
    for name in conditions:
        if frame and name in frame:
            columns.append(np.asarray(frame[name], float))
        else:
            columns.append(compute_property(name, smiles))
    condition = np.stack(columns, 1) if columns else np.zeros((len(smiles), 0))
    missing = ~np.isfinite(condition).all(1)
    if missing.any():
        for i in np.flatnonzero(missing)[:20]:
            bad.append(f"{smiles[i]!r}: a condition is missing or not finite")
        log.warning("%d molecules without all conditions skipped", missing.sum())
        keep = np.flatnonzero(~missing)
        smiles, condition = [smiles[i] for i in keep], condition[keep]
    return Corpus(smiles, condition.astype(np.float32), tuple(conditions), source, bad)


def _file_columns(source: str, names: Sequence[str]) -> list[str]:
    """Those of ``names`` that are columns of the file (the rest are computed)."""
    if not names:
        return []
    from molmat.data.csv import read_table

    columns = set(read_table(source).frame.columns)
    return [n for n in names if n in columns]
