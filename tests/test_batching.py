import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from rdkit import Chem

from molmat.data.batching import Budget, ladder, make_batch, plan_batches
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
