"""``molmat flow``: run folders of normalizing flows over property tables.

:func:`train_flow_run` holds out a seeded test share of the usable rows,
fits a :class:`~molmat.tasks.flow.FlowModel` on the rest (its own validation
share inside) and writes ``model/``, ``metrics.json`` (test log-likelihood
per variable beside a full-covariance Gaussian fitted to the same rows),
``metrics.jsonl``, ``split.json``, ``data_report.json``,
``learning_curve.png`` and ``corner.png`` (samples against test rows).
:func:`sample_flow` and :func:`score_flow` write CSV files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from molmat.data.csv import DataError
from molmat.tasks.archives import load
from molmat.tasks.flow import FlowModel, read_flow_table
from molmat.tasks.run_folder import start_run, write_run_file
from molmat.training.plots import corner_plot, learning_curve


def train_flow_run(
    data: str | Path,
    out: str | Path,
    columns: list[str],
    condition: list[str] | None = None,
    test_fraction: float = 0.1,
    sep: str | None = None,
    resume: bool = False,
    **params,
) -> dict:
    """Train a flow on ``columns`` of ``data`` (given ``condition``
    columns); returns the metrics written to ``metrics.json``."""
    out = Path(out)
    condition = list(condition or [])
    table = read_flow_table(data, sep)
    missing = [c for c in [*columns, *condition] if c not in table]
    if missing:
        raise DataError(
            f"{data}: no column {missing}; the columns are "
            f"{', '.join(map(str, table.columns))}"
        )
    model = FlowModel(**params)
    resume = start_run(out, resume)
    numeric = table[columns].apply(pd.to_numeric, errors="coerce")
    bad = np.flatnonzero(
        (numeric.isna().any(axis=1) | table[condition].isna().any(axis=1)).to_numpy()
    )
    usable = np.setdiff1d(np.arange(len(table)), bad)
    order = np.random.default_rng([model.seed, 1]).permutation(usable)
    n_test = int(round(test_fraction * len(usable)))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    report = {
        "source": str(data),
        "n_rows": len(table),
        "n_used": len(usable),
        "bad_rows": [int(i) for i in bad],
        "columns": columns,
        "condition": condition,
    }
    write_run_file(out / "data_report.json", json.dumps(report, indent=2), resume)
    split = {"train": train.tolist(), "test": test.tolist()}
    write_run_file(out / "split.json", json.dumps(split), resume)
    tick = time.perf_counter()
    model.fit(
        numeric.iloc[train],
        table[condition].iloc[train] if condition else None,
        checkpoint_dir=out,
        metrics_log=out / "metrics.jsonl",
        resume=resume,
    )
    fit_seconds = time.perf_counter() - tick
    x_train, x_test = numeric.iloc[train], numeric.iloc[test]
    c_test = table[condition].iloc[test] if condition else None
    dim = len(columns)
    flow_ll = model.log_prob(x_test, c_test)
    gaussian = stats.multivariate_normal(
        x_train.mean().to_numpy(),
        np.cov(x_train.to_numpy().T, ddof=0).reshape(dim, dim),
    )
    history = model.history_
    metrics = {
        "model": model.model,
        "columns": columns,
        "condition": condition,
        "n_train": model.n_train_,
        "n_val": model.n_val_,
        "n_test": len(test),
        "test_log_likelihood_per_dim": float(np.mean(flow_ll)) / dim,
        "gaussian_test_log_likelihood_per_dim": float(
            np.mean(gaussian.logpdf(x_test.to_numpy()))
        )
        / dim,
        "best_epoch": history.best_epoch,
        "epochs_run": len(history.records),
        "stopped_by": history.stopped_by,
        "fit_seconds": fit_seconds,
    }
    model.save(out / "model", metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    learning_curve(
        history.records,
        out / "learning_curve.png",
        "nll_per_dim",
        history.best_epoch,
        units="nats",
        loss_label="train NLL per variable (nats)",
        title=f"{Path(str(data)).name}, {model.model}",
        log_loss=False,
    )
    if len(test):
        samples = model.sample(len(test), c_test, seed=model.seed)
        corner_plot(
            x_test.to_numpy(),
            samples[columns].to_numpy(),
            columns,
            out / "corner.png",
            title=f"{model.model}: samples (blue) against test rows (grey)",
        )
    return metrics


def sample_flow(
    model_path: str | Path,
    n: int,
    out: str | Path,
    condition: dict | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """``n`` rows from a saved flow, written to the CSV ``out``."""
    model = _flow(model_path)
    model.progress = progress
    rows = model.sample(n, condition, seed=seed)
    rows.to_csv(out, index=False)
    return rows


def score_flow(
    model_path: str | Path,
    data: str | Path,
    out: str | Path,
    sep: str | None = None,
) -> pd.DataFrame:
    """Per-row log-likelihoods (nats; ``log_likelihood`` and per variable)
    of the rows of ``data`` (with the flow's condition columns, if any)
    appended as columns, written to the CSV ``out``."""
    model = _flow(model_path)
    table = read_flow_table(data, sep)
    ll = model.log_prob(table, table if model.conditions_.columns else None)
    scored = table.assign(
        log_likelihood=ll, log_likelihood_per_dim=ll / len(model.columns_)
    )
    scored.to_csv(out, index=False)
    return scored


def _flow(model_path) -> FlowModel:
    model = load(model_path)
    if not isinstance(model, FlowModel):
        raise ValueError(f"{model_path} is a {type(model).__name__}, not a flow")
    return model
