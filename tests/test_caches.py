"""Showing and clearing the feature cache and the conformer store."""

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molmat.cli.main import main
from molmat.featurizers import graph as fg
from molmat.featurizers.conformers import ConformerOptions
from molmat.tasks.caches import cache_use, clear_caches
from molmat.tasks.runs import build_model, predict_file

SMILES = ["CCO", "c1ccccc1O", "C1#CC1"]  # the last cannot be embedded


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLMAT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def featurized():
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    return fg.featurize_cached(SMILES, mols, conformers=ConformerOptions())


def test_an_empty_cache_is_shown_and_not_created(cache):
    features, conformers = cache_use()
    assert (features.contents, features.bytes) == ("0 files", 0)
    assert (conformers.contents, conformers.bytes) == ("0 conformers, 0 failures", 0)
    assert not cache.exists()


def test_cache_shows_what_it_holds_and_clears_each_part(cache, capsys):
    graphs = featurized()
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert "1 file" in shown and "2 conformers, 1 failure" in shown
    assert all(use.bytes > 0 for use in cache_use())

    assert main(["cache", "--clear", "conformers"]) == 0
    features, conformers = cache_use()
    assert features.contents == "1 file"
    assert not (cache / "conformers.sqlite").exists() and conformers.bytes == 0

    deleted = clear_caches("all")
    assert deleted == ["features: 1 file deleted", "conformers: 0 files deleted"]
    assert [use.bytes for use in cache_use()] == [0, 0]
    again = featurized()  # filled again, with the same result
    np.testing.assert_array_equal(again.positions, graphs.positions)
    assert cache_use()[1].contents == "2 conformers, 1 failure"


def test_a_damaged_store_is_reported_and_can_be_cleared(cache, capsys):
    cache.mkdir()
    (cache / "conformers.sqlite").write_bytes(b"not a database" * 100)
    assert main(["cache"]) == 0
    assert "could not be read (file is not a database)" in capsys.readouterr().out
    assert main(["cache", "--clear", "all"]) == 0
    assert not (cache / "conformers.sqlite").exists()


def test_an_empty_store_file_holds_nothing(cache):
    cache.mkdir()
    (cache / "conformers.sqlite").touch()
    assert cache_use()[1].contents == "0 conformers, 0 failures"


@pytest.mark.parametrize("model", ["rf", "schnet-ensemble"])
def test_no_cache_prediction_leaves_both_caches_alone(model, esol, cache, tmp_path):
    if model == "rf":
        fitted = build_model("rf", features="morgan")
    else:
        settings = {"hidden": 8, "depth": 1, "ffn_hidden": 8, "epochs": 1}
        fitted = build_model("schnet", ensemble=2, progress=False, **settings)
    fitted.fit(esol.smiles[:10], esol.y[:10, 0], target_names=["logS"])
    fitted.save(tmp_path / "model")
    clear_caches("all")
    csv = tmp_path / "new.csv"
    csv.write_text("smiles\nCCO\nOCC(N)=O\n")
    predict_file(tmp_path / "model", csv, tmp_path / "p.csv", use_cache=False)
    assert [use.bytes for use in cache_use()] == [0, 0]
    predicted = pd.read_csv(tmp_path / "p.csv")["logS_pred"]
    np.testing.assert_allclose(predicted, fitted.predict(["CCO", "OCC(N)=O"]), 1e-5)
    assert cache_use()[0 if model == "rf" else 1].bytes > 0  # cached by default


def test_unknown_cache_is_a_clear_error():
    with pytest.raises(ValueError, match="cache must be one of"):
        clear_caches("models")
