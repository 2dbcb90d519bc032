"""Composition models through the property workflow, and Matbench's protocol."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, StratifiedKFold

from molmat.cli.main import main
from molmat.data.csv import DataError
from molmat.data.splits import matbench_splits
from molmat.tasks.archives import load
from molmat.tasks.classic import ClassicModel
from molmat.tasks.matbench import get_task, ranked, task_file

SAMPLE = Path(__file__).parents[1] / "data" / "matbench_steels_sample.csv"


def test_matbench_folds_are_the_official_ones():
    n = 97
    y = np.random.default_rng(0).normal(size=(n, 1))
    folds = matbench_splits(np.arange(n), n, y, val_fraction=0.1)
    official = KFold(5, shuffle=True, random_state=18012019).split(np.zeros(n))
    for (train, val, test), (rest, test_ref) in zip(folds, official, strict=True):
        np.testing.assert_array_equal(np.sort(test), np.sort(test_ref))
        assert sorted([*train, *val]) == sorted(rest)
        assert len(val) == round(0.1 * len(rest))
    assert sorted(np.concatenate([f[2] for f in folds])) == list(range(n))


def test_matbench_classification_folds_are_stratified():
    n = 60
    y = (np.arange(n) % 3 == 0).astype(float)[:, None]
    folds = matbench_splits(np.arange(n), n, y, val_fraction=0.0)
    official = StratifiedKFold(5, shuffle=True, random_state=18012019).split(
        np.zeros(n), y[:, 0]
    )
    for (_, val, test), (_, test_ref) in zip(folds, official, strict=True):
        np.testing.assert_array_equal(np.sort(test), np.sort(test_ref))
        assert len(val) == 0


def test_matbench_folds_need_every_row():
    with pytest.raises(DataError, match="2 of the 10 rows are unusable"):
        matbench_splits(np.arange(8), 10, np.zeros((8, 1)))


def test_composition_model_saves_loads_and_skips_bad_formulas(tmp_path):
    frame = pd.read_csv(SAMPLE)
    formulas, y = list(frame["composition"]), frame["yield strength"].to_numpy()
    model = ClassicModel("rf", features="magpie").fit(formulas[:60], y[:60])
    assert model.elements_ == sorted(model.elements_) and "Fe" in model.elements_
    queries = [formulas[60], "Xx3", formulas[61], "FeAu"]
    pred = model.predict(queries)
    assert np.isnan(pred[1]) and np.isfinite(pred[[0, 2, 3]]).all()
    model.save(tmp_path / "model")
    again = load(tmp_path / "model")
    np.testing.assert_array_equal(again.predict(queries), pred)
    assert again.unseen_elements(queries) == [[], [], [], ["Au"]]
    # the same composition written another way predicts the same
    scaled = model.predict(["Fe2O3", "Fe4O6"])
    assert scaled[0] == scaled[1]


def test_composition_features_are_for_classic_models():
    from molmat.tasks.runs import build_model

    with pytest.raises(ValueError, match="features of materials are for the classic"):
        build_model("mpnn", features="magpie")


def test_ranked_places_a_result_among_the_leaderboard():
    task = get_task("expt_gap")
    rows = ranked(task, "ours", 0.40)
    assert [a for _, a, _ in rows].index("ours") == 3  # MODNet 0.347 < 0.40 < 0.4161
    auc = ranked(get_task("glass"), "ours", 0.9)
    assert auc[1][1] == "ours"  # higher ROC-AUC ranks first


def test_task_file_says_how_to_get_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="pip install matminer"):
        task_file(get_task("matbench_steels"), tmp_path)


def test_matbench_command_runs_the_five_folds(tmp_path, capsys):
    out = tmp_path / "mb"
    argv = ["matbench", "--task", "matbench_steels", "--data", str(SAMPLE)]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "RF-SCM/Magpie" in printed and "molmat rf (magpie)" in printed
    lines = (out / "folds.jsonl").read_text().splitlines()
    folds = [json.loads(line) for line in lines]
    assert [f["fold"] for f in folds] == [0, 1, 2, 3, 4]
    assert all(f["mae"] > 0 for f in folds)
    tested = []
    for k in range(5):
        split = json.loads((out / f"fold_{k}" / "split.json").read_text())
        assert not set(split["test"]) & set(split["train"])
        assert split["val"] == []  # a forest needs no validation rows
        tested += split["test"]
    assert sorted(tested) == list(range(80))
    # the saved model predicts a file of formulas through molmat predict
    queries = tmp_path / "new.csv"
    queries.write_text("composition\nFe0.7Cr0.2Ni0.1\nnot a formula\n")
    argv = ["predict", "--model", str(out / "fold_0" / "model"), "--data", str(queries)]
    assert main([*argv, "--out", str(tmp_path / "pred.csv")]) == 0
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == 2
    assert np.isfinite(pred.iloc[0, 1]) and np.isnan(pred.iloc[1, 1])


def test_composition_predictions_are_explained_by_their_features(tmp_path):
    from molmat.explain import explain

    frame = pd.read_csv(SAMPLE)
    formulas, y = list(frame["composition"]), frame["yield strength"].to_numpy()
    model = ClassicModel("rf", features="magpie").fit(formulas[:60], y[:60])
    (found,) = explain(model, [formulas[70]], "shap", permutations=16)
    assert found.item == formulas[70]
    assert len(found.parts) == len(found.values) == len(found.features)
    assert set(found.parts) == set(found.features)
    total = found.values.sum() + found.rest
    assert total == pytest.approx(found.prediction - found.reference, rel=1e-6)
    argv = ["explain", "--model", str(tmp_path / "m"), "--smiles", formulas[70]]
    model.save(tmp_path / "m")
    assert main([*argv, "--method", "shap", "--out", str(tmp_path / "e")]) == 0
    assert (tmp_path / "e" / "pictures" / "0.png").read_bytes()[:4] == b"\x89PNG"
