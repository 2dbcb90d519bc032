"""Every graph network: invariances, padding, archives, architecture files."""

import dataclasses

import jax
import numpy as np
import pytest
from rdkit import Chem
from scipy.spatial.transform import Rotation

from molmat.data.batching import Budget, make_batch
from molmat.featurizers.conformers import ConformerOptions
from molmat.featurizers.graph import ATOM_DIM, BOND_DIM, ELEMENT_ONEHOT, featurize
from molmat.models.gnn import ENCODERS, LAYERS, ArchitectureError, build_model
from molmat.models.gnn.config import resolve_architecture
from molmat.tasks.archives import load
from molmat.tasks.property import PropertyModel
from molmat.testing import check_property_model
from molmat.training.property import _forward, predict_outputs

MOLS = ["CC(=O)Nc1ccc(O)cc1", "C[C@H](N)C(=O)O", "C", "[Na+].[Cl-]", "OCC1OC(O)CC1"]
# every named model, plus the graph transformer with its 3D distance bias
MODELS = [*LAYERS, "transformer3d"]
TRANSFORMER3D = {"layer": "transformer", "positions": True}
SLOW_TO_FIT = ("attentivefp", "transformer", "transformer3d")


def fitted_params(layers):
    """``layers`` as parameters of the ``fitted`` fixture, the slow ones marked."""
    return [
        pytest.param(k, marks=pytest.mark.slow) if k in SLOW_TO_FIT else k
        for k in layers
    ]


TINY = dict(hidden=8, depth=2, ffn_hidden=8, batch_size=6, progress=False)


def spec(layer: str) -> str | dict:
    """The ``model`` argument of a name of :data:`MODELS`."""
    return TRANSFORMER3D if layer == "transformer3d" else layer


def network(layer: str, **arch):
    options = {"hidden": 8, "depth": 2, "dropout": 0.0, "head": [8], **arch}
    config = {
        **resolve_architecture(spec(layer), options),
        "atom_dim": ATOM_DIM,
        "atom_onehot": ELEMENT_ONEHOT,
        "bond_dim": BOND_DIM,
        "mol_dim": 0,
        "n_targets": 2,
    }
    if "heads" in config:
        config["heads"] = 2
    return build_model(config, key=jax.random.key(3))


@pytest.fixture(scope="module")
def graphs():
    mols = [Chem.MolFromSmiles(s) for s in MOLS]
    return featurize(mols, conformers=ConformerOptions(n=1))


def alone(net, graphs, i: int) -> np.ndarray:
    return predict_outputs(net, graphs.subset([i]), batch_size=1, n_targets=2)[0]


def with_positions(graphs, positions):
    return dataclasses.replace(graphs, positions=positions.astype(np.float32))


@pytest.mark.parametrize("layer", MODELS)
def test_renumbering_atoms_does_not_change_prediction(layer, graphs):
    net = network(layer)
    rng = np.random.default_rng(0)
    for i, smiles in enumerate(MOLS):
        mol = Chem.MolFromSmiles(smiles)
        perm = rng.permutation(mol.GetNumAtoms())
        shuffled = featurize([Chem.RenumberAtoms(mol, perm.tolist())])
        one = graphs.subset([i])
        shuffled = with_positions(shuffled, one.positions[perm])
        np.testing.assert_allclose(
            predict_outputs(net, shuffled, 1, 2)[0], alone(net, graphs, i), atol=1e-5
        )


@pytest.mark.parametrize("layer", MODELS)
def test_prediction_alone_equals_prediction_in_any_padded_batch(layer, graphs):
    net = network(layer)
    single = np.stack([alone(net, graphs, i) for i in range(len(MOLS))])
    np.testing.assert_allclose(predict_outputs(net, graphs, 64, 2), single, atol=1e-5)
    order = np.random.default_rng(1).permutation(len(MOLS))
    pairs = net.batcher(graphs, 64).pairs  # SchNet's radius graphs, else None
    n_pairs = 0 if pairs is None else int(pairs.n_pairs.sum())
    budget = Budget(nodes=128, edges=160, graphs=9, atoms=40, pairs=n_pairs + 7)
    batch = make_batch(graphs, order, budget, n_targets=2, pairs=pairs)
    noisy = batch._replace(  # garbage in padded rows must not reach real molecules
        atom_x=np.where(batch.node_mask[:, None], batch.atom_x, 5.0).astype(np.float32),
        bond_x=np.where(batch.edge_mask[:, None], batch.bond_x, -2.0).astype(
            np.float32
        ),
        positions=np.where(batch.node_mask[:, None], batch.positions, 0.3).astype(
            np.float32
        ),
    )
    out = np.asarray(_forward(net, noisy))[: len(MOLS)]
    np.testing.assert_allclose(out, single[order], atol=1e-5)


@pytest.mark.parametrize("layer", MODELS)
def test_rotating_reflecting_and_translating_molecules_does_not_change_prediction(
    layer, graphs
):
    """Every model reads distances at most, so E(3) including mirrors leaves
    its outputs unchanged."""
    net = network(layer)
    before = predict_outputs(net, graphs, 64, 2)
    rotation = Rotation.random(random_state=4).as_matrix()
    mirror = np.diag([1.0, -1.0, 1.0]) @ rotation
    for matrix in (rotation, mirror):
        moved = with_positions(graphs, graphs.positions @ matrix.T + [3.0, -7.0, 11.0])
        np.testing.assert_allclose(
            predict_outputs(net, moved, 64, 2), before, atol=1e-5
        )


@pytest.mark.parametrize("layer", [k for k in LAYERS if k != "mpnn"])
def test_node_layer_maps_atom_states_to_atom_states(layer, graphs):
    batch = make_batch(graphs, np.arange(3), Budget(64, 64, 4, atoms=16), n_targets=2)
    options = {"heads": 2} if layer in ("gat", "transformer") else {}
    module = ENCODERS[layer](8, BOND_DIM, **options, key=jax.random.key(0))
    h = jax.random.normal(jax.random.key(1), (64, 8)) * batch.node_mask[:, None]
    out = module(h, batch, module.prepare(batch))
    assert out.shape == (64, 8) and np.isfinite(np.asarray(out)).all()
    assert np.abs(np.asarray(out)[batch.node_mask]).max() > 0


@pytest.mark.parametrize("layer", ["schnet", "transformer3d"])
def test_3d_models_read_geometry(layer, graphs):
    net = network(layer)
    before = predict_outputs(net, graphs, 64, 2)
    stretched = with_positions(graphs, graphs.positions * 1.3)
    assert np.abs(predict_outputs(net, stretched, 64, 2) - before)[:2].max() > 1e-4


@pytest.mark.parametrize("layer", [pytest.param("gin", marks=pytest.mark.slow), "mpnn"])
def test_batch_norm_keeps_padding_invariance_after_training(layer, esol_small):
    X, y = esol_small
    model = PropertyModel(
        model={"layer": layer, "norm": "batch"}, epochs=1, val_fraction=0, **TINY
    ).fit(X, y)
    single = np.array([model.predict([s])[0] for s in X[:4]])
    # compared in the network's standardised units, like the other padding tests
    np.testing.assert_allclose(
        model.predict(X[:4]) / model.y_scaler_.std,
        single / model.y_scaler_.std,
        atol=1e-5,
    )


@pytest.fixture(scope="module")
def esol_small(esol):
    return esol.smiles[:12], esol.y[:12]


@pytest.fixture(scope="module")
def fitted(request, esol_small):
    """Each model of :data:`MODELS` fitted for one epoch (shared, read-only)."""
    X, y = esol_small
    return PropertyModel(
        model=spec(request.param), epochs=1, val_fraction=0, **TINY
    ).fit(X, y)


@pytest.mark.parametrize("fitted", fitted_params(LAYERS), indirect=True)
def test_named_models_train_compile_once_and_reload_identically(
    fitted, esol_small, tmp_path
):
    X, _ = esol_small
    assert fitted.history_.compilations == 1
    fitted.save(tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m").predict(X), fitted.predict(X))


@pytest.mark.parametrize("fitted", fitted_params(MODELS), indirect=True)
def test_fitted_models_pass_the_property_checks(fitted):
    """Atom order, batching and padding (with a second size class) never change
    a prediction of a trained model, end to end from SMILES."""
    check_property_model(fitted, MOLS)


@pytest.mark.parametrize(
    ("layer", "classes"),
    [
        pytest.param("schnet", 2, marks=pytest.mark.slow),
        pytest.param("transformer", 2, marks=pytest.mark.slow),
        ("gin", 1),
    ],
)
def test_pairwise_models_batch_by_size_and_compile_once_per_size_class(
    layer, classes, esol_small
):
    X, y = esol_small
    X = [*X, "C" * 40]  # a 40-atom chain: the second size class
    y = np.append(y, [[-8.0]], axis=0)
    model = PropertyModel(model=layer, epochs=1, val_fraction=0, **TINY).fit(X, y)
    assert model.history_.size_classes == classes
    assert model.history_.compilations == classes
    single = np.array([model.predict([s])[0] for s in X])
    np.testing.assert_allclose(
        model.predict(X) / model.y_scaler_.std, single / model.y_scaler_.std, atol=1e-5
    )


ARCHITECTURE = """\
layer: gat
hidden: 16
depth: 2
heads: 4
readout: attention
norm: batch
residual: true
dropout: 0.1
head: [16, 8]
"""


@pytest.mark.slow
def test_architecture_file_builds_trains_and_reloads(esol_small, tmp_path):
    path = tmp_path / "arch.yaml"
    path.write_text(ARCHITECTURE)
    X, y = esol_small
    model = PropertyModel(model=str(path), epochs=2, val_fraction=0, **TINY).fit(X, y)
    losses = [r["train_loss"] for r in model.history_.records]
    assert np.isfinite(losses).all() and model.history_.compilations == 1
    net = model.net_
    assert net.head.layers[0].weight.shape == (16 + 17, 16)  # readout + physchem
    assert net.head.layers[1].weight.shape == (16, 8)
    model.save(tmp_path / "m")
    path.unlink()  # the archive must not need the file
    reloaded = load(tmp_path / "m")
    np.testing.assert_array_equal(reloaded.predict(X), model.predict(X))


def test_json_architecture_file_matches_yaml(tmp_path):
    (tmp_path / "a.json").write_text('{"layer": "gin", "hidden": 12, "depth": 1}')
    arch = resolve_architecture(str(tmp_path / "a.json"), {"hidden": 99, "depth": 5})
    assert (arch["hidden"], arch["depth"], arch["layer"]) == (12, 1, "gin")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("layer: gin\nwidth: 3\n", "unknown key(s) ['width']"),
        ("layer: resnet\n", "unknown layer 'resnet'"),
        ("hidden: 8\n", "'layer' is required"),
        ("layer: gin\nnorm: group\n", "unknown norm 'group'"),
        ("layer: gin\nhidden: many\n", "hidden must be int"),
        ("layer: gat\nhidden: 10\nheads: 4\n", "multiple of heads"),
        ("layer: mpnn\nresidual: true\n", "residual must be false"),
        ("layer: gin\npositions: true\n", "positions is a transformer option"),
        ("layer: [gin\n", "not valid yaml"),
    ],
)
def test_bad_architecture_file_is_reported_with_its_name(text, message, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ArchitectureError, match="bad.yaml") as err:
        resolve_architecture(str(path), {"hidden": 8, "depth": 2})
    assert message in str(err.value)


def test_unknown_model_name_is_rejected():
    with pytest.raises(ArchitectureError, match="unknown model 'nope'"):
        resolve_architecture("nope", {})


def test_small_gin_overfits_a_tiny_dataset(esol):
    X, y = esol.smiles[:16], esol.y[:16]
    model = PropertyModel(
        model="gin",
        hidden=32,
        ffn_hidden=32,
        epochs=150,
        batch_size=16,
        max_lr=3e-3,
        final_lr=1e-3,
        mol_features=None,
        val_fraction=0,
        progress=False,
    ).fit(X, y)
    rmse = np.sqrt(np.mean((model.predict(X) - y[:, 0]) ** 2))
    assert rmse < 0.1 * np.std(y)
