"""Showing and clearing the feature cache and the conformer store."""

import numpy as np
import pytest
from rdkit import Chem

from molmat.cli.main import main
from molmat.featurizers import graph as fg
from molmat.featurizers.conformers import ConformerOptions
from molmat.tasks.caches import cache_use, clear_caches

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
    assert (features.entries, features.bytes) == ("0 files", 0)
    assert (conformers.entries, conformers.bytes) == ("0 conformers, 0 failures", 0)
    assert not cache.exists()


def test_cache_shows_what_it_holds_and_clears_each_part(cache, capsys):
    graphs = featurized()
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert "1 file" in shown and "2 conformers, 1 failure" in shown
    assert all(use.bytes > 0 for use in cache_use())

    assert main(["cache", "--clear", "conformers"]) == 0
    features, conformers = cache_use()
    assert features.entries == "1 file"
    assert not (cache / "conformers.sqlite").exists() and conformers.bytes == 0

    assert clear_caches("all")[0] == "features: 1 file deleted"
    assert [use.bytes for use in cache_use()] == [0, 0]
    again = featurized()  # filled again, with the same result
    np.testing.assert_array_equal(again.positions, graphs.positions)
    assert cache_use()[1].entries == "2 conformers, 1 failure"


def test_a_damaged_store_is_reported_and_can_be_cleared(cache, capsys):
    cache.mkdir()
    (cache / "conformers.sqlite").write_bytes(b"not a database" * 100)
    assert main(["cache"]) == 0
    assert "unreadable" in capsys.readouterr().out
    assert main(["cache", "--clear", "all"]) == 0
    assert not (cache / "conformers.sqlite").exists()


def test_unknown_cache_is_a_clear_error():
    with pytest.raises(ValueError, match="cache must be one of"):
        clear_caches("models")
