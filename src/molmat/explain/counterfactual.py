"""Counterfactual molecules: the closest neighbours whose prediction changes.

The chemical neighbourhood of a molecule is sampled the STONED way (Nigam
et al. 2021, as in exmol): its SMILES is written in several random atom
orders, each encoded as SELFIES, and one to ``max_mutations`` random token
edits (replace, insert, delete) are applied; every edited SELFIES decodes
to a valid molecule. Neighbours are canonicalised and deduplicated, compared
with the molecule by Tanimoto similarity of Morgan fingerprints (radius 2,
2048 bits), and those at least ``min_similarity`` alike are predicted. A
counterfactual is a neighbour whose predicted class differs (classifiers,
at ``threshold``) or whose prediction moves by at least ``delta``
(regression, in ``direction``). The search runs in generations: the
neighbours of one generation that came closest to a counterfactual are the
parents of the next (a beam search over STONED edits), always compared with
the original molecule, until ``n`` counterfactuals are found. The ``n`` most
similar are returned, with the descriptor and functional-group changes that
tell them apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, rdFingerprintGenerator

from molmat.data.csv import parse_smiles
from molmat.explain.inputs import target_index
from molmat.featurizers.descriptors import FRAGMENTS
from molmat.featurizers.tokens import SelfiesTokenizer

log = logging.getLogger("molmat")

ELEMENTS = ("C", "N", "O", "S", "P", "F", "Cl", "Br", "I")
DIRECTIONS = ("any", "up", "down")
SHOWN_DESCRIPTORS = ("MolLogP", "TPSA", "NumHDonors", "NumHAcceptors", "RingCount")


def mutation_alphabet(own_tokens: Sequence[str] = ()) -> list[str]:
    """SELFIES tokens that edits may insert: the semantically robust
    alphabet's uncharged tokens of common organic elements, its branch and
    ring tokens, and the molecule's own tokens."""
    import selfies

    keep = []
    for token in selfies.get_semantic_robust_alphabet():
        body = token.strip("[]").lstrip("=#/\\")
        if "Branch" in body or "Ring" in body or body in ELEMENTS:
            keep.append(token)
    return sorted(set(keep) | set(own_tokens))


def neighbourhood(
    smiles: str, n_samples: int = 2000, max_mutations: int = 2, seed: int = 0
) -> pd.DataFrame:
    """Distinct valid neighbours of ``smiles`` from ``n_samples`` STONED edits.

    Returns:
        Columns ``smiles`` (canonical) and ``mutations`` (edits of the first
        sample that made it); the molecule itself left out.

    Raises:
        ValueError: an unparsable SMILES.
    """
    mol, reason = parse_smiles(smiles)
    if mol is None:
        raise ValueError(f"{smiles!r}: {reason}")
    tokenizer = SelfiesTokenizer()
    rng = np.random.default_rng(seed)
    orders = list(
        dict.fromkeys(Chem.MolToRandomSmilesVect(mol, 32, randomSeed=seed + 1))
    )
    encodings = [tokenizer.split(s) for s in orders]
    alphabet = mutation_alphabet({t for e in encodings for t in e})
    original = Chem.MolToSmiles(mol)
    found: dict[str, int] = {}
    for _ in range(n_samples):  # string edits: a loop over samples, not atoms
        tokens = list(encodings[rng.integers(len(encodings))])
        edits = int(rng.integers(1, max_mutations + 1))
        for _ in range(edits):
            tokens = _mutate(tokens, alphabet, rng)
        decoded = tokenizer.join(tokens)
        neighbour = Chem.MolFromSmiles(decoded) if decoded else None
        if neighbour is None:
            continue
        canonical = Chem.MolToSmiles(neighbour)
        if canonical != original and canonical not in found:
            found[canonical] = edits
    return pd.DataFrame({"smiles": list(found), "mutations": list(found.values())})


def _mutate(tokens: list[str], alphabet: list[str], rng) -> list[str]:
    """One random replace, insert or delete (an empty string only grows)."""
    op = rng.integers(3) if len(tokens) > 1 else 1
    at = int(rng.integers(len(tokens) + (op == 1)))
    if op == 0:
        return [*tokens[:at], alphabet[rng.integers(len(alphabet))], *tokens[at + 1 :]]
    if op == 1:
        return [*tokens[:at], alphabet[rng.integers(len(alphabet))], *tokens[at:]]
    return tokens[:at] + tokens[at + 1 :]


def similarity(reference: Chem.Mol, mols: Sequence[Chem.Mol]) -> np.ndarray:
    """Tanimoto similarity [n] of Morgan bits (radius 2, 2048) to ``reference``."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [generator.GetFingerprint(m) for m in mols]
    return np.asarray(
        DataStructs.BulkTanimotoSimilarity(generator.GetFingerprint(reference), fps)
    )


@dataclass(frozen=True)
class Counterfactuals:
    """The neighbourhood of one molecule and its counterfactuals.

    Attributes:
        smiles: the molecule (canonical).
        target: the explained target.
        prediction: its prediction.
        neighbours: every neighbour that was predicted: ``smiles``,
            ``mutations``, ``similarity``, ``prediction``, ``change``
            (prediction − the molecule's), ``counterfactual`` (bool) and
            ``in_domain`` (all elements seen in training; NA if unknown).
        chosen: the ``n`` most similar counterfactuals, with ``changes``
            (descriptors and functional groups that differ).
        sampled: edits sampled; ``distinct``: distinct valid neighbours.
        seconds: wall time of the search.
    """

    smiles: str
    target: str
    prediction: float
    neighbours: pd.DataFrame
    chosen: pd.DataFrame
    sampled: int
    distinct: int
    seconds: float

    @property
    def found(self) -> bool:
        return len(self.chosen) > 0


def counterfactuals(
    model,
    smiles: str,
    n: int = 5,
    target: int | str | None = None,
    n_samples: int = 2000,
    max_mutations: int = 2,
    min_similarity: float = 0.6,
    threshold: float | None = 0.5,
    delta: float | None = None,
    direction: str = "any",
    rounds: int = 3,
    beam: int = 5,
    seed: int = 0,
) -> Counterfactuals:
    """The ``n`` closest counterfactuals of ``smiles`` for any property model.

    Args:
        model: a fitted property model (anything with ``predict_values``).
        smiles: the molecule.
        n: counterfactuals to return.
        target: target name or index (default: the first).
        n_samples: STONED edits to sample, over all generations.
        max_mutations: most edits per neighbour.
        min_similarity: neighbours less similar are not predicted.
        threshold: class boundary of classifiers' probabilities (``None``:
            0.5).
        delta: least change of a regression prediction, in its units
            (default: one standard deviation of the training targets, when
            the model knows it).
        direction: ``any``, ``up`` or ``down`` (regression).
        rounds: generations of the search: each after the first mutates the
            ``beam`` neighbours that came closest to a counterfactual (all
            neighbours are compared with, and must stay similar to, the
            molecule itself); it stops once ``n`` are found.
        beam: parents of each later generation.
        seed: seed of the sampling (same seed, same neighbours).

    Raises:
        ValueError: an unparsable SMILES, a bad option, or a regression
            without ``delta`` whose model does not know its target spread.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    tick = time.perf_counter()
    j = target_index(model, target)
    classifier = model.task_ == "classification"
    threshold = 0.5 if threshold is None else threshold
    if not classifier and delta is None:
        scaler = getattr(model, "y_scaler_", None)
        if scaler is None:
            raise ValueError(
                "give delta: the least change that counts, in target units"
            )
        delta = float(scaler.std[j])
    mol, reason = parse_smiles(smiles)
    if mol is None:
        raise ValueError(f"{smiles!r}: {reason}")
    canonical = Chem.MolToSmiles(mol)
    base = float(model.predict_values([canonical])[0, j])
    if classifier:
        below = base < threshold
        progress = lambda p: p if below else -p  # noqa: E731  toward the boundary
        flipped = lambda p: (p >= threshold) == below  # noqa: E731
    else:
        sign = {"any": None, "up": 1.0, "down": -1.0}[direction]
        progress = lambda p: abs(p - base) if sign is None else sign * (p - base)  # noqa: E731
        flipped = lambda p: progress(p) >= delta  # noqa: E731
    seen, frames, parents, distinct = {canonical}, [], [canonical], 0
    for generation in range(rounds):
        share = max(n_samples // rounds // len(parents), 1)
        fresh = pd.concat(
            [
                neighbourhood(
                    parent, share, max_mutations, seed + 7919 * generation + i
                )
                for i, parent in enumerate(parents)
            ],
            ignore_index=True,
        ).drop_duplicates("smiles")
        fresh = fresh[~fresh.smiles.isin(seen)]
        seen.update(fresh.smiles)
        distinct += len(fresh)
        fresh = _predicted(model, j, mol, fresh, min_similarity, generation)
        fresh["counterfactual"] = flipped(fresh.prediction) & fresh.prediction.notna()
        frames.append(fresh)
        closer = fresh[~fresh.counterfactual]
        closer = closer.assign(progress=progress(closer.prediction))
        parents = list(closer.nlargest(beam, "progress").smiles)
        if sum(f.counterfactual.sum() for f in frames) >= n or not parents:
            break
    table = pd.concat(frames, ignore_index=True).sort_values(
        ["similarity", "smiles"], ascending=[False, True], kind="stable"
    )
    table = table.reset_index(drop=True)
    table["change"] = table.prediction - base
    table["in_domain"] = _in_domain(model, list(table.smiles))
    chosen = table[table.counterfactual].head(n).copy()
    chosen["changes"] = [
        describe_changes(mol, Chem.MolFromSmiles(s)) for s in chosen.smiles
    ]
    return Counterfactuals(
        smiles=canonical,
        target=model.target_names_[j],
        prediction=base,
        neighbours=table,
        chosen=chosen.reset_index(drop=True),
        sampled=n_samples,
        distinct=distinct,
        seconds=time.perf_counter() - tick,
    )


def _predicted(model, j, mol, fresh, min_similarity, generation) -> pd.DataFrame:
    """``fresh`` neighbours at least ``min_similarity`` alike to ``mol``, with
    their ``similarity``, ``generation`` and ``prediction`` of target ``j``."""
    mols = [Chem.MolFromSmiles(s) for s in fresh.smiles]
    fresh = fresh.assign(
        similarity=similarity(mol, mols) if mols else np.zeros(0),
        generation=generation,
    )
    fresh = fresh[fresh.similarity >= min_similarity].reset_index(drop=True)
    values = model.predict_values(list(fresh.smiles))[:, j] if len(fresh) else []
    return fresh.assign(prediction=np.asarray(values, np.float64))


def _in_domain(model, smiles: list[str]) -> pd.array:
    """Per neighbour, whether all its elements occur in the training molecules
    (NA for models without that record); one warning for those that do not."""
    unseen = (
        model.unseen_elements(smiles) if hasattr(model, "unseen_elements") else None
    )
    if unseen is None:
        return pd.array([pd.NA] * len(smiles), dtype="boolean")
    outside = sum(bool(u) for u in unseen)
    if outside:
        symbols = sorted({e for u in unseen for e in u})
        log.warning(
            "%d of %d neighbours hold elements absent from the model's training "
            "molecules (%s): their predictions are extrapolations (in_domain = False)",
            outside,
            len(smiles),
            ", ".join(symbols),
        )
    return pd.array([not u for u in unseen], dtype="boolean")


def describe_changes(before: Chem.Mol, after: Chem.Mol) -> str:
    """The functional-group counts (RDKit ``fr_*``) and physchem descriptors
    that differ between two molecules, e.g. ``"fr_halogen +1; TPSA -12.0"``."""
    changes = []
    for name in FRAGMENTS:
        fn = getattr(Descriptors, name)
        diff = fn(after) - fn(before)
        if diff:
            changes.append(f"{name} {diff:+d}")
    for name in SHOWN_DESCRIPTORS:
        fn = getattr(Descriptors, name)
        diff = fn(after) - fn(before)
        if isinstance(diff, int) and diff:
            changes.append(f"{name} {diff:+d}")
        elif abs(diff) > 5e-3:
            changes.append(f"{name} {diff:+.2f}")
    return "; ".join(changes) or "no descriptor change"
