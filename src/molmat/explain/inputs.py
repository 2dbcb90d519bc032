"""What attributions differentiate: a trained network's inputs, batch by batch.

A :class:`Batch` holds one padded batch as ``(output, context, values)``:
``output(context, values) -> [G]`` is a module-level function giving the
chosen target's prediction (original units, or the probability of a
classifier) from the differentiable input arrays ``values``. Graph networks
differentiate atom features [N, F], bond features [E, B] and molecule
descriptors [G, D]; crystal networks the atoms' element embeddings [N, F]
and the structure descriptors [G, D]; sequence networks the token
embeddings [B, L, e]. :meth:`Batch.parts` folds attributions shaped like
``values`` into one value per atom (bond attributions split half-half
between their two atoms) or per token, plus the descriptors' share.

Models are read through their public fitted attributes: graph models
(:class:`~molmat.tasks.property.PropertyModel`) and crystal models
(:class:`~molmat.tasks.crystal.CrystalModel`) through ``net_`` and
``input_graphs``, sequence models through ``net_``, ``vocabulary_`` and
``input_tokens``; all through ``task_``, ``target_names_``, ``y_scaler_``
and ``batch_size``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from ase.data import chemical_symbols
from rdkit import Chem

from molmat.data.molecules import molecules
from molmat.data.sequences import BOS, EOS, PAD
from molmat.models.crystal.network import CrystalNet
from molmat.models.gnn.network import PropertyNet
from molmat.models.sequence.network import SequenceNet


def graph_output(context, values):
    """Prediction [G] of one target from atom, bond and molecule features."""
    net, batch, select, scale, offset, probability = context
    atom_x, bond_x, mol_x = values
    g = batch._replace(atom_x=atom_x, bond_x=bond_x, mol_x=mol_x)
    value = (net(g, inference=True) @ select) * scale + offset
    value = jnp.where(probability, jax.nn.sigmoid(value), value)
    return value * batch.graph_mask


def crystal_output(context, values):
    """Prediction [G] of one target from element embeddings and descriptors."""
    net, batch, select, scale, offset, probability = context
    embedded, mol_x = values
    g = batch._replace(mol_x=mol_x)
    value = (net(g, inference=True, embedded=embedded) @ select) * scale + offset
    value = jnp.where(probability, jax.nn.sigmoid(value), value)
    return value * batch.graph_mask


def sequence_output(context, values):
    """Prediction [B] of one target from token embeddings [B, L, e]."""
    net, mask, select, scale, offset, probability = context
    (embedded,) = values
    value = (
        net.from_embeddings(embedded, mask, inference=True) @ select
    ) * scale + offset
    value = jnp.where(probability, jax.nn.sigmoid(value), value)
    return value * mask[:, 0]


def graph_coalitions(context, values, keep):
    """Inputs with only the atoms ``keep`` [K, n] of row 0 present, stacked
    (leading axis K): absent atoms and their bonds at zero features;
    molecule descriptors as they are."""
    batch = context[1]
    atom_x, bond_x, mol_x = values
    nodes = keep[:, batch.node_slot] & batch.node_mask  # [K, N]
    edges = nodes[:, batch.senders] & nodes[:, batch.receivers]  # [K, E]
    return (
        atom_x[None] * nodes[..., None],
        bond_x[None] * edges[..., None],
        jnp.broadcast_to(mol_x, (keep.shape[0], *mol_x.shape)),
    )


def crystal_coalitions(context, values, keep):
    """Inputs with only the atoms ``keep`` [K, n] of row 0 present, stacked
    (leading axis K): absent atoms at the zero embedding (their positions
    stay); structure descriptors as they are."""
    batch = context[1]
    embedded, mol_x = values
    nodes = keep[:, batch.node_slot] & batch.node_mask  # [K, N]
    return (
        embedded[None] * nodes[..., None],
        jnp.broadcast_to(mol_x, (keep.shape[0], *mol_x.shape)),
    )


def sequence_coalitions(context, values, keep):
    """Inputs with only the tokens ``keep`` [K, n] of row 0 present, stacked
    (leading axis K); absent tokens get the zero embedding."""
    (x,) = values  # [B, L, e]
    present = jnp.zeros((keep.shape[0], x.shape[1]), bool)
    present = present.at[:, : keep.shape[1]].set(keep)
    return (x[None] * present[:, None, :, None],)


@dataclass(frozen=True)
class Batch:
    """One padded batch ready to differentiate.

    Attributes:
        items: [g] positions in the explained inputs of the batch's rows.
        output: ``graph_output``, ``crystal_output`` or ``sequence_output``.
        coalitions: the matching ``*_coalitions``.
        context: what the output reads besides ``values``.
        values: the differentiable input arrays (a tuple).
        sizes: [g] atoms or tokens of each row.
    """

    items: np.ndarray
    output: object
    coalitions: object
    context: tuple
    values: tuple
    sizes: np.ndarray
    _graph: object = None  # the GraphBatch of graph models

    @property
    def width(self) -> int:
        """Part slots of a row: atom slots of the graph batch, or tokens."""
        if self._graph is None:
            return int(self.values[0].shape[1])
        return int(self._graph.slot_mask.shape[1])

    def baseline(self) -> tuple:
        """All-zero inputs: no atom or bond features (zero element
        embeddings for crystals) and mean descriptors (they are
        standardised), or zero token embeddings (``<pad>``'s)."""
        return tuple(jnp.zeros_like(v) for v in self.values)

    def parts(self, attributions: tuple) -> tuple[list[np.ndarray], np.ndarray]:
        """Per row, attributions [n_atoms or n_tokens], and the molecule
        descriptors' share [g] (0 for sequences)."""
        g = len(self.items)
        if self._graph is None:
            per_token = np.asarray(attributions[0], np.float64).sum(axis=-1)
            return [per_token[i, : self.sizes[i]] for i in range(g)], np.zeros(g)
        batch = self._graph
        summed = [np.asarray(a, np.float64).sum(axis=-1) for a in attributions]
        per_atom, mol = summed[0], summed[-1]
        if len(summed) == 3:  # bond features: half to each atom
            n, bond = len(per_atom), summed[1] * batch.edge_mask
            per_atom = (
                per_atom
                + 0.5 * np.bincount(batch.senders, bond, minlength=n)
                + 0.5 * np.bincount(batch.receivers, bond, minlength=n)
            )
        starts = np.concatenate([[0], np.cumsum(self.sizes)])
        return [per_atom[starts[i] : starts[i + 1]] for i in range(g)], mol[:g]


@dataclass(frozen=True)
class ModelInputs:
    """A model's usable inputs among ``X`` and how to batch them.

    Attributes:
        rows: [n] positions in ``X`` of the usable items (others were logged).
        labels: per usable item, its parts: atom symbols or tokens.
        molecules: per usable item, its RDKit molecule (``None`` for sequences).
    """

    model: object
    data: object
    rows: np.ndarray
    labels: list[list[str]]
    molecules: list
    target: int

    @classmethod
    def of(cls, model, X: Sequence, target: int | str | None = None) -> ModelInputs:
        """The inputs of ``X`` for a graph or sequence ``model``.

        Raises:
            TypeError: a model without a differentiable network (a forest,
                a kernel model): explain it with Shapley values instead.
        """
        net = getattr(model, "net_", None)
        index = target_index(model, target)
        if isinstance(net, PropertyNet):
            graphs, rows = model.input_graphs(X)
            _, mols, _ = molecules([X[i] for i in rows])
            labels = [atom_symbols(m) for m in mols]
            return cls(model, graphs, rows, labels, mols, index)
        if isinstance(net, SequenceNet):
            corpus, rows = model.input_tokens(X)
            vocab = model.vocabulary_.tokens
            labels = [
                [vocab[t] for t in (BOS, *corpus.ids[a:b], EOS)]
                for a, b in zip(corpus.offsets[:-1], corpus.offsets[1:], strict=True)
            ]
            return cls(model, corpus, rows, labels, [None] * len(rows), index)
        if isinstance(net, CrystalNet):
            graphs, rows = model.input_graphs(X)
            starts = graphs.atom_offsets
            labels = [
                [chemical_symbols[z] for z in graphs.numbers[a:b]]
                for a, b in zip(starts[:-1], starts[1:], strict=True)
            ]
            return cls(model, graphs, rows, labels, [None] * len(rows), index)
        raise TypeError(
            f"a {type(model).__name__} ({getattr(model, 'model', '?')}) has no "
            "gradients to follow; explain it with Shapley values (method 'shap')"
        )

    def __len__(self) -> int:
        return len(self.rows)

    def batches(self, batch_size: int | None = None) -> Iterator[Batch]:
        """Padded batches over all usable items, each item exactly once."""
        model, data = self.model, self.data
        net = model.net_
        batcher = net.batcher(data, batch_size or model.batch_size)
        n_targets = model.n_targets_
        select = np.eye(n_targets, dtype=np.float32)[self.target]
        scaler = model.y_scaler_
        output = (
            np.float32(scaler.std[self.target]),
            np.float32(scaler.mean[self.target]),
            np.bool_(model.task_ == "classification"),
        )
        for idx, budget in batcher.plan(data, np.arange(len(data))):
            batch = batcher.batch(data, idx, budget, n_targets=n_targets)
            if isinstance(net, PropertyNet | CrystalNet):
                yield Batch(
                    items=idx,
                    **graph_inputs(net, batch),
                    context=(net, batch, select, *output),
                    sizes=data.n_atoms[idx],
                    _graph=batch,
                )
            else:
                tokens = jnp.asarray(batch.tokens)
                yield Batch(
                    items=idx,
                    output=sequence_output,
                    coalitions=sequence_coalitions,
                    context=(net, tokens != PAD, select, *output),
                    values=(net.embed[tokens],),
                    sizes=data.lengths[idx] + 2,
                )


def graph_inputs(net, batch) -> dict:
    """``output``, ``coalitions`` and ``values`` of a graph network's
    :class:`Batch`: atom, bond and molecule features, or (crystal networks)
    element embeddings and structure descriptors."""
    if isinstance(net, CrystalNet):
        return {
            "output": crystal_output,
            "coalitions": crystal_coalitions,
            "values": (net.embed(batch.species), batch.mol_x),
        }
    return {
        "output": graph_output,
        "coalitions": graph_coalitions,
        "values": (batch.atom_x, batch.bond_x, batch.mol_x),
    }


def target_index(model, target: int | str | None) -> int:
    """Column of ``target`` (a name, an index or ``None``: the first)."""
    names = list(model.target_names_)
    if target is None:
        return 0
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        if target not in names:
            raise ValueError(f"unknown target {target!r}; the model predicts {names}")
        return names.index(target)
    index = int(target)
    if not 0 <= index < len(names):
        raise ValueError(f"target {index} out of range: the model predicts {names}")
    return index


def atom_symbols(mol: Chem.Mol) -> list[str]:
    """Element symbols of ``mol``'s atoms, in order."""
    return [a.GetSymbol() for a in mol.GetAtoms()]
