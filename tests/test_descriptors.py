import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors

from molmat import PropertyModel, load
from molmat.data.statistics import Standardizer
from molmat.featurizers.descriptors import (
    DESCRIPTOR_CLIP,
    PHYSCHEM,
    feature_names,
    molecule_descriptors,
    molecule_features_cached,
)
from tests.conftest import SMALL


def test_descriptors_match_rdkit():
    mols = [Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1")]
    x = molecule_descriptors(mols, "physchem")
    names = PHYSCHEM
    assert x.shape == (3, len(names))
    logp = x[:, names.index("MolLogP")]
    np.testing.assert_allclose(logp, [Crippen.MolLogP(m) for m in mols], rtol=1e-5)
    np.testing.assert_allclose(
        x[:, names.index("TPSA")], [Descriptors.TPSA(m) for m in mols], rtol=1e-5
    )
    assert molecule_descriptors(mols, None).shape == (3, 0)


def test_scaler_uses_training_statistics_only():
    train = np.array([[1.0, np.nan], [3.0, 2.0]], np.float32)
    scaler = Standardizer.fit(train, DESCRIPTOR_CLIP)
    np.testing.assert_allclose(scaler.mean, [2.0, 2.0])
    z = scaler.transform(np.array([[2.0, np.nan], [1e9, 2.0]], np.float32))
    assert z[0, 0] == 0 and z[0, 1] == 0  # mean, and NaN -> mean
    assert z[1, 0] == scaler.clip  # far outliers are clipped


def test_unknown_descriptor_set():
    with pytest.raises(ValueError, match="unknown molecule features"):
        PropertyModel(mol_features="fingerprints", **SMALL).fit(
            ["CCO", "CCN"], [1.0, 2.0]
        )


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


SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C"]


def mols():
    return [Chem.MolFromSmiles(s) for s in SMILES]


def test_morgan_bits_and_counts_agree_with_rdkit():
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=3, fpSize=1024)
    bits = molecule_descriptors(mols(), "morgan", radius=3, n_bits=1024)
    counts = molecule_descriptors(mols(), "morgan-counts", radius=3, n_bits=1024)
    assert bits.shape == counts.shape == (4, 1024)
    for i, mol in enumerate(mols()):
        np.testing.assert_array_equal(bits[i], gen.GetFingerprintAsNumPy(mol))
    np.testing.assert_array_equal(counts > 0, bits > 0)
    assert counts.max() > 1  # paracetamol repeats aromatic CH environments


def test_maccs_and_rdkit2d():
    from rdkit.Chem import Descriptors

    maccs = molecule_descriptors(mols(), "maccs")
    assert maccs.shape == (4, 167) and set(np.unique(maccs)) <= {0.0, 1.0}
    rdkit2d = molecule_descriptors(mols(), "rdkit2d")
    names = feature_names("rdkit2d")
    assert rdkit2d.shape == (4, len(Descriptors._descList)) == (4, len(names))
    reference = Descriptors.CalcMolDescriptors(mols()[2])
    for j in (names.index("MolLogP"), names.index("NumHDonors"), names.index("qed")):
        assert rdkit2d[2, j] == pytest.approx(reference[names[j]], rel=1e-5)


def test_mordred_needs_its_extra():
    try:
        import mordred  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"molmat\[mordred\]"):
            molecule_descriptors(mols(), "mordred")
    else:
        x = molecule_descriptors(mols()[:2], "mordred")
        assert x.shape[0] == 2 and x.shape[1] > 1000


def test_feature_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLMAT_CACHE_DIR", str(tmp_path))
    first = molecule_features_cached(SMILES, mols(), "morgan", n_bits=256)
    second = molecule_features_cached(SMILES, mols(), "morgan", n_bits=256)
    other = molecule_features_cached(SMILES, mols(), "morgan", n_bits=512)
    np.testing.assert_array_equal(first, second)
    assert other.shape == (4, 512)
    assert len(list((tmp_path / "features").glob("*.npz"))) == 2


def test_fragprints_are_morgan_counts_then_fragment_counts():
    from rdkit.Chem import Descriptors

    x = molecule_descriptors(mols(), "fragprints", n_bits=256)
    names = feature_names("fragprints", n_bits=256)
    assert x.shape == (4, len(names)) and names[256].startswith("fr_")
    np.testing.assert_array_equal(
        x[:, :256], molecule_descriptors(mols(), "morgan-counts", n_bits=256)
    )
    phenol = names.index("fr_phenol")
    assert x[1, phenol] == Descriptors.fr_phenol(mols()[1]) == 1
