"""Shapley values of descriptor and fingerprint models, mapped back to atoms.

Players are the feature columns that matter for one molecule: the bits or
counts it sets (fingerprints), or every descriptor column the model kept
(descriptor sets). An absent player takes its baseline: 0 for a fingerprint
column, the training mean for a descriptor (what the model's cleaner
centres on). Morgan bits and counts are mapped back to the atoms of the
environments that set them, each bit's value shared equally among its
atoms; other columns (MACCS keys, fragment counts, descriptors) have no
atoms and make up :attr:`~molmat.explain.record.Attribution.rest`.
Materials models (compositions, crystal structures) have no atoms to map
to: their parts are the feature columns themselves.

Models are read through ``input_features``, ``predict_features``,
``estimators_`` and their ``features``, ``radius`` and ``n_bits``
(:class:`~molmat.tasks.classic.ClassicModel`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from molmat.data.console import progress_bar
from molmat.data.molecules import molecules
from molmat.explain.inputs import atom_symbols, target_index
from molmat.explain.record import Attribution, item_text
from molmat.explain.shapley import shapley
from molmat.featurizers.descriptors import BINARY_SETS, COUNT_SETS
from molmat.featurizers.sets import column_names

MORGAN_SETS = ("morgan", "morgan-counts", "fragprints")


def feature_shapley(
    model,
    X: Sequence,
    target: int | str | None = None,
    permutations: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> list:
    """Shapley values of each parsable molecule of ``X``'s feature columns.

    Returns :class:`~molmat.explain.record.Attribution` records whose
    ``values`` are per atom and ``features`` per column (name -> value).

    Raises:
        TypeError: ``model`` is not a descriptor/fingerprint model.
    """
    if not hasattr(model, "predict_features"):
        raise TypeError(f"a {type(model).__name__} has no feature columns to explain")
    X = list(X)
    j = target_index(model, target)
    features, rows = model.input_features(X)
    names = column_names(model.features, model.radius, model.n_bits)
    if getattr(model, "input_kind", "molecule") == "molecule":
        _, mols, _ = molecules([X[i] for i in rows])
    else:
        mols = [None] * len(rows)
    baseline = feature_baseline(model, j, features.shape[1])
    binary = model.features in BINARY_SETS or model.features in COUNT_SETS
    results = []
    bar = progress_bar(total=len(rows), desc="explaining (shap)", enabled=progress)
    for row, x, mol in zip(rows, features, mols, strict=True):
        players = (
            np.flatnonzero(x != baseline)
            if binary
            else np.flatnonzero(np.isfinite(baseline))
        )

        def value(masks: np.ndarray, x=x, players=players) -> np.ndarray:
            batch = np.repeat(
                np.where(np.isfinite(baseline), baseline, x)[None], len(masks), 0
            )
            batch[:, players] = np.where(masks, x[players], batch[:, players])
            return model.predict_features(batch.astype(np.float32), j)

        phi, report = shapley(value, len(players), permutations, seed)
        ends = value(
            np.array([np.ones(len(players), bool), np.zeros(len(players), bool)])
        )
        if mol is None:  # a material: the columns are the parts
            parts, per_part = [names[c] for c in players], phi
            mapped = np.ones(len(players), bool)
        else:
            parts = atom_symbols(mol)
            per_part, mapped = atom_shares(mol, players, phi, model)
        results.append(
            Attribution(
                item=item_text(X[row]),
                row=int(row),
                method="shap",
                target=model.target_names_[j],
                parts=parts,
                values=per_part,
                prediction=float(ends[0]),
                reference=float(ends[1]),
                rest=float(phi.sum() - phi[mapped].sum()),
                report=report,
                features=dict(
                    sorted(
                        (
                            (names[c], float(v))
                            for c, v in zip(players, phi, strict=True)
                        ),
                        key=lambda kv: -abs(kv[1]),
                    )
                ),
            )
        )
        bar.update()
    bar.close()
    return results


def feature_baseline(model, target: int, n_features: int) -> np.ndarray:
    """Baseline value [F] of each column: 0 for fingerprints, the training
    mean for descriptors, NaN for columns the model dropped (constant or
    all-missing in training: they never reach it)."""
    if model.features in BINARY_SETS or model.features in COUNT_SETS:
        return np.zeros(n_features)
    clean = model.estimators_[target].named_steps["clean"]
    baseline = np.full(n_features, np.nan)
    baseline[clean.kept_] = clean.mean_
    return baseline


def atom_shares(
    mol: Chem.Mol, players: np.ndarray, phi: np.ndarray, model
) -> tuple[np.ndarray, np.ndarray]:
    """Per-atom values [n_atoms] from the players' values, and a mask [P] of
    the players that map to atoms (Morgan bits and counts)."""
    shares = np.zeros(mol.GetNumAtoms())
    mapped = np.zeros(len(players), bool)
    if model.features not in MORGAN_SETS:
        return shares, mapped
    atoms_of = morgan_bit_atoms(mol, model.radius, model.n_bits)
    for p, (column, value) in enumerate(zip(players, phi, strict=True)):
        atoms = atoms_of.get(int(column))
        if atoms:  # fragment-count columns of fragprints have no atoms
            shares[list(atoms)] += value / len(atoms)
            mapped[p] = True
    return shares, mapped


def morgan_bit_atoms(mol: Chem.Mol, radius: int, n_bits: int) -> dict[int, set[int]]:
    """Bit -> atoms of every environment of ``mol`` that sets it."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    output = rdFingerprintGenerator.AdditionalOutput()
    output.AllocateBitInfoMap()
    generator.GetFingerprint(mol, additionalOutput=output)
    atoms: dict[int, set[int]] = {}
    for bit, environments in output.GetBitInfoMap().items():
        found = atoms.setdefault(int(bit), set())
        for center, r in environments:
            found.add(center)
            for bond in Chem.FindAtomEnvironmentOfRadiusN(mol, r, center):
                b = mol.GetBondWithIdx(bond)
                found.update((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))
    return atoms
