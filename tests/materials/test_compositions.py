"""Formulas, Magpie composition features and composition tables."""

import numpy as np
import pytest

from molmat.data.compositions import compositions, parse_composition, parse_formula
from molmat.data.csv import DataError, read_compositions
from molmat.featurizers.composition import composition_features, feature_names


@pytest.mark.parametrize(
    ("formula", "amounts"),
    [
        ("NaCl", {"Na": 1, "Cl": 1}),
        ("Ag(AuS)2", {"Ag": 1, "Au": 2, "S": 2}),
        ("Ca3[PO4]2", {"Ca": 3, "P": 2, "O": 8}),
        ("Cu(SO4)2(H2O)4", {"Cu": 1, "S": 2, "O": 12, "H": 8}),
        ("CuSO4·5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("Fe0.62C0.01Mn0.37", {"Fe": 0.62, "C": 0.01, "Mn": 0.37}),
        ("Ag0.5Ge1Pb1.75S4", {"Ag": 0.5, "Ge": 1, "Pb": 1.75, "S": 4}),
        ("Fe2 O3", {"Fe": 2, "O": 3}),
        ("HOH", {"H": 2, "O": 1}),
    ],
)
def test_formulas_parse_to_their_amounts(formula, amounts):
    parsed = parse_formula(formula)
    assert parsed.keys() == amounts.keys()
    assert all(np.isclose(parsed[k], v) for k, v in amounts.items())


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("Xx2", "unknown element 'Xx'"),
        ("Fe2+", "charges"),
        ("Fe(O", "unbalanced"),
        ("FeO)", "unbalanced"),
        ("O0", "zero amount"),
        ("2O", "no element"),
        ("Fe_2", "unexpected '_'"),
        ("", "empty"),
    ],
)
def test_bad_formulas_name_the_reason(formula, reason):
    comp, why = parse_composition(formula)
    assert comp is None and reason in why
    if formula:
        assert formula in why


def test_same_fractions_same_key_and_features():
    comps, _ = compositions(["Fe2O3", "Fe4O6", "O3Fe2", "FeO"])
    assert comps[0].key == comps[1].key == comps[2].key != comps[3].key
    features = composition_features(comps)
    np.testing.assert_allclose(features[0], features[1])
    np.testing.assert_allclose(features[0], features[2])
    assert not np.allclose(features[0], features[3])


def test_features_follow_their_definitions():
    comps, _ = compositions(["NaCl", "Fe2O3", "Fe", "HeNe"])
    features = composition_features(comps)
    names = feature_names()
    assert features.shape == (4, len(names)) == (4, 149)
    col = {n: features[:, names.index(n)] for n in names}
    # Na (Z 11), Cl (Z 17); Fe (26) x 0.4, O (8) x 0.6
    np.testing.assert_allclose(col["mean Number"][:3], [14.0, 15.2, 26.0])
    np.testing.assert_allclose(col["range Number"][:3], [6.0, 18.0, 0.0])
    np.testing.assert_allclose(col["avg_dev Number"][:3], [3.0, 8.64, 0.0])
    assert col["mode Number"][1] == 8.0  # O is the most abundant
    assert col["mode Number"][0] == 11.0  # a tie goes to the smaller value
    np.testing.assert_allclose(col["n_elements"], [2, 2, 1, 2])
    np.testing.assert_allclose(col["2-norm"][1], np.sqrt(0.4**2 + 0.6**2))
    assert list(col["compound possible"]) == [1.0, 1.0, 0.0, 0.0]
    assert col["max ionic char"][2] == 0.0
    assert 0 < col["avg ionic char"][0] < col["max ionic char"][0] < 1
    # noble gases have no Pauling electronegativity: unknown, not a made-up 0
    assert np.isnan(col["mean Electronegativity"][3])
    assert np.isnan(col["max ionic char"][3])
    assert np.isfinite(col["mean Number"][3])


def test_composition_table_reports_bad_rows_and_keeps_good(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text(
        "formula,gap\nNaCl,8.5\nXx2,1.0\nFe2O3,2.2\nFe4O6,2.3\n,1.0\nGaAs,\n"
    )
    table = read_compositions(path)
    assert table.formulas == ["NaCl", "Fe2O3", "Fe4O6"]
    assert list(table.rows) == [0, 2, 3]
    assert table.target_names == ["gap"]
    reasons = {b.row: b.reason for b in table.report.bad_rows}
    assert set(reasons) == {1, 4, 5}
    assert "unknown element 'Xx'" in reasons[1]
    assert "empty" in reasons[4] and "missing" in reasons[5]
    assert [tuple(d.rows) for d in table.report.duplicates] == [(2, 3)]


def test_missing_composition_column_is_a_clear_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("name,gap\nNaCl,8.5\n")
    with pytest.raises(DataError, match="--composition-col"):
        read_compositions(path)


def test_featurize_writes_composition_and_structure_tables(tmp_path):
    from pathlib import Path

    import pandas as pd

    from molmat.cli.main import main

    data = Path(__file__).parents[1] / "data"
    out = tmp_path / "magpie.csv"
    argv = ["featurize", "--data", str(data / "matbench_steels_sample.csv")]
    assert main([*argv, "--features", "magpie", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns[:2]) == ["row", "composition"]
    assert table.shape == (80, 2 + len(feature_names()))
    assert table["n_elements"].min() >= 2
    out = tmp_path / "structures.csv"
    argv = ["featurize", "--data", str(data / "matbench_jdft2d_sample.extxyz")]
    assert main([*argv, "--features", "magpie-structure", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns[:2]) == ["row", "structure"]
    assert len(table) == 40 and (table["density"] > 0).all()
