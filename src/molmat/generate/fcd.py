"""The Fréchet ChemNet Distance (Preuer et al., J. Chem. Inf. Model. 58, 1736 (2018)).

FCD compares two sets of molecules through Gaussians fitted to ChemNet's
512 penultimate activations: ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``.
Lower is closer; 0 for identical statistics. This is a JAX port of the
``fcd`` package (1.2.2) that agrees with it to about 1e-6 per activation.
Only ChemNet's weights are taken from that package, read without importing
it or PyTorch: ``pip install --no-deps fcd`` (about 5 MB).

Preprocessing, as fcd's own recipe (``canonical_smiles``, then dropping the
``None`` entries, then ``get_fcd``): :func:`fcd_statistics` and :func:`fcd`
replace each SMILES by RDKit's canonical SMILES and drop those RDKit cannot
parse; :func:`chemnet_activations` takes SMILES as given. Characters outside
ChemNet's vocabulary (e.g. the ``a`` of ``[Na+]``) are encoded as its
unknown token ``X``, as fcd does; no molecule is rejected for them. Unlike
fcd, a set with fewer than two valid molecules raises ``ValueError`` (fcd's
covariance would be NaN), and the mean is taken in float64 (fcd: float32).

Example:
    >>> from molmat.generate.fcd import fcd
    >>> fcd(["CCO", "CCN", "c1ccccc1"], ["CCC", "CCOC", "c1ccncc1"])  # doctest: +SKIP
    4.87...
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import equinox as eqx
import numpy as np
from rdkit import Chem
from scipy import linalg

from molmat.data.console import progress_bar
from molmat.data.rdkit_log import silence_rdkit
from molmat.models.generative.chemnet import (
    OUTPUT_SIZE,
    ChemNet,
    encode,
    load_chemnet,
    pad_length,
)

UNAVAILABLE = (
    "FCD needs ChemNet's weights from the fcd package: `pip install --no-deps fcd` "
    "(the weights only; no PyTorch needed)"
)
WEIGHTS_FILE = "ChemNet_v0.13_pretrained.pt"


class FCDUnavailable(ImportError):
    """ChemNet's weights (the ``fcd`` package) are not installed."""


def weights_path() -> Path | None:
    """The installed fcd package's weights file, found without importing it."""
    spec = importlib.util.find_spec("fcd")
    roots = (spec.submodule_search_locations if spec else None) or []
    for root in roots:
        path = Path(root) / WEIGHTS_FILE
        if path.is_file():
            return path
    return None


def available() -> bool:
    """Whether ChemNet's weights can be found (FCD can be computed)."""
    return weights_path() is not None


@functools.cache
def chemnet() -> ChemNet:
    """ChemNet with fcd's weights, loaded once per process.

    Raises:
        FCDUnavailable: with :data:`UNAVAILABLE` if the weights are missing.
    """
    path = weights_path()
    if path is None:
        raise FCDUnavailable(UNAVAILABLE)
    return load_chemnet(path)


@eqx.filter_jit
def _forward(model: ChemNet, tokens: np.ndarray):
    return model(tokens)


def chemnet_activations(
    smiles: list[str], batch_size: int = 128, progress: bool = False
) -> np.ndarray:
    """ChemNet's activations ``[n, 512]`` (float32) of SMILES taken as given.

    All batches are padded to fcd's length for the whole list (see
    :func:`molmat.models.generative.chemnet.pad_length`), and each to
    ``batch_size`` rows or the next power of two below it, so a list needs
    one compilation, and small lists a few more.
    """
    smiles = list(smiles)
    if not smiles:
        return np.zeros((0, OUTPUT_SIZE), np.float32)
    model, length = chemnet(), pad_length(smiles)
    out = np.empty((len(smiles), OUTPUT_SIZE), np.float32)
    bar = progress_bar(desc="ChemNet", enabled=progress, total=len(smiles), unit="mol")
    with bar:
        for start in range(0, len(smiles), batch_size):
            chunk = smiles[start : start + batch_size]
            rows = min(batch_size, 1 << (len(chunk) - 1).bit_length())
            tokens = encode(chunk + [""] * (rows - len(chunk)), length)
            out[start : start + len(chunk)] = np.asarray(_forward(model, tokens))[
                : len(chunk)
            ]
            bar.update(len(chunk))
    return out


def canonical_smiles(smiles: list[str]) -> list[str]:
    """RDKit canonical SMILES of those RDKit can parse, in order (fcd's filter)."""
    silence_rdkit()
    mols = (Chem.MolFromSmiles(s) for s in smiles)
    return [Chem.MolToSmiles(m) for m in mols if m is not None]


def fcd_statistics(
    smiles: list[str], progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[512]`` and covariance ``[512, 512]`` (float64) of ChemNet's
    activations of the canonical SMILES of the valid molecules.

    Raises:
        ValueError: if fewer than two molecules are valid.
        FCDUnavailable: if ChemNet's weights are missing.
    """
    valid = canonical_smiles(smiles)
    if len(valid) < 2:
        raise ValueError(f"FCD needs two or more valid molecules, got {len(valid)}")
    act = chemnet_activations(valid, progress=progress).astype(np.float64)
    return act.mean(axis=0), np.cov(act, rowvar=False)


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    eps: float = 1e-6,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    As fcd (Dougal Sutherland's stable version): if ``sqrtm(sigma1 sigma2)``
    is not finite or its diagonal has imaginary parts above 1e-3, ``eps`` is
    added to both diagonals and it is recomputed; imaginary parts below
    1e-3 are then discarded.

    Raises:
        ValueError: on mismatched shapes, or imaginary parts that remain.
    """
    mu1, mu2 = (np.atleast_1d(np.asarray(m, np.float64)) for m in (mu1, mu2))
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(s, np.float64)) for s in (sigma1, sigma2)
    )
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(
            f"statistics differ in shape: {mu1.shape}, {sigma1.shape} "
            f"vs {mu2.shape}, {sigma2.shape}"
        )
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all() or not _nearly_real(covmean):
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not _nearly_real(covmean):
            raise ValueError(
                f"imaginary component {np.abs(covmean.imag).max()} in sqrtm"
            )
        covmean = covmean.real
    diff = mu1 - mu2
    return float(
        diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
    )


def _nearly_real(matrix: np.ndarray) -> bool:
    """Whether the diagonal's imaginary parts are all within 1e-3 of 0."""
    return bool(np.allclose(np.diagonal(matrix).imag, 0, atol=1e-3))


def fcd(smiles1: list[str], smiles2: list[str], progress: bool = False) -> float:
    """FCD between two sets of SMILES (each canonicalised, invalid ones dropped).

    Raises:
        ValueError: if a set has fewer than two valid molecules.
        FCDUnavailable: if ChemNet's weights are missing.
    """
    return frechet_distance(
        *fcd_statistics(smiles1, progress=progress),
        *fcd_statistics(smiles2, progress=progress),
    )
