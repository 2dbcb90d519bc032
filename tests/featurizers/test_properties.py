import math

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors

from molmat.featurizers import properties

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]


@pytest.fixture(scope="module")
def mols():
    return [Chem.MolFromSmiles(s) for s in SMILES] + [None]


def test_scores_match_rdkit_and_are_nan_for_none(mols):
    for score, reference in [
        (properties.logp, Crippen.MolLogP),
        (properties.qed, QED.qed),
        (properties.weight, Descriptors.MolWt),
        (properties.sa_score, properties._sascorer().calculateScore),
    ]:
        values = score(mols)
        assert values.dtype == np.float64 and values.shape == (4,)
        np.testing.assert_array_equal(values[:3], [reference(m) for m in mols[:3]])
        assert math.isnan(values[3])


def test_cycle_penalty_counts_atoms_beyond_six():
    mols = [
        Chem.MolFromSmiles(s) for s in ["CCC", "c1ccccc1", "C1CCCCCCC1", "C1CCCCCC1"]
    ]
    np.testing.assert_array_equal(properties.cycle_penalty(mols), [0, 0, 2, 1])


def test_penalized_logp_by_hand_for_a_seven_ring():
    mol = Chem.MolFromSmiles("OC1CCCCCC1")  # cycloheptanol: penalty 7 - 6 = 1
    logp = Crippen.MolLogP(mol)
    sa = properties._sascorer().calculateScore(mol)
    expected = (
        (logp - 2.4570953396190123) / 1.434324401111988
        + (-sa - -3.0525811293166134) / 0.8335207024513095
        + (-1 - -0.0485696876403053) / 0.2860212110245455
    )
    assert properties.penalized_logp([mol])[0] == pytest.approx(expected, rel=1e-12)
    assert math.isnan(properties.penalized_logp([None])[0])


def test_missing_contrib_folder_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(properties.RDConfig, "RDContribDir", str(tmp_path))
    properties._sascorer.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="Contrib"):
            properties.sa_score([Chem.MolFromSmiles("C")])
    finally:
        properties._sascorer.cache_clear()
