"""Binary classification: decision thresholds, confusion matrices, plots, labels."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import matthews_corrcoef

from molmat.tasks.property import PropertyModel
from molmat.training.metrics import choose_threshold, classification_scores


def test_threshold_maximises_mcc_and_prefers_the_middle():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(float)
    prob = np.clip(0.25 * y + rng.random(300) * 0.6, 0, 1)  # all scores low
    t = choose_threshold(y, prob)
    best = max(matthews_corrcoef(y, (prob >= c).astype(int)) for c in np.unique(prob))
    assert matthews_corrcoef(y, (prob >= t).astype(int)) == pytest.approx(best)
    assert t != 0.5
    assert choose_threshold(np.zeros(5), np.linspace(0, 1, 5)) == 0.5
    # Perfectly separable scores: the middle of the gap.
    assert (
        choose_threshold(np.array([0, 0, 1, 1.0]), np.array([0.1, 0.2, 0.8, 0.9]))
        == 0.5
    )


def test_scores_agree_with_the_confusion_matrix():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    prob = np.array([0.1, 0.6, 0.3, 0.7, 0.4, 0.9, 0.8, 0.2])
    s = classification_scores(y, prob, threshold=0.5)
    c = s["confusion"]
    assert (c["tn"], c["fp"], c["fn"], c["tp"]) == (3, 1, 1, 3)
    assert s["precision"] == pytest.approx(0.75) and s["recall"] == pytest.approx(0.75)
    assert s["balanced_accuracy"] == pytest.approx(0.75)
    assert s["f1"] == pytest.approx(0.75)
    assert classification_scores(y, prob, threshold=0.65)["confusion"]["fp"] == 0


def test_classification_run_picks_threshold_on_validation_and_labels_with_it(
    tmp_path, esol
):
    from molmat.cli.main import main

    data = tmp_path / "sol.csv"
    smiles = esol.smiles[:200]
    soluble = (esol.y[:200, 0] > -2).astype(int)
    pd.DataFrame({"smiles": smiles, "soluble": soluble}).to_csv(data, index=False)
    out = tmp_path / "run"
    args = ["--data", str(data), "--model", "logistic", "--features", "physchem"]
    assert main(["train", *args, "--split", "random", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    t = metrics["thresholds"]["soluble"]
    assert metrics["test"]["per_target"]["soluble"]["threshold"] == t
    frame = pd.read_csv(out / "test_predictions.csv")
    assert (frame["soluble_label"] == (frame["soluble_prob"] >= t)).all()
    for png in ("roc.png", "precision_recall.png", "confusion.png"):
        assert (out / png).stat().st_size > 0
    confusion = metrics["test"]["per_target"]["soluble"]["confusion"]
    assert sum(confusion.values()) == len(frame)
    # predict and evaluate use the threshold saved with the model
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--data",
                str(data),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    pred = pd.read_csv(tmp_path / "p.csv")
    assert (pred["soluble_label"] == (pred["soluble_prob"] >= t)).all()


def test_assess_classification_reports_roc_auc_with_intervals(tmp_path, capsys):
    from molmat.cli.main import main
    from molmat.data.csv import read_molecules

    bbbp = read_molecules("bbbp")
    data = tmp_path / "bbbp.csv"
    pd.DataFrame({"smiles": bbbp.smiles[:300], "p_np": bbbp.y[:300, 0]}).to_csv(
        data, index=False
    )
    out = tmp_path / "assess"
    args = ["assess", "--data", str(data), "--model", "logistic"]
    args += ["--features", "physchem", "--cv", "3", "--repeats", "1"]
    assert main([*args, "--shuffles", "1", "--out", str(out)]) == 0
    result = json.loads((out / "assessment.json").read_text())
    assert result["task"] == "classification"
    value, low, high = result["bootstrap_95"]["roc_auc"]
    assert 0.5 < low <= value <= high <= 1.0
    assert result["y_randomisation"]["shuffled_best"] < value
    assert "roc_auc, shuffled labels" in capsys.readouterr().out


def test_probabilities_of_extreme_logits_are_exact_and_silent():
    model = PropertyModel(task="classification")
    model.task_ = "classification"
    raw = np.array([[-200.0], [0.0], [200.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from exp
        np.testing.assert_array_equal(model._from_raw(raw), [[0.0], [0.5], [1.0]])
