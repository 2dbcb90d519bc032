"""Run folders: train on a CSV with a split, predict a CSV, evaluate a model.

These are the functions behind ``molmat train``, ``predict`` and ``evaluate``;
the CLI only parses arguments and prints what they return.

A run folder holds ``split.json``, ``metrics.json`` (test/val metrics, data
report, timings), ``data_report.json`` (every skipped row),
``test_predictions.csv``, ``parity.png`` or ``roc.png`` and the model archive
``model/``; graph networks add ``metrics.jsonl`` (one line per epoch),
``learning_curve.png`` and ``checkpoint/``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from molmat.classic.intervals import fit_intervals, interval_summary
from molmat.classic.models import CLASSIC_MODELS
from molmat.data import splits as splitting
from molmat.data.crystals import StructureTable, read_structure_table
from molmat.data.csv import (
    CompositionTable,
    DataError,
    DataReport,
    MoleculeTable,
    SequenceTable,
    read_compositions,
    read_molecules,
    read_sequences,
)
from molmat.data.datasets import DATASETS
from molmat.data.molecules import infer_task
from molmat.featurizers.composition import COMPOSITION_SETS
from molmat.featurizers.structure import STRUCTURE_SETS
from molmat.featurizers.tokens import MOLECULE_TOKENS, TOKENIZERS, tokenizer
from molmat.models.crystal import CRYSTAL_MODELS
from molmat.models.gnn import ENCODERS, is_graph_model
from molmat.models.sequence import ENCODERS as SEQUENCE_ENCODERS
from molmat.tasks.archives import load
from molmat.tasks.classic import ClassicModel
from molmat.tasks.crystal import CrystalModel
from molmat.tasks.ensemble import EnsembleModel
from molmat.tasks.predictor import in_domain, table_predictions
from molmat.tasks.pretrain import is_graph_encoder
from molmat.tasks.property import PropertyModel
from molmat.tasks.run_folder import start_run, write_run_file
from molmat.tasks.sequence import SequenceModel
from molmat.training import archive, plots
from molmat.training.metrics import choose_threshold, score, selection_metric

log = logging.getLogger("molmat")

SPLITS = ("random", "scaffold", "scaffold-deterministic", "kfold", "matbench")
MODELS = tuple(
    dict.fromkeys((*ENCODERS, *SEQUENCE_ENCODERS, *CRYSTAL_MODELS, *CLASSIC_MODELS))
)
Table = MoleculeTable | SequenceTable | CompositionTable | StructureTable


def is_sequence_model(model: str, tokens: str | None) -> bool:
    """Sequence models: ``cnn1d`` and ``gru``, and ``transformer`` with tokens
    or a pretrained encoder (without them ``transformer`` is the graph
    transformer)."""
    return model in SEQUENCE_ENCODERS and (tokens is not None or model not in ENCODERS)


def build_model(
    model: str, seed: int = 0, ensemble: int = 1, **params
) -> PropertyModel | SequenceModel | CrystalModel | ClassicModel | EnsembleModel:
    """A graph network (``mpnn``, ``gin``..., an architecture file), a sequence
    model (``cnn1d``, ``gru``, or ``transformer`` with ``tokens``), a crystal
    network (``cgcnn``, ``painn``, ``nequip``, ``alignn``) or a classic model.

    ``params`` that the chosen kind of model does not take are left out, so
    one set of options can describe every kind. ``ensemble > 1`` gives an
    :class:`EnsembleModel` of that many copies with seeds ``seed + i``.
    """
    if not is_graph_model(model) and model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {list(MODELS)}")
    init = params.get("init")
    sequence_init = init is not None and not is_graph_encoder(init)
    if is_sequence_model(model, params.get("tokens") or sequence_init):
        kind = SequenceModel
    elif params.get("tokens") is not None:
        raise ValueError(
            f"--tokens is for the sequence models ({', '.join(SEQUENCE_ENCODERS)}), "
            f"not {model}"
        )
    elif model in CRYSTAL_MODELS:
        kind = CrystalModel
    else:
        kind = PropertyModel if is_graph_model(model) else ClassicModel
    materials = (*COMPOSITION_SETS, *STRUCTURE_SETS)
    joined = kind is CrystalModel and params.get("features") in STRUCTURE_SETS
    if params.get("features") in materials and kind is not ClassicModel and not joined:
        raise ValueError(
            f"{params['features']} features of materials are for the classic "
            f"models ({', '.join(CLASSIC_MODELS)}), not {model}"
        )
    accepted = kind().get_params()
    single = kind(
        model=model, seed=seed, **{k: v for k, v in params.items() if k in accepted}
    )
    return EnsembleModel(single, size=ensemble) if ensemble > 1 else single


def report_data(report: DataReport, shown: int = 10) -> None:
    """Log the data summary and the first bad rows."""
    log.info("%s", report.summary())
    for bad in report.bad_rows[:shown]:
        log.warning("skipped %s", bad)
    if len(report.bad_rows) > shown:
        log.warning("... and %d more skipped rows", len(report.bad_rows) - shown)
    conflicts = [d for d in report.duplicates if d.conflicting]
    for dup in conflicts[:shown]:
        log.warning("duplicate entry with conflicting labels: %s", dup)


def report_json(report: DataReport) -> str:
    """``data_report.json``: the summary, every skipped row and duplicate."""
    return json.dumps(
        {
            "summary": report.summary(),
            "bad_rows": [asdict(b) for b in report.bad_rows],
            "duplicates": [asdict(d) for d in report.duplicates],
        },
        indent=1,
    )


def make_splits(
    table: Table,
    split: str,
    seed: int,
    split_file: str | Path | None = None,
    folds: int = 5,
    val_fraction: float = 0.1,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Positions (among parsed molecules) of train/val/test, one tuple per fold.

    ``matbench``: Matbench's official five folds over the file's rows
    (:func:`~molmat.data.splits.matbench_splits`), ``val_fraction`` of each
    training part held out for validation.

    ``scaffold`` is seeded and balanced (chemprop's ``scaffold_balanced``);
    ``scaffold-deterministic`` puts the largest scaffold groups in train
    whatever the seed. A split file with several replicates gives one tuple
    each.
    """
    if split_file is not None:
        return splitting.load_splits(split_file, table.rows, table.report.n_rows)
    if split == "random":
        return [splitting.random_split(len(table), seed)]
    if split in ("scaffold", "scaffold-deterministic"):
        if not isinstance(table, MoleculeTable):
            raise DataError(
                f"a {split} split needs molecules; split {table.input_name}s "
                "with --split random, kfold or a --split-file"
            )
        balanced = split == "scaffold"
        return [splitting.scaffold_split(table.mols, seed=seed, balanced=balanced)]
    if split == "kfold":
        return splitting.kfold_splits(len(table), folds, seed)
    if split == "matbench":
        return splitting.matbench_splits(
            table.rows, table.report.n_rows, table.y, seed, val_fraction
        )
    raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")


def train_run(
    data: str | Path,
    out: str | Path,
    *,
    smiles_col: str | None = None,
    sequence_col: str | None = None,
    composition_col: str | None = None,
    labels: str | Path | None = None,
    targets: list[str] | None = None,
    split: str = "scaffold",
    split_file: str | Path | None = None,
    folds: int = 5,
    val_fraction: float = 0.1,
    seed: int = 0,
    resume: bool = False,
    strict: bool = False,
    intervals: str | None = None,
    alpha: float = 0.1,
    sep: str | None = None,
    **model_params,
) -> dict:
    """Train and test a model on a CSV; write a run folder.

    Args:
        data: CSV path or bundled dataset name.
        out: run folder (one sub-folder per fold for ``split="kfold"``).
        smiles_col, targets, strict, sep: see :func:`read_molecules`.
        sequence_col: the column of sequences of a sequence model: amino-acid
            sequences with ``tokens="aa"`` (read by :func:`read_sequences`),
            otherwise SMILES (as ``smiles_col``).
        composition_col: the column of chemical formulas of a composition
            model (``features="magpie"``; read by :func:`read_compositions`).
        labels: structures only: a CSV of properties keyed by structure file
            name (see :func:`read_structure_table`).
        split: ``random``, ``scaffold`` (seeded, balanced),
            ``scaffold-deterministic`` (largest scaffolds to train), 80/10/10,
            ``kfold`` (each fold tests on one fold and trains on the rest,
            10% of which validate) or ``matbench`` (Matbench's official five
            folds over the file's rows).
        val_fraction: share of each training part held out for validation
            with ``matbench`` (0: none; classic models need none).
        split_file: JSON split to use instead (``train``/``val``/``test`` rows,
            or chemprop's list of them, one per replicate).
        folds: number of folds for ``kfold``.
        seed: seed of the split and of the model.
        resume: continue an interrupted run from its checkpoint.
        intervals: regression only: ``bootstrap``, ``cv+``, ``jackknife+`` or
            ``gp`` (1 - ``alpha``) prediction intervals on the test set, written
            next to the predictions with their empirical coverage; their
            calibration is archived, so ``predict_file`` gives intervals too.
        **model_params: ``model`` (see :func:`build_model`) and the arguments of
            :class:`PropertyModel`, :class:`SequenceModel` or :class:`ClassicModel`.

    Returns:
        ``{"runs": [metrics.json of each fold], "summary": {metric: (mean, std)}}``.
    """
    probe = build_model(seed=seed, **model_params)  # a bad model choice fails first
    if model_input(probe)["structures"] and str(data).lower() in DATASETS:
        raise DataError(
            f"{probe.model} is a crystal network: --data must hold periodic "
            f"structures (extxyz, CIF or POSCAR files, a folder or tar archive of "
            f"them); {data} is a molecule dataset: train a molecular network "
            f"(mpnn, schnet...) on it, or an energy model with `molmat potential "
            f"train` (--data qm9 for QM9)"
        )
    if split == "matbench" and isinstance(probe, ClassicModel):
        val_fraction = 0.0  # nothing to stop early: all training rows train
    out = Path(out)
    resume = start_run(out, resume)
    table = read_inputs(
        data,
        composition_col or sequence_col or smiles_col,
        targets,
        strict=strict,
        sep=sep,
        labels=labels,
        **model_input(probe),
    )
    report_data(table.report)
    write_run_file(out / "data_report.json", report_json(table.report), resume)
    if len(table) < 3:
        raise DataError(f"{table.report.source}: only {len(table)} usable molecules")
    parts = make_splits(table, split, seed, split_file, folds, val_fraction)
    runs = []
    for k, fold in enumerate(parts):
        folder = out / f"fold_{k}" if len(parts) > 1 else out
        if len(parts) > 1:
            log.info("fold %d of %d", k + 1, len(parts))
        runs.append(
            _train_one(
                table,
                fold,
                folder,
                seed=seed,
                resume=resume,
                intervals=intervals,
                alpha=alpha,
                split_name=split_title(split, split_file, seed, k, len(parts)),
                **model_params,
            )
        )
    summary = _summarise(runs)
    if len(parts) > 1:
        (out / "metrics.json").write_text(
            json.dumps({"folds": runs, "summary": summary}, indent=1)
        )
    return {"runs": runs, "summary": summary}


def read_inputs(
    data: str | Path,
    column: str | None,
    targets: list[str] | None,
    *,
    tokens: str | None = None,
    features: str | None = None,
    structures: bool = False,
    **options,
) -> Table:
    """The table a model reads: amino-acid sequences for ``tokens="aa"``
    (checked residue by residue), compositions for composition ``features``
    (``magpie``), crystal structures (extxyz, CIF, POSCAR or a folder of
    them; ``column`` unused) for structure ``features``
    (``magpie-structure``) and for crystal networks (``structures``),
    otherwise molecules from SMILES.

    ``options``: ``require_targets``, ``strict``, ``sep`` of the readers,
    and ``labels`` (a CSV joined to structures by name).
    """
    labels = options.pop("labels", None)
    if labels is not None and not (structures or features in STRUCTURE_SETS):
        raise ValueError(
            "--labels joins properties to structure files by name; this model "
            "reads a CSV, which holds its targets itself"
        )
    if features in COMPOSITION_SETS:
        return read_compositions(data, column, targets, **options)
    if structures or features in STRUCTURE_SETS:
        options.pop("sep", None)
        return read_structure_table(data, targets, labels=labels, **options)
    if tokens is not None and tokens not in MOLECULE_TOKENS:
        check = tokenizer(tokens).split
        return read_sequences(data, column, targets, check=check, **options)
    if tokens is not None and tokens not in TOKENIZERS:
        tokenizer(tokens)  # the error naming the known kinds
    return read_molecules(data, column, targets, **options)


def _train_one(
    table: Table,
    fold: tuple[np.ndarray, np.ndarray, np.ndarray],
    out: Path,
    *,
    seed: int,
    resume: bool,
    intervals: str | None = None,
    alpha: float = 0.1,
    split_name: str = "",
    **model_params,
) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    train, val, test = fold
    if len(train) == 0:
        raise DataError("the split leaves no training molecules")
    split_text = splitting.split_json(splitting.to_rows(fold, table.rows))
    write_run_file(out / "split.json", split_text, resume)
    log.info("split: %d train, %d val, %d test", len(train), len(val), len(test))

    def pick(idx):
        return [table.inputs[i] for i in idx]

    model = build_model(seed=seed, **model_params)
    tick = time.perf_counter()
    model.fit(
        pick(train),
        table.y[train],
        X_val=pick(val) if len(val) else None,
        y_val=table.y[val] if len(val) else None,
        target_names=table.target_names,
        checkpoint_dir=out / "checkpoint",
        metrics_log=out / "metrics.jsonl",
        resume=resume,
    )
    wall = time.perf_counter() - tick
    records = model.history_.records
    metrics = {
        "data": table.report.source,
        "task": model.task_,
        "targets": table.target_names,
        "model": model.model,
        "ensemble": model_params.get("ensemble", 1),
        "split_sizes": {"train": len(train), "val": len(val), "test": len(test)},
        "best_epoch": model.history_.best_epoch,
        "epochs_run": len(records),
        "fit_seconds": wall,
        "train_seconds": model.history_.train_seconds,
        "compilations": model.history_.compilations,
        "size_classes": model.history_.size_classes,
        "data_report": table.report.summary(),
    }
    skipped = skipped_rows(table, {"X": train, "X_val": val}, model)
    if skipped:
        metrics["skipped_molecules"] = skipped
    thresholds = None
    if len(val):
        val_pred = model.predict_values(pick(val))
        if model.task_ == "classification":
            thresholds = {
                name: choose_threshold(table.y[val, j], val_pred[:, j])
                for j, name in enumerate(model.target_names_)
            }
            metrics["thresholds"] = thresholds
        metrics["val"] = score(
            model.task_, table.y[val], val_pred, model.target_names_, thresholds
        )
    if len(test):
        pred = model.predict_values(pick(test))
        metrics["test"] = score(
            model.task_, table.y[test], pred, model.target_names_, thresholds
        )
        bounds = {}
        if isinstance(model, EnsembleModel):
            _, spread = model.predict_with_std(pick(test))
            metrics["test"]["ensemble"] = spread_vs_error(
                table.y[test], pred, spread, model.target_names_
            )
            bounds = {"std": spread}
        if intervals and model.task_ == "regression":
            bounds, metrics["test"]["intervals"] = intervals_on_test(
                intervals, alpha, model, table, train, test, seed, model_params
            )
        write_predictions(
            table, test, pred, model, out / "test_predictions.csv", bounds, thresholds
        )
        draw_result_plots(
            model,
            table.y[test],
            pred,
            metrics["test"],
            out,
            f"{Path(table.report.source).name}: test set, {split_name}",
            target_units(table.report.source, model.task_),
        )
    if records:  # epoch-wise training only
        plots.learning_curve(
            records,
            out / "learning_curve.png",
            selection_metric(
                model.task_,
                metrics.get("val"),
                model.get_params().get("select_by", "metric"),
            ),
            model.history_.best_epoch,
            units=target_units(table.report.source, model.task_),
            loss_label=TRAIN_LOSSES[model.task_],
            title=f"{Path(table.report.source).name}, {model.model}, {split_name}",
        )
    model.save(out / "model", metrics=metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def intervals_on_test(
    method: str,
    alpha: float,
    model,
    table: Table,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    model_params: dict,
) -> tuple[dict, dict]:
    """Prediction intervals of every target on the test molecules.

    Their calibrations go to ``model.intervals_`` (saved with the model).
    Returns ``{target: (lower, upper)}`` and ``{"method", "alpha", "coverage",
    "mean_width", "per_target"}`` (coverage and width averaged over targets).
    """

    def make():
        return build_model(seed=seed, **{**model_params, "progress": False})

    log.info("%s prediction intervals (%d%%)", method, round(100 * (1 - alpha)))
    test_mols = [table.inputs[i] for i in test]
    bounds, per_target, calibrations = {}, {}, []
    for j, name in enumerate(model.target_names_):
        labelled = train[~np.isnan(table.y[train, j])]
        *bounds[name], calibration = fit_intervals(
            method,
            make,
            [table.inputs[i] for i in labelled],
            table.y[labelled, j],
            test_mols,
            alpha,
            seed,
            fitted=model,
            target=j,
        )
        per_target[name] = interval_summary(table.y[test, j], *bounds[name])
        calibrations.append(calibration)
    model.intervals_ = calibrations
    summary = {
        key: float(np.mean([p[key] for p in per_target.values()]))
        for key in ("coverage", "mean_width")
    }
    return bounds, {
        "method": method,
        "alpha": alpha,
        **summary,
        "per_target": per_target,
    }


def spread_vs_error(
    y: np.ndarray, pred: np.ndarray, spread: np.ndarray, names: list[str]
) -> dict:
    """Spearman rank correlation of ensemble spread with absolute error, per target.

    A useful uncertainty ranks molecules by error: correlation well above 0.
    """
    per_target = {}
    for j, name in enumerate(names):
        known = ~np.isnan(y[:, j])
        error = np.abs(y[known, j] - pred[known, j])
        varies = known.sum() > 2 and np.ptp(spread[known, j]) > 0 and np.ptp(error) > 0
        rho = stats.spearmanr(spread[known, j], error).statistic if varies else np.nan
        per_target[name] = {
            "spearman_spread_error": float(rho),
            "mean_spread": float(np.mean(spread[known, j])),
        }
    rhos = np.array([v["spearman_spread_error"] for v in per_target.values()])
    mean = float(np.nanmean(rhos)) if np.isfinite(rhos).any() else float("nan")
    return {"spearman_spread_error": mean, "per_target": per_target}


def skipped_rows(table: Table, parts: dict, model) -> list[dict]:
    """Input rows a model left out while fitting (e.g. no 3D conformer, a
    token outside the vocabulary), logged.

    ``parts`` maps the model's set names (``X``, ``X_val``) to table positions.
    """
    skipped = []
    for d in getattr(model, "dropped_", []):
        position = parts[d["set"]][d["index"]]
        row, text = int(table.rows[position]), table.texts[position]
        log.warning("skipped row %d (%s): %s", row, text, d["reason"])
        skipped.append({"row": row, table.input_name: text, "reason": d["reason"]})
    return skipped


def write_predictions(
    table: Table,
    idx: np.ndarray,
    pred: np.ndarray,
    model,
    path: Path,
    bounds: dict | None = None,
    thresholds: dict | None = None,
) -> None:
    """Row, SMILES (or sequence), measured and predicted values of entries ``idx``.

    ``bounds`` (``{target: (lower, upper)}``, and ``"std"``: [n, T] ensemble
    spreads) adds interval and spread columns;
    classification adds 0/1 labels at ``thresholds`` (default 0.5).
    """
    frame = pd.DataFrame(
        {"row": table.rows[idx], table.input_name: [table.texts[i] for i in idx]}
    )
    labels = (
        label_columns(model, pred, thresholds) if model.task_ != "regression" else {}
    )
    for j, name in enumerate(model.target_names_):
        frame[name] = table.y[idx, j]
        frame[prediction_column(model, name)] = pred[:, j]
        if f"{name}_label" in labels:
            frame[f"{name}_label"] = labels[f"{name}_label"]
        if bounds and name in bounds:
            frame[f"{name}_lower"], frame[f"{name}_upper"] = bounds[name]
        if bounds and "std" in bounds:
            frame[f"{name}_std"] = bounds["std"][:, j]
    frame.to_csv(path, index=False)


def prediction_column(model: PropertyModel, target: str) -> str:
    """``<target>_pred`` (regression) or ``<target>_prob`` (classification)."""
    return f"{target}_{'pred' if model.task_ == 'regression' else 'prob'}"


def label_columns(
    model, pred: np.ndarray, thresholds: dict[str, float] | None
) -> dict[str, np.ndarray]:
    """``<target>_label`` 0/1 columns at each target's decision threshold.

    Missing predictions stay missing (pandas nullable integers).
    """
    out = {}
    for j, name in enumerate(model.target_names_):
        labels = pd.array(pred[:, j] >= (thresholds or {}).get(name, 0.5), "Int64")
        labels[np.isnan(pred[:, j])] = pd.NA
        out[f"{name}_label"] = labels
    return out


# What the training loss of a graph network is, for its learning curve.
TRAIN_LOSSES = {
    "regression": "train loss (MSE of standardised targets)",
    "classification": "train loss (binary cross-entropy)",
}


def split_title(
    split: str, split_file: str | Path | None, seed: int, part: int, n_parts: int
) -> str:
    """How a run's molecules were split, for plot titles.

    E.g. ``"scaffold split, seed 0"``, ``"kfold split, seed 1, fold 2 of 5"``
    or ``"split file my_split.json"``; ``part`` is 0-based.
    """
    name = (
        f"split file {Path(split_file).name}"
        if split_file is not None
        else f"{split} split, seed {seed}"
    )
    return f"{name}, fold {part + 1} of {n_parts}" if n_parts > 1 else name


def target_units(source: str, task: str) -> str:
    """Units of a bundled regression dataset's targets ("" when not known)."""
    info = DATASETS.get(source)
    if info is None or task != "regression" or info.task != "regression":
        return ""
    return info.units


def draw_result_plots(
    model: PropertyModel,
    y: np.ndarray,
    pred: np.ndarray,
    metrics: dict,
    out: Path,
    title: str = "",
    units: str = "",
) -> list[Path]:
    """Parity plot per target (regression); ROC and precision-recall curves and
    confusion matrices (classification).

    ``title`` names the set, e.g. ``"esol: test set, scaffold split, seed 0"``;
    ``units`` are the targets' units (regression; "" when not known).
    """
    if model.task_ == "classification":
        names = model.target_names_
        return [
            plots.roc_plot(y, pred, out / "roc.png", names, title),
            plots.pr_plot(y, pred, out / "precision_recall.png", names, title),
            plots.confusion_plot(
                metrics["per_target"], out / "confusion.png", title=title
            ),
        ]
    paths = []
    for j, name in enumerate(model.target_names_):
        suffix = "" if model.n_targets_ == 1 else f"_{j}"
        paths.append(
            plots.parity_plot(
                y[:, j],
                pred[:, j],
                out / f"parity{suffix}.png",
                name,
                metrics["per_target"][name],
                units=units,
                title=title,
            )
        )
    return paths


def _summarise(runs: list[dict]) -> dict:
    """Mean and standard deviation of each test metric over runs."""
    tests = [r["test"] for r in runs if "test" in r]
    if not tests:
        return {}
    keys = [k for k, v in tests[0].items() if isinstance(v, float)]
    return {k: mean_std([t[k] for t in tests]) for k in keys}


def mean_std(values) -> tuple[float, float]:
    """Mean and standard deviation of the values that are not NaN (NaN if none)."""
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std())


def saved_thresholds(model_path: str | Path) -> dict[str, float] | None:
    """Decision thresholds chosen on validation when the model was trained."""
    return archive.read_metrics(model_path).get("thresholds")


def load_for_prediction(model_path: str | Path, use_cache: bool = True):
    """A saved model; ``use_cache=False`` keeps it (and every ensemble member)
    from reading or writing the feature cache and the conformer store."""
    model = load(model_path)
    if not use_cache:
        for member in getattr(model, "members_", [model]):
            member.use_cache = False
    return model


def single_model(model):
    """``model``, or the first member (the base, unfitted) of an ensemble."""
    if isinstance(model, EnsembleModel):
        return model.members_[0] if hasattr(model, "members_") else model.base
    return model


def model_tokens(model) -> str | None:
    """The token kind of a sequence model (of an ensemble's members), else ``None``."""
    member = single_model(model)
    return (
        getattr(member, "tokens", None) if isinstance(member, SequenceModel) else None
    )


def model_input(model) -> dict:
    """The keywords of :func:`read_inputs` that read what ``model`` takes:
    ``tokens`` of a sequence model, ``features`` of a classic model,
    ``structures`` for a crystal network."""
    member = single_model(model)
    features = member.features if isinstance(member, ClassicModel) else None
    return {
        "tokens": model_tokens(model),
        "features": features,
        "structures": isinstance(member, CrystalModel),
    }


def predict_file(
    model_path: str | Path,
    data: str | Path,
    out: str | Path,
    smiles_col: str | None = None,
    use_cache: bool = True,
    sep: str | None = None,
) -> tuple[pd.DataFrame, DataReport]:
    """Add one prediction column per target to the input CSV and write it to ``out``.

    ``<target>_std`` comes with Gaussian-process regressions (predictive σ),
    ensembles (spread over members) and bootstrap-interval models;
    ``<target>_lower``/``_upper`` with models trained with ``intervals`` (at
    their ``alpha``); classifiers add ``<target>_label`` at the thresholds
    chosen on validation. ``in_domain`` is False for molecules with elements
    absent from the training molecules (one warning sums them up; models
    saved without that record get no column).

    Rows whose SMILES cannot be used keep their place with empty predictions.
    ``use_cache=False``: no feature cache or conformer store is read or written.
    """
    model = load_for_prediction(model_path, use_cache)
    table = read_inputs(
        data, smiles_col, [], require_targets=False, sep=sep, **model_input(model)
    )
    report_data(table.report)
    columns = table_predictions(model, table)
    pred = columns.pop("pred")
    frame = table.frame.copy()
    for j, name in enumerate(model.target_names_):
        frame[prediction_column(model, name)] = pred[:, j]
        for key, values in columns.items():
            frame[f"{name}_{key}"] = values[:, j]
    domain = in_domain(model, table)
    if domain is not None:
        frame["in_domain"] = domain
    if model.task_ == "classification":
        frame = frame.assign(**label_columns(model, pred, saved_thresholds(model_path)))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return frame, table.report


def evaluate_file(
    model_path: str | Path,
    data: str | Path,
    out: str | Path | None = None,
    smiles_col: str | None = None,
    use_cache: bool = True,
    sep: str | None = None,
) -> tuple[dict, Path]:
    """Metrics and plots of a model on a labelled CSV; written to ``out``.

    ``out`` defaults to ``<model>_evaluation_<data name>`` beside the model
    folder; nothing is written inside the model folder (an ``out`` there is
    refused). ``use_cache=False``: no feature cache or conformer store is read
    or written.
    """
    folder = Path(model_path).resolve()
    if out is None:
        name = Path(str(data)).name.split(".")[0]
        out = folder.parent / f"{folder.name}_evaluation_{name}"
    out = Path(out)
    if out.resolve().is_relative_to(folder):
        raise ValueError(
            f"--out {out} is inside the model folder {model_path}; evaluations "
            "go beside it, so the model stays as it was trained"
        )
    model = load_for_prediction(model_path, use_cache)
    table = read_inputs(
        data, smiles_col, model.target_names_, sep=sep, **model_input(model)
    )
    report_data(table.report)
    out.mkdir(parents=True, exist_ok=True)
    pred = model.predict_values(table.inputs)
    thresholds = saved_thresholds(model_path)
    metrics = score(model.task_, table.y, pred, model.target_names_, thresholds)
    metrics["data_report"] = table.report.summary()
    if model.task_ == "regression" and infer_task(table.y) == "classification":
        log.warning("labels look binary but the model is a regression model")
    draw_result_plots(
        model,
        table.y,
        pred,
        metrics,
        out,
        f"{Path(table.report.source).name}: evaluation set",
        target_units(table.report.source, model.task_),
    )
    write_predictions(
        table,
        np.arange(len(table)),
        pred,
        model,
        out / "predictions.csv",
        thresholds=thresholds,
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics, out
