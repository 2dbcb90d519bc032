"""QM9 energies from 3D structures with the potential networks (PaiNN, NequIP, SchNet).

``molmat potential train --data qm9 --target U0 --model painn`` (or its alias
``molmat train --data qm9``) calls :func:`train_qm9_run`. The molecules are
split once by a seeded permutation: the first ``test_size`` are the test set,
the next ``val_size`` validation (best epoch), and training sets of each size
in ``train_sizes`` are nested prefixes of the rest, so a learning curve
compares like with like. Targets are energies in eV; per-element reference
energies are fitted by least squares on each training set and subtracted
before training (``PotentialModel``); errors are reported in meV.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from molmat.data.csv import DataError
from molmat.data.qm9 import check_target, qm9_frames, read_qm9_table
from molmat.data.structures import species_of
from molmat.tasks.potential import PotentialModel
from molmat.tasks.potential_runs import finish_run
from molmat.training.plots import size_curve

log = logging.getLogger("molmat")

# Energies only: no forces in QM9; batches of molecules, not of MD frames.
QM9_DEFAULTS = {"forces_weight": 0.0, "batch_size": 32, "plateau_patience": 5}


def qm9_split(
    n_molecules: int, train_sizes, val_size: int, test_size: int, seed: int
) -> dict[str, np.ndarray]:
    """Row indices: ``test``, ``val`` and the largest training set ``train``.

    Smaller training sets are prefixes of ``train``.
    """
    sizes = sorted(int(n) for n in train_sizes)
    if not sizes or sizes[0] < 1:
        raise DataError(f"training sizes must be positive, got {list(train_sizes)}")
    needed = sizes[-1] + val_size + test_size
    if needed > n_molecules:
        raise DataError(
            f"{sizes[-1]} training + {val_size} validation + {test_size} test "
            f"molecules need {needed}, but QM9 has {n_molecules}"
        )
    order = np.random.default_rng(seed).permutation(n_molecules)
    return {
        "test": order[:test_size],
        "val": order[test_size : test_size + val_size],
        "train": order[test_size + val_size : needed],
    }


def train_qm9_run(
    out: str | Path,
    target: str = "U0",
    model: str = "painn",
    train_sizes=(10_000,),
    val_size: int = 1_000,
    test_size: int = 10_000,
    seed: int = 0,
    path: str | Path | None = None,
    strict: bool = False,
    **params,
) -> dict:
    """Train one model per training-set size on QM9 ``target``; write a run folder.

    Args:
        out: run folder. With one size it holds ``model/``, ``metrics.json``,
            ``metrics.jsonl``, learning and parity PNGs; with several, one
            ``n_<size>/`` folder each plus ``learning_curve.csv``/``.png``
            (test MAE against training-set size).
        target: ``U0``, ``U``, ``H``, ``G`` or ``ZPVE`` (see ``molmat.data.qm9``).
        model: ``painn``, ``nequip`` or ``schnet``.
        train_sizes: training-set sizes (molecules).
        val_size, test_size: validation and test molecules.
        seed: split, initialisation and shuffling seed.
        path: a QM9 CSV in qm9pack's layout (default: the qm9pack package).
        strict: stop at the first unusable molecule instead of skipping it.
        **params: further :class:`PotentialModel` arguments (``time_limit``
            in minutes per model, ``epochs``, ``channels``, ``cutoff``...).

    Returns:
        ``{"target", "model", "units", "runs": [{"n_train", "test", ...}]}``;
        with several sizes it is written to ``out/metrics.json`` (and each
        run's dict to ``out/n_<size>/metrics.json``), with one size the run's
        dict is ``out/metrics.json``.
    """
    if "val_frames" in params:
        raise ValueError("QM9 runs validate on the val_size molecules, not val_frames")
    check_target(target)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = read_qm9_table(path)
    rows = qm9_split(len(table), train_sizes, val_size, test_size, seed)
    (out / "split.json").write_text(
        json.dumps({k: v.tolist() for k, v in rows.items()})
    )
    parts = {name: qm9_frames(table, target, idx, strict) for name, idx in rows.items()}
    report = {
        name: {"used": len(d.frames), "bad": [asdict(b) for b in d.bad_frames]}
        for name, d in parts.items()
    }
    (out / "data_report.json").write_text(json.dumps(report, indent=1))
    for name, d in parts.items():
        if d.bad_frames:
            log.warning("QM9 %s: %d molecules skipped", name, len(d.bad_frames))
    position = {int(r): k for k, r in enumerate(rows["train"])}
    settings = {**QM9_DEFAULTS, **params, "model": model, "seed": seed}
    sizes = sorted(int(n) for n in train_sizes)
    smallest = [f for f in parts["train"].frames if position[f.index] < sizes[0]]
    held_out = parts["val"].frames + parts["test"].frames
    unseen = sorted(set(species_of(held_out)) - set(species_of(smallest)))
    if unseen:
        raise DataError(
            f"validation/test molecules hold elements {unseen} that the "
            f"{sizes[0]} training molecules lack; use a larger training size"
        )
    runs = []
    for n in sizes:
        folder = out / f"n_{n}" if len(sizes) > 1 else out
        train = [f for f in parts["train"].frames if position[f.index] < n]
        log.info("QM9 %s, %s: %d training molecules", target, model, len(train))
        pot = PotentialModel(**settings, val_frames=0)
        pot.fit(train, val=parts["val"].frames, run_dir=folder)
        sizes_used = {
            "n_train": len(train),
            "n_val": len(parts["val"].frames),
            "n_test": len(parts["test"].frames),
        }
        runs.append(finish_run(pot, folder, parts["test"].frames, sizes_used))
    result = {"target": target, "model": model, "units": "meV", "runs": runs}
    if len(sizes) > 1:
        points = [
            {"size": r["n_train"], "mae": r["test"]["energy_mae_meV"]} for r in runs
        ]
        title = f"QM9 {target}, {model}, test set n = {len(parts['test'].frames)}"
        size_curve(points, out / "learning_curve.png", "mae", "meV", title)
        lines = ["n_train,test_energy_mae_meV,test_energy_rmse_meV"]
        lines += [
            f"{r['n_train']},{r['test']['energy_mae_meV']:.3f},"
            f"{r['test']['energy_rmse_meV']:.3f}"
            for r in runs
        ]
        (out / "learning_curve.csv").write_text("\n".join(lines) + "\n")
        (out / "metrics.json").write_text(json.dumps(result, indent=2))
    return result
