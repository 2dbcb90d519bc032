import numpy as np
import pandas as pd
import pytest

from molmat import PropertyModel
from molmat.cli.main import main
from molmat.tasks.classic import ClassicModel


@pytest.fixture(scope="module")
def saved(esol, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    X, y = list(esol.smiles[:150]), esol.y[:150]
    PropertyModel(
        model="gin",
        hidden=16,
        ffn_hidden=16,
        epochs=2,
        batch_size=16,
        progress=False,
        val_fraction=0,
    ).fit(X, y).save(folder / "gin")
    ClassicModel(model="rf", n_bits=512).fit(X, y).save(folder / "rf")
    return folder


def test_explain_writes_tables_and_pictures_and_names_bad_input(
    saved, tmp_path, capsys
):
    out = tmp_path / "ig"
    argv = ["explain", "--model", str(saved / "gin"), "--out", str(out)]
    assert main([*argv, "--smiles", "CC(=O)Oc1ccccc1C(=O)O", "C1CC(", "CCO"]) == 0
    printed = capsys.readouterr().out
    assert "explained" in printed and "skipped row 1 ('C1CC(')" in printed
    molecules = pd.read_csv(out / "molecules.csv")
    assert list(molecules.row) == [0, 2]
    parts = pd.read_csv(out / "attributions.csv")
    assert len(parts) == 13 + 3 and list(parts.part[parts.row == 2]) == ["C", "C", "O"]
    sums = parts.groupby("row").attribution.sum()
    np.testing.assert_allclose(sums.values, molecules.attribution_sum, rtol=1e-6)
    for row in (0, 2):
        assert (out / "pictures" / f"{row}.png").read_bytes()[:4] == b"\x89PNG"
        assert (
            (out / "pictures" / f"{row}.svg")
            .read_text(encoding="latin-1")
            .rstrip()
            .endswith("</svg>")
        )


def test_explain_reads_a_file(saved, tmp_path, tiny_csv):
    out = tmp_path / "file"
    argv = ["explain", "--model", str(saved / "gin"), "--out", str(out)]
    assert (
        main(
            [*argv, "--data", str(tiny_csv), "--method", "gradient", "--pictures", "2"]
        )
        == 0
    )
    molecules = pd.read_csv(out / "molecules.csv")
    assert len(molecules) == 17  # the good rows of tiny.csv, at their file rows
    assert not {3, 5, 13} & set(molecules.row) and molecules.row.max() == 19
    assert len(list((out / "pictures").glob("*.png"))) == 2


def test_forests_need_shapley_values(saved, tmp_path, capsys):
    argv = ["explain", "--model", str(saved / "rf"), "--smiles", "CCOc1ccccc1"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    assert "Shapley values (method 'shap')" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "b"), "--method", "shap"]) == 0
    features = pd.read_csv(tmp_path / "b" / "features.csv")
    assert features.feature.str.startswith("ecfp4_").all()
    molecules = pd.read_csv(tmp_path / "b" / "molecules.csv")
    assert molecules.completeness_error[0] < 1e-9


def test_counterfactual_command(saved, tmp_path, capsys):
    out = tmp_path / "cf"
    argv = ["explain", "--model", str(saved / "gin"), "--out", str(out)]
    argv += ["--method", "counterfactual", "--neighbours", "300", "--delta", "0.2"]
    assert main([*argv, "--smiles", "CCCCCCCCO", "C1CC("]) == 0
    printed = capsys.readouterr().out
    assert "with counterfactual" in printed and "skipped row 1" in printed
    chosen = pd.read_csv(out / "counterfactuals.csv")
    assert (chosen.row == 0).all() and (chosen.change.abs() >= 0.2).all()
    assert (chosen.similarity >= 0.6).all()
    assert (out / "pictures" / "counterfactuals_0.svg").exists()
