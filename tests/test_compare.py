"""Several models on identical splits: ``molmat compare`` and ``train --model a,b``."""

import json

import pandas as pd
import pytest

from molmat.cli.main import main


@pytest.fixture
def sol_csv(tmp_path, esol):
    path = tmp_path / "sol.csv"
    pd.DataFrame({"smiles": esol.smiles[:150], "logS": esol.y[:150, 0]}).to_csv(
        path, index=False
    )
    return path


def test_compare_trains_each_model_on_the_same_splits(sol_csv, tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "--data", str(sol_csv), "--models", "ridge,rf"]
    args += ["--features", "physchem", "--split", "random", "--seeds", "0,1"]
    assert main([*args, "--out", str(out)]) == 0
    for seed in (0, 1):
        ridge = json.loads((out / "ridge" / f"seed_{seed}" / "split.json").read_text())
        rf = json.loads((out / "rf" / f"seed_{seed}" / "split.json").read_text())
        assert ridge == rf
    assert ridge != json.loads((out / "rf" / "seed_0" / "split.json").read_text())
    table = pd.read_csv(out / "comparison.csv")
    assert list(table["model"]) == ["ridge", "rf"] and (table["runs"] == 2).all()
    rmses = [
        json.loads((out / "rf" / f"seed_{s}" / "metrics.json").read_text())["test"][
            "rmse"
        ]
        for s in (0, 1)
    ]
    assert table.loc[1, "rmse_mean"] == pytest.approx(sum(rmses) / 2)
    assert (out / "comparison.png").stat().st_size > 0
    assert "mean ± std over seeds 0,1" in capsys.readouterr().out


def test_train_with_several_models_prints_them_side_by_side(sol_csv, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", str(sol_csv), "--model", "ridge,linear"]
    assert main([*args, "--features", "physchem", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ridge" in text and "linear" in text
    assert (out / "linear" / "seed_0" / "model" / "config.json").exists()


def test_unknown_model_in_a_list_is_refused(sol_csv, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--data", str(sol_csv), "--model", "rf,nope", "--out", "x"])
    assert "nope" in capsys.readouterr().err
