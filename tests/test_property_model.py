import json

import numpy as np
import pytest

from molmat import PropertyModel, load
from molmat.data.csv import DataError
from molmat.training.archive import ArchiveError
from tests.conftest import SMALL


@pytest.mark.slow
def test_overfits_fifty_molecules(esol):
    smiles, y = esol.smiles[:50], esol.y[:50, 0]
    model = PropertyModel(
        hidden=64,
        ffn_hidden=64,
        epochs=150,
        batch_size=16,
        val_fraction=0,
        max_lr=2e-3,
        final_lr=2e-4,
        progress=False,
    ).fit(smiles, y)
    rmse = np.sqrt(np.mean((model.predict(smiles) - y) ** 2))
    assert rmse < 0.1 * y.std(), rmse


@pytest.mark.slow
def test_same_seed_same_model(esol):
    smiles, y = esol.smiles[:60], esol.y[:60]
    a = PropertyModel(epochs=2, seed=5, **SMALL).fit(smiles, y).predict(smiles)
    b = PropertyModel(epochs=2, seed=5, **SMALL).fit(smiles, y).predict(smiles)
    c = PropertyModel(epochs=2, seed=6, **SMALL).fit(smiles, y).predict(smiles)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_save_load_gives_identical_predictions(small_model, esol, tmp_path):
    small_model.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    smiles = esol.smiles[200:260]
    np.testing.assert_array_equal(loaded.predict(smiles), small_model.predict(smiles))
    assert loaded.get_params()["hidden"] == 32
    assert loaded.target_names_ == small_model.target_names_


def test_predictions_are_in_original_units(esol):
    """Targets are standardised for training and predictions un-standardised:
    a constant, unscaled or unshifted output fails."""
    smiles, y = esol.smiles[:16], esol.y[:16, 0]

    def fit_predict(targets):
        model = PropertyModel(epochs=40, val_fraction=0, max_lr=3e-3, **SMALL)
        return model.fit(smiles, targets).predict(smiles)

    pred = fit_predict(y)
    assert np.corrcoef(pred, y)[0, 1] > 0.9
    assert abs(pred.mean() - y.mean()) < 0.1 * y.std()
    assert 0.8 < pred.std() / y.std() < 1.2
    # 10 y + 1000 standardises to the same targets: the same network, new units
    np.testing.assert_allclose(fit_predict(10 * y + 1000), 10 * pred + 1000, atol=0.01)


def test_bad_smiles_in_predict_give_nan_and_keep_others(small_model):
    pred = small_model.predict(["CCO", "C1CC(", "c1ccccc1"])
    assert np.isnan(pred[1]) and np.isfinite(pred[[0, 2]]).all()
    np.testing.assert_allclose(pred[[0, 2]], small_model.predict(["CCO", "c1ccccc1"]))


def test_fit_rejects_bad_input():
    with pytest.raises(DataError, match="bad molecules"):
        PropertyModel(epochs=1, **SMALL).fit(["CCO", "C1CC("], [1.0, 2.0])
    with pytest.raises(DataError, match="infinite"):
        PropertyModel(epochs=1, **SMALL).fit(["CCO", "CCN"], [1.0, np.inf])
    with pytest.raises(ValueError, match="task"):
        PropertyModel(task="ranking", **SMALL).fit(["CCO", "CCN"], [1.0, 2.0])


def test_multitask_classification_with_missing_labels(tiny_csv):
    from molmat.data.csv import read_molecules

    table = read_molecules(tiny_csv, targets=["logS", "tox"])
    y = table.y.copy()
    y[:, 0] = (y[:, 0] > 0).astype(np.float32)  # two binary tasks, one label missing
    model = PropertyModel(
        epochs=5, val_fraction=0, class_weight="balanced", **SMALL
    ).fit(table.smiles, y)
    assert model.task_ == "classification"
    prob = model.predict_proba(table.smiles)
    assert prob.shape == (len(table), 2) and ((prob > 0) & (prob < 1)).all()
    assert set(np.unique(model.predict(table.smiles))) <= {0.0, 1.0}


def test_sklearn_contract(small_model):
    from sklearn.base import clone

    params = small_model.get_params()
    fresh = clone(small_model)
    assert fresh.get_params() == params and not hasattr(fresh, "net_")
    assert (
        PropertyModel(epochs=1, **SMALL).fit(["CCO", "CCN", "CCC"], [1, 2, 3])
        is not None
    )


@pytest.fixture
def archive(small_model, tmp_path):
    return small_model.save(tmp_path / "archive")


def test_missing_archive(tmp_path):
    with pytest.raises(ArchiveError, match="no such model archive"):
        load(tmp_path / "nothing")


def test_truncated_parameter_file(archive):
    params = archive / "params.npz"
    params.write_bytes(params.read_bytes()[:100])
    with pytest.raises(ArchiveError, match="corrupted parameter file"):
        load(archive)


def test_corrupted_config(archive):
    (archive / "config.json").write_text("{not json")
    with pytest.raises(ArchiveError, match="corrupted config"):
        load(archive)


def test_incompatible_format(archive):
    config = json.loads((archive / "config.json").read_text())
    config["archive_format"] = 99
    (archive / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArchiveError, match="format 99 is not supported"):
        load(archive)


def test_parameters_that_do_not_fit_the_config(archive):
    config = json.loads((archive / "config.json").read_text())
    config["network"]["hidden"] = 48
    (archive / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArchiveError, match="do not fit the config"):
        load(archive)


def test_missing_parameter_file(archive):
    (archive / "params.npz").unlink()
    with pytest.raises(ArchiveError, match="params.npz is missing"):
        load(archive)
