"""Molecular scores over lists of RDKit molecules: logP, SA, QED, weight and
penalised logP.

Every function takes a sequence of RDKit molecules (``None`` allowed) and
returns a float64 array of the same length, NaN where the molecule is ``None``.
They are what the MOSES metrics compare (logP, SA, QED, weight) and what
latent-space optimisation maximises (penalised logP).

Example:
    >>> from rdkit import Chem
    >>> mols = [Chem.MolFromSmiles("CCO"), None]
    >>> weight(mols).round(2).tolist()
    [46.07, nan]
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from functools import cache
from types import ModuleType

import numpy as np
from rdkit import Chem, RDConfig
from rdkit.Chem import QED as _QED
from rdkit.Chem import Crippen, Descriptors

# ZINC250k statistics of the three penalised-logP terms, from the JT-VAE code
# (Jin et al. 2018, bo/run_bo.py): mean and standard deviation of each term.
LOGP_MEAN, LOGP_STD = 2.4570953396190123, 1.434324401111988
SA_MEAN, SA_STD = -3.0525811293166134, 0.8335207024513095
CYCLE_MEAN, CYCLE_STD = -0.0485696876403053, 0.2860212110245455


def _scores(mols: Sequence[Chem.Mol | None], score: Callable[[Chem.Mol], float]):
    """``score`` of each molecule as a float64 array [n], NaN for ``None``."""
    return np.array(
        [np.nan if mol is None else score(mol) for mol in mols], dtype=np.float64
    )


@cache
def _sascorer() -> ModuleType:
    """RDKit's Contrib ``sascorer`` module (Ertl & Schuffenhauer 2009)."""
    folder = os.path.join(RDConfig.RDContribDir, "SA_Score")
    if not os.path.isfile(os.path.join(folder, "sascorer.py")):
        raise FileNotFoundError(
            f"RDKit's Contrib SA_Score is missing ({folder}): the SA score needs "
            "an RDKit installation that ships its Contrib folder (the rdkit wheel "
            "from PyPI or conda-forge does)"
        )
    if folder not in sys.path:
        sys.path.append(folder)
    return importlib.import_module("sascorer")


def logp(mols: Sequence[Chem.Mol | None]) -> np.ndarray:
    """Wildman–Crippen logP (RDKit ``MolLogP``): log10 of the octanol/water
    partition coefficient, dimensionless. Shape [n]."""
    return _scores(mols, Crippen.MolLogP)


def sa_score(mols: Sequence[Chem.Mol | None]) -> np.ndarray:
    """Synthetic accessibility score (RDKit Contrib SA_Score), from 1 (easy to
    make) to 10 (hard), dimensionless. Shape [n].

    Raises:
        FileNotFoundError: RDKit's Contrib folder is not installed.
    """
    return _scores(mols, _sascorer().calculateScore)


def qed(mols: Sequence[Chem.Mol | None]) -> np.ndarray:
    """Quantitative estimate of drug-likeness (Bickerton et al. 2012, RDKit's
    default weights), in [0, 1]. Shape [n]."""
    return _scores(mols, _QED.qed)


def weight(mols: Sequence[Chem.Mol | None]) -> np.ndarray:
    """Average molecular weight (RDKit ``MolWt``, hydrogens included), in
    g/mol. Shape [n]."""
    return _scores(mols, Descriptors.MolWt)


def _cycle_penalty(mol: Chem.Mol) -> float:
    """Size of the largest ring (RDKit's SSSR) beyond 6 atoms: ``max(0, n - 6)``."""
    sizes = [len(ring) for ring in mol.GetRingInfo().AtomRings()]
    return float(max(0, max(sizes, default=0) - 6))


def cycle_penalty(mols: Sequence[Chem.Mol | None]) -> np.ndarray:
    """Atoms of the largest ring beyond six, ``max(0, largest ring - 6)``; 0
    for acyclic molecules. Shape [n]."""
    return _scores(mols, _cycle_penalty)


def penalized_logp(mols: Sequence[Chem.Mol | None]) -> np.ndarray:
    """Penalised logP of JT-VAE / GCPN, dimensionless. Shape [n].

    ``(logP - m1)/s1 + (-SA - m2)/s2 + (-cycle - m3)/s3``: logP minus the SA
    score minus the cycle penalty, each term standardised with its ZINC250k
    mean and standard deviation (``LOGP_*``, ``SA_*``, ``CYCLE_*``).
    """
    return (
        (logp(mols) - LOGP_MEAN) / LOGP_STD
        + (-sa_score(mols) - SA_MEAN) / SA_STD
        + (-cycle_penalty(mols) - CYCLE_MEAN) / CYCLE_STD
    )
