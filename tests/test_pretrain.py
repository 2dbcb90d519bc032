"""Masked-token pretraining of sequence encoders and fine-tuning from it."""

import contextlib
import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from molmat.cli.main import main
from molmat.models.sequence.pretrain import MASK, mask_tokens
from molmat.tasks.archives import load
from molmat.tasks.pretrain import PretrainedEncoder, pretrain_sequences
from molmat.tasks.sequence import SequenceModel
from molmat.training.archive import ArchiveError

from .conftest import DATA
from .test_resume import Killed, count_writes

CORPUS = DATA / "moses_sample.csv"
SMALL = dict(hidden=16, depth=2, heads=2, embed=8, batch_size=64, progress=False)


def test_masking_picks_real_tokens_only_and_hides_most_of_them():
    rng = np.random.default_rng(0)
    tokens = rng.integers(MASK + 1, 30, size=(64, 40))
    tokens[:, 0], tokens[:, 30], tokens[:, 31:] = 1, 2, 0  # <bos> ... <eos> pad
    tokens = jnp.asarray(tokens)
    inputs, picked = mask_tokens(jax.random.key(0), tokens, 30, rate=0.15)
    assert not picked[:, 0].any() and not picked[:, 30:].any()
    np.testing.assert_array_equal(inputs[~picked], tokens[~picked])
    assert 0.12 < float(picked[:, 1:30].mean()) < 0.18
    hidden = float((inputs[picked] == MASK).mean())
    assert 0.74 < hidden < 0.86  # 80 % masked, 10 % random, 10 % kept
    assert int(inputs.max()) < 30 and int(inputs[tokens > 2].min()) >= MASK


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A run of ``molmat pretrain`` (its folder, summary and printed table)."""
    out = tmp_path_factory.mktemp("pre") / "run"
    options = [
        f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items() if k != "progress"
    ]
    argv = [
        "pretrain",
        "--data",
        str(CORPUS),
        *options,
        "--epochs",
        "2",
        "--epoch-size",
        "256",
        "--out",
        str(out),
        "--no-progress",
    ]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    summary = json.loads((out / "metrics.json").read_text())
    return out, summary, printed.getvalue()


def test_pretraining_writes_an_encoder_and_its_record(pretrained):
    out, summary, printed = pretrained
    assert "molecules/s" in printed and "--init" in printed
    assert summary["n_train"] + summary["n_val"] == summary["n_used"] == 1200
    assert summary["strings_seen"] == 512 and np.isfinite(summary["val_loss"])
    assert (out / "pretraining_curve.png").stat().st_size > 0
    encoder = load(out / "model")
    assert isinstance(encoder, PretrainedEncoder)
    assert encoder.vocabulary.tokens[MASK] == "<mask>"


def test_pretraining_killed_in_its_second_epoch_resumes_exactly(
    pretrained, tmp_path, monkeypatch
):
    out, *_ = pretrained
    run = dict(epochs=2, epoch_size=256, **SMALL)
    count_writes(monkeypatch, kill_at=4)  # log start, line 1, checkpoint 1, line 2
    with pytest.raises(Killed):
        pretrain_sequences(CORPUS, tmp_path / "r", **run)
    count_writes(monkeypatch, kill_at=None)
    pretrain_sequences(CORPUS, tmp_path / "r", resume=True, **run)
    straight = [json.loads(x) for x in (out / "metrics.jsonl").open()]
    resumed = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").open()]
    for key in ("train_loss", "val_loss"):
        assert [r[key] for r in resumed] == [r[key] for r in straight]


def test_fine_tuning_starts_from_the_encoder_and_keeps_its_record(
    pretrained, esol, tmp_path
):
    out, *_ = pretrained
    short = [i for i, s in enumerate(esol.smiles) if len(s) <= 14][:60]
    X, y = [esol.smiles[i] for i in short], esol.y[short, 0]
    options = dict(model="transformer", tokens="smiles", init=str(out), epochs=2)
    frozen = SequenceModel(**options, freeze_encoder=True, progress=False).fit(X, y)
    encoder = load(out / "model")
    known = len(encoder.vocabulary)  # ESOL adds tokens MOSES lacks
    assert frozen.vocabulary_.tokens[:known] == encoder.vocabulary.tokens
    np.testing.assert_array_equal(frozen.net_.embed[:known], encoder.net.embed)
    assert frozen.network_["hidden"] == 16  # the encoder's sizes win
    tuned = SequenceModel(**options, layer_lr_decay=0.5, progress=False).fit(X, y)
    assert not np.allclose(tuned.net_.embed[:known], encoder.net.embed)
    tuned.save(tmp_path / "m")
    again = load(tmp_path / "m")
    np.testing.assert_array_equal(again.predict(X), tuned.predict(X))
    assert again.pretraining_["objective"] == "masking"


def test_init_must_match_the_model_and_be_an_encoder(pretrained, small_model, tmp_path):
    out, *_ = pretrained
    with pytest.raises(ValueError, match="transformer encoder of smiles tokens"):
        SequenceModel(model="gru", init=str(out), progress=False).fit(
            ["CCO"] * 3, [1, 2, 3]
        )
    small_model.save(tmp_path / "graph")
    with pytest.raises(ArchiveError, match="not a pretrained sequence encoder"):
        SequenceModel(model="transformer", init=str(tmp_path / "graph")).fit(
            ["CCO"] * 3, [1, 2, 3]
        )


def test_atom_masking_never_leaks_the_masked_atoms_features(esol):
    from molmat.featurizers.graph import ELEMENT_ONEHOT, featurize
    from molmat.models.gnn import resolve_architecture
    from molmat.models.gnn.pretrain import MaskedAtomNet, mask_atoms
    from molmat.tasks.pretrain import GRAPH_DIMS

    graphs = featurize(esol.mols[:8])
    options = {"hidden": 16, "depth": 2, "dropout": 0.0, "head": []}
    arch = resolve_architecture("gin", options)
    net = MaskedAtomNet(arch, GRAPH_DIMS, key=jax.random.key(0))
    batcher = net.batcher(graphs, 8)
    ((idx, budget),) = batcher.plan(graphs, np.arange(8))
    batch = batcher.batch(graphs, idx, budget)
    key = jax.random.key(3)
    masked, picked = mask_atoms(key, batch)
    assert picked.any() and not (picked & ~batch.node_mask).any()
    assert float(jnp.abs(masked.atom_x[picked]).max()) == 0.0
    # another element and other features on the picked atoms: same input, same logits
    scrambled = np.asarray(batch.atom_x).copy()
    scrambled[np.asarray(picked)] = np.roll(scrambled[np.asarray(picked)], 1, axis=1)
    again, _ = mask_atoms(key, batch._replace(atom_x=jnp.asarray(scrambled)))
    np.testing.assert_array_equal(net(again), net(masked))
    elements = np.asarray(batch.atom_x[:, :ELEMENT_ONEHOT]).argmax(1)
    assert len(set(elements[np.asarray(picked)])) >= 1


@pytest.fixture(scope="module")
def graph_pretrained(tmp_path_factory):
    from molmat.tasks.pretrain import pretrain_graphs

    out = tmp_path_factory.mktemp("gpre") / "run"
    summary = pretrain_graphs(
        CORPUS,
        out,
        hidden=16,
        depth=2,
        shard_size=400,
        batch_size=64,
        progress=False,
    )
    return out, summary


def test_graph_pretraining_killed_in_its_second_shard_resumes_exactly(
    graph_pretrained, tmp_path, monkeypatch
):
    from molmat.tasks.pretrain import pretrain_graphs

    out, _ = graph_pretrained
    run = dict(hidden=16, depth=2, shard_size=400, batch_size=64, progress=False)
    count_writes(monkeypatch, kill_at=4)  # log start, line 1, checkpoint 1, line 2
    with pytest.raises(Killed):
        pretrain_graphs(CORPUS, tmp_path / "r", **run)
    count_writes(monkeypatch, kill_at=None)
    pretrain_graphs(CORPUS, tmp_path / "r", resume=True, **run)
    straight = [json.loads(x) for x in (out / "metrics.jsonl").open()]
    resumed = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").open()]
    assert len(resumed) == len(straight) == 3
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert [r[key] for r in resumed] == [r[key] for r in straight]


def test_graph_pretraining_streams_shards_and_fine_tunes(
    graph_pretrained, esol, tmp_path
):
    from molmat import PropertyModel
    from molmat.tasks.pretrain import PretrainedGraphEncoder

    out, summary = graph_pretrained
    assert summary["shards"] == 3 and summary["passes"] == 1.0
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    encoder = load(out / "model")
    assert isinstance(encoder, PretrainedGraphEncoder)
    X, y = esol.smiles[:60], esol.y[:60, 0]
    model = PropertyModel(
        model="gin", init=str(out), freeze_encoder=True, epochs=2, progress=False
    ).fit(X, y)

    def weights(module):  # batch-norm statistics are calibrated, not trained
        return {
            jax.tree_util.keystr(path): leaf
            for path, leaf in jax.tree_util.tree_leaves_with_path(module)
            if not jax.tree_util.keystr(path).endswith((".mean", ".var", "calibrated"))
        }

    frozen, pretrained = weights(model.net_.encoder), weights(encoder.net.encoder)
    assert frozen.keys() == pretrained.keys()
    for name, value in frozen.items():
        np.testing.assert_array_equal(value, pretrained[name], err_msg=name)
    assert model.architecture_["hidden"] == 16
    model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.pretraining_["objective"] == "masking"
    with pytest.raises(ValueError, match="is a gin encoder"):
        PropertyModel(model="gcn", init=str(out), progress=False).fit(X, y)


def test_contrastive_loss_is_invariant_to_the_order_of_the_batch():
    from molmat.models.gnn.pretrain import nt_xent

    k1, k2 = jax.random.split(jax.random.key(0))
    z1, z2 = jax.random.normal(k1, (6, 8)), jax.random.normal(k2, (6, 8))
    rows = jnp.array([True, True, True, True, True, False])
    loss, count, right = nt_xent(z1, z2, rows)
    order = jnp.array([3, 5, 0, 4, 1, 2])
    again = nt_xent(z1[order], z2[order], rows[order])
    np.testing.assert_allclose(again[0], loss, rtol=1e-6)
    assert int(again[1]) == int(count) == 10 and int(again[2]) == int(right)
    # the padded row changes nothing; identical views are always found
    padded = nt_xent(z1.at[5].set(100.0), z2, rows)
    np.testing.assert_allclose(padded[0], loss, rtol=1e-6)
    assert int(nt_xent(z1, z1, rows)[2]) == 10


def test_denoising_prediction_rotates_with_the_molecule(esol):
    from scipy.spatial.transform import Rotation

    from molmat.featurizers.conformers import ConformerOptions
    from molmat.featurizers.graph import featurize
    from molmat.models.gnn import resolve_architecture
    from molmat.models.gnn.pretrain import DenoisingNet
    from molmat.tasks.pretrain import GRAPH_DIMS

    graphs = featurize(esol.mols[:3], conformers=ConformerOptions(n=1, seed=0))
    options = {"hidden": 16, "depth": 2, "dropout": 0.0, "head": []}
    net = DenoisingNet(
        resolve_architecture("schnet", options), GRAPH_DIMS, key=jax.random.key(0)
    )
    batcher = net.batcher(graphs, 4)
    ((idx, budget),) = batcher.plan(graphs, np.arange(3))
    batch = batcher.batch(graphs, idx, budget)
    rotation = jnp.asarray(Rotation.random(random_state=1).as_matrix(), jnp.float32)
    turned = batch._replace(positions=batch.positions @ rotation.T + 1.5)
    np.testing.assert_allclose(
        net(turned),
        net(batch) @ rotation.T,
        atol=2e-5 * float(jnp.abs(net(batch)).max()),
    )


def test_denoising_pretraining_runs_on_conformers(tmp_path):
    from molmat.tasks.pretrain import pretrain_graphs

    summary = pretrain_graphs(
        CORPUS,
        tmp_path / "d",
        model="schnet",
        objective="denoise",
        hidden=16,
        depth=1,
        shard_size=60,
        epochs=1,
        val_size=20,
        batch_size=32,
        progress=False,
    )
    assert np.isfinite(summary["val_loss"]) and "val_explained_variance" in summary
    with pytest.raises(ValueError, match="takes a 3D layer"):
        pretrain_graphs(CORPUS, tmp_path / "x", model="gin", objective="denoise")


def test_compare_puts_scratch_and_pretrained_side_by_side(
    graph_pretrained, esol, tmp_path
):
    import pandas as pd

    from molmat.tasks.compare import compare_models

    out, _ = graph_pretrained
    data = tmp_path / "sol.csv"
    pd.DataFrame({"smiles": esol.smiles[:40], "logS": esol.y[:40, 0]}).to_csv(
        data, index=False
    )
    summary = compare_models(
        data,
        tmp_path / "cmp",
        ["gin"],
        [0],
        init=str(out),
        epochs=1,
        split="random",
        progress=False,
    )
    assert [r["model"] for r in summary["rows"]] == [
        "gin (scratch)",
        "gin (pretrained)",
    ]
    splits = [
        (tmp_path / "cmp" / "gin" / v / "seed_0" / "split.json").read_text()
        for v in ("scratch", "pretrained")
    ]
    assert splits[0] == splits[1]
    scratch = json.loads(
        (tmp_path / "cmp/gin/scratch/seed_0/model/config.json").read_text()
    )
    assert scratch["pretraining"] is None


def test_context_rings_follow_bond_distances(esol):
    from rdkit import Chem

    from molmat.featurizers.graph import featurize
    from molmat.models.gnn import resolve_architecture
    from molmat.models.gnn.pretrain import (
        ContextNet,
        context_graph,
        context_sums,
        hops_from,
    )
    from molmat.tasks.pretrain import GRAPH_DIMS

    mols = [m for m in esol.mols if m.GetNumAtoms() >= 10][:4]
    graphs = featurize(mols)
    options = {"hidden": 16, "depth": 3, "dropout": 0.0, "head": []}
    net = ContextNet(
        resolve_architecture("gin", options), GRAPH_DIMS, key=jax.random.key(0)
    )
    batcher = net.batcher(graphs, 4)
    ((idx, budget),) = batcher.plan(graphs, np.arange(4))
    batch = batcher.batch(graphs, idx, budget)
    starts = np.concatenate([[0], np.cumsum(graphs.n_atoms)[:-1]])
    centers = np.zeros(batch.graph_mask.shape[0], np.int32)  # padded graphs: 0
    centers[:4] = starts + 2  # atom 2 of each molecule
    centers = jnp.asarray(centers)
    hops = np.asarray(hops_from(batch, centers, 6))
    for k, mol in enumerate(mols):
        expected = np.minimum(Chem.GetDistanceMatrix(mol)[2], 7)
        np.testing.assert_array_equal(
            hops[starts[k] : starts[k] + len(expected)], expected
        )
    ring = context_graph(batch, jnp.asarray(hops), 2, 5)
    inside = np.asarray(ring.node_mask)
    assert (inside == ((hops >= 2) & (hops <= 5))).all()
    assert not np.asarray(ring.atom_x)[~inside].any()
    total, count, right = context_sums(net, batch, jax.random.key(1), True)
    assert int(count) == 8 and np.isfinite(float(total)) and 0 <= int(right) <= 8


@pytest.mark.parametrize("objective", ["contrastive", "context"])
def test_other_objectives_pretrain_and_hand_their_encoder_on(esol, tmp_path, objective):
    from molmat import PropertyModel
    from molmat.tasks.pretrain import pretrain_graphs

    summary = pretrain_graphs(
        CORPUS,
        tmp_path / "run",
        objective=objective,
        hidden=16,
        depth=2,
        shard_size=600,
        epochs=1,
        batch_size=64,
        progress=False,
    )
    assert summary["objective"] == objective and np.isfinite(summary["val_loss"])
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    model = PropertyModel(
        model="gin", init=str(tmp_path / "run"), epochs=1, progress=False
    ).fit(esol.smiles[:40], esol.y[:40, 0])
    assert model.pretraining_["objective"] == objective
