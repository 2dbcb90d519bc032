"""The property-model checks of molmat.testing catch each kind of leak."""

import copy

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from molmat.data.batching import GraphBatch
from molmat.tasks.property import PropertyModel
from molmat.testing import (
    assert_atom_order_invariant,
    assert_batch_matches_single,
    assert_padding_invariant,
)

MOLS = ["CC(=O)Nc1ccc(O)cc1", "C", "[Na+].[Cl-]", "OCC1OC(O)CC1", "CCN(CC)CC"]


class Leaky(eqx.Module):
    """A network whose outputs depend on something other than the molecule."""

    net: eqx.Module
    leak: str = eqx.field(static=True)

    def __call__(self, g: GraphBatch, *, key=None, inference: bool = False):
        out = self.net(g, key=key, inference=inference)
        if self.leak == "first atom":  # the features of each molecule's atom 0
            weights = jnp.arange(g.atom_x.shape[1], dtype=g.atom_x.dtype)
            first = (g.node_slot == 0) & g.node_mask
            extra = jax.ops.segment_sum(
                (g.atom_x @ weights) * first, g.node_graph, g.n_graphs
            )
        elif self.leak == "padding":  # the number of padded atoms
            extra = jnp.full(g.n_graphs, 1e-3 * (~g.node_mask).sum())
        else:  # the other molecules of the batch
            extra = jnp.full(
                g.n_graphs, 1e-3 * jnp.sum(g.atom_x * g.node_mask[:, None])
            )
        return out + extra[:, None]

    def batcher(self, graphs, batch_size: int):
        return self.net.batcher(graphs, batch_size)


@pytest.fixture(scope="module")
def model(esol):
    return PropertyModel(
        model="gcn",
        hidden=16,
        depth=2,
        ffn_hidden=16,
        epochs=1,
        batch_size=4,
        val_fraction=0,
        progress=False,
    ).fit(esol.smiles[:8], esol.y[:8])


def leaking(model, leak: str) -> PropertyModel:
    broken = copy.copy(model)
    broken.net_ = Leaky(model.net_, leak)
    return broken


def test_a_model_reading_atom_order_fails(model):
    broken = leaking(model, "first atom")
    with pytest.raises(AssertionError, match=r"atoms renumbered: molecule \d \('"):
        assert_atom_order_invariant(broken, MOLS)


def test_a_model_reading_padding_fails(model):
    broken = leaking(model, "padding")
    assert_atom_order_invariant(broken, MOLS)  # same batches: no padding differs
    with pytest.raises(AssertionError, match="batch size 3: molecule .* deviation"):
        assert_padding_invariant(broken, MOLS)


def test_a_model_reading_other_molecules_fails(model):
    broken = leaking(model, "batch")
    with pytest.raises(AssertionError, match="batched: molecule"):
        assert_batch_matches_single(broken, MOLS)


def test_the_checks_refuse_molecules_they_cannot_predict(model):
    with pytest.raises(ValueError, match=r"molecule 1 \('C1CC\('\) could not"):
        assert_padding_invariant(model, ["CCO", "C1CC("])
