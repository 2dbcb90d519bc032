import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from rdkit import Chem

from molmat.data.batching import (
    BatchingStrategy,
    Budget,
    ladder,
    make_batch,
    plan_batches,
    size_classes,
)
from molmat.featurizers.conformers import ConformerOptions
from molmat.featurizers.graph import featurize

SMILES = ["CCO", "c1ccccc1", "C", "CC(=O)Nc1ccc(O)cc1", "[Na+].[Cl-]", "CCCCCCCCCC"]


@given(st.integers(1, 100_000))
def test_ladder_rounds_up_by_at_most_one_sixteenth(n):
    b = ladder(n)
    assert b >= n and b % 2 == 0
    assert b <= max(32, n * 1.0625 + 1)


def test_batches_respect_budget_and_cover_everything():
    graphs = featurize([Chem.MolFromSmiles(s) for s in SMILES * 5])
    budget = Budget.for_data(graphs, batch_size=4)
    order = np.random.default_rng(0).permutation(len(graphs))
    plan = plan_batches(graphs, order, budget)
    np.testing.assert_array_equal(np.concatenate(plan), order)
    for idx in plan:
        assert len(idx) <= budget.graphs - 1
        assert graphs.n_atoms[idx].sum() <= budget.nodes - 1
        assert graphs.n_edges[idx].sum() <= budget.edges


def test_padded_batch_layout():
    graphs = featurize([Chem.MolFromSmiles(s) for s in SMILES])
    budget = Budget(nodes=64, edges=64, graphs=8)
    y = np.arange(len(SMILES), dtype=np.float32)[:, None]
    y[2] = np.nan
    b = make_batch(graphs, np.array([1, 2, 0]), budget, y)
    n_real = 6 + 1 + 3
    assert b.node_mask.sum() == n_real and b.edge_mask.sum() == 12 + 0 + 4
    assert list(b.graph_mask) == [True] * 3 + [False] * 5
    np.testing.assert_array_equal(b.node_graph[:n_real], [0] * 6 + [1] + [2] * 3)
    assert (b.node_graph[n_real:] == budget.graphs - 1).all()
    assert (b.senders[~b.edge_mask] == budget.nodes - 1).all()
    # every real edge stays inside its own molecule
    g_of = b.node_graph
    real = b.edge_mask
    np.testing.assert_array_equal(g_of[b.senders[real]], g_of[b.receivers[real]])
    assert list(b.y_mask[:3, 0]) == [True, False, True]
    assert b.y[0, 0] == 1.0 and b.y[2, 0] == 0.0


def test_size_classes_double_from_32_atoms():
    n_atoms = np.array([1, 32, 33, 64, 65, 128, 129, 388])
    np.testing.assert_array_equal(size_classes(n_atoms), [0, 0, 1, 1, 2, 2, 3, 4])


def test_batcher_by_size_keeps_size_classes_apart_and_covers_everything():
    smiles = SMILES * 5 + ["C" * 40] * 3 + ["C" * 70]  # classes 0, 1 and 2
    graphs = featurize([Chem.MolFromSmiles(s) for s in smiles])
    order = np.random.default_rng(0).permutation(len(graphs))
    batcher = BatchingStrategy(by_size=True).batcher(graphs, batch_size=4)
    assert sorted(batcher.budgets) == [0, 1, 2]
    plan = batcher.plan(graphs, order)
    np.testing.assert_array_equal(
        np.sort(np.concatenate([idx for idx, _ in plan])), np.arange(len(graphs))
    )
    position = np.argsort(order)
    for idx, budget in plan:
        (cls,) = np.unique(batcher.classes[idx])
        assert budget == batcher.budgets[cls]
        assert graphs.n_atoms[idx].max() <= budget.slots
        assert graphs.n_atoms[idx].sum() <= budget.nodes - 1
        np.testing.assert_array_equal(np.sort(position[idx]), position[idx])
    firsts = [position[idx[0]] for idx, _ in plan]
    assert firsts == sorted(firsts)  # the shuffle mixes the classes
    # small molecules are no longer padded to the 70-atom chain
    assert batcher.budgets[0].slots <= 32
    assert BatchingStrategy().batcher(graphs, batch_size=4).budgets[0].slots >= 70


def test_batcher_without_size_classes_is_one_budget():
    graphs = featurize([Chem.MolFromSmiles(s) for s in SMILES + ["C" * 40]])
    batcher = BatchingStrategy().batcher(graphs, batch_size=4)
    assert list(batcher.budgets) == [0] and not batcher.classes.any()
    order = np.arange(len(graphs))
    expected = plan_batches(graphs, order, Budget.for_data(graphs, 4))
    got = [idx for idx, _ in batcher.plan(graphs, order)]
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_radius_graph_lists_exactly_the_close_pairs():
    smiles = ["CC(=O)Nc1ccc(O)cc1", "CCCCCCCCCC", "C", "OCC1OC(O)CC1"]
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    graphs = featurize(mols, conformers=ConformerOptions(n=1))
    cutoff = 4.0
    batcher = BatchingStrategy(radius=cutoff).batcher(graphs, batch_size=8)
    counts = batcher.pairs.n_pairs
    ((idx, budget),) = batcher.plan(graphs, np.arange(len(graphs)))
    batch = batcher.batch(graphs, idx, budget)
    pairs = set()
    for m in range(len(graphs)):
        start = graphs.atom_offsets[m]
        pos = graphs.positions[start : start + graphs.n_atoms[m]]
        dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
        a, b = np.nonzero((dist < cutoff) & ~np.eye(len(pos), dtype=bool))
        assert len(a) == counts[m]
        pairs |= set(zip((a + start).tolist(), (b + start).tolist(), strict=True))
    real = batch.pair_mask
    listed = set(
        zip(batch.pair_i[real].tolist(), batch.pair_j[real].tolist(), strict=True)
    )
    assert listed == pairs and real.sum() == len(pairs)
    assert 0 < counts.sum() < (graphs.n_atoms * (graphs.n_atoms - 1)).sum()
