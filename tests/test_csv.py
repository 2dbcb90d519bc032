import numpy as np
import pandas as pd
import pytest

from molmat.data.csv import DataError, parse_smiles, read_molecules


def test_bad_rows_are_reported_and_good_rows_kept(tiny_csv):
    table = read_molecules(tiny_csv, targets=["logS"])
    bad = {b.row: b.reason for b in table.report.bad_rows}
    assert set(bad) == {3, 5, 7, 8, 13}
    assert "unparsable" in bad[3]
    assert "empty" in bad[5]
    assert "missing" in bad[7]
    assert "non-numeric" in bad[8] and "abc" in bad[8]
    assert "sanitisation" in bad[13]
    assert len(table) == 15 and table.report.n_used == 15
    assert 3 not in table.rows and 4 in table.rows
    # targets line up with their rows
    frame = pd.read_csv(tiny_csv)
    expected = pd.to_numeric(frame["logS"], errors="coerce").to_numpy()[table.rows]
    np.testing.assert_allclose(table.y[:, 0], expected, rtol=1e-6)
    assert "5 skipped" in table.report.summary()


def test_strict_mode_fails_on_first_bad_row(tiny_csv):
    with pytest.raises(DataError, match="row 3"):
        read_molecules(tiny_csv, targets=["logS"], strict=True)


def test_duplicates_with_conflicting_labels_are_flagged(tiny_csv):
    table = read_molecules(tiny_csv, targets=["logS"])
    (dup,) = table.report.duplicates
    assert dup.canonical_smiles == "CCO" and dup.rows == (0, 16) and dup.conflicting


def test_multitask_missing_labels_are_masked_not_dropped(tiny_csv):
    table = read_molecules(tiny_csv, targets=["logS", "tox"])
    assert 4 in table.rows  # toluene has logS but no tox label
    row = list(table.rows).index(4)
    assert np.isnan(table.y[row, 1]) and table.y[row, 0] == pytest.approx(-2.21)


def test_missing_column_gives_clear_error(tiny_csv):
    with pytest.raises(DataError, match="solubility.*not found"):
        read_molecules(tiny_csv, targets=["solubility"])
    with pytest.raises(DataError, match="SMILES column 'smi' not found"):
        read_molecules(tiny_csv, smiles_col="smi", targets=["logS"])


def test_columns_are_detected(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame(
        {"id": ["a", "b"], "structure": ["CCO", "CCN"], "y": [1.0, 2.0]}
    ).to_csv(path, index=False)
    table = read_molecules(path)
    assert table.smiles_col == "structure" and table.target_names == ["y"]


def test_ambiguous_target_asks_for_one(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame({"smiles": ["CCO", "CCN"], "a": [1.0, 2.0], "b": [0, 1]}).to_csv(
        path, index=False
    )
    with pytest.raises(DataError, match="--target"):
        read_molecules(path)


def test_unreadable_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_molecules(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("", "empty"),
        (None, "empty"),
        ("C1CC", "unparsable"),
        ("c1cccc1", "sanitisation"),
    ],
)
def test_parse_smiles_reasons(smiles, reason):
    mol, why = parse_smiles(smiles)
    assert mol is None and reason in why


def test_bundled_datasets_read():
    for name, n_used in (("esol", 1128), ("aqsoldb", 9980), ("bbbp", 2039)):
        table = read_molecules(name)
        assert len(table) == n_used
        assert np.isfinite(table.y).all()


def test_bundled_multitask_sets_keep_every_task_with_missing_labels_masked():
    from molmat.data.datasets import get_dataset

    tox21 = read_molecules("tox21")
    assert tox21.y.shape[1] == 12 and len(tox21) == 7823  # 8 unparsable rows
    assert np.isnan(tox21.y).any()  # missing assay results stay NaN
    assert np.isin(tox21.y[~np.isnan(tox21.y)], (0, 1)).all()
    assert read_molecules("sider").y.shape == (1427, 27)
    assert read_molecules("bace").y.shape == (1513, 1)
    assert read_molecules("clintox").target_names == ["FDA_APPROVED", "CT_TOX"]
    with pytest.raises(KeyError, match="download"):
        get_dataset("hiv")
    with pytest.raises(DataError, match="HIV.csv"):
        read_molecules("hiv")
