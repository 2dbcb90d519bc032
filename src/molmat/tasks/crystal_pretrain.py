"""Self-supervised pretraining of crystal encoders on unlabelled structures.

``pretrain_crystals`` reads a folder, tar archive or file of structures
(e.g. the 12,020 CoRE MOF CIFs), trains a crystal encoder on masked atoms or
coordinate denoising (:mod:`molmat.models.crystal.pretrain`) through the
shared engine, and writes a run folder whose ``model/`` archive (kind
``crystal-encoder``) starts a :class:`~molmat.tasks.crystal.CrystalModel`
(``init=``). The structures stream in shards: each epoch lists the radius
graphs of one shard only, so memory stays flat however many cells there are.

Example:
    >>> from molmat.tasks.crystal_pretrain import pretrain_crystals
    >>> pretrain_crystals("mofs.tar.xz", "runs/mof-pre", model="painn",
    ...                   objective="denoise")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from molmat.data.crystals import read_structure_table
from molmat.data.structures import structure_graphs
from molmat.models.crystal import mean_neighbors, neighbour_sample
from molmat.models.crystal.pretrain import CRYSTAL_OBJECTIVES
from molmat.tasks.pretrain import fit_on_shards
from molmat.tasks.run_folder import start_run, write_run_file
from molmat.training import archive, plots

SCORES = {"masked-atoms": "accuracy", "denoise": "explained_variance"}
LOSSES = {
    "masked-atoms": "masked-element cross-entropy, nats",
    "denoise": "squared error of the noise / sigma per atom",
}


@dataclass
class PretrainedCrystalEncoder:
    """A pretrained crystal encoder with what made it.

    Attributes:
        network_: the encoder's network config (as a CrystalModel's).
        net_: the pretraining network; its ``embed`` and ``encoder`` are what
            fine-tuning takes.
        provenance: objective, data, sizes, time and final scores.
    """

    network_: dict
    net_: object
    provenance: dict


def pretrain_crystals(
    data: str | Path,
    out: str | Path,
    *,
    model: str = "painn",
    objective: str = "denoise",
    hidden: int = 64,
    depth: int = 3,
    cutoff: float = 5.0,
    n_basis: int = 32,
    lmax: int = 1,
    strength: float | None = None,
    shard_size: int = 2000,
    epochs: int | None = None,
    batch_size: int = 8,
    lr: float = 1e-3,
    time_limit: float | None = None,
    val_size: int = 500,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Self-supervised pretraining of a crystal encoder; writes a run folder.

    Args:
        data: structures: a folder or tar archive of CIF/POSCAR/extxyz files,
            an extxyz file, or a CSV with a ``cif`` column; unusable ones are
            reported in ``data_report.json`` and left out.
        out: run folder (``model/`` is an archive of kind ``crystal-encoder``).
        model: ``cgcnn``, ``painn``, ``nequip`` or ``alignn``.
        objective: ``masked-atoms`` (predict the elements of masked atoms)
            or ``denoise`` (predict Gaussian noise added to the positions).
        hidden, depth, cutoff, n_basis, lmax: the encoder (as CrystalModel's).
        strength: masked-atoms: share of atoms masked (default 0.15);
            denoise: standard deviation of the noise in Å (0.1).
        shard_size: structures per shard; an epoch is one shard.
        epochs: epochs to run (``None``: one pass over every shard).
        batch_size, lr: Adam with a warm-up, then a cosine decay over the
            epochs or the time budget.
        time_limit: stop after this many minutes of training.
        val_size: structures held out to score the loss.
        seed: seed of the hold-out, the shards, the masks/noise and the
            initialisation.
        resume: continue an interrupted run from ``out/checkpoint``.

    Returns:
        The run summary (also in ``out/metrics.json``).
    """
    if objective not in CRYSTAL_OBJECTIVES:
        raise ValueError(
            f"unknown objective {objective!r} for crystal encoders; choose "
            f"{', '.join(CRYSTAL_OBJECTIVES)}"
        )
    make_net, loss_fn, sums, default_strength = CRYSTAL_OBJECTIVES[objective]
    strength = default_strength if strength is None else float(strength)
    out = Path(out)
    resume = start_run(out, resume)
    tick = time.perf_counter()
    table = read_structure_table(data, require_targets=False)
    read_seconds = time.perf_counter() - tick
    frames = table.structures
    if len(frames) < 2:
        raise ValueError(f"{data}: {len(frames)} usable structures; need at least 2")
    order = np.random.default_rng([seed, 7]).permutation(len(frames))
    val_size = min(val_size, len(frames) // 5)
    train_idx = order[val_size:]
    shards = [
        train_idx[start : start + shard_size]
        for start in range(0, len(train_idx), shard_size)
    ]
    n_epochs = epochs or len(shards)
    sampled = [frames[i] for i in train_idx[neighbour_sample(len(train_idx), seed)]]
    network = {
        "model": model,
        "hidden": hidden,
        "depth": depth,
        "cutoff": float(cutoff),
        "n_basis": n_basis,
        "lmax": lmax,
        "species": sorted({int(z) for f in frames for z in f.numbers}),
        "avg_neighbors": mean_neighbors(structure_graphs(sampled), cutoff),
    }
    net = make_net(network, strength, key=jax.random.key(seed))
    val = structure_graphs([frames[i] for i in np.sort(order[:val_size])])
    net, history = fit_on_shards(
        net,
        loss_fn,
        sums,
        SCORES[objective],
        shard_graphs=lambda epoch: structure_graphs(
            [frames[i] for i in shards[epoch % len(shards)]]
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
            "network": network,
            "objective": objective,
            "strength": strength,
            "shard_size": shard_size,
            "batch_size": batch_size,
            "lr": lr,
            "n": len(frames),
            "seed": seed,
        },
        items="structures",
        progress=progress,
        resume=resume,
    )
    records = history.records
    seen = int(sum(len(shards[e % len(shards)]) for e in range(len(records))))
    atoms_seen = int(
        sum(
            frames[i].n_atoms
            for e in range(len(records))
            for i in shards[e % len(shards)]
        )
    )
    score = f"val_{SCORES[objective]}"
    summary = {
        "source": str(data),
        "n_read": table.report.n_rows,
        "n_used": len(frames),
        "objective": objective,
        "model": model,
        "n_train": len(train_idx),
        "n_val": len(val),
        "shards": len(shards),
        "epochs_run": len(records),
        "structures_seen": seen,
        "passes": seen / max(len(train_idx), 1),
        "read_seconds": read_seconds,
        "train_seconds": history.train_seconds,
        "structures_per_second": seen / max(history.train_seconds, 1e-9),
        "atoms_per_second": atoms_seen / max(history.train_seconds, 1e-9),
        "val_loss": records[-1].get("val_loss") if records else None,
        score: records[-1].get(score) if records else None,
        "stopped_by": history.stopped_by,
        "fit_seconds": time.perf_counter() - tick,
    }
    config = {
        "kind": "crystal-encoder",
        "objective": objective,
        "network": network,
        "strength": strength,
        "provenance": summary,
    }
    archive.save_archive(out / "model", net, config, summary)
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    write_run_file(
        out / "data_report.json",
        json.dumps(
            {"source": str(data), "left_out": [str(b) for b in table.report.bad_rows]},
            indent=1,
        ),
        False,
    )
    if records:
        plots.learning_curve(
            records,
            out / "pretraining_curve.png",
            "loss",
            0,
            loss_label=f"train loss ({LOSSES[objective]})",
            title=f"{Path(str(data)).name}: {objective} pretraining, {model}",
        )
    return summary


def load_crystal_encoder(folder: Path, config: dict) -> PretrainedCrystalEncoder:
    """Rebuild a :class:`PretrainedCrystalEncoder` from its archive."""
    try:
        network = dict(config["network"])
        make_net = CRYSTAL_OBJECTIVES[config["objective"]][0]
        strength = float(config["strength"])
        template = jax.eval_shape(
            lambda: make_net(network, strength, key=jax.random.key(0))
        )
        provenance = dict(config["provenance"])
    except (KeyError, TypeError, ValueError) as err:
        raise archive.ArchiveError(
            f"{folder}: incomplete or invalid config ({err!r})"
        ) from err
    return PretrainedCrystalEncoder(
        network, archive.load_params(folder, template), provenance
    )
