"""Invariance checks every molecular property model must pass.

A molecule's prediction may depend on the molecule only: not on how its atoms
are numbered, nor on the molecules it is batched with, nor on how much padding
its batch carries (Decision 1). Each ``assert_*`` function raises
:class:`AssertionError` naming the worst molecule and the size of the
violation. They run the whole path of ``model.predict_values`` (parsing,
featurising, conformers, descriptor scaling, batching, padding, the jitted
network, un-standardising), so a bug anywhere between a SMILES and its
prediction shows up.

Deviations are measured in units of the training targets' standard deviation
(regression; the network's own, standardised units) or of probability
(classification), so one tolerance fits every data set; the float32 rounding
of the prediction itself (``1e-6`` of its value) is allowed on top.

Example:
    >>> from molmat.testing import check_property_model
    >>> check_property_model(model, ["CCO", "[Na+].[Cl-]"])  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from rdkit import Chem

# molecules of very different sizes to batch the checked ones with: one atom,
# two fragments, a mid-sized drug, and a 36-atom chain (the second size class
# of pairwise models, which pads every batch of the others)
CONTEXT = ("C", "[Na+].[Cl-]", "CC(=O)Oc1ccccc1C(=O)O", "C" * 36)
FLOAT32_RTOL = 1e-6


def _names(molecules: Sequence) -> list[str]:
    return [f"molecule {i} ({_name(m)!r})" for i, m in enumerate(molecules)]


def _name(molecule: str | Chem.Mol) -> str:
    return Chem.MolToSmiles(molecule) if isinstance(molecule, Chem.Mol) else molecule


def _scale(model) -> np.ndarray:
    """Unit of the deviations, [T]: the targets' std (regression) or 1."""
    if getattr(model, "task_", "regression") == "regression":
        return np.asarray(model.y_scaler_.std, np.float64)
    return np.ones(model.n_targets_)


def _alone(model, molecules: Sequence) -> np.ndarray:
    """Predictions [n, T] of each molecule in a batch of its own."""
    out = np.concatenate([model.predict_values([m]) for m in molecules])
    bad = np.flatnonzero(np.isnan(out).any(axis=1))
    if len(bad):
        names = [f"{i} ({_name(molecules[i])!r})" for i in bad]
        raise ValueError(
            f"molecule {', '.join(names)} could not be predicted "
            "(unparsable, or no conformer for a 3D model)"
        )
    return out


def compare_predictions(
    model, got, want, names, atol: float, what: str, reference: str = "alone"
) -> None:
    """Raise if ``got`` [n, T] deviates from ``want`` [n, T] (the prediction
    ``reference``) by more than ``atol`` (in units of the targets' std, or of
    probability, plus float32 rounding); ``names`` [n] name the inputs
    (``molecule 0 ('CCO')``)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = _scale(model)
    dev = np.abs(got - want) / scale
    allowed = atol + FLOAT32_RTOL * np.abs(want) / scale
    excess = np.nan_to_num(dev - allowed, nan=np.inf)
    i, t = np.unravel_index(np.argmax(excess), excess.shape)
    if excess[i, t] > 0:
        raise AssertionError(
            f"{what}: {names[i]}, target {t}: "
            f"{got[i, t]:.7g} instead of {want[i, t]:.7g} predicted {reference}, a "
            f"deviation of {dev[i, t]:.3g} > {allowed[i, t]:.3g} "
            "(in units of the targets' std, or of probability)"
        )


def _renumbered(molecule: str | Chem.Mol, rng: np.random.Generator) -> Chem.Mol:
    """``molecule`` with its atoms in a random order other than their own."""
    mol = Chem.MolFromSmiles(molecule) if isinstance(molecule, str) else molecule
    if mol is None:
        raise ValueError(f"cannot parse {molecule!r}")
    n = mol.GetNumAtoms()
    order = rng.permutation(n)
    if n > 1 and (order == np.arange(n)).all():
        order = np.roll(order, 1)
    return Chem.RenumberAtoms(mol, order.tolist())


def assert_atom_order_invariant(
    model, molecules: Sequence, seed: int = 0, atol: float = 1e-4
) -> None:
    """Renumbering the atoms of each molecule does not change its prediction.

    Each molecule is rewritten by :func:`rdkit.Chem.RenumberAtoms` with a
    random permutation (never the identity); both lists are predicted in the
    same batches, so only the atom order differs. 3D models embed conformers
    in canonical atom order, so a renumbered molecule gets the same geometry.

    Args:
        model: a fitted :class:`~molmat.tasks.property.PropertyModel` (or any
            estimator with ``predict_values``).
        molecules: SMILES or RDKit Mols.
        seed: seed of the permutations.
        atol: tolerance in units of the targets' std (or of probability).
    """
    rng = np.random.default_rng(seed)
    shuffled = [_renumbered(m, rng) for m in molecules]
    compare_predictions(
        model,
        model.predict_values(shuffled),
        model.predict_values(list(molecules)),
        _names(molecules),
        atol,
        "atoms renumbered",
        "in the given atom order",
    )


def assert_batch_matches_single(model, molecules: Sequence, atol: float = 1e-4) -> None:
    """Predicting ``molecules`` together gives each one's prediction alone.

    Args:
        model: a fitted property model (see :func:`assert_atom_order_invariant`).
        molecules: SMILES or RDKit Mols.
        atol: tolerance in units of the targets' std (or of probability).
    """
    together = model.predict_values(list(molecules))
    compare_predictions(
        model, together, _alone(model, molecules), _names(molecules), atol, "batched"
    )


def assert_padding_invariant(
    model,
    molecules: Sequence,
    context: Sequence = CONTEXT,
    batch_sizes: Sequence[int] = (3, 64),
    seed: int = 0,
    atol: float = 1e-4,
) -> None:
    """A molecule predicted alone equals it predicted among very different ones.

    ``molecules`` are shuffled in with the ``context`` molecules and predicted
    with each of ``batch_sizes``: batches then mix sizes, hold different
    neighbours and carry different padding (budgets, and size classes for
    models that batch by size).

    Args:
        model: a fitted property model with a ``batch_size`` parameter (see
            :func:`assert_atom_order_invariant`); it is not changed.
        molecules: SMILES or RDKit Mols to check.
        context: molecules to batch them with (default: 1 to 36 heavy atoms).
        batch_sizes: molecules per batch to predict with.
        seed: seed of the shuffles.
        atol: tolerance in units of the targets' std (or of probability).
    """
    alone = _alone(model, molecules)
    mixed = [*context, *molecules]
    rng = np.random.default_rng(seed)
    for batch_size in batch_sizes:
        order = rng.permutation(len(mixed))
        resized = copy.copy(model).set_params(batch_size=batch_size)
        out = resized.predict_values([mixed[k] for k in order])
        where = np.argsort(order)[len(context) :]
        what = f"among {len(context)} other molecules, batch size {batch_size}"
        compare_predictions(model, out[where], alone, _names(molecules), atol, what)


def check_property_model(model, molecules: Sequence, atol: float = 1e-4) -> None:
    """Run every check: atom order, batching, padding.

    Args:
        model: a fitted property model (see :func:`assert_padding_invariant`).
        molecules: SMILES or RDKit Mols; include single atoms, several
            fragments and rings to cover the corner cases of a graph.
        atol: tolerance in units of the targets' std (or of probability).
    """
    assert_atom_order_invariant(model, molecules, atol=atol)
    assert_batch_matches_single(model, molecules, atol=atol)
    assert_padding_invariant(model, molecules, atol=atol)
