"""Readouts, segment softmax, shortest paths and normalisation layers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rdkit import Chem

from molmat.data.batching import Budget, make_batch
from molmat.featurizers.graph import featurize
from molmat.nn.blocks import from_blocks, shortest_paths, to_blocks
from molmat.nn.graph import segment_softmax
from molmat.nn.norm import BatchNorm, LayerNorm
from molmat.nn.readout import READOUTS, make_readout, readout_dim

SMILES = ["CCO", "c1ccccc1O", "C", "CC(=O)Nc1ccc(O)cc1", "[Na+].[Cl-]"]


@pytest.fixture(scope="module")
def batch():
    graphs = featurize([Chem.MolFromSmiles(s) for s in SMILES])
    return make_batch(graphs, np.arange(len(SMILES)), Budget(64, 64, 8, atoms=16))


def states(batch, dim=6, seed=0):
    h = np.random.default_rng(seed).normal(size=(batch.node_mask.shape[0], dim))
    return jnp.asarray(h, jnp.float32)


@pytest.mark.parametrize("kind", READOUTS)
def test_readout_ignores_padding_and_atom_order(kind, batch):
    readout = make_readout(kind, 6, key=jax.random.key(0))
    h = states(batch)
    out = readout(h, batch)
    assert out.shape == (batch.graph_mask.shape[0], readout_dim(kind, 6))
    garbage = jnp.where(batch.node_mask[:, None], h, 100.0)
    np.testing.assert_allclose(readout(garbage, batch)[:5], out[:5], atol=1e-5)
    # reverse the atoms of the benzene ring molecule (graph 1, nodes 3..9)
    perm = np.arange(len(h))
    perm[3:10] = perm[3:10][::-1]
    np.testing.assert_allclose(readout(h[perm], batch)[:5], out[:5], atol=1e-5)


def test_pooling_matches_numpy(batch):
    h = states(batch)
    real = np.asarray(h)[batch.node_mask]
    groups = np.split(real, np.cumsum([3, 7, 1, 11]))[:4]
    for kind, fn in (("sum", np.sum), ("mean", np.mean), ("max", np.max)):
        out = np.asarray(make_readout(kind, 6, key=jax.random.key(0))(h, batch))
        expected = np.stack([fn(x, axis=0) for x in groups])
        np.testing.assert_allclose(out[:4], expected, atol=1e-5)


def test_attention_readout_is_a_weighted_mean(batch):
    readout = make_readout("attention", 6, key=jax.random.key(1))
    constant = jnp.ones((batch.node_mask.shape[0], 6)) * batch.node_mask[:, None]
    out = readout(constant, batch)
    expected = readout.value(jnp.ones((1, 6)))
    np.testing.assert_allclose(out[:5], jnp.broadcast_to(expected, (5, 6)), atol=1e-5)


def test_segment_softmax_sums_to_one_per_segment():
    logits = jnp.array([[1.0], [2.0], [50.0], [3.0], [-4.0]])
    ids = jnp.array([0, 0, 0, 2, 2])
    mask = jnp.array([True, True, False, True, True])
    alpha = segment_softmax(logits, ids, 3, mask)
    assert alpha[2, 0] == 0.0
    np.testing.assert_allclose(jax.ops.segment_sum(alpha, ids, 3)[:, 0], [1, 0, 1])


def test_shortest_paths_match_rdkit(batch):
    spd = np.asarray(shortest_paths(batch, 6))
    for g, smiles in enumerate(SMILES):
        mol = Chem.MolFromSmiles(smiles)
        expected = np.minimum(Chem.GetDistanceMatrix(mol), 6)  # 1e8 if unconnected
        n = mol.GetNumAtoms()
        np.testing.assert_array_equal(spd[g, :n, :n], expected)


def test_blocks_round_trip(batch):
    h = states(batch)
    back = from_blocks(to_blocks(h, batch), batch)
    np.testing.assert_array_equal(
        np.asarray(back)[batch.node_mask], np.asarray(h)[batch.node_mask]
    )


def test_batch_norm_uses_real_rows_only_and_stored_stats_at_inference():
    x = jnp.array([[1.0, 2.0], [3.0, 6.0], [100.0, -50.0]])
    mask = jnp.array([True, True, False])
    norm = BatchNorm(2)
    out = norm(x, mask)
    np.testing.assert_allclose(out[:2], [[-1, -1], [1, 1]], atol=1e-3)
    calibrated = norm.with_stats(jnp.array([2.0, 4.0]), jnp.array([1.0, 4.0]))
    alone = calibrated(x[:1], mask[:1], inference=True)
    np.testing.assert_allclose(alone, [[-1.0, -1.0]], atol=1e-4)
    np.testing.assert_allclose(calibrated(x, mask, inference=True)[:1], alone)


def test_layer_norm_normalises_each_row():
    out = LayerNorm(4)(jnp.array([[1.0, 2.0, 3.0, 4.0]]), jnp.array([True]))
    np.testing.assert_allclose([out.mean(), out.std()], [0.0, 1.0], atol=1e-3)
