"""Read a table of molecules (and optional targets) into parsed molecules.

Inputs are CSV (comma, semicolon or tab, sniffed from the header line, or
named with ``sep``), TSV, ``.smi`` (``SMILES [name]`` per line, with or
without a header line) and SDF (each record's properties become columns), each
optionally gzipped; any other file is refused. Text must be UTF-8: a file in
another encoding is refused with its line and the offending byte (never
guessed, which would silently change names and SMILES). Every bad row is
reported with its 0-based row position (header excluded, the numbering split
files use), where it is in the file and a reason, then skipped;
``strict=True`` turns the first bad row into an error. Label columns written
as words (``yes``/``no``, ``true``/``false``, ``active``/``inactive``,
``positive``/``negative``) are read as 1/0 and the mapping is logged.
Duplicate molecules (same canonical SMILES) are reported, and flagged when
their labels disagree.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from rdkit import Chem

from molmat.data.compositions import Composition, parse_composition
from molmat.data.datasets import DATASETS, NOT_BUNDLED, get_dataset
from molmat.data.rdkit_log import silence_rdkit

silence_rdkit()
log = logging.getLogger("molmat")

SMILES_NAMES = ("smiles", "canonical_smiles", "smi", "mol", "molecule")
SEQUENCE_NAMES = ("sequence", "seq", "sequences", "peptide", "protein")
COMPOSITION_NAMES = ("composition", "formula", "pretty_formula", "formula_pretty")
DELIMITED = (".csv", ".tsv")
SMI = (".smi", ".smiles")
SDF = (".sdf", ".sd")
FORMATS = "CSV/TSV (.csv, .tsv), SMILES (.smi) or SDF (.sdf), optionally gzipped"
NA_WORDS = ("", "nan", "na", "n/a", "null", "none")
DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?|[+-]?\d+")
# separator names accepted by ``sep`` (any other single character is used as is)
SEPARATORS = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}
# label words read as 1 / 0, one pair per column
LABEL_WORDS = (
    ("yes", "no"),
    ("true", "false"),
    ("active", "inactive"),
    ("positive", "negative"),
)


class DataError(ValueError):
    """Input data that cannot be used (missing column, bad row under strict mode)."""


@dataclass(frozen=True)
class BadRow:
    """A skipped input row. ``row`` is 0-based, header excluded.

    ``where`` places it in the file (``file line 7``, ``SDF record 3``); empty
    means a CSV line under one header line.
    """

    row: int
    reason: str
    where: str = ""

    def __str__(self) -> str:
        where = self.where or f"file line {self.row + 2}"
        return f"row {self.row} ({where}): {self.reason}"


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

    input_name = "smiles"  # what an input row holds, as output columns name it

    def __len__(self) -> int:
        return len(self.mols)

    @property
    def inputs(self) -> list[Chem.Mol]:
        """What a property model takes for each row: the molecules."""
        return self.mols

    @property
    def texts(self) -> list[str]:
        """Each row's input as written: the SMILES."""
        return self.smiles


@dataclass
class SequenceTable:
    """Parsed sequences (peptides, proteins) with their targets and rows.

    Attributes:
        frame: the whole input table, unchanged.
        rows: [n] 0-based input row of each sequence.
        sequences: [n] sequences as written (stripped).
        y: [n, n_targets] float targets, NaN where a label is missing.
        target_names: names of the target columns.
        sequence_col: name of the sequence column.
        report: bad rows and duplicates (same upper-case sequence).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    sequences: list[str]
    y: np.ndarray
    target_names: list[str]
    sequence_col: str
    report: DataReport
    input_name = "sequence"

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def inputs(self) -> list[str]:
        """What a sequence model takes for each row: the sequences."""
        return self.sequences

    @property
    def texts(self) -> list[str]:
        return self.sequences


@dataclass
class CompositionTable:
    """Parsed chemical formulas (compositions) with their targets and rows.

    Attributes:
        frame: the whole input table, unchanged.
        rows: [n] 0-based input row of each composition.
        formulas: [n] formulas as written (stripped).
        compositions: [n] parsed compositions.
        y: [n, n_targets] float targets, NaN where a label is missing.
        target_names: names of the target columns.
        composition_col: name of the formula column.
        report: bad rows and duplicates (same atomic fractions).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    formulas: list[str]
    compositions: list[Composition]
    y: np.ndarray
    target_names: list[str]
    composition_col: str
    report: DataReport
    input_name = "composition"

    def __len__(self) -> int:
        return len(self.formulas)

    @property
    def inputs(self) -> list[Composition]:
        """What a composition model takes for each row: the compositions."""
        return self.compositions

    @property
    def texts(self) -> list[str]:
        return self.formulas


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


@dataclass
class RawTable:
    """An input file as a table, with what its format says about the rows.

    Attributes:
        frame: one row per molecule entry of the file.
        name: the file (or bundled dataset) name.
        smiles_col: the molecule column when the format fixes it (.smi, SDF).
        errors: rows the format reader could not read, with the reason.
        unit: what a row is in the file (``file line``, ``SDF record``).
        first: the 1-based ``unit`` number of row 0.
    """

    frame: pd.DataFrame
    name: str
    smiles_col: str | None = None
    errors: dict[int, str] = field(default_factory=dict)
    unit: str = "file line"
    first: int = 2

    def where(self, row: int) -> str:
        """Where row ``row`` is in the file, e.g. ``file line 7``."""
        return f"{self.unit} {row + self.first}"


def separator(sep: str | None) -> str | None:
    """The column separator named by ``sep``: one character or ``comma``,
    ``semicolon``, ``tab`` (or ``\\t``), ``pipe``; ``None`` sniffs it.

    Raises:
        DataError: anything else.
    """
    if sep is None:
        return None
    chosen = SEPARATORS.get(sep.lower(), sep)
    if len(chosen) != 1 or chosen in '"\r\n':
        raise DataError(
            f"separator {sep!r} is not one character; use one, or one of "
            f"{', '.join(k for k in SEPARATORS if k.isalpha())}"
        )
    return chosen


def read_table(source: str | Path, sep: str | None = None) -> RawTable:
    """Read a bundled dataset name or a CSV/TSV/.smi/SDF path into a table.

    ``sep`` (see :func:`separator`) overrides the sniffed separator of
    CSV/TSV files and the tab/whitespace split of ``.smi`` files; bundled
    datasets and SDF files have none.

    Raises:
        DataError: no such file, an unsupported format, an unreadable file or
            a file that is not UTF-8 (naming its line and the byte).
    """
    sep = separator(sep)
    if isinstance(source, str) and source.lower() in DATASETS:
        info = get_dataset(source)
        return RawTable(pd.read_csv(info.path), info.name)
    path = Path(source)
    if not path.exists():
        if str(source).lower() in NOT_BUNDLED:
            raise DataError(
                f"{source} is not bundled. {NOT_BUNDLED[str(source).lower()]}"
            )
        known = ", ".join(sorted(DATASETS))
        raise DataError(f"{path}: no such file (bundled dataset names: {known})")
    kind = file_format(path)
    if kind in SDF and sep is not None:
        raise DataError(f"{path}: an SDF file has no column separator; drop --sep")
    try:
        if kind in SDF:
            return _read_sdf(path)
        if kind in SMI:
            return _read_smi(path, sep)
        return _read_delimited(path, sep or ("\t" if kind == ".tsv" else None))
    except UnicodeDecodeError as err:
        raise DataError(_encoding_problem(path)) from err
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        OSError,
        EOFError,
    ) as err:
        raise DataError(f"{path}: not a readable {kind} file ({err})") from err


def _encoding_problem(path: Path) -> str:
    """Where ``path`` stops being UTF-8: its line, the byte, and what to do."""
    with _open(path, "rb") as handle:
        raw = handle.read()
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        byte = raw[err.start]
        return (
            f"{path} line {line}: byte 0x{byte:02x} is not UTF-8 (the file is in "
            "another encoding, often Latin-1 or Windows-1252); save it as UTF-8, "
            f"e.g. iconv -f cp1252 -t utf-8 {path.name} > utf8_{path.name}"
        )
    return f"{path}: not readable as UTF-8"


def file_format(path: Path) -> str:
    """The format suffix of ``path`` (``.csv``, ``.smi``...), ``.gz`` ignored.

    Raises:
        DataError: a suffix molmat does not read.
    """
    name = path.name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix not in (*DELIMITED, *SMI, *SDF):
        raise DataError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; "
            f"molmat reads {FORMATS}"
        )
    return suffix


def _open(path: Path, mode: str = "rt") -> IO:
    """Open a plain or gzipped file (text modes strip a byte-order mark)."""
    encoding = "utf-8-sig" if "t" in mode else None
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, mode, encoding=encoding)
    return open(path, mode, encoding=encoding)


def _read_delimited(path: Path, sep: str | None) -> RawTable:
    """CSV or TSV; ``sep=None`` sniffs comma, semicolon or tab from the header."""
    if sep is None:
        with _open(path) as handle:
            sep = sniff_delimiter(handle.readline())
    frame = pd.read_csv(path, sep=sep)
    return RawTable(_decimal_commas(frame) if sep == ";" else frame, str(path))


def sniff_delimiter(header: str) -> str:
    """The most frequent of ``,``, ``\\t`` and ``;`` outside quotes (``,`` if none)."""
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {sep: unquoted.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns written with decimal commas (``1,5``), as numbers."""
    for col in frame.select_dtypes(exclude="number").columns:
        text = frame[col].dropna().astype(str).str.strip()
        text = text[text != ""]
        if len(text) and text.str.fullmatch(DECIMAL_COMMA).all():
            numbers = frame[col].astype(str).str.strip().str.replace(",", ".")
            frame[col] = pd.to_numeric(numbers.where(frame[col].notna()))
    return frame


def _read_smi(path: Path, sep: str | None = None) -> RawTable:
    """``SMILES [name]`` per line; a header line only when it names the columns.

    Fields are split at ``sep``, else at tabs when the first line has one,
    else at whitespace; the last column takes the rest of the line. Blank
    lines stay as rows (and are reported as empty), so row numbers match file
    lines.
    """
    with _open(path) as handle:
        lines = handle.read().rstrip().splitlines()
    if not lines:
        raise pd.errors.EmptyDataError("no lines")
    sep = sep or ("\t" if "\t" in lines[0] else None)
    header = _smi_header(lines[0], sep)
    names = header or ["smiles", "name"]
    body = lines[1:] if header else lines
    rows = [_fields(line, sep, len(names)) for line in body]
    frame = pd.DataFrame(rows, columns=names)
    if header:
        frame = _numbers(frame, skip=names[:1])
    return RawTable(frame, str(path), smiles_col=names[0], first=2 if header else 1)


def _smi_header(line: str, sep: str | None) -> list[str] | None:
    """Column names when ``line`` is a header (``SMILES Name ...``), else ``None``.

    The first field must be a molecule column name (``smiles``, ``#SMILES``,
    ``canonical_smiles``...) that does not itself parse as a SMILES.
    """
    names = [f.strip() for f in (line.split(sep) if sep else line.split())]
    first = names[0].lstrip("#").strip() if names else ""
    word = first.lower()
    if not (word in SMILES_NAMES or "smiles" in word) or parse_smiles(first)[0]:
        return None
    return [first, *names[1:]] if len(names) > 1 else [first, "name"]


def _fields(line: str, sep: str | None, n: int) -> list[str]:
    """``line`` cut into ``n`` stripped fields, the last taking the rest."""
    parts = line.split(sep, n - 1) if sep else line.split(None, n - 1)
    parts = [p.strip() for p in parts]
    return parts + [""] * (n - len(parts))


def _numbers(frame: pd.DataFrame, skip: list[str]) -> pd.DataFrame:
    """Text columns holding only numbers (or blanks, ``nan``, ``NA``) as numbers."""
    for col in frame.columns.drop(skip):
        text = frame[col].astype(str).str.strip()
        try:
            frame[col] = pd.to_numeric(text.mask(text.str.lower().isin(NA_WORDS)))
        except (ValueError, TypeError):
            continue
    return frame


def _read_sdf(path: Path) -> RawTable:
    """One row per SDF record: its SMILES, title (``name``) and data fields.

    A record RDKit cannot read (or sanitise) keeps its row, with the reason.
    """
    records, errors = [], {}
    with _open(path, "rb") as handle:
        supplier = Chem.ForwardSDMolSupplier(handle, sanitize=False, removeHs=False)
        for i, mol in enumerate(supplier):
            smiles, reason = _record_smiles(mol)
            if reason:
                errors[i] = reason
            records.append((smiles, *_record_text(mol)))
    if not records:
        raise pd.errors.EmptyDataError("no SDF records")
    taken = {key for *_, props in records for key in props}
    smiles_col, title_col = _free_name("smiles", taken), _free_name("name", taken)
    frame = pd.DataFrame(
        [{smiles_col: smi, title_col: title, **props} for smi, title, props in records]
    )
    frame = _numbers(frame, skip=[smiles_col, title_col])
    return RawTable(frame, str(path), smiles_col, errors, "SDF record", first=1)


def _record_smiles(mol: Chem.Mol | None) -> tuple[str | None, str]:
    """The SMILES of one SDF record, or ``(None, reason)``."""
    if mol is None:
        return None, "RDKit cannot read this SDF record"
    if mol.GetNumAtoms() == 0:
        return None, "SDF record has no atoms"
    try:
        Chem.SanitizeMol(mol)
        return Chem.MolToSmiles(Chem.RemoveHs(mol)), ""
    except Exception as err:  # RDKit raises several sanitisation error types
        return None, f"SDF record fails sanitisation: {err}"


def _record_text(mol: Chem.Mol | None) -> tuple[str, dict[str, str]]:
    """The record's title and its data fields, as text (empty if unreadable)."""
    if mol is None:
        return "", {}
    title = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
    return title, {key: mol.GetProp(key) for key in mol.GetPropNames()}


def _free_name(base: str, taken) -> str:
    """``base``, or ``base_1``, ``base_2``... if a column already has that name."""
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def _separator_hint(frame: pd.DataFrame) -> str:
    """A pointer to ``--sep`` when the header looks cut at the wrong character."""
    joined = [c for c in frame.columns if re.search(r"[;\t|,]", str(c))]
    if len(frame.columns) <= 2 and joined:
        return (
            f" (column {joined[0]!r} looks like several joined by a separator; "
            "name it with --sep)"
        )
    return ""


def _label_words(frame: pd.DataFrame, targets: list[str], name: str) -> pd.DataFrame:
    """``frame`` with target columns of label words (``yes``/``no``...) as 1/0.

    A column is mapped only when every non-blank value is one word of one
    :data:`LABEL_WORDS` pair (any case); the mapping is logged.
    """
    mapped = None
    for col in targets:
        if frame[col].dtype.kind in "biuf":
            continue
        words = frame[col].dropna().astype(str).str.strip().str.lower()
        words = words[~words.isin(NA_WORDS)]
        for positive, negative in LABEL_WORDS:
            if len(words) and words.isin((positive, negative)).all():
                mapped = frame.copy() if mapped is None else mapped
                text = frame[col].astype(str).str.strip().str.lower()
                mapped[col] = text.map({positive: 1.0, negative: 0.0})
                log.info(
                    "%s: labels of %r read as %s = 1, %s = 0",
                    name,
                    col,
                    positive,
                    negative,
                )
                break
    return frame if mapped is None else mapped


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
    raise DataError("no SMILES column found; name it with --smiles-col")


def detect_composition_column(frame: pd.DataFrame) -> str:
    """The column named ``composition``, ``formula``, ``pretty_formula`` or
    ``formula_pretty``."""
    by_name = {str(c).lower().strip(): c for c in frame.columns}
    for name in COMPOSITION_NAMES:
        if name in by_name:
            return by_name[name]
    raise DataError("no composition column found; name it with --composition-col")


def detect_sequence_column(frame: pd.DataFrame) -> str:
    """The column named ``sequence``, ``seq``, ``peptide`` or ``protein``."""
    by_name = {str(c).lower().strip(): c for c in frame.columns}
    for name in SEQUENCE_NAMES:
        if name in by_name:
            return by_name[name]
    raise DataError("no sequence column found; name it with --sequence-col")


def detect_target_columns(frame: pd.DataFrame, smiles_col: str) -> list[str]:
    """The target when exactly one numeric or true/false column is left
    (besides an index column without a header name), else a clear error."""
    numeric = [
        c
        for c in frame.select_dtypes(include=["number", "bool"]).columns
        if c != smiles_col and not str(c).startswith("Unnamed: ")
    ]
    if len(numeric) == 1:
        return numeric
    raise DataError(
        f"cannot guess the target column (numeric columns: {numeric}); "
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
    sep: str | None = None,
) -> MoleculeTable:
    """Read molecules and targets from a file or a bundled dataset name.

    Args:
        source: CSV/TSV, ``.smi`` or SDF path (optionally gzipped), or a
            bundled dataset name (``aqsoldb``, ``esol``, ``bbbp``).
        smiles_col: SMILES column; detected when ``None``.
        targets: target columns; the dataset's own or detected when ``None``.
        require_targets: ``False`` reads SMILES only (for prediction); named
            targets that are present are still read.
        strict: raise :class:`DataError` on the first bad row instead of skipping.
        conflict_tol: duplicates whose labels differ by more are flagged.
        sep: column separator of a CSV/TSV/.smi file (one character, or
            ``comma``, ``semicolon``, ``tab``, ``pipe``); sniffed when ``None``.

    A row is skipped when its SMILES is empty, unparsable or fails sanitisation,
    when a target is non-numeric or infinite, or when all its targets are
    missing. With several targets, a missing label is kept as NaN (masked).
    """
    read = _read_rows(
        source,
        smiles_col,
        targets,
        parse_smiles,
        require_targets,
        strict,
        sep,
        "SMILES",
        detect_smiles_column,
    )
    canonical = [Chem.MolToSmiles(m) for m in read.items]
    read.report.duplicates = _find_duplicates(
        canonical, read.rows, read.y, conflict_tol
    )
    return MoleculeTable(
        frame=read.frame,
        rows=read.rows,
        smiles=read.texts,
        canonical=canonical,
        mols=read.items,
        y=read.y,
        target_names=read.targets,
        smiles_col=read.column,
        report=read.report,
    )


def read_sequences(
    source: str | Path,
    sequence_col: str | None = None,
    targets: list[str] | tuple[str, ...] | None = None,
    *,
    check: Callable[[str], object] | None = None,
    require_targets: bool = True,
    strict: bool = False,
    conflict_tol: float = 1e-6,
    sep: str | None = None,
) -> SequenceTable:
    """Read sequences (peptides, proteins: one-letter strings) and targets.

    As :func:`read_molecules`; the sequence column is ``sequence_col`` or
    one named ``sequence``, ``seq``, ``peptide`` or ``protein``, and each
    sequence is passed to ``check`` (a ``ValueError`` it raises is the reason its
    row is skipped, e.g. a letter that is no amino acid). Duplicates are rows
    with the same upper-case sequence.
    """

    def parse(raw: object) -> tuple[str | None, str]:
        if not isinstance(raw, str) or not raw.strip():
            return None, "empty sequence cell"
        text = raw.strip()
        try:
            if check is not None:
                check(text)
        except ValueError as err:
            return None, str(err)
        return text, ""

    read = _read_rows(
        source,
        sequence_col,
        targets,
        parse,
        require_targets,
        strict,
        sep,
        "sequence",
        detect_sequence_column,
    )
    keys = [t.upper() for t in read.texts]
    read.report.duplicates = _find_duplicates(keys, read.rows, read.y, conflict_tol)
    return SequenceTable(
        frame=read.frame,
        rows=read.rows,
        sequences=read.texts,
        y=read.y,
        target_names=read.targets,
        sequence_col=read.column,
        report=read.report,
    )


def read_compositions(
    source: str | Path,
    composition_col: str | None = None,
    targets: list[str] | tuple[str, ...] | None = None,
    *,
    require_targets: bool = True,
    strict: bool = False,
    conflict_tol: float = 1e-6,
    sep: str | None = None,
) -> CompositionTable:
    """Read chemical formulas and targets (composition-only materials data).

    As :func:`read_molecules`; the formula column is ``composition_col`` or
    one named as :data:`COMPOSITION_NAMES` lists, each formula is parsed by
    :func:`~molmat.data.compositions.parse_composition` (its error is the
    reason a row is skipped), and duplicates are rows with the same atomic
    fractions (``Fe2O3`` and ``Fe4O6``).
    """
    read = _read_rows(
        source,
        composition_col,
        targets,
        parse_composition,
        require_targets,
        strict,
        sep,
        "formula",
        detect_composition_column,
    )
    keys = [c.key for c in read.items]
    read.report.duplicates = _find_duplicates(keys, read.rows, read.y, conflict_tol)
    return CompositionTable(
        frame=read.frame,
        rows=read.rows,
        formulas=read.texts,
        compositions=read.items,
        y=read.y,
        target_names=read.targets,
        composition_col=read.column,
        report=read.report,
    )


@dataclass
class _Rows:
    """The usable rows of a table: their parsed items and targets."""

    frame: pd.DataFrame
    column: str
    targets: list[str]
    rows: np.ndarray
    texts: list[str]
    items: list
    y: np.ndarray
    report: DataReport


def _read_rows(
    source, column, targets, parse, require_targets, strict, sep, what, detect
) -> _Rows:
    """Read ``source``, find the input column (holding ``what``; found by
    ``detect(frame)`` when not named) and the target columns, parse every row
    with ``parse(cell) -> (item | None, reason)`` and report the bad ones."""
    file = read_table(source, sep)
    frame, name = file.frame, file.name
    info = DATASETS.get(name)
    try:
        if column is None:
            column = info.smiles_col if info else file.smiles_col or detect(frame)
        if column not in frame.columns:
            raise DataError(f"{what} column {column!r} not found")
        if targets is None or len(targets) == 0:
            if not require_targets:
                targets = []
            elif info:
                targets = list(info.targets)
            else:
                targets = detect_target_columns(frame, column)
        targets = list(targets)
        missing = [t for t in targets if t not in frame.columns]
        if missing and require_targets:
            raise DataError(f"target column(s) {missing} not found")
    except DataError as err:
        header = " (header, file line 1)" if file.first == 2 else ""
        raise DataError(
            f"{name}{header}: {err}; columns are {list(frame.columns)}"
            f"{_separator_hint(frame)}"
        ) from err
    targets = [t for t in targets if t in frame.columns]

    frame_labels = _label_words(frame, targets, name)
    values, value_errors = _numeric_targets(frame_labels, targets)
    report = DataReport(source=name, n_rows=len(frame))
    rows, texts, items = [], [], []
    for i, raw in enumerate(frame[column].tolist()):
        reason = file.errors.get(i) or value_errors.get(i, "")
        if not reason and targets and np.isnan(values[i]).all():
            reason = "missing target value" + ("s" if len(targets) > 1 else "")
        item = None
        if not reason:
            item, reason = parse(raw)
        if reason:
            bad = BadRow(i, reason, file.where(i))
            if strict:
                raise DataError(f"{name}: {bad} (strict mode)")
            report.bad_rows.append(bad)
            continue
        rows.append(i)
        texts.append(str(raw).strip())
        items.append(item)

    rows_arr = np.asarray(rows, dtype=np.int64)
    y = values[rows_arr] if targets else np.zeros((len(rows), 0), np.float32)
    return _Rows(frame, column, targets, rows_arr, texts, items, y, report)


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
            errors.setdefault(int(i), _non_numeric(raw.iloc[i], col))
        for i in np.flatnonzero(np.isinf(numbers)):
            errors.setdefault(int(i), f"infinite value in {col!r}")
        finite = np.isfinite(numbers)
        values[finite, j] = numbers[finite]
        if len(targets) == 1:
            for i in np.flatnonzero(~np.isfinite(numbers) & ~np.isinf(numbers)):
                errors.setdefault(int(i), f"missing (empty or NaN) value in {col!r}")
    return values, errors


def _non_numeric(value, col: str) -> str:
    """Why ``value`` is no label, with a hint when it is a label word."""
    word = str(value).strip().lower()
    pair = next((p for p in LABEL_WORDS if word in p), None)
    hint = (
        f" (words are read as labels only when every value of {col!r} is "
        f"{pair[0]} or {pair[1]})"
        if pair
        else ""
    )
    return f"non-numeric value {value!r} in {col!r}{hint}"


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
