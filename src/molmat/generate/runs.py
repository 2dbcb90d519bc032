"""Run folders of ``molmat generate``: train, sample, evaluate.

``train_generator_run`` writes ``model/`` (the archive), ``metrics.json``,
``metrics.jsonl`` (one line per epoch), ``data_report.json`` and
``learning_curve.png``; ``sample_run`` writes a CSV of generated SMILES;
``evaluate_run`` writes the MOSES metrics beside the published baselines.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from molmat.tasks.corpus import read_corpus
from molmat.tasks.run_folder import start_run, write_run_file
from molmat.training.plots import learning_curve

log = logging.getLogger("molmat")

GENERATORS = ("rnn", "transformer", "vae")


def make_generator(model: str, **params):
    """An untrained generator of kind ``model`` (see :data:`GENERATORS`)."""
    if model == "vae":
        from molmat.generate.vae import VAE

        return VAE(**params)
    if model in ("rnn", "transformer"):
        from molmat.generate.language import LanguageModel

        return LanguageModel(model=model, **params)
    raise ValueError(
        f"unknown generator {model!r}; choose from {', '.join(GENERATORS)}"
    )


def train_generator_run(
    data: str,
    out: str | Path,
    model: str = "rnn",
    smiles_col: str | None = None,
    conditions: tuple[str, ...] = (),
    resume: bool = False,
    **params,
) -> dict:
    """Read a corpus, train a generator, write a run folder; returns the
    metrics written to ``metrics.json``."""
    out = Path(out)
    generator = make_generator(model, **params)
    resume = start_run(out, resume)
    corpus = read_corpus(data, smiles_col, conditions)
    report = {
        "source": data,
        "n_molecules": len(corpus),
        "bad_rows": corpus.bad_rows,
        "conditions": list(corpus.condition_names),
    }
    write_run_file(out / "data_report.json", json.dumps(report, indent=2), resume)
    tick = time.perf_counter()
    generator.fit(
        corpus.smiles,
        condition=corpus.condition if conditions else None,
        condition_names=conditions,
        checkpoint_dir=out,
        metrics_log=out / "metrics.jsonl",
        resume=resume,
    )
    history = generator.history_
    records = history.records
    best = records[history.best_epoch - 1] if history.best_epoch else records[-1]
    metrics = {
        "model": model,
        "tokens": generator.tokens,
        "n_train": generator.n_train_,
        "n_not_encoded": generator.n_skipped_,
        "n_bad_rows": len(corpus.bad_rows),
        "vocabulary": len(generator.vocab_),
        "validation": {k[4:]: v for k, v in best.items() if k.startswith("val_")},
        "best_epoch": history.best_epoch,
        "epochs_run": len(records),
        "stopped_by": history.stopped_by,
        "train_seconds": history.train_seconds,
        "tokens_per_second": float(
            np.median([r["tokens_per_second"] for r in records])
        ),
        "wall_seconds": time.perf_counter() - tick,
    }
    generator.save(out / "model", metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    learning_curve(
        records,
        out / "learning_curve.png",
        "loss",
        history.best_epoch,
        units="nats/token",
        loss_label="train loss",
        title=f"{Path(data).name}, {model} ({generator.tokens})",
    )
    return metrics


def sample_run(
    model_path: str | Path,
    n: int,
    out: str | Path,
    progress: bool = True,
    **options,
) -> dict:
    """Sample ``n`` molecules from a trained generator into a CSV (column
    ``SMILES``, plus ``valid``); returns a summary (validity, uniqueness,
    molecules per second)."""
    from rdkit import Chem

    from molmat.tasks.archives import load

    generator = load(model_path)
    if not hasattr(generator, "sample"):
        raise ValueError(f"{model_path} is not a generator archive")
    generator.progress = progress
    tick = time.perf_counter()
    smiles = generator.sample(n, **options)
    seconds = time.perf_counter() - tick
    valid = np.array([bool(s) and Chem.MolFromSmiles(s) is not None for s in smiles])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"SMILES": smiles, "valid": valid}).to_csv(out, index=False)
    return {
        "n": n,
        "valid": float(valid.mean()) if n else 0.0,
        "unique_valid": len({s for s, v in zip(smiles, valid, strict=True) if v}),
        "seconds": seconds,
        "molecules_per_second": n / seconds if seconds else float("inf"),
        "out": str(out),
    }


def read_generated(path: str | Path) -> list[str]:
    """The generated SMILES of a CSV (``SMILES`` column, or the first) or a
    .smi file (first field per line); empty entries count as invalid."""
    path = Path(path)
    if path.suffix in (".smi", ".txt"):
        lines = path.read_text().splitlines()
        return [line.split()[0] if line.strip() else "" for line in lines]
    frame = pd.read_csv(path, keep_default_na=False)
    column = "SMILES" if "SMILES" in frame.columns else frame.columns[0]
    return frame[column].astype(str).tolist()


def evaluate_run(
    generated: str | Path,
    reference: str = "moses",
    scaffold_reference: str | None = None,
    train: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    with_fcd: bool = True,
):
    """MOSES metrics of a file of generated SMILES; with ``out``, the table
    beside the published baselines is written there as CSV.

    ``reference`` is ``moses`` (test, scaffold-test and train of MOSES) or a
    file of test molecules, with optional scaffold-test and train files.
    """
    from molmat.generate import metrics

    smiles = read_generated(generated)
    if reference.lower() == "moses":
        if scaffold_reference or train:
            raise ValueError(
                "--reference moses brings its own scaffold-test and train sets"
            )
        ref = "moses"
    else:
        ref = tuple(
            read_generated(p) if p else None
            for p in (reference, scaffold_reference, train)
        )
    results = metrics.moses_metrics(smiles, ref, progress=progress, with_fcd=with_fcd)
    if out is not None:
        rows = metrics.metrics_table(results, Path(generated).stem)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows[1:], columns=rows[0]).to_csv(out, index=False)
    return results


def objective_function(objective: str):
    """``qed``/``plogp``, or a property-model archive whose first output is
    the score (its ``predict`` on a SMILES list)."""
    from molmat.generate.optimize import OBJECTIVES

    if objective.lower() in OBJECTIVES:
        return objective.lower()
    if not Path(objective).exists():
        raise ValueError(
            f"objective {objective!r} is neither {' nor '.join(OBJECTIVES)} nor a "
            "model archive"
        )
    from molmat.tasks.archives import load

    model = load(objective)
    return lambda smiles: np.asarray(model.predict(smiles), float)


def optimize_run(
    model_path: str | Path,
    objective: str,
    out: str | Path,
    data: str | None = None,
    smiles_col: str | None = None,
    progress: bool = True,
    **options,
) -> dict:
    """Climb a VAE's latent space toward ``objective`` and write ``out/``:
    ``best.csv`` (SMILES, score), ``trajectory.csv``, ``latent_map.png``
    (the pool's latents coloured by the objective) and ``interpolation.csv``
    (greedy decodes from the best starting molecule to the best found).

    ``data``: the known molecules whose latents start the search (default:
    the training data named in the run folder's ``data_report.json``).
    """
    from molmat.generate.optimize import CountedObjective, latent_map, optimize_latent
    from molmat.tasks.archives import load

    vae = load(model_path)
    if not hasattr(vae, "interpolate"):
        raise ValueError(
            f"{model_path} is not a VAE archive (molmat generate train --model vae)"
        )
    vae.progress = progress
    if data is None:
        report = Path(model_path) / "data_report.json"
        if not report.exists():
            raise ValueError("pass --data: the molecules to start from")
        data = json.loads(report.read_text())["source"]
    known = read_corpus(data, smiles_col).smiles
    function = objective_function(objective)
    tick = time.perf_counter()
    result = optimize_latent(vae, function, known, progress=progress, **options)
    seconds = time.perf_counter() - tick
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"SMILES": result.smiles, "score": result.scores}).to_csv(
        out / "best.csv", index=False
    )
    pd.DataFrame(result.trajectory).to_csv(out / "trajectory.csv", index=False)
    rng = np.random.default_rng(0)
    shown = [known[i] for i in rng.permutation(len(known))[:2000]]
    scores = CountedObjective(function)(shown)
    latent_map(
        vae,
        shown,
        scores,
        out / "latent_map.png",
        label={"qed": "QED", "plogp": "penalised logP"}.get(
            objective.lower(), Path(objective).name
        ),
        title=f"latent space of {Path(model_path).name}",
    )
    if result.smiles:  # from the best shown known molecule to the best found
        start = shown[int(np.nanargmax(scores))]
        path = vae.interpolate(start, result.smiles[0], steps=10)
        pd.DataFrame({"t": np.linspace(0, 1, len(path)), "SMILES": path}).to_csv(
            out / "interpolation.csv", index=False
        )
    return {
        "objective": objective,
        "top": list(zip(result.smiles[:3], result.scores[:3].tolist(), strict=True)),
        "objective_calls": result.objective_calls,
        "start_best": result.start_best,
        "seconds": seconds,
        "out": str(out),
    }
