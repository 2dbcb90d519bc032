import numpy as np
import pytest
from rdkit import Chem

from molmat.featurizers import graph as fg


def block_start(k: int) -> int:
    """Column where one-hot block k of the atom features starts."""
    return sum(len(b) + 1 for b in fg._ATOM_BLOCKS[:k])


def test_ethanol_atoms():
    x = fg.atom_features(Chem.MolFromSmiles("CCO"))
    assert x.shape == (3, fg.ATOM_DIM)
    element = x[:, : len(fg.ELEMENTS) + 1].argmax(1)
    assert list(element) == [5, 5, 7]  # atomic numbers 6, 6, 8 (index = Z - 1)
    degree = x[:, block_start(1) : block_start(2)].argmax(1)
    assert list(degree) == [4, 4, 2]  # total degree counts hydrogens
    hydrogens = x[:, block_start(3) : block_start(4)].argmax(1)
    assert list(hydrogens) == [3, 2, 1]
    hybrid = x[:, block_start(4) : block_start(5)].argmax(1)
    assert [fg.HYBRIDISATIONS[i] for i in hybrid] == [Chem.HybridizationType.SP3] * 3
    tail = x[:, block_start(6) :]
    assert (tail[:, 0] == 0).all() and (tail[:, 1] == 0).all()  # not aromatic, no ring
    np.testing.assert_allclose(tail[:, -1], [0.12011, 0.12011, 0.15999], atol=1e-4)
    # each one-hot block has exactly one hot entry per atom
    for k in range(len(fg._ATOM_BLOCKS)):
        assert (x[:, block_start(k) : block_start(k + 1)].sum(1) == 1).all()


def test_charge_and_chirality():
    mol = Chem.MolFromSmiles("C[C@H](N)C(=O)[O-]")
    x = fg.atom_features(mol)
    charge = x[:, block_start(2) : block_start(3)].argmax(1)
    assert fg.CHARGES[charge[5]] == -1 and fg.CHARGES[charge[0]] == 0
    chiral = x[:, block_start(5) : block_start(6)].argmax(1)
    assert fg.CHIRAL_TAGS[chiral[1]] == Chem.ChiralType.CHI_TETRAHEDRAL_CCW
    assert fg.CHIRAL_TAGS[chiral[0]] == Chem.ChiralType.CHI_UNSPECIFIED


def test_benzene_ring_and_aromatic_bonds():
    g = fg.mol_graph(Chem.MolFromSmiles("c1ccccc1"))
    tail = g["atom_x"][:, block_start(6) :]
    assert (tail[:, 0] == 1).all() and (tail[:, 1] == 1).all()
    ring6 = 2 + fg.RING_SIZES.index(6)
    assert (tail[:, ring6] == 1).all() and tail[
        :, 2 : 2 + len(fg.RING_SIZES)
    ].sum() == 6
    bond_type = g["bond_x"][:, : len(fg.BOND_TYPES)].argmax(1)
    assert all(fg.BOND_TYPES[t] == Chem.BondType.AROMATIC for t in bond_type)
    assert (g["bond_x"][:, len(fg.BOND_TYPES) + 1] == 1).all()  # conjugated
    assert (g["bond_x"][:, len(fg.BOND_TYPES) + 2] == 1).all()  # in ring


def test_directed_edges_come_in_reverse_pairs():
    g = fg.mol_graph(Chem.MolFromSmiles("CC(=O)Nc1ccccc1"))
    s, r = g["senders"], g["receivers"]
    assert len(s) == 2 * 10
    np.testing.assert_array_equal(s[0::2], r[1::2])
    np.testing.assert_array_equal(r[0::2], s[1::2])
    np.testing.assert_array_equal(g["bond_x"][0::2], g["bond_x"][1::2])


def test_double_bond_stereo():
    g = fg.mol_graph(Chem.MolFromSmiles("C/C=C/C"))
    stereo_start = len(fg.BOND_TYPES) + 3
    stereo = g["bond_x"][:, stereo_start:].argmax(1)
    assert Chem.BondStereo.STEREOE in {fg.BOND_STEREO[i] for i in stereo}


def test_single_atom_molecule_has_no_edges():
    graphs = fg.featurize([Chem.MolFromSmiles("C"), Chem.MolFromSmiles("[Na+].[Cl-]")])
    assert list(graphs.n_atoms) == [1, 2] and list(graphs.n_edges) == [0, 0]


def test_cache_returns_identical_graphs(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLMAT_CACHE_DIR", str(tmp_path))
    smiles = ["CCO", "c1ccccc1O", "CC(=O)N"]
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    first = fg.featurize_cached(smiles, mols)
    assert len(list((tmp_path / "features").glob("*.npz"))) == 1
    calls = []
    monkeypatch.setattr(fg, "featurize", lambda *args: calls.append(args))
    second = fg.featurize_cached(smiles, mols)
    assert calls == []  # served from the cache
    for key, value in first.arrays().items():
        np.testing.assert_array_equal(value, second.arrays()[key])


@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_a_damaged_cache_file_is_featurised_again(damage, tmp_path, monkeypatch):
    monkeypatch.setenv("MOLMAT_CACHE_DIR", str(tmp_path))
    smiles = ["CCO", "c1ccccc1O", "CC(=O)N"] * 20
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    first = fg.featurize_cached(smiles, mols)
    (path,) = (tmp_path / "features").glob("*.npz")
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:  # inside the first array's compressed data
        data[len(data) // 4] ^= 0xFF
    path.write_bytes(bytes(data))
    again = fg.featurize_cached(smiles, mols)
    for key, value in first.arrays().items():
        np.testing.assert_array_equal(value, again.arrays()[key])
