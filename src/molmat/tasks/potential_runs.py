"""Run folders of interatomic potentials: ``molmat potential train|evaluate``.

A training run folder holds ``model/`` (the best EMA model), ``metrics.json``
(validation and test metrics), ``metrics.jsonl`` (one line per epoch),
``data_report.json`` (frames used and skipped), ``checkpoint/`` and PNGs
(learning curve, parity plots of energies and force components). An
evaluation folder holds ``metrics.json``, parity PNGs and the per-frame
predictions: ``predictions.extxyz`` (reference labels as ``REF_energy``/
``REF_forces``, predictions as ``MM_energy``/``MM_forces``) and
``predictions.csv`` (energies and errors per frame).

Example:
    >>> metrics = train_potential_run("frames.extxyz", "runs/pot")  # doctest: +SKIP
    >>> evaluate_potential_run("runs/pot", "test.extxyz")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from molmat.data.csv import DataError
from molmat.data.structures import (
    DEFAULT_LABELS,
    Frame,
    LabelKeys,
    read_index_file,
    read_split,
    read_structures,
)
from molmat.tasks.archives import load
from molmat.tasks.potential import PotentialModel
from molmat.tasks.run_folder import start_run, write_run_file
from molmat.training.plots import potential_learning_curve, potential_parity_plots

log = logging.getLogger("molmat")


def finish_run(
    model: PotentialModel, folder: Path, test: list[Frame], metrics: dict
) -> dict:
    """Score a fitted model and write its part of a run folder.

    Writes ``model/``, ``metrics.json``, ``learning_curve.png`` and, with
    ``test`` frames, their parity PNGs.

    Args:
        model: the fitted potential.
        folder: the run folder.
        test: test frames (may be empty).
        metrics: what the run reports besides the fit (e.g. set sizes).

    Returns:
        ``metrics`` with the best epoch's validation metrics, the fit's
        summary (best epoch, epochs run, why it stopped, seconds,
        compilations) and the test metrics, as written to ``metrics.json``.
    """
    history = model.history_
    best = history.records[history.best_epoch - 1]
    metrics = {
        **metrics,
        "validation": {k[4:]: v for k, v in best.items() if k.startswith("val_")},
        "best_epoch": history.best_epoch,
        "epochs_run": len(history.records),
        "stopped_by": history.stopped_by,
        "train_seconds": history.train_seconds,
        "compilations": history.compilations,
    }
    if test:
        metrics["test"], pred = model.evaluate_predict(test)
        potential_parity_plots(test, pred, folder, "test")
    model.save(folder / "model", metrics)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    potential_learning_curve(
        history.records, folder / "learning_curve.png", history.best_epoch, model.model
    )
    return metrics


def train_potential_run(
    data: str | Path,
    out: str | Path,
    format: str = "extxyz",
    keys: LabelKeys = DEFAULT_LABELS,
    split_index: str | None = None,
    test_index: str | None = None,
    rmd17_split: int | None = None,
    valid_file: str | Path | None = None,
    test_file: str | Path | None = None,
    strict: bool = False,
    resume: bool = False,
    **params,
) -> dict:
    """Read frames, train a :class:`PotentialModel`, write a run folder.

    Args:
        data: extxyz file or rMD17 ``.npz``.
        out: the run folder (see the module doc).
        format: ``extxyz`` or ``rmd17``.
        keys: where extxyz frames keep their labels.
        split_index, test_index: files of training and test frame indices
            (see :func:`~molmat.data.structures.read_split`).
        rmd17_split: upstream rMD17 split instead of index files.
        valid_file: frames (same format and keys) to validate on instead of
            holding ``val_frames`` out of the training frames.
        test_file: frames to test on instead of ``test_index`` frames.
        strict: stop at the first bad frame instead of skipping it.
        resume: continue an interrupted run in ``out`` from its checkpoint
            (same data and settings), ending as the run would have without
            a stop.
        **params: :class:`PotentialModel` settings.

    Returns:
        The metrics dict written to ``metrics.json``.
    """
    if rmd17_split is not None and (format != "rmd17" or split_index or test_index):
        raise DataError(
            "--rmd17-split needs --format rmd17 and replaces --split-index and "
            "--test-index"
        )
    if test_file and (test_index or rmd17_split is not None):
        raise DataError("--test-file replaces --test-index and --rmd17-split")
    model = PotentialModel(**params)
    out = Path(out)
    resume = start_run(out, resume)
    needs_forces = (model.forces_weight or 0) > 0 and bool(keys.forces)
    structures = read_structures(data, format, keys, needs_forces, strict)
    log.info("%s", structures.summary())
    train, test = read_split(structures, split_index, test_index, rmd17_split)
    report = {
        "source": structures.source,
        "units": structures.units,
        "n_frames": len(structures.frames) + len(structures.bad_frames),
        "bad_frames": [asdict(b) for b in structures.bad_frames],
        "n_train": len(train),
        "n_test": len(test),
    }
    val = None
    for name, path in (("valid", valid_file), ("test", test_file)):
        if path:
            extra = read_structures(path, format, keys, needs_forces, strict)
            log.info("%s", extra.summary())
            frames = [f for f in extra.frames if not f.is_isolated_atom]
            report[f"{name}_file"] = {
                "source": extra.source,
                "n_frames": len(extra.frames) + len(extra.bad_frames),
                "bad_frames": [asdict(b) for b in extra.bad_frames],
            }
            report[f"n_{name}"] = len(frames)
            if name == "valid":
                val = frames
            else:
                test = frames
    write_run_file(out / "data_report.json", json.dumps(report, indent=2), resume)
    model.fit(train, val, run_dir=out, resume=resume)
    return finish_run(model, out, test, {})


def evaluate_potential_run(
    model_path: str | Path,
    data: str | Path,
    out: str | Path | None = None,
    format: str = "extxyz",
    keys: LabelKeys = DEFAULT_LABELS,
    test_index: str | None = None,
    strict: bool = False,
    float64: bool | None = None,
) -> dict:
    """Metrics of a trained potential on frames; predictions and PNGs into ``out``.

    Args:
        model_path: run folder or archive of a potential.
        data: extxyz file or rMD17 ``.npz``.
        out: folder for ``metrics.json``, ``predictions.extxyz``,
            ``predictions.csv`` and the parity PNGs (None: nothing written).
        format: ``extxyz`` or ``rmd17``.
        keys: where extxyz frames keep their labels.
        test_index: file of the frame indices to score (default: all).
        strict: stop at the first bad frame instead of skipping it.
        float64: evaluate in double (True) or single (False) precision;
            None keeps the model's own.

    Returns:
        The metrics, as :meth:`PotentialModel.evaluate` gives them.
    """
    model = load(model_path)
    if not isinstance(model, PotentialModel):
        raise DataError(f"{model_path}: not a potential (use `molmat evaluate`)")
    structures = read_structures(data, format, keys, False, strict)
    frames = structures.frames
    if test_index:
        frames = structures.select(read_index_file(test_index), "test split")
    frames = [f for f in frames if not f.is_isolated_atom]
    metrics, pred = model.evaluate_predict(frames, float64=float64)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        name = f"{Path(str(data)).name}: evaluated frames"
        potential_parity_plots(frames, pred, out, "eval", name)
        write_frame_predictions(frames, pred, out)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def write_frame_predictions(frames: list[Frame], pred: dict, out: Path) -> None:
    """``predictions.extxyz`` and ``predictions.csv`` of evaluated frames.

    The extxyz keeps each frame's structure with ``REF_energy`` (eV) and
    ``REF_forces`` (eV/Å) where known, and ``MM_energy``, ``MM_forces`` (and
    ``MM_stress``, eV/Å^3, when predicted) from the model. The CSV has one row
    per frame: its index in the file, atoms, reference and predicted energy
    (eV), energy error (meV, meV/atom; prediction minus reference) and force
    RMSE (meV/Å).

    Args:
        frames: the evaluated frames.
        pred: :meth:`PotentialModel.predict`'s dict for them.
        out: the folder.
    """
    from ase import Atoms
    from ase.io import write

    images, rows = [], []
    for i, frame in enumerate(frames):
        atoms = Atoms(
            numbers=frame.numbers,
            positions=frame.positions,
            cell=frame.cell,
            pbc=frame.pbc,
        )
        energy, forces = float(pred["energy"][i]), pred["forces"][i]
        atoms.info.update(frame_index=frame.index, MM_energy=energy)
        if np.isfinite(frame.energy):
            atoms.info["REF_energy"] = float(frame.energy)
        if np.isfinite(forces).all():
            atoms.arrays["MM_forces"] = np.asarray(forces, np.float64)
        if frame.forces is not None:
            atoms.arrays["REF_forces"] = np.asarray(frame.forces, np.float64)
        stress = pred["stress"][i]
        if frame.pbc.any() and np.isfinite(stress).all():
            atoms.info["MM_stress"] = np.asarray(stress, np.float64).reshape(-1)
        images.append(atoms)
        error = 1000 * (energy - frame.energy)
        force_rmse = (
            1000 * float(np.sqrt(np.mean((forces - frame.forces) ** 2)))
            if frame.forces is not None and np.isfinite(forces).all()
            else float("nan")
        )
        rows.append(
            {
                "frame": frame.index,
                "n_atoms": frame.n_atoms,
                "energy_eV": frame.energy,
                "MM_energy_eV": energy,
                "energy_error_meV": error,
                "energy_error_meV_per_atom": error / frame.n_atoms,
                "forces_rmse_meV_per_A": force_rmse,
            }
        )
    write(out / "predictions.extxyz", images, format="extxyz")
    pd.DataFrame(rows).to_csv(out / "predictions.csv", index=False)
