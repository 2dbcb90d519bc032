import logging
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from rdkit import Chem

from molmat.explain import counterfactuals, neighbourhood
from molmat.explain.counterfactual import describe_changes, similarity
from molmat.explain.draw import (
    draw_atom_attributions,
    draw_grid,
    draw_token_attributions,
)


class NitrogenCounter:
    """A stand-in classifier: the probability that a molecule holds nitrogen."""

    task_ = "classification"
    target_names_ = ["has_N"]

    def predict_values(self, X):
        mols = [Chem.MolFromSmiles(s) for s in X]
        has = [any(a.GetSymbol() == "N" for a in m.GetAtoms()) for m in mols]
        return np.array(has, float)[:, None] * 0.8 + 0.1

    def unseen_elements(self, X):
        known = {"C", "N", "O"}
        return [
            sorted({a.GetSymbol() for a in Chem.MolFromSmiles(s).GetAtoms()} - known)
            for s in X
        ]


def test_neighbourhood_is_valid_distinct_and_seeded():
    a = neighbourhood("CC(=O)Oc1ccccc1C(=O)O", n_samples=300, seed=4)
    b = neighbourhood("CC(=O)Oc1ccccc1C(=O)O", n_samples=300, seed=4)
    c = neighbourhood("CC(=O)Oc1ccccc1C(=O)O", n_samples=300, seed=5)
    assert a.equals(b) and not a.equals(c)
    assert a.smiles.is_unique and len(a) > 100
    assert "CC(=O)Oc1ccccc1C(=O)O" not in set(a.smiles)
    for s in a.smiles:
        mol = Chem.MolFromSmiles(s)
        assert mol is not None and Chem.MolToSmiles(mol) == s
    assert set(a.mutations) <= {1, 2}


def test_counterfactuals_flip_the_class_and_are_the_closest(caplog):
    caplog.set_level(logging.WARNING, logger="molmat")
    model = NitrogenCounter()
    found = counterfactuals(model, "CCOC(=O)C", n=3, n_samples=800, min_similarity=0.2)
    assert found.prediction == pytest.approx(0.1) and found.found
    chosen = found.chosen
    assert len(chosen) == 3
    assert all("N" in s for s in chosen.smiles)  # the class flipped
    assert (chosen.prediction >= 0.5).all() and chosen.counterfactual.all()
    # the most similar flips of everything that was predicted, in order
    flips = found.neighbours[found.neighbours.counterfactual]
    assert list(chosen.smiles) == list(flips.smiles[:3])
    assert chosen.similarity.is_monotonic_decreasing
    assert (found.neighbours.similarity >= 0.2).all()
    mols = [Chem.MolFromSmiles(s) for s in chosen.smiles]
    np.testing.assert_allclose(
        chosen.similarity, similarity(Chem.MolFromSmiles("CCOC(=O)C"), mols)
    )
    assert all(c for c in chosen.changes)
    # neighbours with elements the model never saw are flagged and warned about
    outside = ~found.neighbours.in_domain.astype(bool)
    assert outside.any() and "absent from the model's training molecules" in caplog.text


def test_regression_counterfactuals_move_by_delta():
    class Weight:
        task_ = "regression"
        target_names_ = ["heavy_atoms"]

        def predict_values(self, X):
            return np.array([[Chem.MolFromSmiles(s).GetNumAtoms()] for s in X], float)

    found = counterfactuals(
        Weight(), "CCCCCCO", delta=2, direction="up", min_similarity=0
    )
    assert found.found and (found.chosen.change >= 2).all()
    with pytest.raises(ValueError, match="give delta"):
        counterfactuals(Weight(), "CCCCCCO")
    with pytest.raises(ValueError, match="direction"):
        counterfactuals(Weight(), "CCCCCCO", delta=1, direction="sideways")


def test_the_search_stops_at_a_generation_whose_only_neighbour_flips():
    class Rings:
        task_ = "regression"
        target_names_ = ["rings"]

        def predict_values(self, X):
            # GetSSSR perceives the rings itself: RingInfo may be uninitialised
            return np.array(
                [[len(Chem.GetSSSR(Chem.MolFromSmiles(s)))] for s in X], float
            )

    found = counterfactuals(
        Rings(), "c1ccc2c(c1)c3cccc4cccc2c34", n=3, n_samples=600, delta=1.0
    )
    assert found.neighbours.smiles.notna().all()
    assert (found.chosen.change.abs() >= 1).all()


def test_bad_smiles_is_a_clear_error():
    with pytest.raises(ValueError, match="unparsable"):
        counterfactuals(NitrogenCounter(), "C1CC(")


def test_descriptor_changes_name_the_groups():
    text = describe_changes(Chem.MolFromSmiles("CCO"), Chem.MolFromSmiles("CCCl"))
    assert "fr_halogen +1" in text and "NumHDonors -1" in text


def test_pictures_are_valid_png_and_svg(tmp_path):
    mol = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    values = np.linspace(-1, 1, mol.GetNumAtoms())
    for path in (
        draw_atom_attributions(
            mol, values, tmp_path / "a.png", "logS\nprediction -1.2"
        ),
        draw_token_attributions(
            ["<bos>", "A", "K", "<eos>"], [0, 1, -1, 0], tmp_path / "t.png"
        ),
        draw_grid(["CCO", "CCN"], ["original", "sim 0.5"], tmp_path / "g.png"),
    ):
        with Image.open(path) as image:
            image.verify()
    for path in (
        draw_atom_attributions(mol, values, tmp_path / "a.svg", "logS <µ>"),
        draw_atom_attributions(Chem.MolFromSmiles("C"), [0.3], tmp_path / "one.svg"),
        draw_token_attributions(["A", "K"], [1, -1], tmp_path / "t.svg"),
        draw_grid(["CCO", "CCN"], ["original", "sim 0.5"], tmp_path / "g.svg"),
    ):
        root = ET.fromstring(path.read_bytes())
        assert root.tag.endswith("svg")
    assert "logS &lt;&#181;&gt;" in (tmp_path / "a.svg").read_text(encoding="latin-1")
    with pytest.raises(ValueError, match="png or .svg"):
        draw_grid(["CCO"], ["x"], tmp_path / "g.jpg")
