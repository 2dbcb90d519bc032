"""Read a CSV of SMILES (and optional targets) into parsed molecules.

Every bad row is reported with its 0-based row position (header excluded, the
numbering split files use) and a reason, then skipped; ``strict=True`` turns the
first bad row into an error. Duplicate molecules (same canonical SMILES) are
reported, and flagged when their labels disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from molmat.data.datasets import DATASETS, NOT_BUNDLED, get_dataset
from molmat.featurizers.rdkit_log import silence_rdkit

silence_rdkit()

SMILES_NAMES = ("smiles", "canonical_smiles", "smi", "mol", "molecule")


class DataError(ValueError):
    """Input data that cannot be used (missing column, bad row under strict mode)."""


@dataclass(frozen=True)
class BadRow:
    """A skipped input row. ``row`` is 0-based, header excluded."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row} (file line {self.row + 2}): {self.reason}"


@dataclass(frozen=True)
class Duplicate:
    """Rows holding the same molecule (same canonical SMILES)."""

    canonical_smiles: str
    rows: tuple[int, ...]
    conflicting: bool  # labels differ by more than ``conflict_tol``

    def __str__(self) -> str:
        tag = "CONFLICTING labels" if self.conflicting else "same labels"
        return f"{self.canonical_smiles}: rows {list(self.rows)} ({tag})"


@dataclass
class DataReport:
    """What happened to the rows of one input file."""

    source: str
    n_rows: int
    bad_rows: list[BadRow] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def n_used(self) -> int:
        return self.n_rows - len(self.bad_rows)

    def summary(self) -> str:
        conflicts = sum(d.conflicting for d in self.duplicates)
        return (
            f"{self.source}: {self.n_rows} rows, {self.n_used} used, "
            f"{len(self.bad_rows)} skipped, {len(self.duplicates)} duplicated "
            f"molecules ({conflicts} with conflicting labels)"
        )


@dataclass
class MoleculeTable:
    """Parsed molecules with their targets and their rows in the input file.

    Attributes:
        frame: the whole input table, unchanged.
        rows: [n] 0-based input row of each parsed molecule.
        smiles: [n] SMILES as written in the input (stripped).
        canonical: [n] RDKit canonical SMILES.
        mols: [n] sanitised RDKit molecules.
        y: [n, n_targets] float targets, NaN where a label is missing.
        target_names: names of the target columns.
        smiles_col: name of the SMILES column.
        report: bad rows and duplicates.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    smiles: list[str]
    canonical: list[str]
    mols: list[Chem.Mol]
    y: np.ndarray
    target_names: list[str]
    smiles_col: str
    report: DataReport

    def __len__(self) -> int:
        return len(self.mols)


def parse_smiles(smiles: object) -> tuple[Chem.Mol | None, str]:
    """Parse and sanitise one SMILES. Returns ``(mol, "")`` or ``(None, reason)``."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None, "empty SMILES cell"
    text = smiles.strip()
    mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None:
        return None, f"unparsable SMILES {text!r}"
    if mol.GetNumAtoms() == 0:
        return None, f"SMILES {text!r} has no atoms"
    try:
        Chem.SanitizeMol(mol)
    except Exception as err:  # RDKit raises several sanitisation error types
        return None, f"SMILES {text!r} fails sanitisation: {err}"
    return mol, ""


def read_table(source: str | Path) -> tuple[pd.DataFrame, str]:
    """Read a bundled dataset name or a CSV path into a DataFrame."""
    if isinstance(source, str) and source.lower() in DATASETS:
        info = get_dataset(source)
        return pd.read_csv(info.path), info.name
    path = Path(source)
    if not path.exists():
        if str(source).lower() in NOT_BUNDLED:
            raise DataError(
                f"{source} is not bundled. {NOT_BUNDLED[str(source).lower()]}"
            )
        known = ", ".join(sorted(DATASETS))
        raise DataError(f"{path}: no such file (bundled dataset names: {known})")
    try:
        return pd.read_csv(path), str(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: not a readable CSV file ({err})") from err


def detect_smiles_column(frame: pd.DataFrame) -> str:
    """Pick the SMILES column by name, else by what parses."""
    by_name = {c.lower().strip(): c for c in frame.columns}
    for name in SMILES_NAMES:
        if name in by_name:
            return by_name[name]
    for col in frame.columns:
        if "smiles" in str(col).lower():
            return col
    for col in frame.select_dtypes(exclude="number").columns:
        sample = frame[col].dropna().astype(str).head(20)
        parsed = sum(parse_smiles(s)[0] is not None for s in sample)
        if len(sample) and parsed >= 0.8 * len(sample):
            return col
    raise DataError(
        f"no SMILES column found among {list(frame.columns)}; name it with --smiles-col"
    )


def detect_target_columns(frame: pd.DataFrame, smiles_col: str) -> list[str]:
    """The target when exactly one numeric column is left, else a clear error."""
    numeric = [
        c for c in frame.select_dtypes(include="number").columns if c != smiles_col
    ]
    if len(numeric) == 1:
        return numeric
    raise DataError(
        f"cannot guess the target column; numeric columns are {numeric}: "
        "name one or more with --target"
    )


def read_molecules(
    source: str | Path,
    smiles_col: str | None = None,
    targets: list[str] | tuple[str, ...] | None = None,
    *,
    require_targets: bool = True,
    strict: bool = False,
    conflict_tol: float = 1e-6,
) -> MoleculeTable:
    """Read molecules and targets from a CSV path or a bundled dataset name.

    Args:
        source: CSV path or bundled dataset name (``aqsoldb``, ``esol``, ``bbbp``).
        smiles_col: SMILES column; detected when ``None``.
        targets: target columns; the dataset's own or detected when ``None``.
        require_targets: ``False`` reads SMILES only (for prediction); named
            targets that are present are still read.
        strict: raise :class:`DataError` on the first bad row instead of skipping.
        conflict_tol: duplicates whose labels differ by more are flagged.

    A row is skipped when its SMILES is empty, unparsable or fails sanitisation,
    when a target is non-numeric or infinite, or when all its targets are
    missing. With several targets, a missing label is kept as NaN (masked).
    """
    frame, name = read_table(source)
    info = DATASETS.get(name)
    if smiles_col is None:
        smiles_col = info.smiles_col if info else detect_smiles_column(frame)
    if smiles_col not in frame.columns:
        raise DataError(
            f"{name}: SMILES column {smiles_col!r} not found; columns are "
            f"{list(frame.columns)}"
        )
    if targets is None or len(targets) == 0:
        if not require_targets:
            targets = []
        elif info:
            targets = list(info.targets)
        else:
            targets = detect_target_columns(frame, smiles_col)
    targets = list(targets)
    missing = [t for t in targets if t not in frame.columns]
    if missing and require_targets:
        raise DataError(
            f"{name}: target column(s) {missing} not found; columns are "
            f"{list(frame.columns)}"
        )
    targets = [t for t in targets if t in frame.columns]

    values, value_errors = _numeric_targets(frame, targets)
    report = DataReport(source=name, n_rows=len(frame))
    rows, smiles, mols = [], [], []
    for i, raw in enumerate(frame[smiles_col].tolist()):
        reason = value_errors.get(i, "")
        if not reason and targets and np.isnan(values[i]).all():
            reason = "missing target value" + ("s" if len(targets) > 1 else "")
        mol = None
        if not reason:
            mol, reason = parse_smiles(raw)
        if reason:
            bad = BadRow(i, reason)
            if strict:
                raise DataError(f"{name}: {bad} (strict mode)")
            report.bad_rows.append(bad)
            continue
        rows.append(i)
        smiles.append(str(raw).strip())
        mols.append(mol)

    rows_arr = np.asarray(rows, dtype=np.int64)
    y = values[rows_arr] if targets else np.zeros((len(rows), 0), np.float32)
    canonical = [Chem.MolToSmiles(m) for m in mols]
    report.duplicates = _find_duplicates(canonical, rows_arr, y, conflict_tol)
    return MoleculeTable(
        frame=frame,
        rows=rows_arr,
        smiles=smiles,
        canonical=canonical,
        mols=mols,
        y=y,
        target_names=targets,
        smiles_col=smiles_col,
        report=report,
    )


def _numeric_targets(
    frame: pd.DataFrame, targets: list[str]
) -> tuple[np.ndarray, dict[int, str]]:
    """Targets as float32 [n_rows, n_targets] (NaN = missing) and per-row errors."""
    values = np.full((len(frame), len(targets)), np.nan, dtype=np.float32)
    errors: dict[int, str] = {}
    for j, col in enumerate(targets):
        raw = frame[col]
        numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        for i in np.flatnonzero(np.isnan(numbers) & ~blank):
            if str(raw.iloc[i]).strip().lower() == "nan":
                continue  # written-out NaN: a missing label
            errors.setdefault(int(i), f"non-numeric value {raw.iloc[i]!r} in {col!r}")
        for i in np.flatnonzero(np.isinf(numbers)):
            errors.setdefault(int(i), f"infinite value in {col!r}")
        finite = np.isfinite(numbers)
        values[finite, j] = numbers[finite]
        if len(targets) == 1:
            for i in np.flatnonzero(~np.isfinite(numbers) & ~np.isinf(numbers)):
                errors.setdefault(int(i), f"missing (empty or NaN) value in {col!r}")
    return values, errors


def _find_duplicates(
    canonical: list[str], rows: np.ndarray, y: np.ndarray, tol: float
) -> list[Duplicate]:
    groups: dict[str, list[int]] = {}
    for k, smi in enumerate(canonical):
        groups.setdefault(smi, []).append(k)
    found = []
    for smi, members in groups.items():
        if len(members) < 2:
            continue
        labels = y[members]
        spread = (
            np.nanmax(labels, axis=0) - np.nanmin(labels, axis=0)
            if (labels.size and not np.isnan(labels).all())
            else np.zeros(1)
        )
        conflicting = bool(np.nan_to_num(spread).max(initial=0.0) > tol)
        found.append(Duplicate(smi, tuple(int(rows[k]) for k in members), conflicting))
    return found
