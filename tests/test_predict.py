"""``molmat predict``: uncertainty columns and applicability-domain warnings."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone

from molmat import load
from molmat.cli.main import main
from molmat.data.molecules import elements
from molmat.tasks.classic import ClassicModel
from molmat.tasks.ensemble import EnsembleModel

OUTSIDE = ["[U]", "C[Se]C", "*CC"]  # elements no ESOL molecule has


@pytest.fixture(scope="module")
def sol_csv(tmp_path_factory, esol):
    """About 50 ESOL molecules of C, N, O and Cl: a random test set holds no
    element its training set lacks."""
    keep = [
        i for i in range(70) if set(elements([esol.mols[i]])) <= {"C", "N", "O", "Cl"}
    ]
    path = tmp_path_factory.mktemp("data") / "sol.csv"
    pd.DataFrame(
        {"smiles": [esol.smiles[i] for i in keep], "logS": esol.y[keep, 0]}
    ).to_csv(path, index=False)
    return path


def train(sol_csv, out, *options):
    args = ["train", "--data", str(sol_csv), "--split", "random", "--out", str(out)]
    assert main([*args, *options]) == 0
    return pd.read_csv(out / "test_predictions.csv")


def predict(model, smiles, tmp_path):
    data, out = tmp_path / "new.csv", tmp_path / "pred.csv"
    pd.DataFrame({"smiles": smiles}).to_csv(data, index=False)
    args = ["predict", "--model", str(model), "--data", str(data), "--out", str(out)]
    assert main(args) == 0
    return pd.read_csv(out)


def test_gp_writes_its_std_and_intervals_at_the_training_alpha(
    sol_csv, tmp_path, capsys
):
    run = tmp_path / "gp"
    test = train(sol_csv, run, "--model", "gp", "--intervals", "gp", "--alpha", "0.2")
    elements = json.loads((run / "model" / "config.json").read_text())["elements"]
    assert "C" in elements and not {"U", "Se", "*"} & set(elements)
    capsys.readouterr()
    smiles = [*test["smiles"], *OUTSIDE, "C1CC"]
    frame = predict(run, smiles, tmp_path)
    n = len(test)
    std, pred = frame["logS_std"], frame["logS_pred"]
    assert (std[: n + 3] > 0).all() and np.isnan(std[n + 3])
    half = stats.norm.ppf(0.9) * std[:n]
    np.testing.assert_allclose(frame["logS_upper"][:n] - pred[:n], half, rtol=1e-4)
    for col in ("logS_pred", "logS_lower", "logS_upper"):  # as when it was trained
        np.testing.assert_allclose(frame[col][:n], test[col], rtol=1e-5, atol=1e-5)
    # elements never seen: predicted, flagged and summed up in one warning
    assert frame["in_domain"].tolist()[: n + 3] == [True] * n + [False] * 3
    assert pred[: n + 3].notna().all() and pd.isna(frame["in_domain"][n + 3])
    err = capsys.readouterr().err
    assert err.count("absent from the model's training molecules") == 1
    assert f"3 of {n + 3} molecules" in err and f"rows {n}, {n + 1}, {n + 2}" in err
    assert "*, Se, U" in err


def test_a_three_member_ensemble_writes_its_spread(esol, tmp_path):
    base = ClassicModel("ridge", features="morgan", n_bits=64, use_cache=False)
    ensemble = EnsembleModel(base, size=3).fit(esol.smiles[:40], esol.y[:40])
    # ridge members agree; members fitted on shifted molecules disagree, as
    # networks with different seeds do
    ensemble.members_ = [
        clone(base).fit(esol.smiles[k : k + 40], esol.y[k : k + 40]) for k in (0, 5, 10)
    ]
    ensemble.save(tmp_path / "ens")
    frame = predict(tmp_path / "ens", esol.smiles[50:60], tmp_path)
    _, spread = ensemble.predict_with_std(esol.smiles[50:60])
    np.testing.assert_allclose(frame["y0_std"], spread[:, 0], rtol=1e-5)
    assert (frame["y0_std"] > 0).all() and frame["in_domain"].dtype == bool


def test_bootstrap_models_keep_their_refits_for_new_molecules(sol_csv, tmp_path):
    run = tmp_path / "boot"
    options = ["--model", "ridge", "--features", "physchem"]
    test = train(sol_csv, run, *options, "--intervals", "bootstrap")
    assert (run / "model" / "intervals" / "target_0" / "residuals.npz").exists()
    frame = predict(run, list(test["smiles"]), tmp_path)
    for col in ("logS_lower", "logS_upper"):  # the same refits and residuals
        np.testing.assert_allclose(frame[col], test[col], rtol=1e-6)
    assert (frame["logS_std"] > 0).all()
    result = load(run).predict_with_uncertainty(list(test["smiles"]))
    assert set(result) == {"pred", "std", "lower", "upper"}
    assert all(v.shape == (len(test), 1) for v in result.values())


def test_cv_plus_models_add_their_out_of_fold_half_width(sol_csv, tmp_path):
    run = tmp_path / "cv"
    options = ["--model", "ridge", "--features", "physchem"]
    train(sol_csv, run, *options, "--intervals", "cv+")
    (entry,) = json.loads((run / "model" / "config.json").read_text())["intervals"]
    assert entry["method"] == "cv+" and entry["alpha"] == 0.1
    frame = predict(run, ["CCO", "c1ccccc1", "CCCCCCO"], tmp_path)
    half = entry["half_width"]
    pred = frame["logS_pred"]
    np.testing.assert_allclose(frame["logS_upper"] - pred, half, rtol=1e-5)
    np.testing.assert_allclose(pred - frame["logS_lower"], half, rtol=1e-5)
    assert "logS_std" not in frame


def test_archives_without_the_element_record_predict_without_domain(tmp_path, capsys):
    smiles = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "CCCC", "Oc1ccccc1"]
    model = ClassicModel("ridge", features="morgan", n_bits=64, use_cache=False)
    folder = model.fit(smiles, np.arange(6.0)).save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    del config["elements"]
    (folder / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    frame = predict(folder, ["CCO", "[U]"], tmp_path)
    assert "in_domain" not in frame and frame["y0_pred"].notna().all()
    assert "training molecules" not in capsys.readouterr().err


def test_graph_network_archives_record_their_training_elements(small_model, tmp_path):
    folder = small_model.save(tmp_path / "mpnn")
    again = load(folder)
    assert again.elements_ == small_model.elements_ and "C" in again.elements_
    assert again.unseen_elements(["CCO", "C[Se]C"]) == [[], ["Se"]]
    assert set(again.predict_with_uncertainty(["CCO"])) == {"pred"}  # no spread
