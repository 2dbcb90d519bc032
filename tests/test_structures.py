import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.neighborlist import neighbor_list as ase_neighbor_list

from molmat.data.batching import BatchingStrategy, pair_vectors
from molmat.data.csv import DataError
from molmat.data.statistics import fit_e0s, reference_energies
from molmat.data.structures import (
    Frame,
    LabelKeys,
    read_index_file,
    read_split,
    read_structures,
    species_of,
    structure_graphs,
)
from tests.conftest import DATA


def test_extxyz_keys_units_and_bad_frames():
    data = read_structures(DATA / "ethanol_botnet.extxyz", require_forces=True)
    reasons = {b.index: b.reason for b in data.bad_frames}
    assert set(reasons) == {9, 10, 11}
    assert "energy" in reasons[9]
    assert "apart" in reasons[10]
    assert reasons[11] == "missing forces"
    raw = ase.io.read(DATA / "ethanol_botnet.extxyz", index=3)
    frame = next(f for f in data.frames if f.index == 3)
    assert frame.energy == pytest.approx(raw.get_potential_energy())
    np.testing.assert_allclose(frame.forces, raw.get_forces())
    assert not frame.pbc.any() and not frame.cell.any()
    assert sum(f.is_isolated_atom for f in data.frames) == 3
    with pytest.raises(DataError, match="frame 9"):
        read_structures(DATA / "ethanol_botnet.extxyz", strict=True)


def test_extxyz_custom_keys_and_stress():
    data = read_structures(DATA / "cu_emt.extxyz", keys=LabelKeys(stress="stress"))
    frame = data.frames[0]
    assert frame.pbc.all() and frame.stress.shape == (3, 3)
    np.testing.assert_allclose(frame.stress, frame.stress.T)


def test_a_key_in_no_frame_is_named_with_the_keys_the_file_has():
    with pytest.raises(DataError, match="energy key 'REF_energy'") as err:
        read_structures(DATA / "cu_emt.extxyz", keys=LabelKeys(energy="REF_energy"))
    assert "info keys ['config_type', 'energy', 'stress']" in str(err.value)
    assert "per-atom arrays ['forces']" in str(err.value)
    path, ref_forces = DATA / "ethanol_botnet.extxyz", LabelKeys(forces="REF_forces")
    with pytest.raises(DataError, match="forces key 'REF_forces'.*'forces'"):
        read_structures(path, keys=ref_forces, require_forces=True)
    energy_only = read_structures(path, keys=ref_forces)
    assert all(f.forces is None for f in energy_only.frames)


def test_train_and_test_index_files_that_share_frames_are_refused(tmp_path):
    data = read_structures(DATA / "rmd17_ethanol_10.npz", format="rmd17")
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    train.write_text("\n".join(map(str, range(8))))
    test.write_text("5\n6\n7\n8\n9\n")
    with pytest.raises(DataError, match=r"share 3 frames \(frame indices 5, 6, 7\)"):
        read_split(data, str(train), str(test))
    test.write_text("8\n9\n")
    fit, held = read_split(data, str(train), str(test))
    assert [f.index for f in held] == [8, 9] and len(fit) == 8


def test_rmd17_units_and_split_files():
    data = read_structures(DATA / "rmd17_ethanol_10.npz", format="rmd17")
    raw = np.load(DATA / "rmd17_ethanol_10.npz")
    kcal = units.kcal / units.mol
    assert data.frames[4].energy == pytest.approx(raw["energies"][4] * kcal)
    np.testing.assert_allclose(data.frames[4].forces, raw["forces"][4] * kcal)
    assert "kcal/mol" in data.units["energy"]
    train = data.select(read_index_file(DATA / "rmd17_index_train_01.csv"))
    test = data.select(read_index_file(DATA / "rmd17_index_test_01.csv"))
    assert [f.index for f in train] == list(range(7))
    assert [f.index for f in test] == [7, 8, 9]
    with pytest.raises(DataError, match="not in"):
        data.select(np.array([3, 42]))


def test_reference_energies():
    data = read_structures(DATA / "ethanol_botnet.extxyz")
    molecules = [f for f in data.frames if not f.is_isolated_atom]
    isolated = [f for f in data.frames if f.is_isolated_atom]
    e0, how = reference_energies(molecules, species_of(molecules), isolated)
    assert how == "isolated atoms" and e0[1] == pytest.approx(-13.568422383046626)
    e0, how = reference_energies(molecules, species_of(molecules))
    assert how == "least squares"
    counts = np.array([6, 2, 1])  # H, C, O of ethanol
    fitted = counts @ np.array([e0[1], e0[6], e0[8]])
    assert fitted == pytest.approx(np.mean([f.energy for f in molecules]))
    # Two compositions: exact recovery of per-element energies.
    frames = [
        Frame(np.array(z), np.eye(3)[: len(z)] * 2, np.zeros((3, 3)), np.zeros(3, bool))
        for z in ([1, 1], [1, 8], [8, 8])
    ]
    for frame in frames:
        frame.energy = (
            -1.0 * (frame.numbers == 1).sum() - 5.0 * (frame.numbers == 8).sum()
        )
    assert fit_e0s(frames, (1, 8)) == pytest.approx({1: -1.0, 8: -5.0})


def test_neighbors_match_ase_and_batch_layout():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=1)
    crystal = Frame.from_atoms(atoms)
    molecule = read_structures(DATA / "rmd17_ethanol_10.npz", format="rmd17").frames[0]
    graphs = structure_graphs([molecule, crystal])
    batcher = BatchingStrategy(radius=4.0).batcher(graphs, batch_size=2)
    i, d = ase_neighbor_list("id", atoms, 4.0)
    assert batcher.pairs.n_pairs[1] == len(i)
    [(idx, budget)] = batcher.plan(graphs, np.arange(2))
    batch = batcher.batch(graphs, idx, budget, graphs.energy[:, None])
    lengths = np.linalg.norm(pair_vectors(batch), axis=-1)[batch.pair_mask]
    crystal_pairs = batch.node_graph[batch.pair_i[batch.pair_mask]] == 1
    np.testing.assert_allclose(np.sort(lengths[crystal_pairs]), np.sort(d), atol=1e-5)
    assert lengths.max() <= 4.0 + 1e-5 and lengths.min() > 0.5
    assert batch.node_mask.sum() == molecule.n_atoms + 4
    assert not batch.node_mask[-1] and not batch.graph_mask[-1]
    assert (batch.node_graph[~batch.node_mask] == budget.graphs - 1).all()
    assert (batch.pair_i[~batch.pair_mask] == budget.nodes - 1).all()
    assert batch.cell[0].sum() == 0 and batch.has_forces[0] and not batch.has_forces[1]
    np.testing.assert_array_equal(batch.species[: molecule.n_atoms], molecule.numbers)
    assert batch.y_mask[0, 0] and not batch.y_mask[1, 0]  # the crystal has no energy
    assert batch.y[0, 0] == np.float32(molecule.energy)
