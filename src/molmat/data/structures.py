"""Atomic structures with energies, forces and stress (data flow B).

Readers map the file's own keys to molmat's explicitly (:class:`LabelKeys`)
and convert units once, on reading: molmat works in eV, Å, eV/Å and eV/Å^3
from then on. Every bad frame is reported with its 0-based frame index and the
reason, then skipped (``strict=True`` makes it an error).

Formats:
    * ``extxyz``: ASE's extended XYZ (gzip allowed). Values are found in
      ``atoms.info`` / ``atoms.arrays`` or, where ASE moved them there, in the
      attached ``SinglePointCalculator``.
    * ``rmd17``: the revised MD17 ``.npz`` layout (``nuclear_charges``,
      ``coords``, ``energies``, ``forces`` in kcal/mol and kcal/mol/Å).

Example:
    >>> keys = LabelKeys(stress="stress")
    >>> data = read_structures("tests/data/cu_emt.extxyz", keys=keys)
    >>> data.frames[0].energy  # eV  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import units

from molmat.data.csv import DataError
from molmat.data.graphs import GraphSet
from molmat.data.radius import close_pairs

log = logging.getLogger("molmat")

FORMATS = ("extxyz", "rmd17")
MIN_DISTANCE = 0.5  # Å; closer atoms make a frame bad (H2 is 0.74 Å)
KCAL_MOL = units.kcal / units.mol  # eV per kcal/mol
ISOLATED_ATOM_TYPES = ("isolatedatom", "isolated_atom")


@dataclass(frozen=True)
class LabelKeys:
    """Where a file keeps each label: an info key, a per-atom array or a
    result of the attached calculator, by name.

    Attributes:
        energy: total energy (eV).
        forces: per-atom forces (eV/Å); None ignores forces.
        stress: stress (eV/Å^3, 6 Voigt or 9 values, ASE sign convention);
            None ignores stress.
    """

    energy: str = "energy"
    forces: str | None = "forces"
    stress: str | None = None


# The keys read when none are given: energy and forces, no stress.
DEFAULT_LABELS = LabelKeys()
# Every label ASE's calculators give, for ``ase.Atoms`` handed over directly.
ASE_LABELS = LabelKeys(stress="stress")


@dataclass
class Frame:
    """One structure. Units: Å, eV, eV/Å, eV/Å^3.

    Attributes:
        numbers: [n] atomic numbers.
        positions: [n, 3] Cartesian positions.
        cell: [3, 3] lattice vectors as rows (zeros when not periodic).
        pbc: [3] periodic directions.
        energy: total energy, NaN when unknown.
        forces: [n, 3] or None.
        stress: [3, 3] (ASE sign convention) or None.
        index: position of the frame in its file.
        config_type: label from the file (e.g. ``IsolatedAtom``), may be empty.
    """

    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    energy: float = float("nan")
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    index: int = 0
    config_type: str = ""

    @property
    def n_atoms(self) -> int:
        return len(self.numbers)

    @property
    def is_isolated_atom(self) -> bool:
        """A single atom without periodicity, or a frame labelled IsolatedAtom."""
        label = self.config_type.lower()
        return label in ISOLATED_ATOM_TYPES or (self.n_atoms == 1 and not any(self.pbc))

    @classmethod
    def from_atoms(cls, atoms, index: int = 0) -> Frame:
        """A frame without labels from an :class:`ase.Atoms` object."""
        pbc = np.asarray(atoms.pbc, bool)
        cell = np.asarray(atoms.cell[:], np.float64) if pbc.any() else np.zeros((3, 3))
        return cls(
            numbers=np.asarray(atoms.numbers, np.int32),
            positions=np.asarray(atoms.positions, np.float64),
            cell=cell,
            pbc=pbc,
            index=index,
        )


def structure_graphs(frames: list[Frame]) -> GraphSet:
    """Frames as a :class:`~molmat.data.graphs.GraphSet`, labels included.

    Atoms carry atomic numbers and positions but no feature columns and no
    bonds; a model's batching strategy lists their radius graphs. Missing
    forces and stresses become NaN.
    """
    n = len(frames)
    n_atoms = np.array([f.n_atoms for f in frames], np.int32)
    nan3 = np.full((3, 3), np.nan)
    return GraphSet(
        atom_x=np.zeros((int(n_atoms.sum()), 0), np.float32),
        bond_x=np.zeros((0, 0), np.float32),
        senders=np.zeros(0, np.int32),
        receivers=np.zeros(0, np.int32),
        n_atoms=n_atoms,
        n_edges=np.zeros(n, np.int32),
        mol_x=np.zeros((n, 0), np.float32),
        positions=np.concatenate([f.positions for f in frames] or [np.zeros((0, 3))]),
        numbers=np.concatenate([f.numbers for f in frames] or [[]]).astype(np.int32),
        cell=np.array([f.cell for f in frames], np.float64).reshape(n, 3, 3),
        pbc=np.array([f.pbc for f in frames], bool).reshape(n, 3),
        energy=np.array([f.energy for f in frames], np.float64),
        forces=np.concatenate(
            [
                np.full((f.n_atoms, 3), np.nan) if f.forces is None else f.forces
                for f in frames
            ]
            or [np.zeros((0, 3))]
        ),
        stress=np.array(
            [nan3 if f.stress is None else f.stress for f in frames], np.float64
        ).reshape(n, 3, 3),
    )


@dataclass(frozen=True)
class BadFrame:
    """A skipped frame: its 0-based index in the file and why."""

    index: int
    reason: str

    def __str__(self) -> str:
        return f"frame {self.index}: {self.reason}"


@dataclass
class StructureData:
    """Frames read from one file, the frames skipped and the units read."""

    source: str
    frames: list[Frame]
    bad_frames: list[BadFrame] = field(default_factory=list)
    units: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    def summary(self) -> str:
        n = len(self.frames) + len(self.bad_frames)
        return (
            f"{self.source}: {n} frames, {len(self.frames)} used, "
            f"{len(self.bad_frames)} skipped"
        )

    def select(self, indices: np.ndarray, name: str = "selection") -> list[Frame]:
        """Frames whose file index is in ``indices`` (in that order).

        Indices of skipped frames are reported and left out; unknown ones raise.
        """
        by_index = {f.index: f for f in self.frames}
        bad = {b.index for b in self.bad_frames}
        missing = [int(i) for i in indices if i not in by_index and i not in bad]
        if missing:
            raise DataError(
                f"{name}: frame indices {missing[:5]} are not in {self.source} "
                f"({len(by_index) + len(bad)} frames)"
            )
        dropped = [int(i) for i in indices if i in bad]
        if dropped:
            log.warning(
                "%s: %d bad frames left out: %s", name, len(dropped), dropped[:5]
            )
        return [by_index[int(i)] for i in indices if int(i) in by_index]


def frame_problem(frame: Frame, require_forces: bool = False) -> str:
    """Why ``frame`` cannot be used, or ``""`` when it is fine."""
    if frame.n_atoms == 0:
        return "no atoms"
    if not np.isfinite(frame.positions).all():
        return "non-finite positions"
    if np.isnan(frame.energy) or np.isinf(frame.energy):
        return "missing or non-finite energy"
    if frame.forces is None:
        if require_forces and not frame.is_isolated_atom:
            return "missing forces"
    elif frame.forces.shape != frame.positions.shape:
        return (
            f"forces have shape {frame.forces.shape}, expected {frame.positions.shape}"
        )
    elif not np.isfinite(frame.forces).all():
        return "non-finite forces"
    if frame.stress is not None and not np.isfinite(frame.stress).all():
        return "non-finite stress"
    return geometry_problem(frame)


def geometry_problem(frame: Frame) -> str:
    """Why ``frame``'s atoms and cell cannot be used, or ``""``: no atoms,
    a periodic cell without volume, or atoms closer than :data:`MIN_DISTANCE`."""
    if frame.n_atoms == 0:
        return "no atoms"
    if frame.pbc.any() and abs(np.linalg.det(frame.cell)) < 1e-6:
        return "periodic frame with a degenerate cell (zero volume)"
    closest = closest_distance(frame)
    if closest < MIN_DISTANCE:
        return f"atoms {closest:.3f} Å apart (closer than {MIN_DISTANCE} Å)"
    return ""


def closest_distance(frame: Frame) -> float:
    """Shortest interatomic distance in Å (periodic images included), inf if none."""
    if frame.n_atoms < 2 and not frame.pbc.any():
        return float("inf")
    _, _, d = close_pairs(frame.positions, frame.cell, frame.pbc, 1.0)
    return float(d.min()) if len(d) else float("inf")


def check_frames(frames, strict: bool, require_forces: bool, source: str):
    """Good frames and a BadFrame (index, reason) for each bad one; see the module."""
    good, bad = [], []
    for frame in frames:
        reason = frame_problem(frame, require_forces)
        if not reason:
            good.append(frame)
            continue
        if strict:
            raise DataError(f"{source}: frame {frame.index}: {reason}")
        bad.append(BadFrame(frame.index, reason))
    if bad:
        log.warning(
            "%s: %d bad frames skipped (%s)",
            source,
            len(bad),
            "; ".join(str(b) for b in bad[:5]),
        )
    return good, bad


def _lookup(atoms, key: str):
    """``key`` from ``atoms.info``, ``atoms.arrays`` or the attached calculator."""
    if key in atoms.info:
        return atoms.info[key]
    if key in atoms.arrays:
        return atoms.arrays[key]
    calc = atoms.calc
    if calc is not None and key in getattr(calc, "results", {}):
        return calc.results[key]
    return None


def _as_stress(value) -> np.ndarray:
    from ase.stress import voigt_6_to_full_3x3_stress

    value = np.asarray(value, np.float64).reshape(-1)
    if value.size == 6:
        return voigt_6_to_full_3x3_stress(value)
    if value.size == 9:
        return value.reshape(3, 3)
    raise ValueError(f"stress has {value.size} values, expected 6 (Voigt) or 9")


def labelled_frame(atoms, index: int = 0, keys: LabelKeys = ASE_LABELS) -> Frame:
    """A frame with the labels of ``atoms`` (info, arrays or attached calculator).

    Missing labels stay unknown (NaN energy, no forces or stress).
    """
    frame = Frame.from_atoms(atoms, index=index)
    energy = _lookup(atoms, keys.energy)
    frame.energy = float("nan") if energy is None else float(energy)
    if keys.forces:
        forces = _lookup(atoms, keys.forces)
        if forces is not None:
            frame.forces = np.asarray(forces, np.float64)
    if keys.stress:
        stress = _lookup(atoms, keys.stress)
        if stress is not None:
            frame.stress = _as_stress(stress)
    frame.config_type = str(atoms.info.get("config_type", ""))
    return frame


def as_frames(structures) -> list[Frame]:
    """Frames from :class:`Frame` objects, ``ase.Atoms`` or a StructureData.

    ``ase.Atoms`` keep the labels of :data:`ASE_LABELS`.
    """
    if isinstance(structures, StructureData):
        return structures.frames
    return [
        s if isinstance(s, Frame) else labelled_frame(s, index=i)
        for i, s in enumerate(structures)
    ]


def read_extxyz(
    path: str | Path,
    keys: LabelKeys = DEFAULT_LABELS,
    require_forces: bool = False,
    strict: bool = False,
) -> StructureData:
    """Read an extended XYZ file (optionally gzip-compressed).

    Args:
        path: the file.
        keys: where the frames keep their energy, forces and stress.
        require_forces: frames without forces are bad.
        strict: raise :class:`DataError` on the first bad frame.
    """
    import ase.io

    path = Path(path)
    try:
        images = ase.io.read(path, index=":", format="extxyz")
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such file") from err
    except Exception as err:  # ASE raises many types for malformed files
        raise DataError(f"{path}: not a readable extxyz file ({err})") from err
    require_key(images, path, "energy", keys.energy)
    if keys.forces and require_forces:
        require_key(images, path, "forces", keys.forces)
    frames = [labelled_frame(atoms, i, keys) for i, atoms in enumerate(images)]
    good, bad = check_frames(frames, strict, require_forces, str(path))
    units_read = {"energy": "eV", "forces": "eV/Å", "stress": "eV/Å^3", "length": "Å"}
    keys_read = {f"{label}_key": key for label, key in asdict(keys).items()}
    return StructureData(str(path), good, bad, {**units_read, **keys_read})


def require_key(images, path: Path, label: str, key: str) -> None:
    """Raise unless some frame of ``images`` holds ``key``.

    Raises:
        DataError: naming ``key`` and the info keys and per-atom arrays the
            frames do hold, so a misspelt key is not read as unlabelled frames.
    """
    if not images or any(_lookup(atoms, key) is not None for atoms in images):
        return
    info, arrays = file_keys(images)
    raise DataError(
        f"{path}: no frame has the {label} key {key!r}; the frames hold info "
        f"keys {info} and per-atom arrays {arrays} (choose with --{label}-key)"
    )


def file_keys(images) -> tuple[list[str], list[str]]:
    """Sorted info keys and per-atom array keys over all frames.

    Values ASE moved into a calculator count as per-atom when they have one
    row per atom (``stress`` never does), else as info.
    """
    info, arrays = set(), set()
    for atoms in images:
        info.update(atoms.info)
        arrays.update(k for k in atoms.arrays if k not in ("numbers", "positions"))
        results = getattr(atoms.calc, "results", {}) if atoms.calc else {}
        for key, value in results.items():
            per_atom = key != "stress" and np.shape(value)[:1] == (len(atoms),)
            (arrays if per_atom else info).add(key)
    return sorted(info), sorted(arrays)


def read_rmd17(
    path: str | Path, require_forces: bool = False, strict: bool = False
) -> StructureData:
    """Read a revised-MD17 ``.npz`` (kcal/mol -> eV, kcal/mol/Å -> eV/Å)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            z = np.asarray(data["nuclear_charges"], np.int32)
            coords = np.asarray(data["coords"], np.float64)
            energies = np.asarray(data["energies"], np.float64) * KCAL_MOL
            forces = np.asarray(data["forces"], np.float64) * KCAL_MOL
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such file") from err
    except KeyError as err:
        raise DataError(
            f"{path}: not an rMD17 file (needs nuclear_charges, coords, energies, "
            f"forces; missing {err})"
        ) from err
    frames = [
        Frame(
            numbers=z,
            positions=coords[i],
            cell=np.zeros((3, 3)),
            pbc=np.zeros(3, bool),
            energy=float(energies[i]),
            forces=forces[i],
            index=i,
        )
        for i in range(len(coords))
    ]
    good, bad = check_frames(frames, strict, require_forces, str(path))
    units_read = {
        "energy": "kcal/mol (converted to eV)",
        "forces": "kcal/mol/Å (converted to eV/Å)",
        "length": "Å",
    }
    return StructureData(str(path), good, bad, units_read)


def read_structures(
    path: str | Path,
    format: str = "extxyz",
    keys: LabelKeys = DEFAULT_LABELS,
    require_forces: bool = False,
    strict: bool = False,
) -> StructureData:
    """Read frames in ``format`` (``extxyz`` or ``rmd17``); see the module doc.

    ``keys`` name the labels of extxyz frames; rMD17 files have fixed ones.
    """
    if format == "extxyz":
        return read_extxyz(path, keys, require_forces, strict)
    if format == "rmd17":
        return read_rmd17(path, require_forces, strict)
    raise DataError(f"unknown structure format {format!r}; choose from {FORMATS}")


def read_index_file(path: str | Path) -> np.ndarray:
    """Frame indices from a split file: one integer per line (rMD17 ``splits/``)."""
    path = Path(path)
    try:
        text = path.read_text().split()
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such split file") from err
    try:
        idx = np.array([int(float(t)) for t in text], dtype=np.int64)
    except ValueError as err:
        raise DataError(
            f"{path}: split files hold one integer per line ({err})"
        ) from err
    if (idx < 0).any():
        raise DataError(f"{path}: negative frame index {int(idx.min())}")
    return idx


def check_disjoint(train: list[Frame], test: list[Frame]) -> None:
    """Raise if a frame is both a training and a test frame.

    Raises:
        DataError: naming how many frames the splits share and a few of them.
    """
    shared = sorted({f.index for f in train} & {f.index for f in test})
    if shared:
        more = ", ..." if len(shared) > 5 else ""
        raise DataError(
            f"the training and test splits share {len(shared)} frames (frame "
            f"indices {', '.join(map(str, shared[:5]))}{more}); a test frame "
            "must not be trained on"
        )


def rmd17_split(path: str | Path, split: int) -> tuple[np.ndarray, np.ndarray]:
    """Upstream train/test indices of split ``split`` (1-based) stored in the npz."""
    with np.load(path, allow_pickle=False) as data:
        if "split_train_idx" not in data.files:
            raise DataError(f"{path}: holds no split_train_idx/split_test_idx")
        train, test = data["split_train_idx"], data["split_test_idx"]
    if not 1 <= split <= len(train):
        raise DataError(f"{path}: split {split} not in 1..{len(train)}")
    return train[split - 1].astype(np.int64), test[split - 1].astype(np.int64)


def read_split(
    data: StructureData,
    split_index: str | Path | None,
    test_index: str | Path | None,
    rmd17: int | None = None,
) -> tuple[list[Frame], list[Frame]]:
    """Training and test frames from index files, an rMD17 split, or all/none.

    Without a training index the training frames are all frames not in the
    test split. Isolated-atom frames (reference energies) are never test
    frames.

    Args:
        data: the frames read.
        split_index: file of training frame indices (:func:`read_index_file`).
        test_index: file of test frame indices.
        rmd17: upstream split (1-based) stored in ``data``'s rMD17 file,
            instead of index files.

    Raises:
        DataError: the training and test splits share frames.
    """
    if rmd17 is not None:
        train_idx, test_idx = rmd17_split(data.source, rmd17)
    else:
        train_idx = read_index_file(split_index) if split_index else None
        test_idx = read_index_file(test_index) if test_index else None
    train = (
        data.frames if train_idx is None else data.select(train_idx, "training split")
    )
    test = [] if test_idx is None else data.select(test_idx, "test split")
    test = [f for f in test if not f.is_isolated_atom]
    if train_idx is None and test_idx is not None:
        held = {f.index for f in test}
        train = [f for f in train if f.index not in held]
    check_disjoint(train, test)
    return train, test


def species_of(frames: list[Frame]) -> tuple[int, ...]:
    """Sorted atomic numbers present in ``frames``."""
    if not frames:
        return ()
    return tuple(int(z) for z in np.unique(np.concatenate([f.numbers for f in frames])))
