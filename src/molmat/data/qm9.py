"""QM9: 134k small organic molecules with DFT geometries and properties.

QM9 is not bundled (about 230 MB of CSV); it comes from the PyPI package
``qm9pack`` (``pip install 'molmat[qm9]'``), whose CSV files hold every
molecule with its B3LYP/6-31G(2df,p) geometry (``XYZ_Ang``, Å) and
properties. A CSV with the same columns can be passed as ``path`` instead.

Energy targets are converted from Hartree to eV on reading; per-element
reference energies are fitted later, on the training molecules only.

Reference: Ramakrishnan, Dral, Rupp & von Lilienfeld, Sci. Data 1, 140022 (2014).

Example:
    >>> table = read_qm9_table()  # doctest: +SKIP
    >>> data = qm9_frames(table, "U0", rows=range(1000))  # doctest: +SKIP
    >>> data.frames[0].energy  # eV  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from ase import units
from ase.data import atomic_numbers

from molmat.data.csv import DataError
from molmat.data.structures import BadFrame, Frame, StructureData, check_frames

# target name -> qm9pack column (Hartree). All are extensive energies, so an
# energy network (a sum of atomic terms) fits them.
TARGETS = {
    "U0": "InternalEnergy_0K_au",
    "U": "InternalEnergy_298K_au",
    "H": "Enthalphy_298K_au",
    "G": "GibbsFreeEnergy_298K_au",
    "ZPVE": "ZPVE_au",
}
GEOMETRY_COLUMNS = ("XYZ_file", "SMILES", "Elements", "XYZ_Ang")
INSTALL_HINT = (
    "QM9 comes from the optional extra: pip install 'molmat[qm9]' "
    "(the qm9pack package, about 100 MB), or pass a CSV in its layout"
)


def qm9pack_files() -> list[Path]:
    """The CSV parts of the installed ``qm9pack`` package, in order."""
    try:
        import qm9pack
    except ImportError as err:
        raise DataError(INSTALL_HINT) from err
    folder = Path(qm9pack.__file__).parent / "data"
    files = sorted(folder.glob("qm9_part*.csv"))
    if not files:
        raise DataError(f"{folder}: no qm9_part*.csv files; reinstall qm9pack")
    return files


def check_target(target: str) -> str:
    """``target`` if molmat can train it on QM9, else a DataError naming the choices."""
    if target not in TARGETS:
        raise DataError(
            f"QM9 target {target!r} is not supported; choose one of {list(TARGETS)} "
            "(extensive energies, trained as sums of atomic terms)"
        )
    return target


def read_qm9_table(path: str | Path | None = None) -> pd.DataFrame:
    """QM9 as a table: geometry columns and every energy target (one row each).

    Args:
        path: a CSV in qm9pack's layout; None reads the installed qm9pack.
    """
    files = [Path(path)] if path is not None else qm9pack_files()
    columns = [*GEOMETRY_COLUMNS, *TARGETS.values()]
    parts = []
    for file in files:
        try:
            parts.append(pd.read_csv(file, usecols=lambda c: c in columns))
        except FileNotFoundError as err:
            raise DataError(f"{file}: no such file") from err
        missing = [c for c in GEOMETRY_COLUMNS if c not in parts[-1].columns]
        if missing:
            raise DataError(f"{file}: not a QM9 table (missing columns {missing})")
    return pd.concat(parts, ignore_index=True)


def _parse_row(row, index: int, value: float) -> Frame:
    symbols = [s.strip(" '\"") for s in str(row.Elements).strip("[]").split(",")]
    numbers = np.array([atomic_numbers[s] for s in symbols], np.int32)
    # "[[0.59,0.,1.],...]": numbers such as "0." are not JSON; "*^" is an exponent
    text = str(row.XYZ_Ang).replace("*^", "e")
    for char in "[],":
        text = text.replace(char, " ")
    positions = np.array(text.split(), np.float64).reshape(-1, 3)
    if len(positions) != len(numbers):
        raise ValueError(f"{len(numbers)} elements but {len(positions)} positions")
    return Frame(
        numbers=numbers,
        positions=positions,
        cell=np.zeros((3, 3)),
        pbc=np.zeros(3, bool),
        energy=value,
        index=index,
        config_type=str(row.XYZ_file),
    )


def qm9_frames(
    table: pd.DataFrame, target: str = "U0", rows=None, strict: bool = False
) -> StructureData:
    """Frames of the QM9 ``rows`` (0-based table rows) with ``target`` in eV.

    Rows whose geometry cannot be parsed, whose target is missing, or whose
    atoms overlap are reported by row and skipped (``strict``: an error).
    """
    check_target(target)
    column = TARGETS[target]
    if column not in table.columns:
        raise DataError(f"QM9 table has no column {column!r} for target {target}")
    rows = np.arange(len(table)) if rows is None else np.asarray(list(rows), int)
    values = pd.to_numeric(table[column], errors="coerce").to_numpy() * units.Hartree
    frames = []
    unparsable = []
    for i in rows:
        try:
            frames.append(_parse_row(table.iloc[i], int(i), float(values[i])))
        except (KeyError, ValueError, TypeError) as err:
            if strict:
                raise DataError(f"QM9 row {i}: unreadable geometry ({err})") from err
            unparsable.append((int(i), f"unreadable geometry ({err})"))
    good, bad = check_frames(frames, strict, False, "QM9")
    bad += [BadFrame(i, reason) for i, reason in unparsable]
    units_read = {"energy": "Hartree (converted to eV)", "length": "Å"}
    return StructureData(f"QM9 {target}", good, bad, units_read)
