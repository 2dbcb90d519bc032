import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors

from molmat import PropertyModel, load
from molmat.featurizers.descriptors import (
    DESCRIPTOR_SETS,
    DescriptorScaler,
    molecule_descriptors,
)
from tests.conftest import SMALL


def test_descriptors_match_rdkit():
    mols = [Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1")]
    x = molecule_descriptors(mols, "physchem")
    names = DESCRIPTOR_SETS["physchem"]
    assert x.shape == (3, len(names))
    logp = x[:, names.index("MolLogP")]
    np.testing.assert_allclose(logp, [Crippen.MolLogP(m) for m in mols], rtol=1e-5)
    np.testing.assert_allclose(
        x[:, names.index("TPSA")], [Descriptors.TPSA(m) for m in mols], rtol=1e-5
    )
    assert molecule_descriptors(mols, None).shape == (3, 0)


def test_scaler_uses_training_statistics_only():
    train = np.array([[1.0, np.nan], [3.0, 2.0]], np.float32)
    scaler = DescriptorScaler.fit(train)
    np.testing.assert_allclose(scaler.mean, [2.0, 2.0])
    z = scaler.transform(np.array([[2.0, np.nan], [1e9, 2.0]], np.float32))
    assert z[0, 0] == 0 and z[0, 1] == 0  # mean, and NaN -> mean
    assert z[1, 0] == scaler.clip  # far outliers are clipped


def test_unknown_descriptor_set():
    with pytest.raises(ValueError, match="unknown molecule features"):
        PropertyModel(mol_features="morgan", **SMALL).fit(["CCO", "CCN"], [1.0, 2.0])


def test_descriptor_model_is_batch_independent_and_round_trips(esol, tmp_path):
    smiles, y = esol.smiles[:60], esol.y[:60]
    model = PropertyModel(epochs=2, mol_features="physchem", **SMALL).fit(smiles, y)
    together = model.predict(smiles[:20])
    alone = np.array([model.predict([s])[0] for s in smiles[:20]])
    np.testing.assert_allclose(alone, together, atol=1e-5)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(
        load(tmp_path / "m").predict(smiles), model.predict(smiles)
    )
