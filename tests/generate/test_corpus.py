"""Training corpora: bad rows reported, conditions from columns or RDKit."""

import numpy as np
import pytest

from molmat.data.moses import MosesNotFound, moses_dir
from molmat.tasks.corpus import compute_property, read_corpus


def test_corpus_reports_bad_rows_and_reads_or_computes_conditions(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text(
        "smiles,pIC50\nCCO,5.0\nnot_a_smiles,6.0\nc1ccccc1O,\nCC(=O)Nc1ccc(O)cc1,7.5\n"
    )
    corpus = read_corpus(str(path), conditions=("pIC50", "logP"))
    assert corpus.smiles == ["CCO", "CC(=O)Nc1ccc(O)cc1"]
    np.testing.assert_allclose(corpus.condition[:, 0], [5.0, 7.5])
    np.testing.assert_allclose(
        corpus.condition[:, 1], compute_property("logP", corpus.smiles), rtol=1e-6
    )
    reasons = " ".join(corpus.bad_rows)
    assert "not_a_smiles" in reasons or "row 1" in reasons
    assert len(corpus.bad_rows) == 2  # the unparsable row and the missing label


def test_unknown_property_is_named():
    with pytest.raises(KeyError, match="'pKa'.*logP"):
        compute_property("pKa", ["CCO"])


def test_missing_moses_data_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("MOLMAT_MOSES_DIR", str(tmp_path))
    with pytest.raises(MosesNotFound, match="train.csv.gz"):
        moses_dir()
    monkeypatch.delenv("MOLMAT_MOSES_DIR")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(MosesNotFound, match="pip install --no-deps molsets"):
        moses_dir()
