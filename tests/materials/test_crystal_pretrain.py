"""Self-supervised pretraining of crystal encoders and fine-tuning from it."""

import json
from pathlib import Path

import ase.io
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from molmat.cli.main import main
from molmat.data.structures import Frame, structure_graphs
from molmat.models.crystal.pretrain import denoising_crystal_net, masked_crystal_net
from molmat.tasks.archives import load
from molmat.tasks.crystal import CrystalModel
from molmat.tasks.crystal_pretrain import PretrainedCrystalEncoder

SAMPLE = Path(__file__).parents[1] / "data" / "matbench_jdft2d_sample.extxyz"
NETWORK = {"hidden": 8, "depth": 2, "n_basis": 8, "species": [8, 22, 35]}


def one_batch(net, atoms):
    graphs = structure_graphs([Frame.from_atoms(atoms)])
    batcher = net.batcher(graphs, 4)
    ((idx, budget),) = batcher.plan(graphs, np.arange(1))
    return jax.tree.map(jnp.asarray, batcher.batch(graphs, idx, budget))


@pytest.mark.parametrize("model", ["cgcnn", "painn", "nequip", "alignn"])
def test_predicted_noise_rotates_with_the_cell(model):
    atoms = ase.io.read(SAMPLE, index=2)
    net = denoising_crystal_net({"model": model, **NETWORK}, 0.1, key=jax.random.key(1))
    rotation = Rotation.random(random_state=3).as_matrix()
    turned = atoms.copy()
    turned.set_cell(atoms.cell[:] @ rotation.T, scale_atoms=False)
    turned.positions = atoms.positions @ rotation.T
    n = len(atoms)
    noise = np.asarray(net(one_batch(net, atoms)))[:n]
    turned_noise = np.asarray(net(one_batch(net, turned)))[:n]
    assert np.abs(noise).max() > 1e-6
    np.testing.assert_allclose(turned_noise, noise @ rotation.T, atol=2e-5)


def test_masking_hides_the_elements_of_some_real_atoms_only():
    atoms = ase.io.read(SAMPLE, index=0).repeat((2, 2, 1))
    net = masked_crystal_net({"model": "cgcnn", **NETWORK}, 0.3, key=jax.random.key(0))
    g = one_batch(net, atoms)
    masked, picked = net.mask(jax.random.key(5), g)
    picked = np.asarray(picked)
    assert picked.any() and not picked[~np.asarray(g.node_mask)].any()
    np.testing.assert_array_equal(np.asarray(masked.species)[picked], 0)
    kept = ~picked
    np.testing.assert_array_equal(
        np.asarray(masked.species)[kept], np.asarray(g.species)[kept]
    )
    assert net(masked).shape == (g.species.shape[0], 119)


def test_pretrain_cli_writes_an_encoder_that_fine_tuning_starts_from(tmp_path):
    pre = tmp_path / "pre"
    code = main(
        [
            "pretrain",
            "--data",
            str(SAMPLE),
            "--model",
            "painn",
            "--objective",
            "denoise",
            "--hidden",
            "8",
            "--depth",
            "2",
            "--cutoff",
            "4",
            "--shard-size",
            "16",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--out",
            str(pre),
            "--no-progress",
        ]
    )
    assert code == 0
    summary = json.loads((pre / "metrics.json").read_text())
    assert summary["epochs_run"] == 2 and summary["n_used"] == 40
    assert summary["structures_per_second"] > 0
    assert (pre / "pretraining_curve.png").exists()
    encoder = load(pre / "model")
    assert isinstance(encoder, PretrainedCrystalEncoder)

    images = ase.io.read(SAMPLE, index=":")
    y = np.array([a.info["exfoliation_en"] for a in images])
    tuned = CrystalModel(
        "painn",
        init=pre,  # a Path: saved as text
        freeze_encoder=True,
        epochs=2,
        batch_size=8,
        progress=False,
    ).fit(images, y)
    assert tuned.network_["cutoff"] == 4.0 and tuned.network_["hidden"] == 8
    assert tuned.pretraining_["objective"] == "denoise"
    before = encoder.net_.encoder.layers[1].update.u.weight
    np.testing.assert_array_equal(tuned.net_.encoder.layers[1].update.u.weight, before)
    tuned.save(tmp_path / "tuned")
    assert load(tmp_path / "tuned").init == str(pre)

    with pytest.raises(ValueError, match="choose --model painn"):
        CrystalModel("cgcnn", init=str(pre), epochs=1, progress=False).fit(images, y)

    curve = tmp_path / "curve"
    code = main(
        [
            "train",
            "--data",
            str(SAMPLE),
            "--target",
            "exfoliation_en",
            "--model",
            "painn",
            "--init",
            str(pre),
            "--train-size",
            "10,20",
            "--test-size",
            "10",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--out",
            str(curve),
            "--no-progress",
        ]
    )
    assert code == 0
    points = [
        json.loads(line)
        for line in (curve / "learning_curve.jsonl").read_text().splitlines()
    ]
    assert [(p["variant"], p["size"]) for p in points] == [
        (v, n) for n in (10, 20) for v in ("pretrained", "scratch", "baseline")
    ]
    assert {p["n_test"] for p in points} == {10}
    assert (curve / "learning_curve_exfoliation_en.png").exists()
    assert load(curve / "pretrained_n20" / "model").pretraining_["init"] == str(pre)
    assert load(curve / "baseline_n10" / "model").features == "magpie-structure"


def test_crystal_encoders_refuse_molecular_objectives(tmp_path):
    code = main(
        [
            "pretrain",
            "--data",
            str(SAMPLE),
            "--model",
            "cgcnn",
            "--objective",
            "context",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code != 0
