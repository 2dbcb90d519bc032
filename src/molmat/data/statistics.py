"""Statistics fitted on training data: every model family's scalers and E0s.

- :class:`Standardizer`: per-column mean and standard deviation, fitted with
  missing values ignored; property networks and the classic MLP standardise
  their targets with it, and the networks' molecule descriptors (clipped,
  missing values set to the mean) too.
- Per-element reference energies (E0s) of a potential: from isolated-atom
  frames when they cover every element, else a least-squares fit of the
  total energies on the compositions (:func:`reference_energies`), summed
  per structure in float64 by :func:`structure_sums`.
- The energy scale and shift of a potential (:func:`energy_scale_shift`).

Example:
    >>> import numpy as np
    >>> s = Standardizer.fit(np.array([[1.0], [3.0], [np.nan]]))
    >>> s.transform(np.array([[3.0]])).tolist(), s.inverse(np.array([[0.0]])).tolist()
    ([[1.0]], [[2.0]])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from molmat.data.structures import Frame

N_ELEMENTS = 119


@dataclass(frozen=True)
class Standardizer:
    """``z = (x - mean) / std`` per column, with statistics of the training data.

    Attributes:
        mean: [D] float32 column means (missing values ignored; 0 for a
            column with none).
        std: [D] float32 column standard deviations (1 where a column is
            constant or empty, so it passes through centred).
        clip: with a value, :meth:`transform` sets missing values to the mean
            and clips ``z`` to ±``clip`` (inputs: an unusual molecule cannot
            push a network far outside what it saw); without, missing values
            stay NaN (targets: NaN marks a missing label).
    """

    mean: np.ndarray
    std: np.ndarray
    clip: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "mean", np.asarray(self.mean, np.float32))
        object.__setattr__(self, "std", np.asarray(self.std, np.float32))

    @classmethod
    def fit(cls, x: np.ndarray, clip: float | None = None) -> Standardizer:
        """Statistics of the columns of ``x`` [n, D], NaN ignored."""
        with warnings.catch_warnings():  # an all-NaN column: mean 0, std 1
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nan_to_num(np.nanmean(x, axis=0))
            std = np.nan_to_num(np.nanstd(x, axis=0), nan=1.0)
        return cls(mean, np.where(std < 1e-8, 1.0, std), clip)

    @classmethod
    def identity(cls, n_columns: int) -> Standardizer:
        """Mean 0 and std 1 for ``n_columns`` columns (e.g. class labels)."""
        return cls(np.zeros(n_columns), np.ones(n_columns))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardised ``x`` [n, D], float32 (computed in ``x``'s precision)."""
        z = (np.asarray(x) - self.mean) / self.std
        if self.clip is not None:
            z = np.clip(np.nan_to_num(z), -self.clip, self.clip)
        return z.astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Values in original units from standardised ``z`` [n, D]."""
        return z * self.std + self.mean

    def to_dict(self) -> dict:
        """JSON-ready statistics (an archive's config)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict, clip: float | None = None) -> Standardizer:
        """Inverse of :meth:`to_dict`."""
        return cls(d["mean"], d["std"], clip)


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


def element_table(values: dict[int, float]) -> np.ndarray:
    """[119] float64 ``values[Z]`` by atomic number, 0 for other elements."""
    table = np.zeros(N_ELEMENTS)
    table[list(values)] = list(values.values())
    return table


def structure_sums(
    table: np.ndarray, numbers: np.ndarray, n_atoms: np.ndarray
) -> np.ndarray:
    """Sum over each structure's atoms of a per-element ``table`` [119].

    Args:
        table: [119] value by atomic number (e.g. E0s in eV).
        numbers: [A] atomic numbers, one structure after the other.
        n_atoms: [S] atoms per structure.

    Returns:
        [S] float64.
    """
    n_atoms = np.asarray(n_atoms)
    structure = np.repeat(np.arange(len(n_atoms)), n_atoms)
    weights = np.asarray(table, np.float64)[np.asarray(numbers)]
    return np.bincount(structure, weights, minlength=len(n_atoms))


def energy_scale_shift(
    residual: np.ndarray,
    n_atoms: np.ndarray,
    forces: np.ndarray,
    atom_has_forces: np.ndarray,
) -> tuple[float, float]:
    """A potential's per-atom energy scale and shift (eV).

    Args:
        residual: [S] structure energies minus their E0 sums (eV).
        n_atoms: [S] atoms per structure.
        forces: [A, 3] forces (eV/Å).
        atom_has_forces: [A] whether each atom's force is a label.

    Returns:
        ``(scale, shift)``: the RMS force component (without forces, the
        spread of per-atom residual energies; 1 if that is 0) and the mean
        per-atom residual energy.
    """
    per_atom = residual / n_atoms
    if atom_has_forces.any():
        scale = float(np.sqrt(np.mean(forces[atom_has_forces] ** 2)))
    else:
        scale = float(np.std(per_atom))
    return (scale if scale > 0 else 1.0), float(np.mean(per_atom))
