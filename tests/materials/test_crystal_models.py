"""Crystal property networks: invariances, learning, archives, the CLI."""

import json
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, make_supercell

from molmat.cli.main import main
from molmat.data.batching import BatchingStrategy, pair_vectors
from molmat.data.csv import DataError
from molmat.data.structures import Frame, structure_graphs
from molmat.tasks.archives import load
from molmat.tasks.crystal import CrystalModel
from molmat.testing import check_crystal_model
from molmat.testing.crystal import assert_unit_cell_invariant

SAMPLE = Path(__file__).parents[1] / "data" / "matbench_jdft2d_sample.extxyz"
TINY = dict(hidden=8, depth=2, n_basis=8, ffn_hidden=8, batch_size=8, progress=False)


def sample(n=12):
    images = ase.io.read(SAMPLE, index=f":{n}")
    return images, np.array([a.info["exfoliation_en"] for a in images])


def crystals():
    """Low-symmetry and distorted cells of 2 to 16 atoms, periodic in 3D."""
    rng = np.random.default_rng(0)
    out = []
    for atoms in (
        bulk("NaCl", "rocksalt", a=5.64),
        bulk("Si", "diamond", a=5.43, cubic=True),
        bulk("Cu", "fcc", a=3.6, orthorhombic=True),
        sample(3)[0][2],
    ):
        atoms = atoms.copy()
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.set_cell(
            atoms.cell[:] @ (np.eye(3) + rng.normal(0, 0.03, (3, 3))), scale_atoms=True
        )
        out.append(atoms)
    return out


@pytest.fixture(scope="module", params=["cgcnn", "painn", "nequip", "alignn"])
def fitted(request):
    images, y = sample()
    return CrystalModel(request.param, epochs=2, val_fraction=0, **TINY).fit(images, y)


def test_every_crystal_network_passes_the_invariance_suite(fitted):
    structures = crystals()
    pred = fitted.predict(structures)
    assert np.std(pred) > 1e-3 * fitted.y_scaler_.std[0]  # not a constant model
    check_crystal_model(fitted, structures)


def test_a_sum_readout_is_extensive_and_fails_the_intensive_check():
    images, y = sample(8)
    model = CrystalModel("cgcnn", readout="sum", epochs=1, val_fraction=0, **TINY)
    model.fit(images, y)
    structures = crystals()
    assert_unit_cell_invariant(model, structures)  # sum: twice the value
    model.network_ = {**model.network_, "readout": "mean"}  # claims intensive
    with pytest.raises(AssertionError, match="supercell"):
        assert_unit_cell_invariant(model, structures)


def test_max_readout_with_structure_features_on_l1_is_invariant_and_saved(
    tmp_path,
):
    images, y = sample(8)
    model = CrystalModel(
        "cgcnn",
        readout="max",
        loss="l1",
        features="magpie-structure",
        epochs=2,
        val_fraction=0,
        **TINY,
    ).fit(images, y)
    assert model.network_["mol_dim"] == 158 and model.history_.records
    check_crystal_model(model, crystals())
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(
        load(tmp_path / "m").predict(crystals()), model.predict(crystals())
    )
    with pytest.raises(ValueError, match="loss must be one of"):
        CrystalModel("cgcnn", loss="huber").fit(images, y)
    with pytest.raises(ValueError, match="sum readout"):
        CrystalModel("cgcnn", readout="sum", features="magpie-structure").fit(images, y)


def test_a_small_crystal_network_overfits_a_small_dataset():
    structures = [bulk("NaCl", "rocksalt", a=a) for a in np.linspace(5.2, 6.0, 10)]
    structures += [bulk("Si", "diamond", a=a) for a in np.linspace(5.2, 5.6, 10)]
    y = np.array([a.get_volume() / len(a) for a in structures])
    model = CrystalModel(
        "cgcnn",
        hidden=16,
        depth=2,
        epochs=150,
        batch_size=10,
        val_fraction=0,
        patience=None,
        progress=False,
    ).fit(structures, y)
    assert np.abs(model.predict(structures) - y).mean() < 0.1 * y.std()


def test_save_load_gives_identical_predictions_and_keeps_the_settings(fitted, tmp_path):
    structures = crystals()
    fitted.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert isinstance(again, CrystalModel)
    np.testing.assert_array_equal(again.predict(structures), fitted.predict(structures))
    assert again.network_ == fitted.network_


def test_bad_structures_name_their_index_and_predict_as_nan():
    images, y = sample(6)
    overlapping = Atoms(
        "Cu2", positions=[[0, 0, 0], [0, 0, 0.02]], cell=[4, 4, 4], pbc=True
    )
    with pytest.raises(DataError, match="1: atoms 0.020 Å apart"):
        CrystalModel("cgcnn", epochs=1, **TINY).fit(
            [images[0], overlapping, *images[1:]], [1.0, 2.0, *y[1:]]
        )
    model = CrystalModel("cgcnn", epochs=1, val_fraction=0, **TINY).fit(images, y)
    pred = model.predict_values([images[0], overlapping, images[1]])
    assert np.isnan(pred[1]).all() and np.isfinite(pred[[0, 2]]).all()


def test_an_init_model_of_another_kind_is_refused(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    other = "cgcnn" if fitted.network_["model"] != "cgcnn" else "painn"
    images, y = sample(6)
    with pytest.raises(ValueError, match="choose --model"):
        CrystalModel(other, init=str(tmp_path / "m"), **TINY).fit(images, y)


def test_fine_tuning_starts_from_the_init_encoder(tmp_path):
    images, y = sample(8)
    first = CrystalModel("cgcnn", epochs=2, val_fraction=0, **TINY).fit(images, y)
    first.save(tmp_path / "m")
    tuned = CrystalModel(
        "cgcnn",
        init=str(tmp_path / "m"),
        freeze_encoder=True,
        epochs=2,
        val_fraction=0,
        **{**TINY, "hidden": 32},
    ).fit(images, y)
    assert tuned.network_["hidden"] == 8  # the encoder's settings win
    np.testing.assert_array_equal(
        tuned.net_.encoder.layers[0].gate.weight,
        first.net_.encoder.layers[0].gate.weight,
    )
    assert tuned.pretraining_["init"] == str(tmp_path / "m")


def test_pair_lists_hold_exactly_each_atoms_short_pairs():
    frames = [Frame.from_atoms(a) for a in crystals()]
    graphs = structure_graphs(frames)
    batcher = BatchingStrategy(by_size=True, radius=5.0, pair_lists=3.0).batcher(
        graphs, 8
    )
    for idx, budget in batcher.plan(graphs, np.arange(len(graphs))):
        batch = batcher.batch(graphs, idx, budget)
        lengths = np.linalg.norm(pair_vectors(batch), axis=1)
        short = np.flatnonzero(batch.pair_mask & (lengths < 3.0))
        assert 0 < len(short) < batch.pair_mask.sum()
        listed = batch.pair_list[batch.pair_list < budget.pairs]
        assert sorted(listed.tolist()) == short.tolist()
        atom_of_slot = np.repeat(np.arange(budget.nodes), budget.pair_slots).reshape(
            budget.nodes, -1
        )
        inside = batch.pair_list < budget.pairs
        assert (batch.pair_i[batch.pair_list[inside]] == atom_of_slot[inside]).all()


def test_cli_trains_a_crystal_network_on_extxyz_and_predicts(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--data",
            str(SAMPLE),
            "--target",
            "exfoliation_en",
            "--model",
            "alignn",
            "--split",
            "random",
            "--epochs",
            "2",
            "--hidden",
            "8",
            "--depth",
            "1",
            "--n-basis",
            "8",
            "--cutoff",
            "4",
            "--angle-cutoff",
            "2.5",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "alignn" and "mae" in metrics["test"]
    assert (out / "parity.png").exists() and (out / "learning_curve.png").exists()
    model = load(out / "model")
    assert model.network_["cutoff"] == 4.0 and model.network_["depth"] == 1
    assert model.network_["angle_cutoff"] == 2.5
    pred_csv = tmp_path / "pred.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(out / "model"),
                "--data",
                str(SAMPLE),
                "--out",
                str(pred_csv),
            ]
        )
        == 0
    )
    text = pred_csv.read_text().splitlines()
    assert "exfoliation_en_pred" in text[0] and len(text) == 41


def test_the_learning_rate_decays_over_the_batches_actually_run(tmp_path):
    """Size classes cut more batches than n / batch_size: the schedule must
    count them, or the rate reaches its floor long before the last epoch."""
    images = ase.io.read(SAMPLE, index=":")
    y = np.array([a.info["exfoliation_en"] for a in images])
    # three size classes: cells as they are, 3x3x1 and 5x5x1 supercells
    images = images[:20] + [
        make_supercell(a, np.diag([k, k, 1]))
        for k, part in ((3, images[20:30]), (5, images[30:]))
        for a in part
    ]
    log = tmp_path / "metrics.jsonl"
    model = CrystalModel(
        "cgcnn",
        hidden=8,
        depth=1,
        n_basis=8,
        epochs=6,
        batch_size=32,
        val_fraction=0,
        patience=None,
        final_lr=1e-5,
        progress=False,
    ).fit(images, y, metrics_log=log)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["steps"] > -(-len(images) // 32)  # more batches than n / 32
    lrs = [r["lr"] for r in records]
    assert 1e-5 <= lrs[-1] < 1.5e-5  # the floor, reached at the last step
    assert lrs[-2] > 2e-5 and all(
        a > b for a, b in zip(lrs[1:-1], lrs[2:], strict=True)
    )
    assert model.history_.records[-1]["epoch"] == 6
