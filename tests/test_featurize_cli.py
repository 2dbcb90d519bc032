"""``molmat featurize``: every file gets the same columns, whatever it holds."""

import pandas as pd

from molmat.cli.main import main
from molmat.featurizers.descriptors import feature_names


def test_files_featurised_separately_have_the_same_columns(tmp_path, capsys):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    # every physchem descriptor counting rings is constant (0) in train.csv
    train.write_text("smiles,logS\nCCO,0.5\nCCCO,0.2\nCCCCO,-0.4\n")
    test.write_text("smiles,logS\nc1ccccc1O,-0.1\nC1CCCCC1,-3.1\n")
    tables = []
    for path in (train, test):
        out = path.with_suffix(".parquet")
        args = ["featurize", "--data", str(path), "--features", "physchem"]
        assert main([*args, "--out", str(out)]) == 0
        tables.append(pd.read_parquet(out))
    assert "constant columns in this file (kept)" in capsys.readouterr().out
    names = ["row", "smiles", *feature_names("physchem")]
    assert list(tables[0].columns) == list(tables[1].columns) == names
    assert tables[0]["smiles"].tolist() == ["CCO", "CCCO", "CCCCO"]


def test_featurize_reads_a_file_with_the_separator_given(tmp_path):
    data, out = tmp_path / "mols.csv", tmp_path / "x.csv"
    data.write_text("smiles|name\nCCO|ethanol\nCCN|ethylamine\n")
    args = ["featurize", "--data", str(data), "--features", "maccs", "--sep", "|"]
    assert main([*args, "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert frame["smiles"].tolist() == ["CCO", "CCN"] and frame.shape[1] == 2 + 167
