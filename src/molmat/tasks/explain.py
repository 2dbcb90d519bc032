"""``molmat explain``: attributions and counterfactuals written to a folder.

:func:`explain_to_folder` writes, for the usable molecules or sequences:

- ``molecules.csv``: one row per explained input: its input ``row``,
  ``item``, ``prediction``, ``reference`` (the baseline's prediction),
  ``attribution_sum``, ``descriptor_share`` and ``completeness_error``
  (plus ``shapley_max_std_error`` for Shapley values);
- ``attributions.csv``: one row per atom or token: ``row``, ``index``,
  ``part`` (element or token) and ``attribution``;
- ``features.csv`` (Shapley values of descriptor/fingerprint models): one
  row per feature column;
- ``pictures/<row>.png`` and ``.svg``: a similarity map (atoms) or token
  bars, with the prediction and the attribution sum in the caption.

:func:`counterfactuals_to_folder` writes ``counterfactuals.csv`` (the chosen
neighbours of every molecule), ``neighbours.csv`` (every predicted
neighbour) and one ``pictures/counterfactuals_<row>`` grid each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from molmat.data.console import progress_bar
from molmat.explain import counterfactuals, explain
from molmat.explain.draw import (
    draw_atom_attributions,
    draw_grid,
    draw_token_attributions,
)
from molmat.explain.inputs import target_index
from molmat.explain.record import Attribution
from molmat.tasks.runs import (
    load_for_prediction,
    model_input,
    model_tokens,
    read_inputs,
    report_data,
    saved_thresholds,
)

log = logging.getLogger("molmat")


@dataclass
class ExplainSummary:
    """What an explain run did: inputs read, explained and skipped, files written."""

    method: str
    target: str
    n_inputs: int
    n_explained: int
    skipped: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Inputs:
    """What to explain: the usable ``items``, their input ``rows`` (0-based
    row of the file, or position among ``--smiles``), how many rows were
    read and why the others were skipped."""

    items: list
    rows: np.ndarray
    n_rows: int
    skipped: list[str]


def read_items(model, smiles: list[str] | None, data, column, sep) -> Inputs:
    """Inputs to explain, from ``--smiles`` values or a ``--data`` file."""
    if smiles:
        return Inputs(list(smiles), np.arange(len(smiles)), len(smiles), [])
    table = read_inputs(
        data, column, [], require_targets=False, sep=sep, **model_input(model)
    )
    report_data(table.report)
    skipped = [str(b) for b in table.report.bad_rows]
    return Inputs(list(table.inputs), table.rows, table.report.n_rows, skipped)


def explain_to_folder(
    model_path: str | Path,
    out: str | Path,
    method: str,
    smiles: list[str] | None = None,
    data: str | Path | None = None,
    smiles_col: str | None = None,
    sep: str | None = None,
    target: str | None = None,
    pictures: int = 50,
    progress: bool = True,
    **options,
) -> ExplainSummary:
    """Explain a saved model's predictions for ``smiles`` or the file ``data``.

    ``options`` go to :func:`molmat.explain.explain` (``steps``, ``samples``,
    ``noise``, ``permutations``, ``seed``); ``pictures`` caps the number
    of molecules drawn.
    """
    model = load_for_prediction(model_path)
    inputs = read_items(model, smiles, data, smiles_col, sep)
    found = explain(model, inputs.items, method, target, progress=progress, **options)
    results = [replace(r, row=int(inputs.rows[r.row])) for r in found]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = ExplainSummary(
        method,
        results[0].target if results else str(target),
        inputs.n_rows,
        len(results),
        inputs.skipped + _unexplained(inputs, found),
    )
    summary.files += _write_tables(results, out)
    shown = results[:pictures]
    for result in progress_bar(shown, "drawing", enabled=progress and len(shown) > 1):
        summary.files += draw_attribution(result, out / "pictures")
    errors = np.array([r.completeness_error for r in results], float)
    if len(errors) and np.isfinite(errors).any():
        scale = np.array([abs(r.prediction - r.reference) for r in results])
        summary.stats["completeness_error_p95"] = float(
            np.nanpercentile(errors / np.maximum(scale, 1e-12), 95)
        )
    return summary


def _unexplained(inputs: Inputs, results: list[Attribution]) -> list[str]:
    """The usable-looking inputs a model still could not explain."""
    done = {r.row for r in results}
    return [
        f"row {inputs.rows[i]} ({item!r})"
        for i, item in enumerate(inputs.items)
        if i not in done
    ]


def _write_tables(results: list[Attribution], out: Path) -> list[Path]:
    molecules = pd.DataFrame(
        {
            "row": [r.row for r in results],
            "item": [r.item for r in results],
            "prediction": [r.prediction for r in results],
            "reference": [r.reference for r in results],
            "attribution_sum": [float(r.values.sum()) for r in results],
            "descriptor_share": [r.rest for r in results],
            "completeness_error": [r.completeness_error for r in results],
        }
    )
    if results and results[0].report is not None:
        molecules["shapley_max_std_error"] = [
            float(np.max(r.report.std_error, initial=0.0)) for r in results
        ]
    parts = pd.DataFrame(
        [
            (r.row, i, part, float(v))
            for r in results
            for i, (part, v) in enumerate(zip(r.parts, r.values, strict=True))
        ],
        columns=["row", "index", "part", "attribution"],
    )
    files = [out / "molecules.csv", out / "attributions.csv"]
    molecules.to_csv(files[0], index=False)
    parts.to_csv(files[1], index=False)
    if results and results[0].features is not None:
        features = pd.DataFrame(
            [(r.row, k, v) for r in results for k, v in r.features.items()],
            columns=["row", "feature", "shapley"],
        )
        files.append(out / "features.csv")
        features.to_csv(files[-1], index=False)
    return files


def caption(result: Attribution) -> str:
    """Two lines: the target, then ``prediction 1.23 | sum of attributions
    -0.45 (ig)``."""
    return (
        f"{result.target}\nprediction {result.prediction:.3g} | sum of "
        f"attributions {result.total:.3g} ({result.method})"
    )


def draw_attribution(result: Attribution, folder: Path) -> list[Path]:
    """A PNG and an SVG of one result: atoms coloured on the molecule, or
    bars per token for sequence models."""
    mol = Chem.MolFromSmiles(result.item)
    atoms = mol is not None and mol.GetNumAtoms() == len(result.parts)
    files = []
    for suffix in (".png", ".svg"):
        path = folder / f"{result.row}{suffix}"
        if atoms:
            files.append(
                draw_atom_attributions(mol, result.values, path, caption(result))
            )
        else:
            files.append(
                draw_token_attributions(
                    result.parts, result.values, path, caption(result)
                )
            )
    return files


def counterfactuals_to_folder(
    model_path: str | Path,
    out: str | Path,
    smiles: list[str] | None = None,
    data: str | Path | None = None,
    smiles_col: str | None = None,
    sep: str | None = None,
    progress: bool = True,
    **options,
) -> ExplainSummary:
    """The counterfactuals of each molecule (``options`` go to
    :func:`molmat.explain.counterfactuals`), as tables and grids."""
    model = load_for_prediction(model_path)
    if model_tokens(model) == "aa" or model_input(model)["structures"]:
        reads = "amino acids" if model_tokens(model) == "aa" else "crystal structures"
        raise ValueError(f"counterfactuals mutate molecules; this model reads {reads}")
    inputs = read_items(model, smiles, data, smiles_col, sep)
    skipped = list(inputs.skipped)
    out = Path(out)
    (out / "pictures").mkdir(parents=True, exist_ok=True)
    chosen, neighbours, seconds, similar = [], [], [], []
    target = options.get("target")
    if options.get("threshold") is None and model.task_ == "classification":
        name = model.target_names_[target_index(model, target)]
        saved = saved_thresholds(model_path) or {}
        options["threshold"] = saved.get(name, 0.5)
    bar = progress_bar(inputs.items, "counterfactuals", enabled=progress)
    for row, item in zip(inputs.rows, bar, strict=True):
        try:
            found = counterfactuals(model, item, **options)
        except ValueError as err:
            skipped.append(f"row {row}: {err}")
            log.warning("row %d skipped: %s", row, err)
            continue
        target = found.target
        seconds.append(found.seconds)
        chosen.append(found.chosen.assign(row=row, molecule=found.smiles))
        neighbours.append(found.neighbours.assign(row=row, molecule=found.smiles))
        similar.append(found.chosen.similarity.max() if found.found else np.nan)
        legends = [f"original: {found.prediction:.3g}"] + [
            f"sim {s:.2f} | {p:.3g}"
            for s, p in zip(
                found.chosen.similarity, found.chosen.prediction, strict=True
            )
        ]
        for suffix in (".png", ".svg"):
            draw_grid(
                [found.smiles, *found.chosen.smiles],
                legends,
                out / "pictures" / f"counterfactuals_{row}{suffix}",
            )
    files = [out / "counterfactuals.csv", out / "neighbours.csv"]
    first = ["row", "molecule"]
    for frame, path in zip((chosen, neighbours), files, strict=True):
        table = pd.concat(frame, ignore_index=True) if frame else pd.DataFrame()
        if len(table):
            table = table[first + [c for c in table.columns if c not in first]]
        table.to_csv(path, index=False)
    similar = np.array(similar, float)
    summary = ExplainSummary(
        "counterfactual", str(target), inputs.n_rows, len(similar), skipped, files
    )
    summary.stats = {
        "with_counterfactual": int(np.isfinite(similar).sum()),
        "mean_best_similarity": float(np.nanmean(similar))
        if np.isfinite(similar).any()
        else float("nan"),
        "seconds_per_molecule": float(np.mean(seconds)) if seconds else float("nan"),
    }
    if options.get("threshold") is not None:
        summary.stats["class_threshold"] = options["threshold"]
    return summary
