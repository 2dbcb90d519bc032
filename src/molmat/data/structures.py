"""Atomic structures with energies, forces and stress (data flow B).

Readers map the file's own keys to molmat's explicitly (``energy_key``,
``forces_key``, ``stress_key``) and convert units once, on reading: molmat
works in eV, Å, eV/Å and eV/Å^3 from then on. Every bad frame is reported with
its 0-based frame index and the reason, then skipped (``strict=True`` makes it
an error).

Formats:
    * ``extxyz``: ASE's extended XYZ (gzip allowed). Values are found in
      ``atoms.info`` / ``atoms.arrays`` or, where ASE moved them there, in the
      attached ``SinglePointCalculator``.
    * ``rmd17``: the revised MD17 ``.npz`` layout (``nuclear_charges``,
      ``coords``, ``energies``, ``forces`` in kcal/mol and kcal/mol/Å).

Example:
    >>> data = read_structures("tests/data/cu_emt.extxyz", stress_key="stress")
    >>> data.frames[0].energy  # eV  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import units

from molmat.data.csv import DataError

log = logging.getLogger("molmat")

FORMATS = ("extxyz", "rmd17")
MIN_DISTANCE = 0.1  # Å; closer atoms make a frame bad
KCAL_MOL = units.kcal / units.mol  # eV per kcal/mol
ISOLATED_ATOM_TYPES = ("isolatedatom", "isolated_atom")


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
    if frame.pbc.any() and abs(np.linalg.det(frame.cell)) < 1e-6:
        return "periodic frame with a degenerate cell"
    closest = closest_distance(frame)
    if closest < MIN_DISTANCE:
        return f"atoms {closest:.3f} Å apart (closer than {MIN_DISTANCE} Å)"
    return ""


def closest_distance(frame: Frame) -> float:
    """Shortest interatomic distance in Å (periodic images included), inf if none."""
    from vesin import NeighborList

    if frame.n_atoms < 2 and not frame.pbc.any():
        return float("inf")
    (d,) = NeighborList(cutoff=1.0, full_list=False).compute(
        frame.positions, frame.cell, frame.pbc, quantities="d"
    )
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


def labelled_frame(
    atoms,
    index: int = 0,
    energy_key: str = "energy",
    forces_key: str | None = "forces",
    stress_key: str | None = "stress",
) -> Frame:
    """A frame with the labels of ``atoms`` (info, arrays or attached calculator).

    Missing labels stay unknown (NaN energy, no forces or stress).
    """
    frame = Frame.from_atoms(atoms, index=index)
    energy = _lookup(atoms, energy_key)
    frame.energy = float("nan") if energy is None else float(energy)
    if forces_key:
        forces = _lookup(atoms, forces_key)
        if forces is not None:
            frame.forces = np.asarray(forces, np.float64)
    if stress_key:
        stress = _lookup(atoms, stress_key)
        if stress is not None:
            frame.stress = _as_stress(stress)
    frame.config_type = str(atoms.info.get("config_type", ""))
    return frame


def read_extxyz(
    path: str | Path,
    energy_key: str = "energy",
    forces_key: str | None = "forces",
    stress_key: str | None = None,
    require_forces: bool = False,
    strict: bool = False,
) -> StructureData:
    """Read an extended XYZ file (optionally gzip-compressed).

    Args:
        path: the file.
        energy_key: info key of the total energy (eV).
        forces_key: per-atom array of forces (eV/Å); None to ignore forces.
        stress_key: info key of the stress (eV/Å^3, 6 Voigt or 9 values; ASE
            sign convention); None to ignore stress.
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
    require_key(images, path, "energy", energy_key)
    if forces_key and require_forces:
        require_key(images, path, "forces", forces_key)
    frames = [
        labelled_frame(atoms, i, energy_key, forces_key, stress_key)
        for i, atoms in enumerate(images)
    ]
    good, bad = check_frames(frames, strict, require_forces, str(path))
    units_read = {"energy": "eV", "forces": "eV/Å", "stress": "eV/Å^3", "length": "Å"}
    keys = {
        "energy_key": energy_key,
        "forces_key": forces_key,
        "stress_key": stress_key,
    }
    return StructureData(str(path), good, bad, {**units_read, **keys})


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
    energy_key: str = "energy",
    forces_key: str | None = "forces",
    stress_key: str | None = None,
    require_forces: bool = False,
    strict: bool = False,
) -> StructureData:
    """Read frames in ``format`` (``extxyz`` or ``rmd17``); see the module doc."""
    if format == "extxyz":
        return read_extxyz(
            path, energy_key, forces_key, stress_key, require_forces, strict
        )
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


def species_of(frames: list[Frame]) -> tuple[int, ...]:
    """Sorted atomic numbers present in ``frames``."""
    if not frames:
        return ()
    return tuple(int(z) for z in np.unique(np.concatenate([f.numbers for f in frames])))


def composition(frames: list[Frame], species: tuple[int, ...]) -> np.ndarray:
    """[n_frames, n_species] atom counts per element."""
    lookup = {z: k for k, z in enumerate(species)}
    counts = np.zeros((len(frames), len(species)))
    for i, frame in enumerate(frames):
        for z, c in zip(*np.unique(frame.numbers, return_counts=True), strict=True):
            counts[i, lookup[int(z)]] = c
    return counts


def fit_e0s(frames: list[Frame], species: tuple[int, ...]) -> dict[int, float]:
    """Per-element reference energies (eV) by least squares on total energies.

    With one composition only (e.g. a single molecule) the minimum-norm
    solution is returned; it reproduces the mean energy all the same.
    """
    counts = composition(frames, species)
    energies = np.array([f.energy for f in frames])
    e0, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return {z: float(e) for z, e in zip(species, e0, strict=True)}


def isolated_atom_e0s(frames: list[Frame]) -> dict[int, float]:
    """Reference energies from isolated-atom frames (eV), by element."""
    return {
        int(f.numbers[0]): float(f.energy)
        for f in frames
        if f.is_isolated_atom and f.n_atoms == 1
    }


def reference_energies(
    frames: list[Frame], species: tuple[int, ...], isolated: list[Frame] = ()
) -> tuple[dict[int, float], str]:
    """E0s from isolated atoms when they cover ``species``, else fitted.

    Returns:
        ``({Z: E0 in eV}, how)`` with ``how`` ``"isolated atoms"`` or
        ``"least squares"``.
    """
    from_atoms = isolated_atom_e0s(list(isolated))
    if from_atoms and all(z in from_atoms for z in species):
        return {z: from_atoms[z] for z in species}, "isolated atoms"
    return fit_e0s(frames, species), "least squares"
