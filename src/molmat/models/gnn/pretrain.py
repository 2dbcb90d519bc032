"""Self-supervised objectives for graph encoders.

**Attribute masking** (Hu et al., "Strategies for pre-training graph neural
networks", ICLR 2020). Each step picks ``rate`` of the real atoms of a batch
and blanks their whole feature row (element, degree, charge, hydrogens... all
zero), so nothing of a masked atom reaches the encoder through its own
features; the encoder's state of each masked atom then predicts its element
from the neighbourhood.

**Context prediction** (Hu et al. 2020). A random centre atom's state after
``depth`` layers (its ``depth``-hop neighbourhood) must recognise the
embedding of its own context (atoms ``depth - 1`` to ``depth + 2`` hops away,
encoded by a second, small network and pooled over the atoms the two share)
against the context of another molecule.

**Contrastive learning** (MolCLR, Wang et al. 2022). Two random views of each
molecule (atoms blanked, bonds deleted) are encoded, pooled and projected;
the NT-Xent loss pulls the two views of a molecule together and pushes the
other molecules of the batch away.

**Coordinate denoising** (Zaidi et al., "Pre-training via denoising for
molecular property prediction", ICLR 2023), for 3D encoders on ETKDG
conformers: positions move by Gaussian noise and the gradient of an
atom-wise scalar predicts the noise.

Every encoder initialises a property model (``PropertyModel(init=...)``).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from molmat.data.batching import Batcher, BatchingStrategy, GraphBatch
from molmat.data.graphs import GraphSet
from molmat.models.gnn.network import batching_strategy, build_encoder
from molmat.nn.core import MLP, Dense
from molmat.nn.readout import pool


class PretrainingNet(eqx.Module):
    """A network around a graph encoder that batches like its property
    network (subclasses hold ``encoder`` and ``batching``)."""

    def batcher(self, graphs: GraphSet, batch_size: int) -> Batcher:
        """How to batch ``graphs`` for this encoder."""
        return self.batching.batcher(graphs, batch_size)


def accuracy_loss(sums):
    """The training loss of an objective whose ``sums(model, batch, key,
    inference)`` give (summed loss, count, count right): the mean loss, and
    the accuracy as its one logged term."""

    def loss(model, g: GraphBatch, key) -> tuple[Array, Array]:
        total, count, right = sums(model, g, key, inference=False)
        n = jnp.maximum(count, 1)
        return total / n, jnp.stack([right / n])

    return loss


def pick_atoms(key: PRNGKeyArray, g: GraphBatch, rate: float) -> Bool[Array, " N"]:
    """A random ``rate`` of the real atoms [N] (at least one per batch with atoms)."""
    draw = jax.random.uniform(key, g.node_mask.shape)
    picked = g.node_mask & (draw < rate)
    first = jnp.argmin(jnp.where(g.node_mask, draw, jnp.inf))  # never none
    return picked.at[first].set(g.node_mask[first])


def mask_atoms(
    key: PRNGKeyArray, g: GraphBatch, rate: float = 0.15
) -> tuple[GraphBatch, Bool[Array, " N"]]:
    """The batch with the feature rows of the picked real atoms zeroed, and
    the picked atoms [N] (at least one per batch with atoms)."""
    picked = pick_atoms(key, g, rate)
    atom_x = jnp.where(picked[:, None], 0.0, g.atom_x)
    return g._replace(atom_x=atom_x), picked


class MaskedAtomNet(PretrainingNet):
    """A graph encoder and a linear layer from atom states to element logits."""

    encoder: eqx.Module
    out: Dense
    n_classes: int = eqx.field(static=True)
    rate: float = eqx.field(static=True)
    batching: BatchingStrategy = eqx.field(static=True)

    def __init__(
        self, arch: dict, dims: dict, rate: float = 0.15, *, key: PRNGKeyArray
    ):
        k_enc, k_out = jax.random.split(key)
        self.encoder = build_encoder(arch, dims, key=k_enc)
        self.n_classes = dims["atom_onehot"]
        self.out = Dense(arch["hidden"], self.n_classes, key=k_out)
        self.rate = rate
        self.batching = batching_strategy(arch)

    def __call__(
        self, g: GraphBatch, *, key=None, inference: bool = True
    ) -> Float[Array, "N C"]:
        """Element logits of every atom."""
        return self.out(self.encoder(g, key=key, inference=inference))

    def mask(self, key: PRNGKeyArray, g: GraphBatch):
        """The batch with ``rate`` of its atoms blanked, and those atoms [N]."""
        return mask_atoms(key, g, self.rate)

    def elements(self, g: GraphBatch) -> Int[Array, " N"]:
        """The class of each atom's element (its one-hot column)."""
        return jnp.argmax(g.atom_x[:, : self.n_classes], axis=-1)


def masked_atom_sums(
    model, g: GraphBatch, key: PRNGKeyArray, inference: bool
) -> tuple[Array, Array, Array]:
    """Summed cross-entropy (nats) of the masked atoms' elements, the number
    of masked atoms and how many of them are predicted right. ``model`` gives
    element logits [N, C] and has ``mask(key, g)`` and ``elements(g)``."""
    k_mask, k_drop = jax.random.split(key)
    masked, picked = model.mask(k_mask, g)
    logits = model(masked, key=k_drop, inference=inference)
    element = model.elements(g)
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, element[:, None], axis=-1)[:, 0]
    right = jnp.argmax(logits, axis=-1) == element
    return (
        jnp.where(picked, nll, 0.0).sum(),
        picked.sum(),
        (picked & right).sum(),
    )


masked_atom_loss = accuracy_loss(masked_atom_sums)


# -- contrastive learning (MolCLR, Wang et al., Nat. Mach. Intell. 2022) ---------


def augment(key: PRNGKeyArray, g: GraphBatch, rate: float = 0.25) -> GraphBatch:
    """A random view of every molecule of ``g``: the feature rows of ``rate``
    of the atoms blanked and ``rate`` of the bonds deleted (both directions;
    edges are stored as (u->v, v->u) pairs)."""
    k_atoms, k_bonds = jax.random.split(key)
    blank = jax.random.uniform(k_atoms, g.node_mask.shape) < rate
    drop = jax.random.uniform(k_bonds, (g.edge_mask.shape[0] // 2,)) < rate
    return g._replace(
        atom_x=jnp.where(blank[:, None], 0.0, g.atom_x),
        edge_mask=g.edge_mask & ~jnp.repeat(drop, 2),
    )


def nt_xent(
    z1: Float[Array, "G d"],
    z2: Float[Array, "G d"],
    rows: Bool[Array, " G"],
    temperature: float = 0.1,
) -> tuple[Array, Array, Array]:
    """Normalised-temperature cross-entropy of two views (SimCLR): each real
    view's positive is the other view of its molecule, its negatives every
    other real view. Returns the summed loss, the number of views scored and
    how many find their positive as nearest (top-1 retrieval)."""
    z = jnp.concatenate([z1, z2])
    z = z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), 1e-9)
    real = jnp.concatenate([rows, rows])
    n = z1.shape[0]
    logits = z @ z.T / temperature
    allowed = real[None, :] & ~jnp.eye(2 * n, dtype=bool)
    logits = jnp.where(allowed, logits, jnp.finfo(logits.dtype).min)
    partner = jnp.concatenate([jnp.arange(n) + n, jnp.arange(n)])
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -logp[jnp.arange(2 * n), partner]
    hit = jnp.argmax(logits, axis=-1) == partner
    return jnp.where(real, nll, 0.0).sum(), real.sum(), (real & hit).sum()


class ContrastiveNet(PretrainingNet):
    """A graph encoder, mean pooling and a projection MLP (MolCLR's head)."""

    encoder: eqx.Module
    project: MLP
    rate: float = eqx.field(static=True)
    temperature: float = eqx.field(static=True)
    batching: BatchingStrategy = eqx.field(static=True)

    def __init__(
        self,
        arch: dict,
        dims: dict,
        rate: float = 0.25,
        temperature: float = 0.1,
        *,
        key: PRNGKeyArray,
    ):
        k_enc, k_proj = jax.random.split(key)
        self.encoder = build_encoder(arch, dims, key=k_enc)
        self.project = MLP(arch["hidden"], arch["hidden"], 128, key=k_proj)
        self.rate, self.temperature = rate, temperature
        self.batching = batching_strategy(arch)

    def __call__(self, g: GraphBatch, *, key=None, inference: bool = True):
        """Projected embeddings of the molecules [G, 128]."""
        h = self.encoder(g, key=key, inference=inference)
        return self.project(pool(h, g, "mean"), inference=inference)


def contrastive_sums(
    model: ContrastiveNet, g: GraphBatch, key: PRNGKeyArray, inference: bool
) -> tuple[Array, Array, Array]:
    """NT-Xent sums of two random views of each molecule of ``g``."""
    k1, k2, k_drop1, k_drop2 = jax.random.split(key, 4)
    z1 = model(augment(k1, g, model.rate), key=k_drop1, inference=inference)
    z2 = model(augment(k2, g, model.rate), key=k_drop2, inference=inference)
    return nt_xent(z1, z2, g.graph_mask, model.temperature)


contrastive_loss = accuracy_loss(contrastive_sums)


# -- coordinate denoising (Zaidi et al., ICLR 2023) ------------------------------


class DenoisingNet(PretrainingNet):
    """A 3D graph encoder (SchNet) and an atom-wise scalar ``E = Σ_atoms
    w·h``; the predicted noise is ``∇E`` with respect to the positions, so
    it rotates with the molecule (the encoder itself is invariant)."""

    encoder: eqx.Module
    out: Dense
    sigma: float = eqx.field(static=True)
    batching: BatchingStrategy = eqx.field(static=True)

    def __init__(
        self, arch: dict, dims: dict, sigma: float = 0.1, *, key: PRNGKeyArray
    ):
        k_enc, k_out = jax.random.split(key)
        self.encoder = build_encoder(arch, dims, key=k_enc)
        self.out = Dense(arch["hidden"], 1, key=k_out)
        self.sigma = sigma
        self.batching = batching_strategy(arch)

    def __call__(
        self, g: GraphBatch, *, key=None, inference: bool = True
    ) -> Float[Array, "N 3"]:
        """The predicted (scaled) noise of every atom's position."""

        def energy(positions):
            h = self.encoder(
                g._replace(positions=positions), key=key, inference=inference
            )
            return jnp.sum(self.out(h)[:, 0] * g.node_mask)

        return jax.grad(energy)(g.positions)


def denoising_sums(
    model: DenoisingNet, g: GraphBatch, key: PRNGKeyArray, inference: bool
) -> tuple[Array, Array, Array]:
    """Positions moved by Gaussian noise of ``sigma`` Å; summed squared error
    of the predicted noise (in units of ``sigma``) over real atoms, the number
    of atoms, and the summed squared target (the error of predicting 0)."""
    k_noise, k_drop = jax.random.split(key)
    noise = jax.random.normal(k_noise, g.positions.shape) * g.node_mask[:, None]
    moved = g._replace(positions=g.positions + model.sigma * noise)
    predicted = model(moved, key=k_drop, inference=inference)
    error = jnp.sum((predicted - noise) ** 2, axis=-1) * g.node_mask
    return error.sum(), g.node_mask.sum(), jnp.sum(noise**2)


def denoising_loss(model, g: GraphBatch, key) -> tuple[Array, Array]:
    """Mean squared error of the predicted noise per atom; term: the share of
    the noise's variance explained."""
    total, count, target = denoising_sums(model, g, key, inference=False)
    return total / jnp.maximum(count, 1), jnp.stack(
        [1.0 - total / jnp.maximum(target, 1e-9)]
    )


# -- context prediction (Hu et al., ICLR 2020) -----------------------------------


def hops_from(g: GraphBatch, centers: Int[Array, " G"], most: int) -> Int[Array, " N"]:
    """Bond hops of every atom from its molecule's centre atom (``most + 1``
    beyond ``most`` hops, in another molecule or on padding)."""
    far, n = most + 1, g.node_mask.shape[0]
    hops = jnp.full((n,), far, jnp.int32)
    real = jnp.where(g.graph_mask, centers, n)  # padded graphs: out of range
    hops = hops.at[real].set(0, mode="drop")
    for _ in range(most):
        through = jnp.where(g.edge_mask, hops[g.senders] + 1, far)
        nearest = jax.ops.segment_min(through, g.receivers, hops.shape[0])
        hops = jnp.minimum(hops, nearest)
    return jnp.where(g.node_mask, hops, far)


def pick_centers(key: PRNGKeyArray, g: GraphBatch) -> Int[Array, " G"]:
    """One random real atom per molecule (node index; -1 for padded graphs)."""
    draw = jnp.where(g.node_mask, jax.random.uniform(key, g.node_mask.shape), -1.0)
    n_graphs = g.graph_mask.shape[0]
    best = jax.ops.segment_max(draw, g.node_graph, n_graphs)
    chosen = (draw == best[g.node_graph]) & g.node_mask
    index = jnp.arange(draw.shape[0])
    return jax.ops.segment_max(jnp.where(chosen, index, -1), g.node_graph, n_graphs)


def context_graph(
    g: GraphBatch, hops: Int[Array, " N"], inner: int, outer: int
) -> GraphBatch:
    """The context of each centre: atoms ``inner`` to ``outer`` hops away and
    the bonds between them; every other atom and bond is masked out."""
    inside = (hops >= inner) & (hops <= outer)
    edges = g.edge_mask & inside[g.senders] & inside[g.receivers]
    return g._replace(
        atom_x=jnp.where(inside[:, None], g.atom_x, 0.0),
        node_mask=inside,
        edge_mask=edges,
    )


class ContextNet(PretrainingNet):
    """The main encoder (``depth`` layers: a centre atom's state sees its
    ``depth``-hop neighbourhood) and a context encoder on the ring of atoms
    ``depth - 1`` to ``depth + 2`` hops away, pooled over the anchor atoms
    the two share (``depth - 1`` to ``depth`` hops)."""

    encoder: eqx.Module
    context: eqx.Module
    inner: int = eqx.field(static=True)
    outer: int = eqx.field(static=True)
    batching: BatchingStrategy = eqx.field(static=True)

    def __init__(
        self, arch: dict, dims: dict, strength: float = 0.0, *, key: PRNGKeyArray
    ):
        del strength  # no rate to set: the objective has no random corruption
        k_enc, k_ctx = jax.random.split(key)
        self.encoder = build_encoder(arch, dims, key=k_enc)
        self.inner, self.outer = arch["depth"] - 1, arch["depth"] + 2
        context_arch = {**arch, "depth": self.outer - self.inner}
        self.context = build_encoder(context_arch, dims, key=k_ctx)
        self.batching = batching_strategy(arch)

    def __call__(self, g: GraphBatch, centers, *, key=None, inference=True):
        """Centre embeddings [G, d], context embeddings [G, d] and whether
        each molecule has a context (anchor atoms) [G]."""
        k_enc, k_ctx = jax.random.split(key) if key is not None else (None, None)
        n_graphs = g.graph_mask.shape[0]
        h = self.encoder(g, key=k_enc, inference=inference)[centers]
        hops = hops_from(g, centers, self.outer)
        ring = context_graph(g, hops, self.inner, self.outer)
        states = self.context(ring, key=k_ctx, inference=inference)
        anchors = (ring.node_mask & (hops <= self.inner + 1)).astype(h.dtype)
        total = jax.ops.segment_sum(states * anchors[:, None], g.node_graph, n_graphs)
        count = jax.ops.segment_sum(anchors, g.node_graph, n_graphs)
        context = total / jnp.maximum(count, 1.0)[:, None]
        return h, context, g.graph_mask & (count > 0)


def context_sums(
    model: ContextNet, g: GraphBatch, key: PRNGKeyArray, inference: bool
) -> tuple[Array, Array, Array]:
    """Binary cross-entropy of telling each centre's own context from the
    next molecule's (negative sampling): summed loss, number of pairs scored,
    number classified right."""
    k_center, k_drop = jax.random.split(key)
    centers = pick_centers(k_center, g)
    h, context, usable = model(g, centers, key=k_drop, inference=inference)
    # negative of each usable molecule: the context of the next usable one
    order = jnp.argsort(~usable, stable=True)  # usable molecules first
    rank = jnp.argsort(order)
    n_usable = usable.sum()
    shifted = order[(rank + 1) % jnp.maximum(n_usable, 1)]
    positive = jnp.sum(h * context, axis=-1)
    negative = jnp.sum(h * context[shifted], axis=-1)
    pair = usable & (n_usable > 1)
    loss = jax.nn.softplus(-positive) + jax.nn.softplus(negative)
    right = (positive > 0).astype(h.dtype) + (negative < 0).astype(h.dtype)
    return (
        jnp.where(pair, loss, 0.0).sum(),
        2 * pair.sum(),
        jnp.where(pair, right, 0.0).sum(),
    )


context_loss = accuracy_loss(context_sums)
