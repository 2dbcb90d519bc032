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


def test_headerless_smi_keeps_its_first_molecule(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("CCO ethanol\nc1ccccc1 benzene\nCC(=O)O acetic acid\n")
    table = read_molecules(path, require_targets=False)
    assert table.smiles == ["CCO", "c1ccccc1", "CC(=O)O"]
    assert table.frame["name"].tolist() == ["ethanol", "benzene", "acetic acid"]


def test_smi_rows_are_placed_by_file_line(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("CCO\nC1CC( broken\n\nCCN\n")
    table = read_molecules(path, require_targets=False)
    assert table.smiles == ["CCO", "CCN"]
    bad = [str(b) for b in table.report.bad_rows]
    assert bad[0].startswith("row 1 (file line 2): unparsable")
    assert bad[1].startswith("row 2 (file line 3): empty")


@pytest.mark.parametrize("sep", [" ", "\t"])
def test_smi_with_a_header_names_its_columns(tmp_path, sep):
    path = tmp_path / "mols.smi"
    lines = ["SMILES Name logS", "CCO ethanol 1.1", "c1ccccc1 benzene -1.6"]
    path.write_text("".join(line.replace(" ", sep) + "\n" for line in lines))
    table = read_molecules(path, targets=["logS"])
    assert table.smiles == ["CCO", "c1ccccc1"]
    np.testing.assert_allclose(table.y[:, 0], [1.1, -1.6], rtol=1e-6)


def test_smi_header_is_a_column_word_never_a_molecule(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("C methane\nCC ethane\n")  # "C" parses: data, not a header
    assert len(read_molecules(path, require_targets=False)) == 2
    path.write_text("#smiles id\nCC ethane\n")
    assert read_molecules(path, require_targets=False).smiles == ["CC"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("x.tsv", "smiles\tlogS\nCCO\t1.1\nc1ccccc1\t-1.6\n"),
        ("x.csv", "smiles\tlogS\nCCO\t1.1\nc1ccccc1\t-1.6\n"),
        ("x.csv", "smiles;logS\nCCO;1.1\nc1ccccc1;-1.6\n"),
        ("x.csv", "smiles;logS\nCCO;1,1\nc1ccccc1;-1,6\n"),
    ],
)
def test_tab_and_semicolon_separated_files(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    table = read_molecules(path)
    assert table.smiles == ["CCO", "c1ccccc1"] and table.target_names == ["logS"]
    np.testing.assert_allclose(table.y[:, 0], [1.1, -1.6], rtol=1e-6)


def _sdf_record(smiles: str, title: str, logS: str) -> str:
    from rdkit import Chem

    block = Chem.MolToMolBlock(Chem.MolFromSmiles(smiles))
    return f"{title}{block[block.index(chr(10)) :]}>  <logS>\n{logS}\n\n$$$$\n"


@pytest.mark.parametrize("name", ["x.sdf", "x.sdf.gz"])
def test_sdf_records_become_rows_and_a_broken_one_is_reported(tmp_path, name):
    import gzip

    broken = _sdf_record("CCN", "broken", "0.5").replace(" N ", " Xx ")
    text = _sdf_record("CCO", "ethanol", "1.1") + broken
    text += _sdf_record("c1ccccc1", "benzene", "-1.6")
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    table = read_molecules(path)
    assert table.smiles == ["CCO", "c1ccccc1"] and table.target_names == ["logS"]
    np.testing.assert_allclose(table.y[:, 0], [1.1, -1.6], rtol=1e-6)
    assert table.frame["name"].tolist() == ["ethanol", "", "benzene"]
    (bad,) = table.report.bad_rows
    assert str(bad).startswith("row 1 (SDF record 2): RDKit cannot read")
    with pytest.raises(DataError, match="SDF record 2"):
        read_molecules(path, strict=True)


@pytest.mark.parametrize("name", ["x.xlsx", "x.txt", "x"])
def test_unknown_file_types_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_text("smiles,logS\nCCO,1.1\n")
    with pytest.raises(DataError, match="unsupported file type.*reads CSV"):
        read_molecules(path)


def test_predict_on_a_headerless_smi_predicts_every_molecule(tmp_path, capsys):
    from molmat.cli.main import main
    from molmat.tasks.classic import ClassicModel

    smiles = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "CCCC", "Oc1ccccc1"]
    model = ClassicModel("ridge", features="morgan", n_bits=64, use_cache=False)
    folder = model.fit(smiles, np.arange(6.0)).save(tmp_path / "model")
    data, out = tmp_path / "mols.smi", tmp_path / "pred.csv"
    data.write_text("CCO ethanol\nc1ccccc1 benzene\nCCN ethylamine\n")
    args = ["predict", "--model", str(folder), "--data", str(data), "--out", str(out)]
    assert main(args) == 0
    frame = pd.read_csv(out)
    assert frame["smiles"].tolist() == ["CCO", "c1ccccc1", "CCN"]
    assert frame["y0_pred"].notna().all()
    assert "3 of 3 rows predicted" in capsys.readouterr().out


def test_sep_overrides_the_sniffed_separator(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("smiles|logS\nCCO|1.1\nc1ccccc1|-1.6\n")
    with pytest.raises(DataError, match=r"x.csv \(header, file line 1\).*--sep"):
        read_molecules(path)
    for sep in ("|", "pipe"):
        table = read_molecules(path, sep=sep)
        assert table.smiles == ["CCO", "c1ccccc1"] and table.target_names == ["logS"]
    # a semicolon file whose names hold more commas than semicolons
    path.write_text("smiles;name, long, old;logS\nCCO;ethanol, dry, new;1,5\n")
    table = read_molecules(path, sep="semicolon")
    assert table.y[:, 0].tolist() == [1.5]
    with pytest.raises(DataError, match="not one character"):
        read_molecules(path, sep="::")


def test_a_file_that_is_not_utf8_is_refused_with_line_and_byte(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"smiles,name,logS\nCCO,ethanol,1.1\nCCN,amin\xe9,0.4\n")
    with pytest.raises(DataError, match=r"latin.csv line 3: byte 0xe9 is not UTF-8"):
        read_molecules(path)


@pytest.mark.parametrize(
    ("positive", "negative"), [("yes", "no"), ("True", "False"), ("active", "inactive")]
)
def test_label_words_are_read_as_one_and_zero(tmp_path, caplog, positive, negative):
    path = tmp_path / "words.csv"
    path.write_text(
        f"smiles,active\nCCO,{positive}\nCCN,{negative}\nCCC,\nc1ccccc1,{positive}\n"
    )
    with caplog.at_level("INFO", logger="molmat"):
        table = read_molecules(path, targets=["active"])
    assert table.y[:, 0].tolist() == [1.0, 0.0, 1.0]
    assert [b.row for b in table.report.bad_rows] == [2]  # the blank label
    assert f"{positive.lower()} = 1, {negative.lower()} = 0" in caplog.text


def test_mixed_words_stay_bad_rows_with_a_hint(tmp_path):
    path = tmp_path / "words.csv"
    path.write_text("smiles,active\nCCO,yes\nCCN,maybe\nCCC,1\n")
    table = read_molecules(path, targets=["active"])
    yes, maybe = table.report.bad_rows
    assert "'yes'" in yes.reason and "only when every value of 'active'" in yes.reason
    assert "file line 3" in str(maybe) and maybe.reason.endswith("'maybe' in 'active'")
