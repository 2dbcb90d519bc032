"""``molmat crystal``: run folders of crystal generators.

:func:`train_crystal_run` holds out a seeded test share of the structures
(``test.extxyz``), fits a :class:`~molmat.tasks.crystal_generator.
CrystalGenerator` on the rest (its own validation share inside) and writes
``model/``, ``metrics.json``, ``metrics.jsonl``, ``split.json``,
``data_report.json`` and ``learning_curve.png``. :func:`generate_crystals`
writes sampled structures as extxyz or CIF; :func:`evaluate_crystals`
scores them against reference structures
(:mod:`molmat.tasks.crystal_metrics`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import ase.io
import numpy as np

from molmat.tasks.archives import load
from molmat.tasks.crystal_generator import CrystalGenerator, read_crystals
from molmat.tasks.run_folder import start_run, write_run_file
from molmat.training.plots import learning_curve

OUTPUT_FORMATS = {".extxyz": "extxyz", ".xyz": "extxyz", ".cif": "cif"}


def frame_atoms(frame):
    """An ``ase.Atoms`` of a :class:`~molmat.data.structures.Frame`."""
    return ase.Atoms(
        numbers=frame.numbers, positions=frame.positions, cell=frame.cell, pbc=frame.pbc
    )


def write_structures(structures, path: str | Path) -> Path:
    """Write ``ase.Atoms`` to ``path`` (``.extxyz``/``.xyz``: one file of
    frames; ``.cif``: one CIF file of data blocks)."""
    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: write structures as .extxyz, .xyz or .cif")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    ase.io.write(tmp, list(structures), format=fmt)
    tmp.replace(path)
    return path


def train_crystal_run(
    data: str | Path,
    out: str | Path,
    test_fraction: float = 0.1,
    resume: bool = False,
    **params,
) -> dict:
    """Train a generator on the structures of ``data``; returns the metrics
    written to ``metrics.json``."""
    out = Path(out)
    model = CrystalGenerator(**params)
    frames, names = read_crystals(data)
    resume = start_run(out, resume)
    order = np.random.default_rng([model.seed, 1]).permutation(len(frames))
    n_test = int(round(test_fraction * len(frames)))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    report = {"source": str(data), "n_structures": len(frames), "names": names}
    write_run_file(out / "data_report.json", json.dumps(report, indent=2), resume)
    split = {"train": train.tolist(), "test": test.tolist()}
    write_run_file(out / "split.json", json.dumps(split), resume)
    if len(test):
        write_structures([frame_atoms(frames[i]) for i in test], out / "test.extxyz")
    tick = time.perf_counter()
    model.fit(
        [frames[i] for i in train],
        checkpoint_dir=out,
        metrics_log=out / "metrics.jsonl",
        resume=resume,
    )
    history = model.history_
    metrics = {
        "model": model.model,
        "task": model.task,
        "n_train": model.n_train_,
        "n_val": model.n_val_,
        "n_test": len(test),
        "elements": len(model.elements_),
        "max_atoms": model.max_atoms_,
        "best_epoch": history.best_epoch,
        "epochs_run": len(history.records),
        "stopped_by": history.stopped_by,
        "best_val_loss": history.best_score,
        "fit_seconds": time.perf_counter() - tick,
    }
    model.save(out / "model", metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    learning_curve(
        history.records,
        out / "learning_curve.png",
        "loss",
        history.best_epoch,
        units="",
        loss_label="train loss",
        title=f"{Path(str(data)).name}, {model.model}",
    )
    return metrics


def generator(model_path: str | Path) -> CrystalGenerator:
    """The :class:`CrystalGenerator` saved at ``model_path`` (archive or run folder)."""
    model = load(model_path)
    if not isinstance(model, CrystalGenerator):
        raise ValueError(
            f"{model_path} is a {type(model).__name__}, not a crystal generator"
        )
    return model


def generate_crystals(
    model_path: str | Path,
    out: str | Path,
    n: int | None = None,
    compositions: list[str] | None = None,
    compositions_of: str | Path | None = None,
    sampling_steps: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Sample ``n`` new crystals, or one structure per composition (given,
    or those of the structures in ``compositions_of``, atoms in their
    order), and write them to ``out`` (extxyz or CIF); returns counts and
    throughput. ``sampling_steps`` overrides the model's."""
    model = generator(model_path)
    model.progress = progress
    if sampling_steps is not None:
        model.sampling_steps = sampling_steps
    if compositions_of is not None:
        frames, _ = read_crystals(compositions_of)
        compositions = [list(f.numbers) for f in frames]
    tick = time.perf_counter()
    if compositions:
        structures = model.predict_structures(compositions, seed=seed)
    else:
        structures = model.generate(int(n or 0), seed=seed)
    seconds = time.perf_counter() - tick
    write_structures(structures, out)
    return {
        "structures": len(structures),
        "seconds": seconds,
        "structures_per_second": len(structures) / max(seconds, 1e-9),
        "out": str(out),
    }


def same_compositions(generated: list, reference: list) -> bool:
    """Whether ``generated[i]`` has the atoms of ``reference[i]`` for every
    ``i`` (structure prediction output)."""
    return len(generated) == len(reference) and all(
        sorted(g.numbers) == sorted(r.numbers)
        for g, r in zip(generated, reference, strict=True)
    )


def evaluate_crystals(
    generated: str | Path,
    reference: str | Path,
    mode: str = "auto",
    dataset: str = "perov_5",
    progress: bool = True,
) -> dict:
    """CDVAE's metrics of the structures in ``generated`` against those in
    ``reference``. ``mode``: ``csp`` (pairwise structure prediction: match
    rate, RMSE), ``denovo`` (validity, coverage, property distances) or
    ``auto`` (``csp`` when every generated structure has its reference's
    atoms). Returns the metrics with ``mode`` and the published numbers."""
    from molmat.tasks import crystal_metrics

    gen = [frame_atoms(f) for f in read_crystals(generated)[0]]
    ref = [frame_atoms(f) for f in read_crystals(reference)[0]]
    if mode == "auto":
        mode = "csp" if same_compositions(gen, ref) else "denovo"
    if mode == "csp":
        if not same_compositions(gen, ref):
            raise ValueError(
                f"{generated}: structure prediction is scored pairwise, but its "
                f"{len(gen)} structures do not have the atoms of the {len(ref)} "
                f"of {reference} in the same order"
            )
        scores = crystal_metrics.match_rate(gen, ref, progress)
    elif mode == "denovo":
        scores = crystal_metrics.generation_metrics(gen, ref, dataset, progress)
    else:
        raise ValueError(f"mode is auto, csp or denovo, not {mode!r}")
    published = crystal_metrics.PUBLISHED[mode].get(dataset, {})
    return {"mode": mode, "dataset": dataset, **scores, "published": published}
