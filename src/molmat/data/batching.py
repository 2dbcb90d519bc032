"""Padded graph batches with static shapes (Decision 1).

One batch type, :class:`GraphBatch`, for 2D molecules, conformers and
(periodic) structures: property networks, potentials and molecular dynamics
read it. Molecules are packed greedily, in the given order, into batches of at most
``batch_size`` graphs whose total atoms and edges fit fixed budgets. Budgets
are rounded up on a coarse ladder (sixteen steps per power of two), so a
whole training run uses one shape and prediction on any data set reuses a
handful. How a model family batches is a :class:`BatchingStrategy` it
chooses: networks whose cost grows with each molecule's atom pairs batch
molecules of similar size together (one shape per size class), so one large
molecule does not pad every batch to its size, and 3D networks read a radius
graph of each conformer built by the potentials' neighbour-list code
(:mod:`molmat.data.radius`).

Padding layout: the last graph of a batch and its last node are padding.
Padded nodes belong to the padding graph; padded edges start and end at the
last node. Masks mark real entries. Edges keep the pairing of
:mod:`molmat.featurizers.graph`: the reverse of edge ``e`` is ``e ^ 1``.

Atom pairs (for 3D models): ``pair_i``/``pair_j`` list the radius graph, the
ordered atom pairs of the same graph closer than the strategy's cutoff (none
without one), with the integer image offsets ``pair_shift`` of periodic
structures, so that::

    r_ij = positions[pair_j] - positions[pair_i] + pair_shift @ cell[graph of i]

(:func:`pair_vectors`); periodic images need no copied atoms, and a strain
applied to ``positions`` and ``cell`` together gives the stress. An atom may
pair with its own image. Padded pairs join the last node to itself.

Dense per-molecule layout: node ``i`` is slot ``node_slot[i]`` of its graph,
so ``blocks[node_graph, node_slot]`` places atoms into ``[G, A, ...]`` blocks
(A = ``Budget.atoms``, the largest molecule) for attention over all atom pairs
of a molecule; ``slot_mask`` marks real slots. Padded nodes take slot 0 of the
padding graph.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from molmat.data.graphs import GraphSet, concat_ranges
from molmat.data.radius import RadiusGraphs, radius_graphs


class GraphBatch(NamedTuple):
    """A padded batch of graphs (a pytree of arrays).

    Shapes use N = node budget, E = edge (bond) budget, P = pair budget,
    G = graph budget, A = atom slots, T = targets. Units: Å, eV, eV/Å,
    eV/Å^3. Fields a kind of graph lacks are zeros (``atom_x`` of a crystal
    has 0 columns; a 2D molecule has no pairs).
    """

    atom_x: np.ndarray  # [N, F] float32 atom features (F may be 0)
    bond_x: np.ndarray  # [E, B] float32
    senders: np.ndarray  # [E] int32, batch-global node index
    receivers: np.ndarray  # [E] int32
    node_graph: np.ndarray  # [N] int32, graph of each node
    node_mask: np.ndarray  # [N] bool
    edge_mask: np.ndarray  # [E] bool
    graph_mask: np.ndarray  # [G] bool
    mol_x: np.ndarray  # [G, D] float32 whole-molecule features (D may be 0)
    y: np.ndarray  # [G, T] float32, 0 where missing
    y_mask: np.ndarray  # [G, T] bool, True where a label exists
    positions: np.ndarray  # [N, 3] float32 atom positions in Å, 0 without 3D
    node_slot: np.ndarray  # [N] int32, index of each node inside its molecule
    slot_mask: np.ndarray  # [G, A] bool, True for slots holding a real atom
    pair_i: np.ndarray  # [P] int32, atom i of each radius-graph pair
    pair_j: np.ndarray  # [P] int32, its partner j (or j's periodic image)
    pair_mask: np.ndarray  # [P] bool
    pair_shift: np.ndarray  # [P, 3] float, integer image offsets of pair_j
    species: np.ndarray  # [N] int32 atomic numbers, 0 for padding or unknown
    cell: np.ndarray  # [G, 3, 3] float, rows are lattice vectors; 0 if not periodic
    forces: np.ndarray  # [N, 3] float, eV/Å, 0 where unknown
    stress: np.ndarray  # [G, 3, 3] float, eV/Å^3, 0 where unknown
    has_forces: np.ndarray  # [G] bool
    has_stress: np.ndarray  # [G] bool
    # [N, K] int32 radius-graph pairs starting at each atom (K = the most any
    # atom has); slots beyond an atom's pairs hold P (out of range). Empty
    # unless the batching strategy asks for pair lists.
    pair_list: np.ndarray = np.zeros((0, 0), np.int32)

    @property
    def n_graphs(self) -> int:
        return self.graph_mask.shape[0]

    @property
    def row_mask(self) -> np.ndarray:
        """[G] bool: the real graphs (what every labelled batch calls its rows)."""
        return self.graph_mask


def ladder(n: int) -> int:
    """Round ``n`` up to a bucket: 32, 34, ..., 62, 64, 68, ..., 124, 128, 136, ...

    Sixteen buckets per power of two: at most 6.25% padding, few distinct shapes.
    """
    n = max(int(n), 32)
    step = (1 << (n.bit_length() - 1)) // 16
    return -(-n // step) * step


@dataclass(frozen=True)
class Budget:
    """Static batch shape: node, edge and graph counts including padding.

    ``atoms`` is the number of slots per molecule in the dense per-molecule
    layout (the largest molecule, rounded up; ``None``: ``nodes - 1``),
    ``pairs`` the number of radius-graph pairs (0: no pair list) and
    ``pair_slots`` the width K of each atom's list of pairs (0: no lists).
    """

    nodes: int
    edges: int
    graphs: int
    atoms: int | None = None
    pairs: int = 0
    pair_slots: int = 0

    @property
    def slots(self) -> int:
        """Atom slots per molecule, A."""
        return self.atoms or self.nodes - 1

    @classmethod
    def for_data(
        cls, graphs: GraphSet, batch_size: int, headroom: float = 1.05
    ) -> Budget:
        """Budgets for batches of ``batch_size`` molecules drawn from ``graphs``."""
        return cls.for_sizes(graphs.n_atoms, graphs.n_edges, batch_size, headroom)

    @classmethod
    def for_sizes(
        cls,
        n_atoms: np.ndarray,
        n_edges: np.ndarray,
        batch_size: int,
        headroom: float = 1.05,
        n_pairs: np.ndarray | None = None,
    ) -> Budget:
        """Budgets for batches of ``batch_size`` molecules of these sizes [n].

        ``n_pairs`` [n]: radius-graph pairs per molecule (None: no pair list).
        """
        per_batch = max(1, min(batch_size, len(n_atoms)))
        mean_atoms = float(n_atoms.mean()) if len(n_atoms) else 1.0
        mean_edges = float(n_edges.mean()) if len(n_atoms) else 0.0
        biggest_atoms = int(n_atoms.max(initial=1))
        biggest_edges = int(n_edges.max(initial=0))
        if per_batch == 1:
            headroom = 1.0
        nodes = max(np.ceil(per_batch * mean_atoms * headroom), biggest_atoms) + 1
        edges = max(np.ceil(per_batch * mean_edges * headroom), biggest_edges)
        atoms = min(ladder(biggest_atoms), ladder(nodes) - 1)
        pairs = 0
        if n_pairs is not None and len(n_pairs):
            mean_pairs = float(n_pairs.mean())
            pairs = ladder(
                max(np.ceil(per_batch * mean_pairs * headroom), n_pairs.max())
            )
        return cls(ladder(nodes), ladder(edges), per_batch + 1, atoms, pairs)


def plan_batches(
    graphs: GraphSet,
    order: np.ndarray,
    budget: Budget,
    n_pairs: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Cut ``order`` into consecutive runs of molecules that fit ``budget``.

    ``n_pairs`` [n_mols]: radius-graph pairs per molecule (None: no pair list).
    """
    atoms = np.concatenate([[0], np.cumsum(graphs.n_atoms[order], dtype=np.int64)])
    edges = np.concatenate([[0], np.cumsum(graphs.n_edges[order], dtype=np.int64)])
    if n_pairs is None:
        n_pairs = np.zeros(len(graphs.n_atoms), np.int64)
    pairs = np.concatenate([[0], np.cumsum(n_pairs[order], dtype=np.int64)])
    cap_graphs = budget.graphs - 1
    out, start = [], 0
    while start < len(order):
        end = min(
            start + cap_graphs,
            np.searchsorted(atoms, atoms[start] + budget.nodes - 1, side="right") - 1,
            np.searchsorted(edges, edges[start] + budget.edges, side="right") - 1,
            np.searchsorted(pairs, pairs[start] + budget.pairs, side="right") - 1,
        )
        if end <= start:
            raise ValueError(
                f"molecule {order[start]} ({graphs.n_atoms[order[start]]} atoms) "
                f"does not fit the batch budget {budget}"
            )
        out.append(order[start:end])
        start = end
    return out


def size_classes(n_atoms: np.ndarray) -> np.ndarray:
    """Size class of each molecule [n]: 0 for up to 32 atoms, 1 up to 64,
    2 up to 128, ... (doubling)."""
    ratio = np.maximum(np.asarray(n_atoms, np.float64), 1.0) / 32.0
    return np.maximum(np.ceil(np.log2(ratio)), 0).astype(np.int64)


@dataclass(frozen=True)
class BatchingStrategy:
    """How a model family batches molecules (chosen by the family, not its layers).

    Attributes:
        by_size: one budget per size class (:func:`size_classes`), batches
            holding molecules of one class: for networks whose cost grows with
            the atom pairs of a molecule (attention over all its atoms, pair
            lists), which would otherwise pad every molecule to the largest.
        radius: list the radius graph of each conformer or structure (pairs
            closer than this, Å, periodic images included) in
            ``pair_i``/``pair_j``/``pair_shift``; None: no pair list.
        pair_lists: also list each atom's pairs shorter than this many Å
            in ``pair_list`` (for networks over pairs of pairs, such as bond
            angles); None: no lists.
        max_atoms: with ``by_size``, fewer graphs per batch in a size class
            whose largest graph times ``batch_size`` exceeds this many atoms
            (at least one graph): large cells come one or a few at a time.
    """

    by_size: bool = False
    radius: float | None = None
    pair_lists: float | None = None
    max_atoms: int | None = None

    def batcher(
        self, graphs: GraphSet, batch_size: int, progress: bool = False
    ) -> Batcher:
        """Budgets (and radius graphs) for batches of ``batch_size`` graphs."""
        return Batcher.for_data(graphs, batch_size, self, progress)


@dataclass(frozen=True, eq=False)
class Batcher:
    """Cuts a data set into padded batches with static shapes.

    A training run compiles once per budget: one, or one per size class.

    Attributes:
        budgets: budget of each size class present (one, key 0, without
            ``by_size``).
        classes: [n] size class of each molecule (all 0 without ``by_size``).
        pairs: the radius graphs of the graphs, or None.
        listed: [P] which of ``pairs`` the per-atom pair lists hold, or None.
    """

    budgets: dict[int, Budget]
    classes: np.ndarray
    pairs: RadiusGraphs | None = None
    listed: np.ndarray | None = None

    @classmethod
    def for_data(
        cls,
        graphs: GraphSet,
        batch_size: int,
        strategy: BatchingStrategy,
        progress: bool = False,
    ) -> Batcher:
        """Budgets for batches of ``batch_size`` graphs of ``graphs``."""
        by_size = strategy.by_size
        classes = (
            size_classes(graphs.n_atoms) if by_size else np.zeros(len(graphs), np.int64)
        )
        pairs, n_pairs = None, None
        if strategy.radius is not None:
            if graphs.positions is None:
                raise ValueError("a radius graph needs atom positions (conformers)")
            pairs = radius_graphs(
                graphs.positions,
                graphs.atom_offsets,
                strategy.radius,
                graphs.cell,
                graphs.pbc,
                progress,
            )
            n_pairs = pairs.n_pairs
        slots, listed = np.zeros(len(graphs), np.int64), None
        if strategy.pair_lists is not None and pairs is not None:
            listed = pair_lengths(graphs, pairs) < strategy.pair_lists
            slots = most_pairs_per_atom(pairs, graphs.atom_offsets, listed)

        def per_batch(c) -> int:
            if strategy.max_atoms is None:
                return batch_size
            largest = max(int(graphs.n_atoms[classes == c].max()), 1)
            return max(1, min(batch_size, strategy.max_atoms // largest))

        budgets = {
            int(c): dataclasses.replace(
                Budget.for_sizes(
                    graphs.n_atoms[classes == c],
                    graphs.n_edges[classes == c],
                    per_batch(c),
                    n_pairs=None if n_pairs is None else n_pairs[classes == c],
                ),
                pair_slots=max(-(-int(slots[classes == c].max()) // 4) * 4, 4)
                if strategy.pair_lists is not None
                else 0,
            )
            for c in np.unique(classes)
        } or {0: Budget.for_data(graphs, batch_size)}
        return cls(budgets, classes, pairs, listed)

    def plan(
        self, graphs: GraphSet, order: np.ndarray
    ) -> list[tuple[np.ndarray, Budget]]:
        """``(molecules, budget)`` of every batch over ``order``.

        Each class is cut in ``order`` (:func:`plan_batches`); batches then
        follow the position of their first molecule in ``order``, so a
        shuffled order mixes the classes through the epoch.
        """
        position = np.empty(len(graphs), np.int64)
        position[order] = np.arange(len(order))
        n_pairs = None if self.pairs is None else self.pairs.n_pairs
        batches = [
            (idx, budget)
            for c, budget in self.budgets.items()
            for idx in plan_batches(
                graphs, order[self.classes[order] == c], budget, n_pairs
            )
        ]
        batches.sort(key=lambda batch: position[batch[0][0]])
        return batches

    def batch(
        self,
        graphs: GraphSet,
        idx: np.ndarray,
        budget: Budget,
        y: np.ndarray | None = None,
        n_targets: int = 0,
        dtype=np.float32,
    ) -> GraphBatch:
        """:func:`make_batch` with this batcher's radius graphs (and lists)."""
        return make_batch(
            graphs, idx, budget, y, n_targets, self.pairs, dtype, self.listed
        )


def make_batch(
    graphs: GraphSet,
    idx: np.ndarray,
    budget: Budget,
    y: np.ndarray | None = None,
    n_targets: int = 0,
    pairs: RadiusGraphs | None = None,
    dtype=np.float32,
    listed: np.ndarray | None = None,
) -> GraphBatch:
    """Pad the graphs ``idx`` of ``graphs`` into one :class:`GraphBatch`.

    Args:
        graphs: featurised molecules or structures.
        idx: [g] graphs in this batch, g < budget.graphs.
        budget: static shape.
        y: optional [n_graphs, T] targets with NaN for missing labels.
        n_targets: T when ``y`` is None (targets all masked).
        pairs: radius graphs of all graphs of ``graphs``, listed in
            ``pair_i``/``pair_j``/``pair_shift``; None: no pairs.
        dtype: float type of positions, cells, shifts, forces and stresses
            (float64 for double-precision potentials).
        listed: [all pairs] bool, the pairs of ``pairs`` that go into each
            atom's ``pair_list`` (None: all of them).
    """
    n_atoms, n_edges = graphs.n_atoms[idx], graphs.n_edges[idx]
    n_real_nodes, n_real_edges, g = int(n_atoms.sum()), int(n_edges.sum()), len(idx)
    if g and n_atoms.max() > budget.slots:
        raise ValueError(
            f"a molecule of {n_atoms.max()} atoms does not fit the batch budget "
            f"{budget}"
        )
    atom_rows = concat_ranges(graphs.atom_offsets, idx)
    edge_rows = concat_ranges(graphs.edge_offsets, idx)
    node_start = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    edge_shift = np.repeat(node_start, n_edges)

    atom_x = np.zeros((budget.nodes, graphs.atom_x.shape[1]), np.float32)
    atom_x[:n_real_nodes] = graphs.atom_x[atom_rows]
    bond_x = np.zeros((budget.edges, graphs.bond_x.shape[1]), np.float32)
    bond_x[:n_real_edges] = graphs.bond_x[edge_rows]
    pad_node = budget.nodes - 1
    senders = np.full(budget.edges, pad_node, np.int32)
    receivers = np.full(budget.edges, pad_node, np.int32)
    senders[:n_real_edges] = graphs.senders[edge_rows] + edge_shift
    receivers[:n_real_edges] = graphs.receivers[edge_rows] + edge_shift
    node_graph = np.full(budget.nodes, budget.graphs - 1, np.int32)
    node_graph[:n_real_nodes] = np.repeat(np.arange(g, dtype=np.int32), n_atoms)
    node_slot = np.zeros(budget.nodes, np.int32)
    node_slot[:n_real_nodes] = np.arange(n_real_nodes) - np.repeat(node_start, n_atoms)
    slot_mask = np.zeros((budget.graphs, budget.slots), bool)
    slot_mask[:g] = np.arange(budget.slots) < n_atoms[:, None]

    def per_node(values, width=()):
        out = np.zeros((budget.nodes, *width), dtype)
        if values is not None:
            out[:n_real_nodes] = values[atom_rows]
        return out

    def per_graph(values, width=()):
        out = np.zeros((budget.graphs, *width), dtype)
        if values is not None:
            out[:g] = values[idx]
        return out

    species = np.zeros(budget.nodes, np.int32)
    if graphs.numbers is not None:
        species[:n_real_nodes] = graphs.numbers[atom_rows]
    pair_i, pair_j, pair_shift, n_real_pairs, rows = _pairs(
        pairs, idx, node_start, budget, dtype
    )
    in_lists = np.ones(n_real_pairs, bool) if listed is None else listed[rows]

    mol_x = np.zeros((budget.graphs, graphs.mol_x.shape[1]), np.float32)
    mol_x[:g] = graphs.mol_x[idx]
    t = y.shape[1] if y is not None else n_targets
    targets = np.zeros((budget.graphs, t), dtype)
    y_mask = np.zeros((budget.graphs, t), bool)
    if y is not None:
        labels = y[idx]
        y_mask[:g] = ~np.isnan(labels)
        targets[:g] = np.nan_to_num(labels)
    return GraphBatch(
        atom_x=atom_x,
        bond_x=bond_x,
        senders=senders,
        receivers=receivers,
        node_graph=node_graph,
        node_mask=np.arange(budget.nodes) < n_real_nodes,
        edge_mask=np.arange(budget.edges) < n_real_edges,
        graph_mask=np.arange(budget.graphs) < g,
        mol_x=mol_x,
        y=targets,
        y_mask=y_mask,
        positions=per_node(graphs.positions, (3,)),
        node_slot=node_slot,
        slot_mask=slot_mask,
        pair_i=pair_i,
        pair_j=pair_j,
        pair_mask=np.arange(budget.pairs) < n_real_pairs,
        pair_shift=pair_shift,
        species=species,
        cell=per_graph(graphs.cell, (3, 3)),
        forces=np.nan_to_num(per_node(graphs.forces, (3,))),
        stress=np.nan_to_num(per_graph(graphs.stress, (3, 3))),
        has_forces=_flags(graphs.has_forces, idx, budget),
        has_stress=_flags(graphs.has_stress, idx, budget),
        pair_list=_pair_list(pair_i, in_lists, budget),
    )


def pair_lengths(graphs: GraphSet, pairs: RadiusGraphs) -> np.ndarray:
    """Length in Å of every radius-graph pair [P] of ``graphs``."""
    graph_of_pair = np.repeat(np.arange(len(pairs.n_pairs)), pairs.n_pairs)
    start = graphs.atom_offsets[graph_of_pair]
    shift = np.zeros((len(graph_of_pair), 3))
    if graphs.cell is not None:
        shift = np.einsum("pk,pkd->pd", pairs.shifts, graphs.cell[graph_of_pair])
    vectors = (
        graphs.positions[start + pairs.receivers]
        - graphs.positions[start + pairs.senders]
        + shift
    )
    return np.linalg.norm(vectors, axis=1)


def most_pairs_per_atom(
    pairs: RadiusGraphs, atom_offsets: np.ndarray, listed: np.ndarray
) -> np.ndarray:
    """The most ``listed`` radius-graph pairs starting at one atom, per graph [G]."""
    graph_of_pair = np.repeat(np.arange(len(pairs.n_pairs)), pairs.n_pairs)
    atom = atom_offsets[graph_of_pair] + pairs.senders
    counts = np.bincount(atom[listed], minlength=int(atom_offsets[-1]))
    most = np.zeros(len(pairs.n_pairs), np.int64)
    np.maximum.at(most, np.repeat(np.arange(len(most)), np.diff(atom_offsets)), counts)
    return most


def _pair_list(pair_i: np.ndarray, in_lists: np.ndarray, budget: Budget) -> np.ndarray:
    """[N, K] listed pairs of each atom (K = ``budget.pair_slots``), P where
    none; ``in_lists`` [real pairs] marks the pairs to list."""
    out = np.full((budget.nodes, budget.pair_slots), budget.pairs, np.int32)
    if not budget.pair_slots or not in_lists.any():
        return out
    chosen = np.flatnonzero(in_lists)
    order = chosen[np.argsort(pair_i[chosen], kind="stable")]
    atoms = pair_i[order]
    first = np.searchsorted(atoms, atoms)
    rank = np.arange(len(order)) - first
    if rank.max() >= budget.pair_slots:
        raise ValueError(
            f"an atom has {rank.max() + 1} pairs; the batch lists "
            f"{budget.pair_slots} per atom"
        )
    out[atoms, rank] = order
    return out


def _flags(values: np.ndarray, idx: np.ndarray, budget: Budget) -> np.ndarray:
    """Per-graph flags [G] of the graphs ``idx``, False for padding."""
    out = np.zeros(budget.graphs, bool)
    out[: len(idx)] = values[idx]
    return out


def _pairs(
    pairs: RadiusGraphs | None,
    idx: np.ndarray,
    node_start: np.ndarray,
    budget: Budget,
    dtype,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Padded ``pair_i``, ``pair_j`` [P], ``pair_shift`` [P, 3] of the graphs
    ``idx``, their count and their rows in ``pairs``."""
    pad = budget.nodes - 1
    pair_i = np.full(budget.pairs, pad, np.int32)
    pair_j = np.full(budget.pairs, pad, np.int32)
    pair_shift = np.zeros((budget.pairs, 3), dtype)
    if pairs is None:
        return pair_i, pair_j, pair_shift, 0, np.zeros(0, np.int64)
    senders, receivers, shifts, n_pairs = pairs
    offsets = np.concatenate([[0], np.cumsum(n_pairs)])
    rows = concat_ranges(offsets, idx)
    count = len(rows)
    if count > budget.pairs:
        raise ValueError(f"{count} atom pairs do not fit the batch budget {budget}")
    shift = np.repeat(node_start, n_pairs[idx])
    pair_i[:count] = senders[rows] + shift
    pair_j[:count] = receivers[rows] + shift
    pair_shift[:count] = shifts[rows]
    return pair_i, pair_j, pair_shift, count, rows


def pair_vectors(batch: GraphBatch):
    """Pair vectors ``r_ij`` [P, 3] in Å (works on numpy and JAX arrays)."""
    cell = batch.cell[batch.node_graph[batch.pair_i]]  # [P, 3, 3]
    shift = (batch.pair_shift[:, :, None] * cell).sum(axis=1)  # [P, 3]
    return batch.positions[batch.pair_j] - batch.positions[batch.pair_i] + shift


def one_structure_batch(
    species, positions, cell, pair_i, pair_j, pair_shift, pair_mask
) -> GraphBatch:
    """One structure as an unpadded :class:`GraphBatch` over the given pairs.

    No bonds, features or labels. The constant fields are numpy arrays;
    inside jit (molecular dynamics builds its batch this way every step),
    map ``jnp.asarray`` over the result.

    Args:
        species: [N] atomic numbers.
        positions: [N, 3] Å (its dtype is the batch's float type).
        cell: [3, 3] Å, rows (0 if not periodic).
        pair_i, pair_j: [P] atoms of each radius-graph pair.
        pair_shift: [P, 3] integer image offsets of ``pair_j``.
        pair_mask: [P] real pairs.
    """
    n, dtype = positions.shape[0], positions.dtype
    no_edges = np.zeros(0, np.int32)
    return GraphBatch(
        atom_x=np.zeros((n, 0), dtype),
        bond_x=np.zeros((0, 0), dtype),
        senders=no_edges,
        receivers=no_edges,
        node_graph=np.zeros(n, np.int32),
        node_mask=np.ones(n, bool),
        edge_mask=np.zeros(0, bool),
        graph_mask=np.ones(1, bool),
        mol_x=np.zeros((1, 0), dtype),
        y=np.zeros((1, 0), dtype),
        y_mask=np.zeros((1, 0), bool),
        positions=positions,
        node_slot=np.arange(n, dtype=np.int32),
        slot_mask=np.ones((1, n), bool),
        pair_i=pair_i,
        pair_j=pair_j,
        pair_mask=pair_mask,
        pair_shift=pair_shift.astype(dtype),
        species=species,
        cell=cell[None],
        forces=np.zeros((n, 3), dtype),
        stress=np.zeros((1, 3, 3), dtype),
        has_forces=np.zeros(1, bool),
        has_stress=np.zeros(1, bool),
    )


def row_batches(rows: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` [n] cut into ``idx`` [B, batch] (the last batch padded with
    row 0) and ``real`` [B, batch] (1 for rows, 0 for padding): equal
    batches for one ``lax.scan`` over an epoch of table rows."""
    n_batches = -(-len(rows) // batch)
    pad = n_batches * batch - len(rows)
    idx = np.concatenate([rows, np.zeros(pad, rows.dtype)]).reshape(n_batches, batch)
    real = np.concatenate([np.ones(len(rows)), np.zeros(pad)]).reshape(idx.shape)
    return idx, real.astype(np.float32)
