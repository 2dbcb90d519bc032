"""3D conformers from RDKit's ETKDG, for models that read atom positions.

Each molecule gets ``n`` ETKDG (v3) conformers, embedded with explicit
hydrogens and, with ``mmff=True``, relaxed with the MMFF94 force field. The
conformer of lowest force-field energy (MMFF94, or UFF where MMFF has no
parameters) is kept, so a molecule always has one geometry: more conformers
mean a better chance of finding a low-energy one, not an ensemble. Positions
of the molecule's own atoms (hydrogens dropped again) are returned in Å, in
the molecule's atom order. Embedding is seeded, so it is reproducible, and
:func:`embed_all` embeds molecules on every core at once (RDKit releases the
GIL while it embeds and relaxes).

Example:
    >>> from rdkit import Chem
    >>> positions, reason = embed(Chem.MolFromSmiles("CCO"), ConformerOptions(n=3))
    >>> positions.shape, reason
    ((3, 3), '')
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem
from tqdm.auto import tqdm

from molmat.featurizers.descriptors import progress_off

CONFORMER_VERSION = "etkdg-v1"


@dataclass(frozen=True)
class ConformerOptions:
    """How to embed conformers.

    Attributes:
        n: ETKDG conformers tried per molecule (the lowest-energy one is kept).
        mmff: relax every conformer with MMFF94 before choosing.
        seed: random seed of the embedding.
    """

    n: int = 1
    mmff: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"conformers must be at least 1, got {self.n}")

    def tag(self) -> str:
        """The settings as a cache-key string."""
        return f"{CONFORMER_VERSION} n={self.n} mmff={self.mmff} seed={self.seed}"


def _energies(mol: Chem.Mol, conf_ids: list[int]) -> list[float] | None:
    """Force-field energy (kcal/mol) of each conformer; None without parameters."""
    if AllChem.MMFFHasAllMoleculeParams(mol):
        props = AllChem.MMFFGetMoleculeProperties(mol)
        return [
            AllChem.MMFFGetMoleculeForceField(mol, props, confId=c).CalcEnergy()
            for c in conf_ids
        ]
    if AllChem.UFFHasAllMoleculeParams(mol):
        return [
            AllChem.UFFGetMoleculeForceField(mol, confId=c).CalcEnergy()
            for c in conf_ids
        ]
    return None


def embed(mol: Chem.Mol, options: ConformerOptions) -> tuple[np.ndarray | None, str]:
    """Lowest-energy conformer of ``mol``.

    Returns:
        ``(positions [n_atoms, 3] float32 in Å, "")``, or ``(None, reason)``
        when ETKDG cannot embed the molecule (also retried from random
        coordinates).
    """
    with_h = Chem.AddHs(mol)
    conf_ids = []
    for random_coords in (False, True):
        params = AllChem.ETKDGv3()
        params.randomSeed = options.seed
        params.useRandomCoords = random_coords
        conf_ids = list(AllChem.EmbedMultipleConfs(with_h, options.n, params))
        if conf_ids:
            break
    if not conf_ids:
        return None, f"ETKDG could not embed a 3D conformer ({options.n} tried)"
    if options.mmff:
        if not AllChem.MMFFHasAllMoleculeParams(with_h):
            return None, "MMFF94 has no parameters for this molecule"
        AllChem.MMFFOptimizeMoleculeConfs(with_h, maxIters=500)
    energies = _energies(with_h, conf_ids) if len(conf_ids) > 1 else None
    best = conf_ids[int(np.argmin(energies))] if energies else conf_ids[0]
    xyz = with_h.GetConformer(best).GetPositions()[: mol.GetNumAtoms()]
    if not np.all(np.isfinite(xyz)):
        return None, "conformer has non-finite coordinates"
    return xyz.astype(np.float32), ""


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def embed_all(
    mols: list[Chem.Mol], options: ConformerOptions, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Conformers of many molecules, embedded by ``workers`` threads at once.

    Args:
        mols: the molecules (without explicit hydrogens).
        options: how to embed.
        workers: threads embedding at once (default: :func:`usable_cores`);
            the result does not depend on it.

    Returns:
        positions [total_atoms, 3] float32 (zeros for failed molecules) and
        errors [n_mols] str ("" where embedding worked, else the reason).
    """
    blocks, errors = [np.zeros((0, 3), np.float32)], []
    with ThreadPoolExecutor(max_workers=workers or usable_cores()) as pool:
        results = pool.map(partial(embed, options=options), mols)
        bar = tqdm(
            zip(mols, results, strict=True),
            total=len(mols),
            desc="embedding conformers",
            unit="mol",
            disable=progress_off(len(mols)),
        )
        for mol, (xyz, reason) in bar:
            blocks.append(
                xyz if xyz is not None else np.zeros((mol.GetNumAtoms(), 3), np.float32)
            )
            errors.append(reason)
    return np.concatenate(blocks), np.array(errors, dtype=str)
