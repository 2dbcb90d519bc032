"""Several models trained on identical splits, side by side.

Behind ``molmat compare`` and ``molmat train --model a,b,c``. Every model sees
the same split for a given seed (random, scaffold and k-fold splits are drawn
from the seed and the data alone; ``scaffold-deterministic`` ignores it), so
differences are the models'.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from molmat.tasks.runs import mean_std, target_units, train_run
from molmat.training import plots

log = logging.getLogger("molmat")

# Headline metrics of the comparison table, best first.
HEADLINE = {
    "regression": ("rmse", "mae", "r2"),
    "classification": ("roc_auc", "pr_auc", "mcc"),
}


def compare_models(
    data: str | Path,
    out: str | Path,
    models: list[str],
    seeds: list[int],
    **run_params,
) -> dict:
    """Train every model with every seed and summarise test metrics.

    Args:
        data: CSV path or bundled dataset name.
        out: folder; each run goes to ``out/<model>/seed_<s>`` (the file stem
            for an architecture file).
        models: names accepted by :func:`~molmat.tasks.runs.build_model`.
        seeds: seeds of split and training.
        **run_params: the other arguments of :func:`train_run` (split,
            targets, model hyperparameters...). With ``init`` (a pretrained
            encoder) every model trains twice, from scratch and from the
            encoder (rows ``<model> (scratch)`` and ``<model> (pretrained)``,
            folders ``out/<model>/{scratch,pretrained}/seed_<s>``).

    Returns:
        ``{"task", "metrics", "rows": [{"model", "<metric>": (mean, std),
        "fit_seconds": (mean, std), "runs": n}]}``; also written to
        ``comparison.json``, ``comparison.csv`` and ``comparison.png``.
    """
    if not models or not seeds:
        raise ValueError("compare needs at least one model and one seed")
    out = Path(out)
    runs: dict[str, list[dict]] = {}
    for name in models:
        for label, sub, params in _variants(name, run_params):
            for seed in seeds:
                log.info("== %s, seed %d", label, seed)
                # stem: architecture files
                folder = out / Path(name).stem / sub / f"seed_{seed}"
                result = train_run(data, folder, model=name, seed=seed, **params)
                runs.setdefault(label, []).extend(result["runs"])
    task = next(iter(runs.values()))[0]["task"]
    metrics = HEADLINE[task]
    rows = [_row(name, model_runs, metrics) for name, model_runs in runs.items()]
    summary = {"task": task, "metrics": list(metrics), "seeds": seeds, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(summary, indent=1))
    flat = pd.DataFrame(
        [
            {
                "model": r["model"],
                "runs": r["runs"],
                **{
                    f"{k}_{stat}": r[k][i]
                    for k in (*metrics, "fit_seconds")
                    for i, stat in enumerate(("mean", "std"))
                },
            }
            for r in rows
        ]
    )
    flat.to_csv(out / "comparison.csv", index=False)
    units = target_units(next(iter(runs.values()))[0]["data"], task)
    plots.comparison_bars(rows, metrics[0], out / "comparison.png", units)
    return summary


def _variants(name: str, run_params: dict) -> list[tuple[str, str, dict]]:
    """``(row label, sub-folder, train_run parameters)`` of one model: itself,
    or from scratch and from the ``init`` encoder."""
    if not run_params.get("init"):
        return [(name, "", run_params)]
    scratch = {**run_params, "init": None, "freeze_encoder": False}
    return [
        (f"{name} (scratch)", "scratch", scratch),
        (f"{name} (pretrained)", "pretrained", run_params),
    ]


def _row(name: str, runs: list[dict], metrics: tuple[str, ...]) -> dict:
    """Mean and standard deviation over runs of each metric and the fit time."""
    row = {"model": name, "runs": len(runs)}
    for metric in metrics:
        row[metric] = mean_std([r["test"][metric] for r in runs])
    row["fit_seconds"] = mean_std([r["fit_seconds"] for r in runs])
    return row
