import jax
import numpy as np
import pytest
from rdkit import Chem

from molmat.data.batching import Budget, make_batch
from molmat.featurizers.graph import ATOM_DIM, BOND_DIM, ELEMENT_ONEHOT, featurize
from molmat.models.gnn import build_model
from molmat.training.property import _forward, predict_outputs

MOLS = [
    "CC(=O)Nc1ccc(O)cc1",
    "C[C@H](N)C(=O)O",
    "c1ccc2ccccc2c1",
    "C",
    "[Na+].[Cl-]",
    "O=C(O)c1ccccc1OC(C)=O",
    "CCCCCCCCCCCCCCCC(=O)O",
]


def net(kind: str, readout: str = "sum", n_targets: int = 2):
    config = {
        "model": kind,
        "hidden": 24,
        "ffn_hidden": 16,
        "readout": readout,
        "depth": 3,
        "ffn_layers": 1,
        "dropout": 0.0,
        "mol_dim": 0,
        "atom_dim": ATOM_DIM,
        "atom_onehot": ELEMENT_ONEHOT,
        "bond_dim": BOND_DIM,
        "n_targets": n_targets,
    }
    return build_model(config, key=jax.random.key(1))


def alone(model, mol) -> np.ndarray:
    return predict_outputs(model, featurize([mol]), batch_size=1, n_targets=2)[0]


@pytest.mark.parametrize("kind", ["mpnn", "gcn"])
@pytest.mark.parametrize("readout", ["sum", "mean"])
def test_atom_renumbering_does_not_change_prediction(kind, readout):
    model = net(kind, readout)
    rng = np.random.default_rng(0)
    for smiles in MOLS:
        mol = Chem.MolFromSmiles(smiles)
        perm = rng.permutation(mol.GetNumAtoms()).tolist()
        shuffled = Chem.RenumberAtoms(mol, perm)
        np.testing.assert_allclose(alone(model, shuffled), alone(model, mol), atol=1e-5)


@pytest.mark.parametrize("kind", ["mpnn", "gcn"])
def test_prediction_alone_equals_prediction_in_any_batch(kind):
    model = net(kind)
    mols = [Chem.MolFromSmiles(s) for s in MOLS]
    graphs = featurize(mols)
    single = np.stack([alone(model, m) for m in mols])
    # whole set, default budgets
    np.testing.assert_allclose(predict_outputs(model, graphs, 64, 2), single, atol=1e-5)
    # shuffled order inside one generously padded batch
    order = np.random.default_rng(3).permutation(len(mols))
    batch = make_batch(
        graphs, order, Budget(nodes=256, edges=512, graphs=16), n_targets=2
    )
    out = np.asarray(_forward(model, batch))[: len(mols)]
    np.testing.assert_allclose(out, single[order], atol=1e-5)


def test_padding_never_reaches_real_graphs():
    """Garbage in padded rows must not change real outputs."""
    model = net("mpnn")
    graphs = featurize([Chem.MolFromSmiles(s) for s in MOLS[:3]])
    budget = Budget(nodes=96, edges=128, graphs=8)
    batch = make_batch(graphs, np.arange(3), budget, n_targets=2)
    noisy = batch._replace(
        atom_x=np.where(batch.node_mask[:, None], batch.atom_x, 7.0).astype(np.float32),
        bond_x=np.where(batch.edge_mask[:, None], batch.bond_x, -3.0).astype(
            np.float32
        ),
    )
    clean, dirty = (
        np.asarray(_forward(model, batch)),
        np.asarray(_forward(model, noisy)),
    )
    np.testing.assert_allclose(clean[:3], dirty[:3], atol=1e-6)


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="unknown model"):
        build_model(
            {"model": "nope", "atom_dim": 3, "bond_dim": 2, "n_targets": 1},
            key=jax.random.key(0),
        )


def test_onehot_dense_equals_dense():
    import equinox as eqx

    from molmat.nn.core import Dense, OneHotDense

    layer = OneHotDense(ATOM_DIM, 8, n_onehot=ELEMENT_ONEHOT, key=jax.random.key(4))
    stacked = np.concatenate([layer.onehot, layer.dense.weight])
    dense = eqx.tree_at(
        lambda d: d.weight, Dense(ATOM_DIM, 8, key=jax.random.key(0)), stacked
    )
    dense = eqx.tree_at(lambda d: d.bias, dense, layer.dense.bias)
    graphs = featurize([Chem.MolFromSmiles(s) for s in MOLS])
    x = np.concatenate(
        [graphs.atom_x, np.zeros((3, ATOM_DIM), np.float32)]
    )  # + padding
    np.testing.assert_allclose(layer(x), dense(x), atol=1e-5)
