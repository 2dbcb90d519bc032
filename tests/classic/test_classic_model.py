import json

import numpy as np
import pytest
import skops.io as sio
from sklearn.metrics import roc_auc_score

from molmat import load
from molmat.cli.main import main
from molmat.tasks.classic import ClassicModel
from molmat.training.archive import ArchiveError


@pytest.fixture(scope="module")
def data(esol):
    return esol.smiles[:150], esol.y[:150, 0]


@pytest.mark.parametrize(
    ("model", "features"),
    [
        ("rf", "morgan"),
        ("krr", "morgan-counts"),
        ("gp", "maccs"),
        ("ridge", "physchem"),
        ("svr", "rdkit2d"),
        ("lasso", "physchem"),
    ],
)
def test_models_fit_predict_and_round_trip(data, tmp_path, model, features):
    smiles, y = data
    fitted = ClassicModel(model=model, features=features, n_bits=512).fit(
        smiles[:120], y[:120]
    )
    pred = fitted.predict(smiles[120:])
    assert pred.shape == (30,) and np.isfinite(pred).all()
    assert np.sqrt(np.mean((pred - y[120:]) ** 2)) < 1.5 * y.std()
    fitted.save(tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m").predict(smiles[120:]), pred)


def test_classification_and_multitask(tiny_csv):
    from molmat.data.csv import read_molecules

    table = read_molecules(tiny_csv, targets=["logS", "tox"])
    y = table.y.copy()
    y[:, 0] = (y[:, 0] > 0).astype(np.float32)
    model = ClassicModel(model="logistic", class_weight="balanced").fit(table.smiles, y)
    assert model.task_ == "classification" and len(model.estimators_) == 2
    prob = model.predict_values(table.smiles)
    assert prob.shape == (len(table), 2) and ((prob >= 0) & (prob <= 1)).all()


@pytest.mark.parametrize("features", ["morgan", "physchem"])
def test_kernel_ridge_classifier_scores_and_round_trips(data, tmp_path, features):
    smiles, y = data
    labels = (y > np.median(y)).astype(float)
    model = ClassicModel(model="krr", features=features, n_bits=1024).fit(
        smiles[:120], labels[:120]
    )
    assert model.task_ == "classification"
    prob = model.predict_values(smiles[120:])[:, 0]
    assert ((prob > 0) & (prob < 1)).all()
    assert roc_auc_score(labels[120:], prob) > 0.75
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(
        load(tmp_path / "m").predict_values(smiles[120:])[:, 0], prob
    )


def test_gp_gives_standard_deviations(data):
    smiles, y = data
    gp = ClassicModel(model="gp", n_bits=1024).fit(smiles[:100], y[:100])
    mean, std = gp.predict_with_std(smiles[100:])
    np.testing.assert_allclose(mean[:, 0], gp.predict(smiles[100:]), atol=1e-5)
    assert (std > 0).all()
    with pytest.raises(AttributeError, match="GP regression"):
        ClassicModel(model="rf").fit(smiles[:20], y[:20]).predict_with_std(smiles[:2])


def test_model_task_mismatch_is_explained(data):
    smiles, y = data
    with pytest.raises(ValueError, match="does not do classification"):
        ClassicModel(model="lasso").fit(smiles[:20], (y[:20] > -3).astype(float))


class Untrusted:
    """A type that is neither scikit-learn's nor molmat's."""


def test_archive_refuses_unknown_types_and_damage(data, tmp_path):
    smiles, y = data
    folder = (
        ClassicModel(model="ridge", features="physchem")
        .fit(smiles[:40], y[:40])
        .save(tmp_path / "m")
    )
    estimator = sio.load(
        folder / "target_0.skops",
        trusted=sio.get_untrusted_types(file=folder / "target_0.skops"),
    )
    estimator.steps[1][1].evil = Untrusted()
    sio.dump(estimator, folder / "target_0.skops")
    with pytest.raises(ArchiveError, match="refusing to load"):
        load(folder)
    (folder / "target_0.skops").write_bytes(b"not a zip")
    with pytest.raises(ArchiveError, match="corrupted model file"):
        load(folder)
    (folder / "target_0.skops").unlink()
    with pytest.raises(ArchiveError, match="missing"):
        load(folder)


def test_cli_trains_and_predicts_with_a_classic_model(tiny_csv, tmp_path, capsys):
    out = tmp_path / "rf"
    assert (
        main(
            [
                "train",
                "--data",
                str(tiny_csv),
                "--target",
                "logS",
                "--model",
                "rf",
                "--features",
                "morgan",
                "--split",
                "random",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "fit" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "rf" and "test" in metrics
    preds = tmp_path / "p.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--data",
                str(tiny_csv),
                "--out",
                str(preds),
            ]
        )
        == 0
    )
    assert "logS_pred" in preds.read_text().splitlines()[0]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_featurize_writes_tables_and_reports_constant_columns(
    tiny_csv, tmp_path, capsys, suffix
):
    import pandas as pd

    out = tmp_path / f"x{suffix}"
    assert (
        main(
            [
                "featurize",
                "--data",
                str(tiny_csv),
                "--features",
                "maccs",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert (
        len(frame) == 17 and 3 not in frame["row"].tolist()
    )  # bad SMILES rows left out
    assert frame.shape[1] - 2 == 167  # every key, constant ones too
    constant = (frame.drop(columns=["row", "smiles"]).nunique() == 1).sum()
    assert f"{constant} constant columns in this file (kept)" in capsys.readouterr().out


def test_cli_assess_reports_cv_ci_and_y_randomisation(esol, tmp_path, capsys):
    import pandas as pd

    data = tmp_path / "sol.csv"
    pd.DataFrame({"smiles": esol.smiles[:120], "logS": esol.y[:120, 0]}).to_csv(
        data, index=False
    )
    out = tmp_path / "assess"
    assert (
        main(
            [
                "assess",
                "--data",
                str(data),
                "--model",
                "ridge",
                "--features",
                "physchem",
                "--cv",
                "3",
                "--repeats",
                "2",
                "--shuffles",
                "2",
                "--group-by",
                "scaffold",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "95% CI" in text and "shuffled" in text
    result = json.loads((out / "assessment.json").read_text())
    value, low, high = result["bootstrap_95"]["rmse"]
    assert low < value < high
    check = result["y_randomisation"]
    assert check["metric"] == "r2" and check["shuffled_best"] < check["real"]
    assert (out / "learning_curve_size.png").exists()


@pytest.mark.parametrize("method", ["cv+", "bootstrap", "gp"])
def test_train_writes_test_intervals_and_their_coverage(esol, tmp_path, method):
    import pandas as pd

    from molmat.tasks.runs import train_run

    data = tmp_path / "sol.csv"
    pd.DataFrame({"smiles": esol.smiles[:150], "logS": esol.y[:150, 0]}).to_csv(
        data, index=False
    )
    model = "gp" if method == "gp" else "ridge"
    result = train_run(
        data,
        tmp_path / "run",
        split="random",
        model=model,
        features="physchem",
        intervals=method,
        alpha=0.2,
    )
    info = result["runs"][0]["test"]["intervals"]
    frame = pd.read_csv(tmp_path / "run" / "test_predictions.csv")
    inside = (frame["logS"] >= frame["logS_lower"]) & (
        frame["logS"] <= frame["logS_upper"]
    )
    assert (frame["logS_lower"] <= frame["logS_pred"] + 1e-6).all()
    assert info["coverage"] == pytest.approx(inside.mean())
    assert 0.5 <= info["coverage"] <= 1.0 and info["mean_width"] > 0
