"""Self-supervised pretraining of sequence and graph encoders.

``pretrain_graphs`` learns a graph encoder (``gin``, ``mpnn``, ``gcn``,
``gat``, ``attentivefp``, ``transformer``) by attribute masking
(:mod:`molmat.models.gnn.pretrain`) on unlabelled molecules. The corpus is
cut into shards of ``shard_size`` molecules; each epoch featurises one shard
(cached on disk per shard), so memory holds one shard's graphs, not 1.6M.

``pretrain_sequences`` learns a masked-token model (:mod:`molmat.models.
sequence.pretrain`) on unlabelled strings: MOSES' 1.6M training SMILES
(``data="moses"``), any SMILES file, or amino-acid sequences. The corpus
streams in epochs of ``epoch_size`` strings, so a checkpoint, a validation
loss and a chance to stop on time come every few minutes; a run killed at any
instant resumes to the same result. The run folder holds ``model/`` (an
archive of kind ``sequence-encoder``), ``metrics.jsonl``,
``pretraining_curve.png``, ``data_report.json`` and ``checkpoint/``.

``SequenceModel(init=...)`` and ``PropertyModel(init=...)`` (``molmat train
--init``) fine-tune the encoders on labelled data.

Example:
    >>> from molmat.tasks.pretrain import pretrain_sequences
    >>> pretrain_sequences("moses", "runs/pre", time_limit=60)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from rdkit import Chem

from molmat.data.csv import read_sequences
from molmat.data.graphs import GraphSet
from molmat.data.sequences import SequenceBatcher
from molmat.featurizers.conformers import ConformerOptions
from molmat.featurizers.graph import (
    ATOM_DIM,
    BOND_DIM,
    ELEMENT_ONEHOT,
    FEATURIZER_VERSION,
    featurize_cached,
)
from molmat.featurizers.tokens import (
    MOLECULE_TOKENS,
    EncodedCorpus,
    Vocabulary,
    encode_corpus,
    tokenizer,
)
from molmat.models.gnn import needs_positions, resolve_architecture
from molmat.models.gnn.pretrain import (
    ContextNet,
    ContrastiveNet,
    DenoisingNet,
    MaskedAtomNet,
    context_loss,
    context_sums,
    contrastive_loss,
    contrastive_sums,
    denoising_loss,
    denoising_sums,
    masked_atom_loss,
    masked_atom_sums,
)
from molmat.models.sequence import check_network
from molmat.models.sequence.pretrain import (
    MASK,
    MASK_TOKEN,
    MaskedTokenNet,
    masked_token_loss,
    masked_token_sums,
)
from molmat.tasks.corpus import read_corpus
from molmat.tasks.run_folder import start_run, write_run_file
from molmat.training import archive, plots
from molmat.training.engine import (
    CosineBudget,
    Engine,
    MetricsLog,
    OptimizerConfig,
    TimeLimit,
)
from molmat.training.sequence import (
    SequenceData,
    SequenceTrainConfig,
    SequenceTrainer,
)

log = logging.getLogger("molmat")

OBJECTIVES = ("masking", "context", "contrastive", "denoise")
# graph objective -> (network, training loss, (model, batch, key, inference) sums)
GRAPH_OBJECTIVES = {
    "masking": (MaskedAtomNet, masked_atom_loss, masked_atom_sums),
    "context": (ContextNet, context_loss, context_sums),
    "contrastive": (ContrastiveNet, contrastive_loss, contrastive_sums),
    "denoise": (DenoisingNet, denoising_loss, denoising_sums),
}
DEFAULT_STRENGTH = {
    "masking": 0.15,
    "context": 0.0,
    "contrastive": 0.25,
    "denoise": 0.1,
}
SCORE_NAMES = {
    "masking": "accuracy",
    "context": "accuracy",
    "contrastive": "accuracy",
    "denoise": "explained_variance",
}
ENCODER_KEYS = ("encoder", "vocab", "embed", "hidden", "depth", "heads", "kernel")


@dataclass
class PretrainedEncoder:
    """A pretrained embedding and encoder with what made them.

    Attributes:
        network: the encoder's network config (:data:`ENCODER_KEYS`).
        tokens: token kind (``smiles``, ``selfies``, ``aa``).
        vocabulary: the pretraining vocabulary (``<mask>`` at id 3).
        net: the :class:`MaskedTokenNet`.
        provenance: objective, data, sizes, time and final losses.
    """

    network: dict
    tokens: str
    vocabulary: Vocabulary
    net: MaskedTokenNet
    provenance: dict


GRAPH_LAYERS = ("gin", "gcn", "gat", "mpnn", "attentivefp")  # 2D graph encoders


def is_graph_encoder(path: str | Path) -> bool:
    """Whether ``path`` (a pretraining run folder or its ``model/``) holds a
    graph encoder (else a sequence encoder or something else)."""
    folder = Path(path)
    if (folder / "model" / "config.json").exists():
        folder = folder / "model"
    return archive.read_config(folder)[1].get("kind") == "graph-encoder"


def load_pretrained(path: str | Path, kind: type):
    """The pretrained encoder of class ``kind`` at ``path`` (a pretraining run
    folder or its ``model/``).

    Raises:
        ArchiveError: no archive there, or an archive of another kind.
    """
    from molmat.tasks.archives import load

    folder = Path(path)
    if (folder / "model" / "config.json").exists():
        folder = folder / "model"
    found = load(folder)
    if not isinstance(found, kind):
        family = "graph" if kind is PretrainedGraphEncoder else "sequence"
        raise archive.ArchiveError(
            f"{path}: not a pretrained {family} encoder (a {type(found).__name__}); "
            "pretrain one with `molmat pretrain`"
        )
    return found


def pretraining_vocabulary(vocab: Vocabulary) -> Vocabulary:
    """``vocab`` with ``<mask>`` inserted at id :data:`MASK`."""
    return Vocabulary.from_tokens([MASK_TOKEN, *vocab.tokens[MASK:]])


def pretrain_sequences(
    data: str | Path,
    out: str | Path,
    *,
    model: str = "transformer",
    tokens: str = "smiles",
    column: str | None = None,
    embed: int = 64,
    hidden: int = 256,
    depth: int = 4,
    heads: int = 8,
    kernel: int = 5,
    dropout: float = 0.1,
    mask_rate: float = 0.15,
    epochs: int = 1000,
    epoch_size: int | None = 100_000,
    batch_size: int = 128,
    lr: float = 5e-4,
    weight_decay: float = 0.01,
    time_limit: float | None = None,
    val_size: int | None = None,
    max_tokens: int | None = 200,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Masked-token pretraining of a sequence encoder; writes a run folder.

    Args:
        data: ``moses``, a SMILES file (CSV/TSV/.smi/SDF), or a file of
            amino-acid sequences with ``tokens="aa"``.
        out: run folder.
        model: encoder: ``transformer``, ``cnn1d`` or ``gru``.
        tokens: ``smiles``, ``selfies`` or ``aa``.
        column: SMILES or sequence column of a file (detected when ``None``).
        embed, hidden, depth, heads, kernel, dropout: the encoder.
        mask_rate: share of real tokens picked per row.
        epochs: most epochs of ``epoch_size`` strings (``None``: one pass).
        batch_size, lr, weight_decay: AdamW with warm-up and a cosine decay
            over the epoch or time budget.
        time_limit: stop after this many minutes of training.
        val_size: strings held out to score the masked-token loss (default
            5 %, at most 10,000).
        max_tokens: longer strings are reported and left out.
        seed: seed of the hold-out, the masks and the initialisation.
        resume: continue an interrupted run from ``out/checkpoint``.

    Returns:
        The run summary (also in ``out/metrics.json``).
    """
    if model not in ("transformer", "cnn1d", "gru"):
        raise ValueError(f"unknown encoder {model!r}; choose transformer, cnn1d, gru")
    out = Path(out)
    resume = start_run(out, resume)
    texts, source, bad = _read_texts(data, tokens, column)
    encoded, vocab = encode_corpus(
        texts, tokenizer(tokens), max_tokens=max_tokens, progress=progress
    )
    vocab = pretraining_vocabulary(vocab)
    ids = np.where(encoded.ids >= MASK, encoded.ids + 1, encoded.ids)
    encoded = EncodedCorpus(ids, encoded.offsets, encoded.kept, encoded.errors)
    bad += [f"{texts[i]!r}: {r}" for i, r in sorted(encoded.errors.items())]
    for line in bad[:10]:
        log.warning("left out %s", line)
    if len(bad) > 10:
        log.warning("... and %d more left out", len(bad) - 10)
    report = {"source": source, "n_read": len(texts), "n_used": len(encoded)}
    write_run_file(
        out / "data_report.json",
        json.dumps({**report, "left_out": bad}, indent=1),
        resume,
    )
    network = check_network(
        {
            "encoder": model,
            "vocab": len(vocab),
            "embed": embed,
            "hidden": hidden,
            "depth": depth,
            "heads": heads,
            "kernel": kernel,
            "dropout": float(dropout),
        }
    )
    train, val = _hold_out(encoded, val_size, seed)
    net = MaskedTokenNet(network, mask_rate, key=jax.random.key(seed))
    cfg = SequenceTrainConfig(
        epochs=epochs,
        epoch_size=epoch_size,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        patience=None,
        time_limit=time_limit,
        seed=seed,
    )

    def validate(model) -> dict:
        return {"loss": masked_loss(model, val, batch_size, seed)}

    trainer = SequenceTrainer(
        cfg,
        masked_token_loss,
        validate=validate if len(val) else None,
        checkpoint_dir=out / "checkpoint",
        metrics_log=out / "metrics.jsonl",
        progress=progress,
    )
    tick = time.perf_counter()
    net, history = trainer.fit(net, train, resume=resume)
    records = history.records
    seen = len(records) * (epoch_size or len(train))
    summary = {
        **report,
        "objective": "masking",
        "tokens": tokens,
        "n_train": len(train),
        "n_val": len(val),
        "epochs_run": len(records),
        "strings_seen": seen,
        "passes": seen / max(len(train), 1),
        "train_seconds": history.train_seconds,
        "molecules_per_second": seen / max(history.train_seconds, 1e-9),
        "tokens_per_second": float(np.median([r["tokens_per_second"] for r in records]))
        if records
        else None,
        "val_loss": records[-1].get("val_loss") if records else None,
        "stopped_by": history.stopped_by,
        "fit_seconds": time.perf_counter() - tick,
    }
    config = {
        "kind": "sequence-encoder",
        "network": network,
        "tokens": tokens,
        "mask_rate": mask_rate,
        "vocabulary": list(vocab.tokens),
        "provenance": summary,
    }
    archive.save_archive(out / "model", net, config, summary)
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    if records:
        plots.learning_curve(
            records,
            out / "pretraining_curve.png",
            "loss",
            0,
            loss_label="train loss (masked-token cross-entropy, nats)",
            title=f"{Path(str(source)).name}: masked-token pretraining, {model}",
        )
    return summary


def _read_texts(data, tokens: str, column: str | None):
    """The strings to learn from, the source name and the rows left out."""
    if tokens in MOLECULE_TOKENS:
        corpus = read_corpus(str(data), column)
        return corpus.smiles, corpus.source, list(corpus.bad_rows)
    tokenizer(tokens)  # a clear error for an unknown kind
    table = read_sequences(
        data, column, [], check=tokenizer(tokens).split, require_targets=False
    )
    bad = [str(b) for b in table.report.bad_rows]
    return table.sequences, table.report.source, bad


def _hold_out(
    corpus: EncodedCorpus, val_size: int | None, seed: int
) -> tuple[SequenceData, SequenceData]:
    n = len(corpus)
    if val_size is None:
        val_size = min(10_000, n // 20) if n >= 40 else 0
    order = np.random.default_rng([seed, 7]).permutation(n)
    return _part(corpus, np.sort(order[val_size:])), _part(
        corpus, np.sort(order[:val_size])
    )


def _part(corpus: EncodedCorpus, idx: np.ndarray) -> SequenceData:
    return SequenceData(corpus.subset(idx), np.zeros((len(idx), 0), np.float32))


@eqx.filter_jit
def _masked_sums(model, batch, key):
    return masked_token_sums(model, batch, key, inference=True)


def masked_loss(model, data: SequenceData, batch_size: int, seed: int = 0) -> float:
    """Mean masked-token cross-entropy (nats/token) of ``data``; the masks are
    drawn from ``seed`` and the batch number, so the score is reproducible."""
    batcher = SequenceBatcher(data.corpus.lengths, batch_size)
    total, count = 0.0, 0
    batches = batcher.batches(
        data.corpus.ids, data.corpus.offsets, np.arange(len(data)), None
    )
    for i, batch in enumerate(batches):
        key = jax.random.fold_in(jax.random.key(seed), i)
        t, c = _masked_sums(model, batch, key)
        total, count = total + float(t), count + int(c)
    return total / max(count, 1)


def load_encoder(folder: Path, config: dict) -> PretrainedEncoder:
    """Rebuild a :class:`PretrainedEncoder` from its archive folder and config."""
    try:
        network = check_network(config["network"])
        vocabulary = Vocabulary(tuple(config["vocabulary"]))
        rate = float(config["mask_rate"])
        template = jax.eval_shape(
            lambda: MaskedTokenNet(network, rate, key=jax.random.key(0))
        )
        tokens, provenance = config["tokens"], dict(config["provenance"])
    except (KeyError, TypeError, ValueError) as err:
        raise archive.ArchiveError(
            f"{folder}: incomplete or invalid config ({err!r})"
        ) from err
    net = archive.load_params(folder, template)
    return PretrainedEncoder(network, tokens, vocabulary, net, provenance)


@dataclass
class PretrainedGraphEncoder:
    """A pretrained graph encoder with what made it.

    Attributes:
        architecture: the encoder's architecture (see
            :mod:`molmat.models.gnn.config`).
        net: the pretraining network (its ``encoder`` is what fine-tuning
            takes): a :class:`~molmat.models.gnn.pretrain.MaskedAtomNet` or
            :class:`~molmat.models.gnn.pretrain.ContrastiveNet`.
        provenance: objective, data, sizes, time and final losses.
    """

    architecture: dict
    net: MaskedAtomNet | ContrastiveNet
    provenance: dict


GRAPH_DIMS = {"atom_dim": ATOM_DIM, "atom_onehot": ELEMENT_ONEHOT, "bond_dim": BOND_DIM}


def pretrain_graphs(
    data: str | Path,
    out: str | Path,
    *,
    model: str = "gin",
    objective: str = "masking",
    column: str | None = None,
    hidden: int = 300,
    depth: int = 5,
    norm: str = "batch",
    dropout: float = 0.0,
    strength: float | None = None,
    shard_size: int = 50_000,
    epochs: int | None = None,
    batch_size: int = 256,
    lr: float = 1e-3,
    time_limit: float | None = None,
    val_size: int = 2000,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Self-supervised pretraining of a graph encoder; writes a run folder.

    Args:
        data: ``moses`` or a SMILES file (CSV/TSV/.smi/SDF).
        out: run folder (``model/`` is an archive of kind ``graph-encoder``).
        model: the graph layer (not ``schnet``: it reads conformers).
        objective: ``masking`` (attribute masking: predict the elements of
            blanked atoms), ``context`` (context prediction: tell a centre
            atom's own context from another molecule's), ``contrastive``
            (MolCLR: NT-Xent between two views with atoms blanked and bonds
            deleted) or ``denoise`` (schnet: predict the noise added to
            ETKDG conformer positions).
        column: SMILES column of a file (detected when ``None``).
        hidden, depth, norm, dropout: the encoder (Hu et al.: GIN, 300, 5,
            batch norm).
        strength: masking: share of atoms blanked (default 0.15);
            contrastive: share of atoms blanked and of bonds deleted (0.25);
            denoise: standard deviation of the noise in Å (0.1).
        shard_size: molecules per shard; an epoch is one shard.
        epochs: epochs to run (``None``: one pass over every shard).
        batch_size, lr: Adam with a warm-up, then a cosine decay over the
            epoch or time budget.
        time_limit: stop after this many minutes of training.
        val_size: molecules held out to score the loss and accuracy (of the
            masked elements, or of finding each view's partner).
        seed: seed of the hold-out, the shards' order, the masks and the
            initialisation.
        resume: continue an interrupted run from ``out/checkpoint``.

    Returns:
        The run summary (also in ``out/metrics.json``).
    """
    if objective not in GRAPH_OBJECTIVES:
        raise ValueError(
            f"unknown objective {objective!r}; choose {', '.join(GRAPH_OBJECTIVES)}"
        )
    make_net, loss_fn, sums = GRAPH_OBJECTIVES[objective]
    if strength is None:
        strength = DEFAULT_STRENGTH[objective]
    out = Path(out)
    arch = resolve_architecture(
        model, {"hidden": hidden, "depth": depth, "dropout": float(dropout), "head": []}
    )
    arch["norm"] = norm
    if needs_positions(arch) != (objective == "denoise"):
        raise ValueError(
            f"{objective} pretraining takes a 3D layer (schnet)"
            if objective == "denoise"
            else f"{model} reads 3D conformers: pretrain it with --objective denoise"
        )
    conformers = ConformerOptions(n=1, seed=seed) if objective == "denoise" else None
    resume = start_run(out, resume)
    corpus = read_corpus(str(data), column)
    order = np.random.default_rng([seed, 7]).permutation(len(corpus))
    val_size = min(val_size, len(corpus) // 5)
    train_idx = order[val_size:]
    shards = [
        train_idx[start : start + shard_size]
        for start in range(0, len(train_idx), shard_size)
    ]
    n_epochs = epochs or len(shards)
    smiles = corpus.smiles
    val = _shard_graphs([smiles[i] for i in np.sort(order[:val_size])], conformers)
    net = make_net(arch, GRAPH_DIMS, strength, key=jax.random.key(seed))
    tick = time.perf_counter()
    net, history = fit_on_shards(
        net,
        loss_fn,
        sums,
        SCORE_NAMES[objective],
        shard_graphs=lambda epoch: _shard_graphs(
            [smiles[i] for i in shards[epoch % len(shards)]], conformers
        ),
        epochs=n_epochs,
        shard_len=min(shard_size, len(train_idx)),
        val=val,
        out=out,
        batch_size=batch_size,
        lr=lr,
        time_limit=time_limit,
        seed=seed,
        fingerprint={
            "architecture": arch,
            "objective": objective,
            "strength": strength,
            "shard_size": shard_size,
            "batch_size": batch_size,
            "lr": lr,
            "n": len(corpus),
            "seed": seed,
        },
        items="molecules",
        progress=progress,
        resume=resume,
    )
    records = history.records
    seen = int(sum(len(shards[e % len(shards)]) for e in range(len(records))))
    summary = {
        "source": corpus.source,
        "n_read": len(corpus) + len(corpus.bad_rows),
        "n_used": len(corpus),
        "objective": objective,
        "n_train": len(train_idx),
        "n_val": len(val),
        "shards": len(shards),
        "epochs_run": len(records),
        "molecules_seen": seen,
        "passes": seen / max(len(train_idx), 1),
        "train_seconds": history.train_seconds,
        "molecules_per_second": seen / max(history.train_seconds, 1e-9),
        "val_loss": records[-1].get("val_loss") if records else None,
        f"val_{SCORE_NAMES[objective]}": (
            records[-1].get(f"val_{SCORE_NAMES[objective]}") if records else None
        ),
        "stopped_by": history.stopped_by,
        "fit_seconds": time.perf_counter() - tick,
    }
    config = {
        "kind": "graph-encoder",
        "objective": objective,
        "architecture": arch,
        "featurizer": {"name": "graph", "version": FEATURIZER_VERSION, **GRAPH_DIMS},
        "strength": strength,
        "provenance": summary,
    }
    archive.save_archive(out / "model", net, config, summary)
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    write_run_file(
        out / "data_report.json",
        json.dumps({"source": corpus.source, "left_out": corpus.bad_rows}, indent=1),
        False,
    )
    if records:
        plots.learning_curve(
            records,
            out / "pretraining_curve.png",
            "loss",
            0,
            loss_label=f"train loss ({LOSS_NAMES[objective]})",
            title=f"{Path(str(corpus.source)).name}: {objective} pretraining, {model}",
        )
    return summary


def fit_on_shards(
    net,
    loss_fn,
    sums,
    score: str,
    *,
    shard_graphs,
    epochs: int,
    shard_len: int,
    val: GraphSet,
    out: Path,
    batch_size: int,
    lr: float,
    time_limit: float | None,
    seed: int,
    fingerprint: dict,
    items: str,
    progress: bool,
    resume: bool,
):
    """Self-supervised training, one shard per epoch, through the engine.

    Adam warms up over the first steps (at most 500), then a cosine decays
    over ``epochs`` or the ``time_limit`` (minutes); every epoch is
    validated (:func:`pretraining_scores`), logged to
    ``out/metrics.jsonl`` and checkpointed to ``out/checkpoint``.

    Args:
        net, loss_fn, sums, score: the objective's network, training loss,
            scoring sums and second score (see :func:`pretraining_scores`).
        shard_graphs: ``epoch -> GraphSet`` of that epoch's shard.
        shard_len: graphs per shard (the throughput's unit count).
        fingerprint: settings a resumed run must share.
        items: what the graphs are (``molecules``, ``structures``).

    Returns:
        The trained network and the engine's history.
    """
    steps = epochs * -(-shard_len // batch_size)
    warmup = max(min(500, steps // 10), 1)
    optimizer = OptimizerConfig(  # warm-up; CosineBudget decays per epoch
        lr=lr,
        schedule="warmup_exponential",
        init_lr=lr * 0.01,
        warmup_steps=warmup,
        total_steps=warmup + 1,
    )

    def batches(epoch: int):
        graphs = shard_graphs(epoch)
        batcher = net.batcher(graphs, batch_size)
        shuffle = np.random.default_rng([seed, epoch]).permutation(len(graphs))
        for idx, budget in batcher.plan(graphs, shuffle):
            yield batcher.batch(graphs, idx, budget)

    def validate(model) -> tuple[dict, float]:
        scores = pretraining_scores(sums, score, model, val, batch_size, seed)
        return scores, scores["loss"]

    callbacks = [
        CosineBudget(epochs, time_limit, 0.05),
        MetricsLog(out / "metrics.jsonl"),
    ]
    if time_limit is not None:
        callbacks.append(TimeLimit(time_limit))
    engine = Engine(
        loss_fn,
        optimizer,
        epochs=epochs,
        seed=seed,
        callbacks=callbacks,
        validate=validate if len(val) else None,
        checkpoint_dir=out / "checkpoint",
        fingerprint=fingerprint,
        term_names=(f"train_{score}",),
        throughput=(items, shard_len),
        progress=progress,
    )
    return engine.fit(net, batches, resume=resume)


def _shard_graphs(
    smiles: list[str], conformers: ConformerOptions | None = None
) -> GraphSet:
    """Featurised graphs of trusted SMILES (cached on disk per list), with an
    ETKDG conformer each when ``conformers`` are asked for (molecules that
    cannot be embedded are logged and left out)."""
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    bad = [i for i, m in enumerate(mols) if m is None]
    if bad:
        log.warning("%d SMILES of a shard do not parse; left out", len(bad))
        smiles = [s for s, m in zip(smiles, mols, strict=True) if m is not None]
        mols = [m for m in mols if m is not None]
    graphs = featurize_cached(smiles, mols, None, conformers=conformers)
    if graphs.errors is not None and (graphs.errors != "").any():
        failed = int((graphs.errors != "").sum())
        log.warning("%d molecules of a shard have no conformer; left out", failed)
        graphs = graphs.subset(np.flatnonzero(graphs.errors == ""))
    return graphs


LOSS_NAMES = {
    "masking": "masked-atom cross-entropy, nats",
    "context": "context cross-entropy, nats",
    "contrastive": "NT-Xent, nats",
    "denoise": "squared error of the noise / sigma per atom",
}


@eqx.filter_jit
def _inference_sums(sums, model, batch, key):
    return sums(model, batch, key, inference=True)


def pretraining_scores(
    sums, score: str, model, graphs: GraphSet, batch_size: int, seed: int = 0
) -> dict[str, float]:
    """Mean loss of an objective over ``graphs`` and its second score.

    Args:
        sums: the objective's ``(model, batch, key, inference) -> (summed
            loss, count, second)``.
        score: ``accuracy`` (``second`` counts right answers) or
            ``explained_variance`` (``second`` sums the squared target, so
            the score is the share of its variance explained).
        model, graphs, batch_size: the network and the data.
        seed: the random masks, views and noise come from it and the batch
            number, so the scores are reproducible.
    """
    batcher = model.batcher(graphs, batch_size)
    total = count = right = 0.0
    for i, (idx, budget) in enumerate(batcher.plan(graphs, np.arange(len(graphs)))):
        key = jax.random.fold_in(jax.random.key(seed), i)
        batch = batcher.batch(graphs, idx, budget)
        t, c, r = _inference_sums(sums, model, batch, key)
        total, count, right = total + float(t), count + float(c), right + float(r)
    if score == "explained_variance":
        second = 1.0 - total / max(right, 1e-9)
    else:
        second = right / max(count, 1)
    return {"loss": total / max(count, 1), score: second}


def load_graph_encoder(folder: Path, config: dict) -> PretrainedGraphEncoder:
    """Rebuild a :class:`PretrainedGraphEncoder` from its archive."""
    try:
        feat = config["featurizer"]
        if feat["version"] != FEATURIZER_VERSION or any(
            feat[k] != v for k, v in GRAPH_DIMS.items()
        ):
            raise archive.ArchiveError(
                f"{folder}: featuriser {feat['version']} differs from this molmat's "
                f"{FEATURIZER_VERSION}; pretrain again"
            )
        arch = dict(config["architecture"])
        strength = float(config["strength"])
        make_net = GRAPH_OBJECTIVES[config["objective"]][0]
        template = jax.eval_shape(
            lambda: make_net(arch, GRAPH_DIMS, strength, key=jax.random.key(0))
        )
        provenance = dict(config["provenance"])
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, archive.ArchiveError):
            raise
        raise archive.ArchiveError(
            f"{folder}: incomplete or invalid config ({err!r})"
        ) from err
    return PretrainedGraphEncoder(
        arch, archive.load_params(folder, template), provenance
    )
