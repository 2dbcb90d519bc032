"""The MOSES benchmark metrics, vectorised.

MOSES (Polykovskiy et al., Front. Pharmacol. 11, 565644 (2020)) scores a list
of generated SMILES by validity, uniqueness, novelty, internal diversity,
medicinal-chemistry filters, nearest-neighbour similarity (SNN), fragment and
scaffold similarity, property distributions and the Fréchet ChemNet Distance
against its test and scaffold-test sets. The definitions here are those of
the reference implementation, molsets 0.3.1 (``moses/metrics/metrics.py`` and
``utils.py``, MIT licence), recomputed with numpy and JAX: the Tanimoto
similarities of all generated/reference pairs run in one jitted kernel on
bit-packed fingerprints, the per-molecule RDKit work in a process pool.

The MCF and PAINS substructure filters (``molmat/data/files/moses_mcf.csv.gz``
and ``moses_wehi_pains.csv.gz``) are MOSES' ``moses/metrics/mcf.csv`` and
``wehi_pains.csv`` from molsets 0.3.1 (MIT licence, Copyright (c) 2018
Insilico Medicine), gzipped and otherwise unchanged.

Reference statistics (fingerprints, fragment and scaffold counts, property
values, FCD moments, the canonical train set) are computed once per set of
SMILES and kept in molmat's feature cache (``molmat cache``).

The RDKit work runs in spawned processes (``n_jobs``; JAX's threads are never
forked), so a script that calls ``moses_metrics`` or ``reference_stats`` at
its top level needs the usual ``if __name__ == "__main__":`` guard, or
``n_jobs=1``.

Example:
    >>> results = moses_metrics(generated_smiles)  # doctest: +SKIP
    >>> print(format_table(metrics_table(results)))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import functools
import gzip
import logging
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from types import ModuleType
from typing import NamedTuple

import numpy as np
import rdkit
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from molmat.data.console import progress_bar
from molmat.data.moses import read_moses
from molmat.data.rdkit_log import silence_rdkit
from molmat.featurizers import properties
from molmat.featurizers.cache import cached_arrays

log = logging.getLogger("molmat")

VERSION = "moses-metrics-1"
RADIUS, N_BITS = 2, 1024  # MOSES' Morgan fingerprint
ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
PROPERTIES = {
    "logP": properties.logp,
    "SA": properties.sa_score,
    "QED": properties.qed,
    "weight": properties.weight,
}
CHUNK = 1000  # molecules per pool task
_GEN_BLOCK, _REF_BLOCK = 256, 1024  # Tanimoto kernel tile: generated x reference

# MOSES README, molecularsets/moses, mean of 3 runs.
_BASELINE_KEYS = [
    "valid", "unique@1000", "unique@10000", "FCD/Test", "FCD/TestSF",
    "SNN/Test", "SNN/TestSF", "Frag/Test", "Frag/TestSF", "Scaf/Test",
    "Scaf/TestSF", "IntDiv", "IntDiv2", "Filters", "Novelty",
]  # fmt: skip
_BASELINE_VALUES = {
    "Train": [1.0, 1.0, 1.0, 0.008, 0.476, 0.642, 0.586, 1.000, 0.999, 0.991,
              0.0, 0.857, 0.851, 1.0, 0.0],
    "CharRNN": [0.975, 1.0, 0.999, 0.073, 0.520, 0.601, 0.565, 1.000, 0.998,
                0.924, 0.110, 0.856, 0.850, 0.994, 0.842],
    "VAE": [0.977, 1.0, 0.998, 0.099, 0.567, 0.626, 0.578, 0.999, 0.998, 0.939,
            0.059, 0.856, 0.850, 0.997, 0.695],
    "AAE": [0.937, 1.0, 0.997, 0.556, 1.057, 0.608, 0.568, 0.991, 0.990, 0.902,
            0.079, 0.856, 0.850, 0.996, 0.793],
    "JTN-VAE": [1.0, 1.0, 0.999, 0.395, 0.938, 0.548, 0.519, 0.996, 0.995,
                0.896, 0.100, 0.855, 0.849, 0.976, 0.914],
    "LatentGAN": [0.897, 1.0, 0.997, 0.296, 0.824, 0.538, 0.514, 0.999, 0.998,
                  0.886, 0.100, 0.857, 0.850, 0.973, 0.949],
}  # fmt: skip
PUBLISHED_BASELINES: dict[str, dict[str, float]] = {
    model: dict(zip(_BASELINE_KEYS, values, strict=True))
    for model, values in _BASELINE_VALUES.items()
}
"""MOSES README numbers (molecularsets/moses, mean of 3 runs), per model and
metric key; the property distances are not published there."""


# ---------------------------------------------------------------- molecules


def get_mol(smiles: str) -> Chem.Mol | None:
    """MOSES' ``get_mol``: the sanitised molecule, ``None`` for an empty or
    unparsable string. Disconnected SMILES ('.') stay whole molecules."""
    if not smiles:
        return None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    try:
        Chem.SanitizeMol(mol)
    except ValueError:
        return None
    return mol


def canonical_smiles(smiles: str) -> str | None:
    """MOSES' ``canonic_smiles``: RDKit's canonical SMILES, ``None`` if invalid."""
    mol = get_mol(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


@functools.cache
def _morgan():
    """RDKit's Morgan bit-fingerprint generator with MOSES' settings."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=RADIUS, fpSize=N_BITS)


def fingerprints(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """Morgan fingerprints (radius 2, 1024 bits), bit-packed: uint64 [n, 16].

    The bits are those of MOSES' ``GetMorganFingerprintAsBitVect(mol, 2, 1024)``.
    """
    packed = np.zeros((len(mols), N_BITS // 8), np.uint8)
    for i, mol in enumerate(mols):
        packed[i] = np.packbits(_morgan().GetFingerprintAsNumPy(mol))
    return packed.view(np.uint64)


def _fragments(mol: Chem.Mol) -> list[str]:
    """SMILES of the BRICS fragments of ``mol`` (MOSES' ``fragmenter``)."""
    return Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split(".")


def fragment_counts(mols: Sequence[Chem.Mol]) -> Counter:
    """How often each BRICS fragment (SMILES, with dummy atoms) occurs."""
    counts = Counter()
    for mol in mols:
        counts.update(_fragments(mol))
    return counts


def scaffold(mol: Chem.Mol, min_rings: int = 2) -> str | None:
    """Bemis–Murcko scaffold SMILES, ``None`` below ``min_rings`` rings (MOSES'
    ``compute_scaffold``)."""
    try:
        core = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    smiles = Chem.MolToSmiles(core)
    if smiles == "" or core.GetRingInfo().NumRings() < min_rings:
        return None
    return smiles


def scaffold_counts(mols: Sequence[Chem.Mol]) -> Counter:
    """How often each scaffold with at least two rings occurs."""
    return Counter(s for s in map(scaffold, mols) if s is not None)


def _pattern_bits(mol: Chem.Mol) -> np.ndarray:
    """RDKit's pattern fingerprint (2048 bits), bit-packed: uint64 [32]."""
    bits = np.zeros(2048, np.uint8)
    DataStructs.ConvertToNumpyArray(Chem.PatternFingerprint(mol, 2048), bits)
    return np.packbits(bits).view(np.uint64)


@functools.cache
def _filter_patterns() -> tuple[list[Chem.Mol], np.ndarray]:
    """MOSES' MCF and PAINS SMARTS queries [q] and their packed pattern
    fingerprints, uint64 [q, 32]."""
    folder = resources.files("molmat.data") / "files"
    smarts = []
    for name, column in [("moses_mcf.csv.gz", 1), ("moses_wehi_pains.csv.gz", 0)]:
        with gzip.open(str(folder / name), "rt") as f:
            rows = list(csv.reader(f))
        smarts += [row[column].strip() for row in rows[1 if column else 0 :]]
    queries = [Chem.MolFromSmarts(s) for s in smarts]
    return queries, np.stack([_pattern_bits(q) for q in queries])


def passes_filters(mol: Chem.Mol) -> bool:
    """MOSES' ``mol_passes_filters``: no ring of 8+ atoms, no charged atom, only
    C, N, S, O, F, Cl, Br, H, no MCF or PAINS match (on the molecule with
    explicit hydrogens), and a SMILES that parses back.

    A pattern is searched for only where its RDKit pattern fingerprint is a
    subset of the molecule's (a necessary condition for a substructure match,
    RDKit's own substructure screen): about 1 in 20 of the ~500 patterns, and
    no outcome changes.
    """
    if any(len(ring) >= 8 for ring in mol.GetRingInfo().AtomRings()):
        return False
    atoms = mol.GetAtoms()
    if any(
        a.GetFormalCharge() != 0 or a.GetSymbol() not in ALLOWED_ATOMS for a in atoms
    ):
        return False
    with_h = Chem.AddHs(mol)
    queries, query_bits = _filter_patterns()
    possible = ~(query_bits & ~_pattern_bits(with_h)).any(1)
    if any(with_h.HasSubstructMatch(queries[i]) for i in np.flatnonzero(possible)):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and Chem.MolFromSmiles(smiles) is not None


def molecule_properties(mols: Sequence[Chem.Mol]) -> dict[str, np.ndarray]:
    """logP, SA, QED and weight of each molecule: float64 [n] each."""
    return {name: score(mols) for name, score in PROPERTIES.items()}


# --------------------------------------------------------- per-set features


@dataclass
class MoleculeFeatures:
    """What MOSES compares between two sets of valid molecules.

    Attributes:
        fingerprints: bit-packed Morgan fingerprints, uint64 [n, 16].
        fragments: BRICS fragment SMILES -> count.
        scaffolds: scaffold SMILES (2+ rings) -> count.
        properties: ``logP``, ``SA``, ``QED``, ``weight`` -> float64 [n].
        passes: whether each molecule passes the filters, bool [n] (generated
            sets only).
    """

    fingerprints: np.ndarray
    fragments: Counter
    scaffolds: Counter
    properties: dict[str, np.ndarray]
    passes: np.ndarray | None = None


def _features(mols: Sequence[Chem.Mol], filters: bool) -> MoleculeFeatures:
    """The features of one list of molecules (one pool task)."""
    return MoleculeFeatures(
        fingerprints=fingerprints(mols),
        fragments=fragment_counts(mols),
        scaffolds=scaffold_counts(mols),
        properties=molecule_properties(mols),
        passes=np.array([passes_filters(m) for m in mols], bool) if filters else None,
    )


def _concatenate(parts: Sequence[MoleculeFeatures]) -> MoleculeFeatures:
    """One ``MoleculeFeatures`` from the chunks', in order."""
    fragments, scaffolds = Counter(), Counter()
    for part in parts:
        fragments.update(part.fragments)
        scaffolds.update(part.scaffolds)
    passes = [p.passes for p in parts if p.passes is not None]
    return MoleculeFeatures(
        fingerprints=np.concatenate(
            [np.zeros((0, N_BITS // 64), np.uint64)] + [p.fingerprints for p in parts]
        ),
        fragments=fragments,
        scaffolds=scaffolds,
        properties={
            name: np.concatenate([[]] + [p.properties[name] for p in parts])
            for name in PROPERTIES
        },
        passes=np.concatenate(passes) if passes else None,
    )


def _generated_chunk(smiles: Sequence[str]) -> tuple[int, list[str], MoleculeFeatures]:
    """Valid count, canonical SMILES of the valid strings and their features.

    As MOSES, a valid string is canonicalised and the molecule parsed again
    from its canonical SMILES; the features are those of the re-parsed one.
    """
    n_valid, canonical, mols = 0, [], []
    for s in smiles:
        first = canonical_smiles(s)
        n_valid += first is not None
        mol = None if first is None else get_mol(first)
        if mol is not None:
            canonical.append(Chem.MolToSmiles(mol))
            mols.append(mol)
    return n_valid, canonical, _features(mols, filters=True)


def _reference_chunk(smiles: Sequence[str]) -> MoleculeFeatures:
    """Features of the valid molecules of a reference chunk."""
    mols = [m for m in map(get_mol, smiles) if m is not None]
    return _features(mols, filters=False)


def _canonical_chunk(smiles: Sequence[str]) -> list[str | None]:
    return [canonical_smiles(s) for s in smiles]


def default_jobs() -> int:
    """Worker processes for the RDKit work: the CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def _map_chunks(
    function: Callable, smiles: Sequence[str], n_jobs: int, progress: bool, desc: str
) -> Iterator:
    """``function`` over ``CHUNK``-sized slices of ``smiles``, results in order,
    in a pool of ``n_jobs`` spawned processes when there is more than one chunk."""
    silence_rdkit()
    chunks = [smiles[i : i + CHUNK] for i in range(0, len(smiles), CHUNK)]
    bar = dict(desc=desc, enabled=progress, total=len(chunks), unit="chunk")
    if n_jobs <= 1 or len(chunks) <= 1:
        yield from progress_bar(map(function, chunks), **bar)
        return
    context = multiprocessing.get_context("spawn")  # no fork of JAX's threads
    with context.Pool(min(n_jobs, len(chunks)), initializer=silence_rdkit) as pool:
        yield from progress_bar(pool.imap(function, chunks), **bar)


# ------------------------------------------------------- pairwise Tanimoto


class TanimotoSummary(NamedTuple):
    """Per generated molecule, over all reference molecules: float64 [n] each."""

    nearest: np.ndarray  # largest Tanimoto similarity
    mean: np.ndarray  # mean similarity
    mean_square: np.ndarray  # mean squared similarity


@functools.cache
def _tanimoto_kernel() -> Callable:
    """The jitted Tanimoto tile kernel (JAX is imported here, not by the RDKit
    pool workers, which import this module)."""
    import jax
    import jax.numpy as jnp

    def tile(carry, block, gen, gen_count):
        best, total, squares = carry
        bits, count = block
        inter = jax.lax.population_count(gen[:, None, :] & bits[None]).astype(jnp.int32)
        inter = inter.sum(-1)
        union = gen_count[:, None] + count[None, :] - inter
        ratio = inter.astype(jnp.float32) / jnp.maximum(union, 1).astype(jnp.float32)
        sim = jnp.where(union == 0, jnp.float32(1), ratio)  # MOSES: 0/0 -> 1
        sim = jnp.where(count[None, :] >= 0, sim, jnp.float32(0))
        wide = sim.astype(jnp.float64)
        return (
            jnp.maximum(best, sim.max(1)),
            total + wide.sum(1),
            squares + (wide * wide).sum(1),
        ), None

    def tanimoto_tiles(gen, gen_count, ref, ref_count):
        """Max, sum and sum of squares of the Tanimoto similarities of a block
        of fingerprints to all references.

        Args:
            gen: uint64 [b, w] packed bits; gen_count: int32 [b] their popcounts.
            ref: uint64 [t, r, w] references in tiles; ref_count: int32 [t, r],
                -1 for padding rows.

        Returns:
            float32 [b] max, float64 [b] sum, float64 [b] sum of squares.
        """
        n = gen.shape[0]
        init = (
            jnp.zeros(n, jnp.float32),
            jnp.zeros(n, jnp.float64),
            jnp.zeros(n, jnp.float64),
        )
        step = functools.partial(tile, gen=gen, gen_count=gen_count)
        return jax.lax.scan(step, init, (ref, ref_count))[0]

    return jax.jit(tanimoto_tiles)


def _popcount(fps: np.ndarray) -> np.ndarray:
    """Bits set per packed fingerprint: int32 [n]."""
    return np.unpackbits(fps.view(np.uint8), axis=1).sum(1, dtype=np.int32)


def _pad(fps: np.ndarray, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """Fingerprints padded to a multiple of ``multiple`` rows, and popcounts
    (-1 on padding rows)."""
    pad = -len(fps) % multiple
    counts = np.concatenate([_popcount(fps), np.full(pad, -1, np.int32)])
    return np.concatenate([fps, np.zeros((pad, fps.shape[1]), fps.dtype)]), counts


def tanimoto_summary(
    generated: np.ndarray, reference: np.ndarray, progress: bool = False, desc: str = ""
) -> TanimotoSummary:
    """Nearest, mean and mean-square Tanimoto similarity of each generated
    fingerprint to the references, computed exactly from bit counts (as MOSES,
    in float32 per pair; two empty fingerprints have similarity 1).

    Args:
        generated: bit-packed fingerprints, uint64 [n, w].
        reference: bit-packed fingerprints, uint64 [m, w], m > 0.
    """
    import jax  # uint64 words and float64 sums need JAX's 64-bit mode

    kernel = _tanimoto_kernel()
    with jax.enable_x64(True):
        ref, ref_count = _pad(reference, _REF_BLOCK)
        ref = jax.device_put(ref.reshape(-1, _REF_BLOCK, ref.shape[1]))
        ref_count = jax.device_put(ref_count.reshape(-1, _REF_BLOCK))
        gen, gen_count = _pad(generated, _GEN_BLOCK)
        b = _GEN_BLOCK
        blocks = range(0, len(gen), _GEN_BLOCK)
        parts = [
            [
                np.asarray(x)
                for x in kernel(gen[i : i + b], gen_count[i : i + b], ref, ref_count)
            ]
            for i in progress_bar(blocks, desc=desc, enabled=progress)
        ]
        best, total, squares = (
            np.concatenate([p[j] for p in parts] or [[]]) for j in range(3)
        )
    n = len(generated)
    return TanimotoSummary(
        best[:n].astype(np.float64),
        total[:n] / len(reference),
        squares[:n] / len(reference),
    )


def snn(generated: np.ndarray, reference: np.ndarray, progress: bool = False) -> float:
    """Similarity to nearest neighbour: mean over generated molecules of the
    largest Tanimoto similarity to a reference molecule.

    Args:
        generated, reference: bit-packed Morgan fingerprints, uint64 [n, 16]
            and [m, 16] (``fingerprints``).
    """
    nearest = tanimoto_summary(generated, reference, progress, "SNN").nearest
    return float(nearest.mean()) if len(nearest) else float("nan")


def _diversity(summary: TanimotoSummary, p: int) -> float:
    """MOSES' IntDiv_p from a set's self-similarity summary."""
    if len(summary.mean) == 0:
        return float("nan")
    mean_p = summary.mean if p == 1 else summary.mean_square
    return float(1 - np.mean(mean_p ** (1 / p)))


def internal_diversity(fingerprints: np.ndarray, p: int = 1) -> float:
    """IntDiv_p = 1 - mean_i (mean_j T(i, j)^p)^(1/p), over all ordered pairs of
    the set (i = j included), as MOSES computes it; p is 1 or 2.

    Args:
        fingerprints: bit-packed Morgan fingerprints, uint64 [n, 16].
    """
    if p not in (1, 2):
        raise ValueError(f"IntDiv is defined here for p = 1 or 2, not {p}")
    return _diversity(tanimoto_summary(fingerprints, fingerprints), p)


# ---------------------------------------------------------- set statistics


def validity(smiles: Sequence[str]) -> float:
    """Fraction of strings that RDKit parses and sanitises (``get_mol``)."""
    return sum(get_mol(s) is not None for s in smiles) / len(smiles)


def unique_at(canonical: Sequence[str], k: int) -> float:
    """unique@k: fraction of distinct SMILES among the first ``k``.

    Args:
        canonical: canonical SMILES of the valid molecules, in generation order.
        k: how many to look at; with fewer than ``k`` all are used and a
            warning is issued, as MOSES does.
    """
    if len(canonical) < k:
        log.warning(
            "unique@%d computed on the %d valid molecules there are", k, len(canonical)
        )
    first = canonical[:k]
    return len(set(first)) / len(first) if first else float("nan")


def novelty(canonical: Sequence[str], train: set[str] | frozenset[str]) -> float:
    """Fraction of the distinct valid molecules that are not in ``train``.

    Args:
        canonical: canonical SMILES of the valid generated molecules.
        train: canonical SMILES of the training set.
    """
    distinct = set(canonical)
    return len(distinct - train) / len(distinct) if distinct else float("nan")


def count_cosine(reference: Mapping[str, int], generated: Mapping[str, int]) -> float:
    """Cosine similarity of two count vectors indexed by string (MOSES'
    ``cos_similarity``); NaN if either is empty."""
    if not reference or not generated:
        return float("nan")
    ref = np.array(list(reference.values()), np.float64)
    gen = np.array(list(generated.values()), np.float64)
    dot = sum(float(c) * generated.get(key, 0) for key, c in reference.items())
    return float(dot / (np.linalg.norm(ref) * np.linalg.norm(gen)))


def fragment_similarity(
    generated: Sequence[Chem.Mol], reference: Mapping[str, int]
) -> float:
    """Frag: cosine similarity of the BRICS fragment counts of ``generated``
    and ``reference`` (fragment SMILES -> count, see ``fragment_counts``)."""
    return count_cosine(reference, fragment_counts(generated))


def scaffold_similarity(
    generated: Sequence[Chem.Mol], reference: Mapping[str, int]
) -> float:
    """Scaf: cosine similarity of the Bemis–Murcko scaffold counts of
    ``generated`` and ``reference`` (scaffold SMILES -> count, see
    ``scaffold_counts``)."""
    return count_cosine(reference, scaffold_counts(generated))


def filters_pass_rate(mols: Sequence[Chem.Mol]) -> float:
    """Filters: fraction of molecules passing MOSES' filters (``passes_filters``)."""
    return float(np.mean([passes_filters(m) for m in mols])) if mols else float("nan")


def wasserstein_properties(
    generated: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Wasserstein-1 distance between the generated and reference distributions
    of each property (``molecule_properties``), in the property's unit."""
    from scipy.stats import wasserstein_distance  # slow import: not in workers

    return {
        name: float(wasserstein_distance(reference[name], values))
        if len(values)
        else float("nan")
        for name, values in generated.items()
    }


# ------------------------------------------------------- cached references


@dataclass(frozen=True)
class ReferenceStats:
    """Precomputed statistics of one reference set (MOSES test or scaffold test).

    Attributes:
        features: fingerprints, fragment and scaffold counts, property values.
        fcd: ChemNet activation mean [512] and covariance [512, 512], or
            ``None`` when ``molmat.generate.fcd`` is unavailable.
    """

    features: MoleculeFeatures
    fcd: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class MosesReference:
    """What ``moses_metrics`` compares against.

    Attributes:
        test: statistics of the test set.
        test_sf: statistics of the scaffold-test set, or ``None``.
        train: canonical SMILES of the training set (for novelty), or ``None``.
    """

    test: ReferenceStats
    test_sf: ReferenceStats | None = None
    train: frozenset[str] | None = field(default=None, repr=False)


def _pack_strings(strings: Sequence[str]) -> np.ndarray:
    """Newline-joined UTF-8 bytes: uint8 [bytes] (no pickling in the cache)."""
    return np.frombuffer("\n".join(strings).encode(), np.uint8)


def _unpack_strings(packed: np.ndarray) -> list[str]:
    return packed.tobytes().decode().split("\n") if packed.size else []


def _counter_arrays(prefix: str, counts: Counter) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_keys": _pack_strings(list(counts)),
        f"{prefix}_counts": np.array(list(counts.values()), np.int64),
    }


def _array_counter(arrays: Mapping[str, np.ndarray], prefix: str) -> Counter:
    keys = _unpack_strings(arrays[f"{prefix}_keys"])
    return Counter(dict(zip(keys, arrays[f"{prefix}_counts"].tolist(), strict=True)))


def _cache_settings(kind: str) -> list[str]:
    return [kind, VERSION, f"rdkit {rdkit.__version__}"]


@functools.cache
def _fcd() -> ModuleType | None:
    """``molmat.generate.fcd`` (imported on first use: it loads JAX), ``None``
    where it is missing."""
    try:
        from molmat.generate import fcd
    except ImportError:
        return None
    return fcd


def _fcd_unavailable(with_fcd: bool = True) -> str | None:
    """Why FCD is not computed, or ``None`` when it is."""
    fcd = _fcd()
    if not with_fcd:
        return "FCD not computed (with_fcd=False)"
    if fcd is None:
        return "FCD needs molmat.generate.fcd, which this molmat lacks"
    return None if fcd.available() else fcd.UNAVAILABLE


def _fcd_moments(smiles: Sequence[str], progress: bool):
    """ChemNet activation mean [512] and covariance [512, 512] of ``smiles``,
    ``None`` with fewer than two valid molecules."""
    try:
        return _fcd().fcd_statistics(list(smiles), progress=progress)
    except ValueError:
        return None


def _cached_fcd_moments(smiles: list[str], progress: bool, use_cache: bool):
    """``_fcd_moments`` of a reference set, through the feature cache."""

    def compute() -> dict[str, np.ndarray]:
        moments = _fcd_moments(smiles, progress)
        return (
            {} if moments is None else dict(zip(("mu", "sigma"), moments, strict=True))
        )

    arrays = cached_arrays(_cache_settings("moses-fcd"), smiles, compute, use_cache)
    return (arrays["mu"], arrays["sigma"]) if arrays else None


def reference_stats(
    smiles: Sequence[str],
    progress: bool = True,
    n_jobs: int | None = None,
    use_cache: bool = True,
    with_fcd: bool = True,
) -> ReferenceStats:
    """Statistics of a reference set, computed once and then read from the
    feature cache (keyed by the SMILES, this module's version and RDKit's).

    Args:
        smiles: the reference molecules; invalid ones are dropped.
        progress: show progress bars.
        n_jobs: worker processes (default: all usable CPUs).
        use_cache: ``False`` recomputes and writes nothing.
        with_fcd: compute ChemNet's moments (slow on a CPU: about 5 ms per
            molecule) when ``molmat.generate.fcd`` is available.
    """
    smiles = list(smiles)
    n_jobs = n_jobs or default_jobs()

    def compute() -> dict[str, np.ndarray]:
        parts = list(
            _map_chunks(_reference_chunk, smiles, n_jobs, progress, "reference")
        )
        features = _concatenate(parts)
        return {
            "fingerprints": features.fingerprints,
            **_counter_arrays("fragments", features.fragments),
            **_counter_arrays("scaffolds", features.scaffolds),
            **{f"property_{k}": v for k, v in features.properties.items()},
        }

    arrays = cached_arrays(
        _cache_settings("moses-reference"), smiles, compute, use_cache
    )
    features = MoleculeFeatures(
        fingerprints=arrays["fingerprints"],
        fragments=_array_counter(arrays, "fragments"),
        scaffolds=_array_counter(arrays, "scaffolds"),
        properties={k: arrays[f"property_{k}"] for k in PROPERTIES},
    )
    moments = None
    if _fcd_unavailable(with_fcd) is None:
        moments = _cached_fcd_moments(smiles, progress, use_cache)
    return ReferenceStats(features, moments)


def train_set(
    smiles: Sequence[str],
    progress: bool = True,
    n_jobs: int | None = None,
    use_cache: bool = True,
) -> frozenset[str]:
    """Canonical SMILES of a training set (for novelty), cached like
    ``reference_stats``."""
    smiles = list(smiles)

    def compute() -> dict[str, np.ndarray]:
        chunks = _map_chunks(
            _canonical_chunk, smiles, n_jobs or default_jobs(), progress, "train"
        )
        distinct = {s for chunk in chunks for s in chunk if s is not None}
        return {"smiles": _pack_strings(sorted(distinct))}

    arrays = cached_arrays(_cache_settings("moses-train"), smiles, compute, use_cache)
    return frozenset(_unpack_strings(arrays["smiles"]))


def moses_reference(
    progress: bool = True, n_jobs: int | None = None, with_fcd: bool = True
) -> MosesReference:
    """MOSES' test, scaffold-test and train sets as a ``MosesReference``
    (``molmat.data.moses``; the first call computes and caches the statistics,
    which takes minutes, and with FCD on a CPU about half an hour).

    Raises:
        MosesNotFound: the MOSES files are missing (with the install command).
    """
    splits = [read_moses(s) for s in ("test", "test_scaffolds", "train")]
    return reference_from_smiles(*splits, progress, n_jobs, with_fcd)


def reference_from_smiles(
    test: Sequence[str],
    test_sf: Sequence[str] | None = None,
    train: Sequence[str] | None = None,
    progress: bool = True,
    n_jobs: int | None = None,
    with_fcd: bool = True,
) -> MosesReference:
    """A ``MosesReference`` of any test, scaffold-test and train SMILES (the
    last two optional), cached as ``reference_stats``."""
    stats = functools.partial(
        reference_stats, progress=progress, n_jobs=n_jobs, with_fcd=with_fcd
    )
    return MosesReference(
        test=stats(test),
        test_sf=None if test_sf is None else stats(test_sf),
        train=None if train is None else train_set(train, progress, n_jobs),
    )


# ------------------------------------------------------------------ MOSES


class MetricResults(dict):
    """``moses_metrics``' values (metric key -> float) and its ``notes``: why
    a value is NaN (e.g. FCD without ``molmat.generate.fcd``)."""

    def __init__(self, values: Mapping[str, float], notes: Sequence[str] = ()):
        super().__init__(values)
        self.notes = list(notes)


def _against(
    name: str,
    stats: ReferenceStats,
    gen: MoleculeFeatures,
    gen_fcd: tuple[np.ndarray, np.ndarray] | None,
    progress: bool,
) -> dict[str, float]:
    """FCD, SNN, Frag and Scaf of the generated set against one reference."""
    fcd_value = float("nan")
    if gen_fcd is not None and stats.fcd is not None:
        fcd_value = float(_fcd().frechet_distance(*gen_fcd, *stats.fcd))
    return {
        f"FCD/{name}": fcd_value,
        f"SNN/{name}": snn(gen.fingerprints, stats.features.fingerprints, progress),
        f"Frag/{name}": count_cosine(stats.features.fragments, gen.fragments),
        f"Scaf/{name}": count_cosine(stats.features.scaffolds, gen.scaffolds),
    }


def _resolve_reference(
    reference, progress: bool, n_jobs: int, with_fcd: bool
) -> MosesReference:
    if isinstance(reference, MosesReference):
        return reference
    if isinstance(reference, str):
        if reference != "moses":
            raise ValueError(f"unknown reference {reference!r}; use 'moses'")
        return moses_reference(progress, n_jobs, with_fcd)
    return reference_from_smiles(*reference, progress, n_jobs, with_fcd)


def _fcd_notes(reference: MosesReference, with_fcd: bool, n_valid: int) -> list[str]:
    """Why the FCD values are NaN, if they are."""
    reason = _fcd_unavailable(with_fcd)
    if reason is None and n_valid < 2:
        reason = "FCD needs two or more valid molecules"
    if reason is None and reference.test.fcd is None:
        reason = "FCD: the reference statistics hold no ChemNet moments"
    return [] if reason is None else [reason]


def moses_metrics(
    generated: Sequence[str],
    reference: str | tuple | MosesReference = "moses",
    k: Sequence[int] = (1000, 10000),
    progress: bool = True,
    n_jobs: int | None = None,
    with_fcd: bool = True,
) -> MetricResults:
    """All MOSES metrics of ``generated`` SMILES, under MOSES' key names.

    As MOSES, validity counts all strings; everything else is computed on the
    valid molecules (duplicates kept), novelty on the distinct valid ones.

    Args:
        generated: the generated SMILES, invalid ones included.
        reference: ``"moses"`` (MOSES' test, scaffold-test and train sets),
            ``(test, test_sf, train)`` SMILES lists (``test_sf`` and ``train``
            may be ``None``), or a ``MosesReference``.
        k: the sizes of the unique@k metrics.
        progress: show progress bars.
        n_jobs: worker processes for the RDKit work (default: all CPUs).
        with_fcd: compute FCD (ChemNet: minutes on a CPU); otherwise NaN.

    Returns:
        ``valid``, ``unique@k``, ``FCD/Test``, ``SNN/Test``, ``Frag/Test``,
        ``Scaf/Test``, the same ``/TestSF``, ``IntDiv``, ``IntDiv2``,
        ``Filters``, ``logP``, ``SA``, ``QED``, ``weight`` (Wasserstein
        distances to the test set) and ``Novelty``; NaN where undefined, with
        the reason in ``.notes``.
    """
    n_jobs = n_jobs or default_jobs()
    ref = _resolve_reference(reference, progress, n_jobs, with_fcd)
    parts = list(
        _map_chunks(_generated_chunk, list(generated), n_jobs, progress, "generated")
    )
    canonical = [s for _, part, _ in parts for s in part]
    gen = _concatenate([features for _, _, features in parts])
    notes = _fcd_notes(ref, with_fcd, len(canonical))
    gen_fcd = None if notes else _fcd_moments(canonical, progress)
    values = {"valid": sum(n for n, _, _ in parts) / len(generated)}
    values.update({f"unique@{kk}": unique_at(canonical, kk) for kk in k})
    values.update(_against("Test", ref.test, gen, gen_fcd, progress))
    if ref.test_sf is not None:
        values.update(_against("TestSF", ref.test_sf, gen, gen_fcd, progress))
    self_similarity = tanimoto_summary(
        gen.fingerprints, gen.fingerprints, progress, "IntDiv"
    )
    values["IntDiv"] = _diversity(self_similarity, 1)
    values["IntDiv2"] = _diversity(self_similarity, 2)
    values["Filters"] = float(gen.passes.mean()) if len(gen.passes) else float("nan")
    values.update(wasserstein_properties(gen.properties, ref.test.features.properties))
    if ref.train is not None:
        values["Novelty"] = novelty(canonical, ref.train)
    for note in notes:
        log.warning("FCD reported as NaN: %s", note)
    return MetricResults(values, notes)


# ------------------------------------------------------------------ tables


def metrics_table(
    results: Mapping[str, float],
    name: str = "generated",
    baselines: Mapping[str, Mapping[str, float]] = PUBLISHED_BASELINES,
) -> list[list]:
    """Rows ``[metric, value, baseline values...]`` (header first) comparing
    ``results`` with published ones; ``None`` where a model has no value.
    Write them with ``csv.writer`` or print them with ``format_table``."""
    header = ["metric", name, *baselines]
    rows = [
        [key, value, *(b.get(key) for b in baselines.values())]
        for key, value in results.items()
    ]
    return [header, *rows]


def format_table(rows: Sequence[Sequence]) -> str:
    """``metrics_table`` rows as aligned text, numbers to 3 decimals."""
    cells = [
        [
            f"{c:.3f}" if isinstance(c, float) else ("" if c is None else str(c))
            for c in row
        ]
        for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    )
