import copy

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molmat import PropertyModel
from molmat.explain import (
    explain,
    gradient_x_input,
    integrated_gradients,
    shapley_values,
    smoothgrad,
)
from molmat.explain.features import morgan_bit_atoms
from molmat.featurizers.graph import ATOM_DIM, ELEMENTS
from molmat.tasks.classic import ClassicModel
from molmat.tasks.sequence import SequenceModel
from tests.conftest import DATA

CARBON = ELEMENTS.index(6)  # column of carbon in the element one-hot block


@pytest.fixture(scope="module")
def esol_split(esol):
    smiles = list(esol.smiles)
    return smiles[:200], esol.y[:200], smiles[200:260]


@pytest.fixture(scope="module")
def gin(esol_split):
    X, y, _ = esol_split
    return PropertyModel(
        model="gin",
        hidden=32,
        ffn_hidden=32,
        epochs=15,
        batch_size=16,
        progress=False,
        val_fraction=0,
        seed=0,
    ).fit(X, y)


def test_integrated_gradients_converge_to_completeness(gin, esol_split):
    """Σ attributions -> f(x) - f(baseline) as the path is integrated more
    finely. A ReLU network is piecewise linear along the path, with many kinks
    near the baseline, so the midpoint rule converges slowly: at 64 steps this
    model has 80% of the molecules within 1% (the benchmark reports it);
    ``tolerance`` doubles the steps of a batch until its molecules are."""
    _, _, test = esol_split
    coarse = integrated_gradients(gin, test, steps=64)
    fine = integrated_gradients(gin, test, steps=64, tolerance=0.01, max_steps=2048)
    assert [a.row for a in fine] == list(range(len(test)))
    delta = np.array([abs(a.prediction - a.reference) for a in fine])
    errors = [np.array([a.completeness_error for a in r]) for r in (coarse, fine)]
    assert np.median(errors[1]) < np.median(errors[0]) / 5
    assert np.mean(errors[1] < 0.01 * delta) >= 0.95, np.sort(errors[1] / delta)[-5:]
    # the prediction is the model's own
    np.testing.assert_allclose(
        [a.prediction for a in fine], gin.predict(test), rtol=1e-5, atol=1e-5
    )


def test_attributions_do_not_depend_on_the_batch(gin, esol_split):
    _, _, test = esol_split
    together = integrated_gradients(gin, test[:12])
    alone = integrated_gradients(gin, [test[7]])[0]
    np.testing.assert_allclose(alone.values, together[7].values, rtol=1e-4, atol=1e-6)
    assert alone.prediction == pytest.approx(together[7].prediction, abs=1e-5)


@pytest.mark.parametrize("method", ["ig", "gradient", "shap"])
def test_atom_attributions_follow_a_renumbering_of_the_atoms(gin, method):
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    order = np.random.default_rng(0).permutation(mol.GetNumAtoms())
    renumbered = Chem.RenumberAtoms(mol, order.tolist())
    # enough permutations for exact Shapley values (sampled orders would
    # follow the atom numbering)
    a, b = explain(gin, [mol, renumbered], method, permutations=200)
    assert method != "shap" or a.report.method == "exact"
    np.testing.assert_allclose(b.values, a.values[order], rtol=1e-4, atol=1e-6)
    assert b.parts == [a.parts[i] for i in order]


class CarbonOnly(eqx.Module):
    """An encoder that sees carbon atoms only: every other atom's state is 0."""

    weight: jax.Array

    def __call__(self, g, *, key=None, inference=False):
        carbon = g.atom_x[:, CARBON : CARBON + 1]
        return jnp.tanh(g.atom_x @ self.weight) * carbon


def test_atoms_a_model_ignores_get_zero(gin):
    width = gin.hidden  # what the readout and head of the fitted network read
    weight = jax.random.normal(jax.random.key(1), (ATOM_DIM, width))
    blind = copy.copy(gin)
    blind.net_ = eqx.tree_at(lambda n: n.encoder, gin.net_, CarbonOnly(weight))
    smiles = ["OCC(N)C(=O)O", "c1ccncc1Cl"]
    for method in ("ig", "gradient", "shap"):
        for a in explain(blind, smiles, method):
            others = np.array([p != "C" for p in a.parts])
            assert np.all(a.values[others] == 0.0), (method, a.values)
            assert np.any(a.values[~others] != 0.0)


def test_smoothgrad_and_gradient_give_one_value_per_atom(gin):
    for found in (gradient_x_input(gin, ["CCO"]), smoothgrad(gin, ["CCO"], samples=8)):
        (a,) = found
        assert a.parts == ["C", "C", "O"] and np.isfinite(a.values).all()
        assert np.isnan(a.reference)
    a = smoothgrad(gin, ["CCO"], samples=8, seed=1)[0].values
    b = smoothgrad(gin, ["CCO"], samples=8, seed=1)[0].values
    np.testing.assert_array_equal(a, b)


def test_shapley_atoms_add_up_and_report_their_error(gin):
    (small,) = shapley_values(gin, ["OCCN"])  # 4 atoms: exact
    assert small.report.method == "exact"
    assert small.total == pytest.approx(small.prediction - small.reference, abs=1e-5)
    (big,) = shapley_values(gin, ["CC(=O)Nc1ccc(O)cc1"], permutations=32)
    assert big.report.method == "sampling" and big.report.std_error.shape == (11,)
    assert big.values.sum() == pytest.approx(big.prediction - big.reference, abs=1e-4)


def test_bad_smiles_are_left_out_and_named(gin, caplog):
    found = integrated_gradients(gin, ["CCO", "C1CC(", "c1ccccc1"])
    assert [a.row for a in found] == [0, 2]
    assert "unparsable" in caplog.text


def test_unknown_method_or_target_is_a_clear_error(gin):
    with pytest.raises(ValueError, match="unknown method"):
        explain(gin, ["CCO"], "lime")
    with pytest.raises(ValueError, match="unknown target"):
        explain(gin, ["CCO"], "ig", target="logP")


def test_token_attributions_of_a_sequence_model_are_complete():
    peptides = pd.read_csv(DATA / "hemolytic_peptides_sample.csv")
    model = SequenceModel(
        model="gru",
        tokens="aa",
        hidden=16,
        embed=8,
        epochs=3,
        batch_size=8,
        val_fraction=0,
        progress=False,
    ).fit(list(peptides.sequence), peptides.hemolytic.to_numpy(float))
    found = integrated_gradients(model, list(peptides.sequence[:6]), steps=128)
    for a, seq in zip(found, peptides.sequence[:6], strict=True):
        assert a.parts == ["<bos>", *seq, "<eos>"]
        assert 0.0 <= a.prediction <= 1.0  # a probability
        assert a.completeness_error < 0.01 * abs(a.prediction - a.reference) + 1e-5
    (shap,) = shapley_values(model, [peptides.sequence[0]], permutations=16)
    assert shap.values.sum() == pytest.approx(
        shap.prediction - shap.reference, abs=1e-4
    )


@pytest.fixture(scope="module")
def forest(esol_split):
    X, y, _ = esol_split
    return ClassicModel(model="rf", n_bits=1024).fit(X, y)


def test_forest_shapley_values_map_bits_to_atoms(forest):
    (a,) = shapley_values(forest, ["CC(=O)Nc1ccc(O)cc1"], permutations=32)
    assert a.prediction == pytest.approx(forest.predict(["CC(=O)Nc1ccc(O)cc1"])[0])
    assert a.values.sum() + a.rest == pytest.approx(
        a.prediction - a.reference, abs=1e-9
    )
    assert a.rest == pytest.approx(0.0, abs=1e-9)  # every Morgan bit has atoms
    assert a.features and all(k.startswith("ecfp4_") for k in a.features)
    with pytest.raises(TypeError, match="Shapley"):
        integrated_gradients(forest, ["CCO"])


def test_morgan_bits_map_to_the_atoms_of_their_environments():
    mol = Chem.MolFromSmiles("CCO")
    atoms = morgan_bit_atoms(mol, 2, 2048)
    assert {0, 1, 2} in atoms.values()  # radius-1 environment of the middle C
    assert any(a == {2} for a in atoms.values())  # the O alone (radius 0)
    generator = Chem.rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    assert set(atoms) == set(generator.GetFingerprint(mol).GetOnBits())
