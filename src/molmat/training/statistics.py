"""Statistics fitted on training data that a potential is built with.

Per-element reference energies (E0s) come from isolated-atom frames when they
cover every element, else from a least-squares fit of the total energies on
the compositions. The energy scale (RMS force component, else the spread of
per-atom residual energies) and shift (their mean) complete the
:class:`~molmat.models.potentials.common.EnergyScaling` of the network.

Example:
    >>> species = species_of(frames)  # doctest: +SKIP
    >>> e0s, how = reference_energies(frames, species)  # doctest: +SKIP
    >>> graphs = neighbor_graphs(frames, cutoff=5.0)  # doctest: +SKIP
    >>> scaling = energy_scaling(graphs, species, e0s)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

import numpy as np

from molmat.data.neighbors import NeighborGraphs
from molmat.data.structures import Frame
from molmat.models.potentials.common import EnergyScaling


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


def e0_sums(graphs: NeighborGraphs, scaling: EnergyScaling) -> np.ndarray:
    """Sum of the atoms' reference energies E0 for each structure [S] (eV)."""
    e0 = scaling.reference_table(shift=False)
    return np.add.reduceat(e0[graphs.numbers], graphs.atom_offsets[:-1])


def energy_scaling(
    graphs: NeighborGraphs, species: tuple[int, ...], e0s: dict[int, float]
) -> EnergyScaling:
    """Scale: RMS force component (else per-atom energy spread); shift: mean.

    Args:
        graphs: the training structures with their energies (eV) and forces.
        species: the atomic numbers the network knows, sorted.
        e0s: reference energy of each of ``species`` (eV).
    """
    scaling = EnergyScaling(species, tuple(e0s[z] for z in species))
    residual = (graphs.energy - e0_sums(graphs, scaling)) / graphs.n_atoms
    atom_has_f = np.repeat(graphs.has_forces, graphs.n_atoms)
    if atom_has_f.any():
        scale = float(np.sqrt(np.mean(graphs.forces[atom_has_f] ** 2)))
    else:
        scale = float(np.std(residual))
    return dataclasses.replace(
        scaling,
        scale=scale if scale > 0 else 1.0,
        shift=float(np.mean(residual)),
        avg_num_neighbors=max(graphs.avg_num_neighbors, 1.0),
    )
