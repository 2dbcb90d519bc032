"""Explanations: attribution speed, integrated-gradients completeness and
counterfactual success.

* ESOL (random split, seed 0): a graph model per ``--models`` (D-MPNN and GIN
  by default) trained with default settings; for every test molecule,
  integrated gradients at each of ``--steps`` with the completeness error
  ``|Σ attributions - (f(x) - f(baseline))|`` relative to
  ``|f(x) - f(baseline)|``; attribution speed (molecules/s) of every method,
  timed after one warm-up pass; counterfactuals that move the predicted log
  solubility by at least 1 log unit.
* ClinTox (scaffold split, seed 0, GIN, the best graph model of the zoo on
  it): counterfactuals of every test molecule for the CT_TOX task: the share
  with a flip of the predicted class (at the threshold chosen on validation,
  as ``molmat train`` picks it and ``molmat predict`` labels) at Tanimoto
  similarity >= 0.6 (Morgan radius 2), the mean similarity of the closest,
  and seconds per molecule.

One JSON line per result:

    python benchmarks/explain.py                      # everything
    python benchmarks/explain.py --parts completeness --models mpnn
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from provenance import commit

from molmat.data.csv import read_molecules
from molmat.explain import counterfactuals, explain
from molmat.tasks.runs import build_model, make_splits
from molmat.training.metrics import choose_threshold

PARTS = ("completeness", "speed", "counterfactuals")


def train(name: str, split: str, model: str, seed: int = 0):
    """A default-settings model on a bundled set, the SMILES of its test set
    and, for classifiers, the decision threshold of each target chosen on
    validation (as ``molmat train`` chooses it: highest MCC)."""
    table = read_molecules(name)
    ((tr, val, test),) = make_splits(table, split, seed)
    pick = lambda idx: [table.smiles[i] for i in idx]  # noqa: E731
    fitted = build_model(model, seed=seed, progress=False)
    tick = time.perf_counter()
    fitted.fit(
        pick(tr),
        table.y[tr],
        X_val=pick(val),
        y_val=table.y[val],
        target_names=table.target_names,
    )
    print(f"{name} {model}: trained in {time.perf_counter() - tick:.0f} s", flush=True)
    thresholds = {}
    if fitted.task_ == "classification":
        val_pred = fitted.predict_values(pick(val))
        thresholds = {
            t: choose_threshold(table.y[val, j], val_pred[:, j])
            for j, t in enumerate(fitted.target_names_)
        }
    return fitted, pick(test), thresholds


def emit(**result) -> None:
    print(
        json.dumps({"benchmark": "explain", **result, "commit": commit()}), flush=True
    )


def completeness(model, name, model_name, test, steps_list) -> None:
    for steps in steps_list:
        found = explain(model, test, "ig", steps=steps)
        delta = np.array([abs(a.prediction - a.reference) for a in found])
        error = np.array([a.completeness_error for a in found])
        rel = error / np.maximum(delta, 1e-12)
        emit(
            dataset=name,
            model=model_name,
            method="ig",
            steps=steps,
            n_molecules=len(found),
            share_within_1pct=round(float(np.mean(rel < 0.01)), 4),
            rel_error_p50=round(float(np.median(rel)), 5),
            rel_error_p95=round(float(np.percentile(rel, 95)), 5),
            abs_error_median=round(float(np.median(error)), 6),
            abs_error_p95=round(float(np.percentile(error, 95)), 6),
        )


def speed(model, name, model_name, test) -> None:
    for method in ("gradient", "ig", "smoothgrad", "shap"):
        subset = test if method != "shap" else test[:20]
        explain(model, subset[:8], method)  # compile the shapes of a batch
        tick = time.perf_counter()
        found = explain(model, subset, method)
        wall = time.perf_counter() - tick
        emit(
            dataset=name,
            model=model_name,
            method=method,
            n_molecules=len(found),
            wall_s=round(wall, 2),
            molecules_per_s=round(len(found) / wall, 1),
            settings={
                "ig": "64 steps",
                "smoothgrad": "32 samples",
                "shap": "64 permutations or exact",
            }.get(method, ""),
        )


def counterfactual_run(model, name, model_name, test, target, **options) -> None:
    best, seconds = [], []
    for smiles in test:
        found = counterfactuals(model, smiles, target=target, seed=0, **options)
        seconds.append(found.seconds)
        best.append(found.chosen.similarity.max() if found.found else np.nan)
    best = np.array(best, float)
    emit(
        dataset=name,
        model=model_name,
        method="counterfactual",
        target=target,
        n_molecules=len(test),
        options=options,
        success_rate=round(float(np.mean(best >= options["min_similarity"])), 4),
        mean_similarity=round(float(np.nanmean(best)), 4),
        seconds_per_molecule=round(float(np.mean(seconds)), 3),
        seconds_p95=round(float(np.percentile(seconds, 95)), 3),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--models", default="mpnn,gin", help="graph models on ESOL")
    p.add_argument("--steps", default="64,256,1024", help="ig steps to measure")
    p.add_argument("--samples", type=int, default=2000, help="STONED mutations")
    args = p.parse_args()
    parts = args.parts.split(",")
    for model_name in args.models.split(","):
        model, test, _ = train("esol", "random", model_name)
        if "completeness" in parts:
            steps = [int(s) for s in args.steps.split(",")]
            completeness(model, "ESOL", model_name, test, steps)
        if "speed" in parts:
            speed(model, "ESOL", model_name, test)
        if "counterfactuals" in parts:
            counterfactual_run(
                model,
                "ESOL",
                model_name,
                test,
                None,
                n_samples=args.samples,
                min_similarity=0.6,
                delta=1.0,
            )
    if "counterfactuals" in parts:
        model, test, thresholds = train("clintox", "scaffold", "gin")
        counterfactual_run(
            model,
            "ClinTox",
            "gin",
            test,
            "CT_TOX",
            n_samples=args.samples,
            min_similarity=0.6,
            threshold=round(thresholds["CT_TOX"], 4),
        )


if __name__ == "__main__":
    main()
