"""Crystal structures with property labels: extxyz, CIF or POSCAR → a table.

The property workflow's structure input (data flow D). Each structure of a
file (or each file of a folder) is one row; its targets are keys of the
structure's ``info`` (extxyz comment-line keys such as ``band_gap=1.2``), or
the columns of a CSV whose ``cif`` column holds each structure. A
row is skipped, and reported by its index or file name with the reason, when
the file cannot be read, an occupancy is partial, a periodic structure has
no volume, two atoms sit closer than 0.5 Å, or a target is missing or not a
number.

Example:
    >>> table = read_structure_table("set.extxyz", ["band_gap"])  # doctest: +SKIP
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ase.data import chemical_symbols

from molmat.data import core_mof
from molmat.data.csv import BadRow, DataError, DataReport
from molmat.data.structures import Frame, geometry_problem

STRUCTURE_SUFFIXES = (".extxyz", ".xyz", ".cif", ".vasp", ".poscar")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2")
FORMATS = {".extxyz": "extxyz", ".xyz": "extxyz", ".vasp": "vasp", ".poscar": "vasp"}


@dataclass
class StructureTable:
    """Parsed structures with their targets.

    Attributes:
        frame: one row per input structure: its name and scalar ``info`` keys.
        rows: [n] 0-based input position of each usable structure.
        names: [n] name of each (``<file>:<index>`` or the file name).
        structures: [n] the structures (positions Å, cell rows Å).
        y: [n, n_targets] float targets, NaN where a label is missing.
        target_names: the target keys.
        report: skipped structures with their reasons.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    names: list[str]
    structures: list[Frame]
    y: np.ndarray
    target_names: list[str]
    report: DataReport
    input_name = "structure"

    def __len__(self) -> int:
        return len(self.structures)

    @property
    def inputs(self) -> list[Frame]:
        return self.structures

    @property
    def texts(self) -> list[str]:
        return self.names


def structure_problem(atoms) -> str:
    """Why an ``ase.Atoms`` cannot be used, or ``""``."""
    occupancy = atoms.info.get("occupancy") or {}
    partial = sorted(
        {s for site in occupancy.values() for s, x in site.items() if x < 1 - 1e-6}
    )
    if partial:
        return f"partial occupancies ({', '.join(partial)})"
    return geometry_problem(Frame.from_atoms(atoms))


def read_structure_table(
    source: str | Path,
    targets: list[str] | tuple[str, ...] | None = None,
    *,
    require_targets: bool = True,
    strict: bool = False,
    labels: str | Path | None = None,
) -> StructureTable:
    """Read the structures of a file (every frame), a folder or a tar archive
    (every file ending in :data:`STRUCTURE_SUFFIXES`, sorted by name).

    Args:
        source: extxyz (gzip allowed), CIF, POSCAR, a folder or a tar archive
            (``.tar``, ``.tar.gz``, ``.tar.xz``...) of them, a CSV with a
            ``cif`` column (the other columns are targets), or ``core_mof``
            (CoRE MOF 2019 with its property table;
            :mod:`molmat.data.core_mof`).
        targets: ``info`` keys to learn; ``None``: the only numeric key the
            first structure has besides bookkeeping ones.
        require_targets: ``False`` reads structures only (for prediction).
        strict: raise :class:`DataError` on the first bad structure.
        labels: a CSV of properties whose first column names the structures
            (file names, with or without their suffix); its other columns
            join each structure's ``info`` (``Yes``/``No`` and
            ``True``/``False`` as 1/0). A structure without a row has no
            labels.
    """
    if str(source) == core_mof.NAME:
        source, table = core_mof.core_mof_files()
        labels = table if labels is None else labels
    entries = _read_entries(Path(source))
    if labels is not None:
        _join_labels(entries, Path(labels))
    report = DataReport(source=str(source), n_rows=len(entries))
    if targets is None or len(targets) == 0:
        targets = _detect_targets(entries) if require_targets else []
    targets = list(targets)
    rows, names, structures, values = [], [], [], []
    for i, (name, atoms, error) in enumerate(entries):
        reason = error or structure_problem(atoms)
        labels = []
        if not reason:
            labels, reason = _labels(atoms, targets, require_targets)
        if reason:
            bad = BadRow(i, reason, name)
            if strict:
                raise DataError(f"{source}: {bad} (strict mode)")
            report.bad_rows.append(bad)
            continue
        rows.append(i)
        names.append(name)
        structures.append(Frame.from_atoms(atoms, index=i))
        values.append(labels)
    info = [
        {"structure": name}
        | {
            k: v
            for k, v in (atoms.info.items() if atoms is not None else ())
            if np.isscalar(v)
        }
        for name, atoms, _ in entries
    ]
    return StructureTable(
        frame=pd.DataFrame(info),
        rows=np.asarray(rows, np.int64),
        names=names,
        structures=structures,
        y=np.asarray(values, np.float32).reshape(len(rows), len(targets)),
        target_names=targets,
        report=report,
    )


def read_cif(source):
    """The first structure of a CIF (a path or a text stream) as ``ase.Atoms``.

    A P1 block (only the identity operation, as CoRE MOF and pymatgen write
    them) is taken as listed, about 50 times faster than ASE's reader, which
    expands and deduplicates every site; other space groups and partial
    occupancies (reported later by :func:`structure_problem`) go through
    ASE's reader.
    """
    import ase.io
    from ase.io.cif import parse_cif

    if hasattr(source, "seek"):
        text = source.read()
        source = io.StringIO(text)
    block = next(parse_cif(source))
    occupancy = block.get("_atom_site_occupancy")
    partial = occupancy is not None and any(
        isinstance(x, (int, float)) and x < 1 for x in occupancy
    )
    with warnings.catch_warnings():  # ASE on P1 cells: "not interpreted"
        warnings.filterwarnings("ignore", "crystal system", UserWarning)
        group = block.get_spacegroup(True).no
    if group == 1 and not partial:
        atoms = block.get_unsymmetrized_structure()
        atoms.pbc = True
        return atoms
    source = io.StringIO(text) if isinstance(source, io.StringIO) else source
    return ase.io.read(source, format="cif")


def _read_one(path: Path):
    if path.name.lower().endswith(".cif"):
        return read_cif(str(path))
    import ase.io

    return ase.io.read(path)


def _join_labels(entries, path: Path) -> None:
    """Put the row of ``path`` (a CSV keyed by its first column) named like
    each structure into the structure's ``info``."""
    if not path.exists():
        raise DataError(f"{path}: no such labels file")
    frame = pd.read_csv(path, encoding="latin-1")
    key = frame.columns[0]
    rows = {
        str(name): row
        for name, row in zip(frame[key], frame.to_dict("records"), strict=True)
    }
    for name, atoms, _ in entries:
        row = rows.get(name) or rows.get(_stem(name))
        if atoms is not None and row is not None:
            atoms.info.update({k: _flag(v) for k, v in row.items() if k != key})


def _flag(value):
    """``Yes``/``True`` -> 1.0, ``No``/``False`` -> 0.0, anything else as is."""
    if isinstance(value, str) and value.strip().lower() in FLAGS:
        return FLAGS[value.strip().lower()]
    return value


FLAGS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}


def _stem(name: str) -> str:
    """A structure file's name without its suffix."""
    for suffix in STRUCTURE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _read_text(name: str, text: str):
    """A structure from the text of a file called ``name``."""
    if name.lower().endswith(".cif"):
        return read_cif(io.StringIO(text))
    import ase.io

    suffix = next(s for s in STRUCTURE_SUFFIXES if name.lower().endswith(s))
    return ase.io.read(io.StringIO(text), format=FORMATS[suffix])


def _archive_entries(path: Path) -> list[tuple[str, object, str]]:
    """Every structure file of a tar archive, sorted by name, read in memory."""
    import tarfile

    out = []
    with tarfile.open(path) as tar:
        members = sorted(
            (
                m
                for m in tar
                if m.isfile() and m.name.lower().endswith(STRUCTURE_SUFFIXES)
            ),
            key=lambda m: m.name,
        )
        if not members:
            raise DataError(f"{path}: no structure files in the archive")
        for member in members:
            name = Path(member.name).name
            try:
                text = tar.extractfile(member).read().decode("utf-8", "replace")
                out.append((name, _read_text(name, text), ""))
            except Exception as err:  # ASE raises many types for malformed files
                out.append((name, None, f"unreadable ({type(err).__name__}: {err})"))
    return out


def _read_entries(path: Path) -> list[tuple[str, object, str]]:
    """``(name, atoms or None, read error)`` per structure of ``path``."""
    import ase.io

    if path.name.lower().endswith(ARCHIVE_SUFFIXES) and path.is_file():
        return _archive_entries(path)
    if path.is_dir():
        files = sorted(
            f for f in path.iterdir() if f.name.lower().endswith(STRUCTURE_SUFFIXES)
        )
        if not files:
            raise DataError(
                f"{path}: no structure files ({', '.join(STRUCTURE_SUFFIXES)})"
            )
        out = []
        for f in files:
            try:
                out.append((f.name, _read_one(f), ""))
            except Exception as err:  # ASE raises many types for malformed files
                out.append((f.name, None, f"unreadable ({type(err).__name__}: {err})"))
        return out
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.name.lower().endswith((".csv", ".csv.gz")):
        return _cif_column_entries(path)
    try:
        images = ase.io.read(path, index=":")
    except Exception as err:
        raise DataError(f"{path}: not a readable structure file ({err})") from err
    return [(f"{path.name}:{i}", atoms, "") for i, atoms in enumerate(images)]


def _cif_column_entries(path: Path) -> list[tuple[str, object, str]]:
    """A CSV with a ``cif`` column (CDVAE's layout): one structure per row,
    the row's other values in its ``info``."""
    frame = pd.read_csv(path)
    column = next((c for c in frame.columns if str(c).lower() == "cif"), None)
    if column is None:
        raise DataError(f"{path}: no 'cif' column; columns are {list(frame.columns)}")
    out = []
    for i, row in enumerate(frame.to_dict("records")):
        text = row.pop(column)
        info = {str(k): v for k, v in row.items() if not str(k).startswith("Unnamed")}
        try:
            atoms = read_cif(io.StringIO(str(text)))
        except Exception as err:  # ASE raises many types for malformed CIFs
            out.append((f"{path.name}:{i}", None, f"unreadable CIF ({err})"))
            continue
        atoms.info.update(info)
        out.append((f"{path.name}:{i}", atoms, ""))
    return out


BOOKKEEPING = ("matbench_index", "index", "id", "material_id", "spacegroup")


def _detect_targets(entries) -> list[str]:
    first = next((a for _, a, e in entries if a is not None and not e), None)
    numeric = [
        k
        for k, v in (first.info.items() if first is not None else ())
        if isinstance(v, (int, float, np.number)) and k not in BOOKKEEPING
    ]
    if len(numeric) == 1:
        return numeric
    raise DataError(
        f"cannot guess the target (numeric info keys: {numeric}); name it with --target"
    )


def _labels(atoms, targets, require_targets) -> tuple[list[float], str]:
    labels = []
    for key in targets:
        value = atoms.info.get(key)
        try:
            number = float(value) if value is not None else float("nan")
        except (TypeError, ValueError):
            return [], f"target {key!r} is not a number ({value!r})"
        labels.append(number)
    if targets and require_targets and np.isnan(labels).all():
        return [], f"missing target value ({', '.join(targets)})"
    return labels, ""


def structures(X) -> tuple[list[Frame | None], list[str]]:
    """Check structures (``Frame`` or ``ase.Atoms``): per item, the frame
    (``None`` if unusable) and the reason (``""`` if usable)."""
    frames, reasons = [], []
    for i, x in enumerate(X):
        if isinstance(x, Frame):
            reason = geometry_problem(x)
            frame = x
        elif hasattr(x, "get_positions"):
            reason = structure_problem(x)
            frame = None if reason else Frame.from_atoms(x, index=i)
        else:
            reason, frame = f"not a structure ({type(x).__name__})", None
        frames.append(None if reason else frame)
        reasons.append(reason)
    return frames, reasons


def element_lists(X) -> list[list[str]]:
    """Sorted element symbols of each structure of ``X`` ([] if unusable)."""
    return [structure_elements([f]) for f in structures(X)[0]]


def structure_elements(frames) -> list[str]:
    """Sorted element symbols of ``frames`` (``None`` skipped)."""
    found = {int(z) for f in frames if f is not None for z in f.numbers}
    return sorted(chemical_symbols[z] for z in found)
