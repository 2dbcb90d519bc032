"""Normalizing flows against Gaussians and Gaussian mixtures: held-out
log-likelihood per variable on materials tables.

Tables:

- ``core_mof``: LCD, PLD (Å), void fraction and density (g/cm³) of every
  CoRE MOF 2019 (ASR) entry;
- ``core_mof_porous``: the same plus the accessible surface area (m²/g), on
  the MOFs whose surface area is positive (27% have exactly 0: a point mass
  no density describes);
- ``perov_5``: the cubic lattice parameter (Å; Perov-5 cells are cubic, so a
  is the only free lattice parameter) and the formation energy per cell
  (``heat_ref``, eV) of the Perov-5 validation set.

One seeded split per table (80% train, 10% validation, 10% test), the same
for every model. Baselines on the training rows: a full-covariance Gaussian
and a Gaussian mixture whose number of components (1-256) is chosen on the
validation rows, each in the data space and in the flows' own unconstrained
space (log of positive columns, logit of bounded ones, with the Jacobian, so
all densities are over the same data). Flows (``--models``) fit on the
training and validation rows, holding out the same share at random for
early stopping. One JSON line per table
and model: test log-likelihood per variable (nats), wall seconds; flows also
write a corner plot of samples against the test rows under ``--out``.

    python benchmarks/flows.py --mofs ../shared/data/materials/mof \\
        --perov ../shared/data/materials/cdvae/perov_5_val.csv.gz
"""

from __future__ import annotations

import argparse
import io
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import commit
from scipy import stats
from sklearn.mixture import GaussianMixture

from molmat.tasks.flow import FlowModel, fit_domain, unconstrained
from molmat.training.plots import corner_plot

COMPONENTS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def tables(mofs: Path, perov: Path) -> dict[str, pd.DataFrame]:
    """The benchmark tables, numeric columns only, complete rows."""
    core = pd.read_csv(mofs / "core_mof_2019_asr.csv.gz", encoding="latin-1")
    four = ["LCD", "PLD", "AV_VF", "cm3_g"]
    out = {
        "core_mof": core[four],
        "core_mof_porous": core.loc[core.ASA_m2_g > 0, [*four, "ASA_m2_g"]],
    }
    if perov.exists():
        from ase.io import read

        frame = pd.read_csv(perov)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = [
                read(io.StringIO(c), format="cif").cell.cellpar()[0] for c in frame.cif
            ]
        out["perov_5"] = pd.DataFrame({"a": a, "heat_ref": frame.heat_ref})
    return {k: v.dropna().reset_index(drop=True) for k, v in out.items()}


def split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = n_test = int(round(0.1 * n))
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]


def gaussian_ll(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    cov = np.atleast_2d(np.cov(train.T, ddof=0))
    return stats.multivariate_normal(train.mean(axis=0), cov).logpdf(test)


def mixture_ll(train, val, test, seed: int = 0) -> tuple[np.ndarray, int]:
    """Test log-likelihoods of the mixture best on ``val``, and its size."""
    best = None
    for k in COMPONENTS:
        if k * 10 > len(train):
            break
        gmm = GaussianMixture(k, covariance_type="full", random_state=seed, n_init=2)
        gmm.fit(train)
        score = gmm.score(val)
        if best is None or score > best[0]:
            best = (score, k, gmm)
    return best[2].score_samples(test), best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mofs", default="../shared/data/materials/mof")
    parser.add_argument(
        "--perov", default="../shared/data/materials/cdvae/perov_5_val.csv.gz"
    )
    parser.add_argument("--tables", nargs="+", default=None, help="default: all")
    parser.add_argument("--models", nargs="+", default=["realnvp", "maf", "spline"])
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--out", default="runs/bench-flows")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables(Path(args.mofs), Path(args.perov)).items():
        if not args.tables or name in args.tables:
            run_table(name, table, args, out)


def run_table(name: str, table: pd.DataFrame, args, out: Path) -> None:
    """Every baseline and flow on one table; one JSON line each."""
    x = table.to_numpy(np.float64)
    train, val, test = split(len(x))
    dim = x.shape[1]
    common = {
        "benchmark": "flows",
        "dataset": name,
        "columns": list(table.columns),
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
    }

    def emit(model: str, ll: np.ndarray, seconds: float, **extra) -> None:
        line = {
            **common,
            "model": model,
            "test_ll_per_dim": round(float(np.mean(ll)) / dim, 4),
            "wall_s": round(seconds, 1),
            **extra,
            "commit": commit(),
        }
        print(json.dumps(line), flush=True)

    domain = fit_domain(list(table.columns), x[train], "auto")
    u, log_det = unconstrained(domain, x)
    for space, data, jac in (
        ("data", x, np.zeros(len(x))),
        ("unconstrained", u, log_det),
    ):
        tick = time.perf_counter()
        ll = gaussian_ll(data[train], data[test]) + jac[test]
        emit(f"gaussian ({space} space)", ll, time.perf_counter() - tick)
        tick = time.perf_counter()
        ll, k = mixture_ll(data[train], data[val], data[test])
        emit(
            f"gmm ({space} space)",
            ll + jac[test],
            time.perf_counter() - tick,
            components=k,
        )
    fit_rows = np.concatenate([train, val])
    for model in args.models:
        if model != "maf" and dim < 2:
            continue
        tick = time.perf_counter()
        flow = FlowModel(
            model,
            layers=args.layers,
            hidden=args.hidden,
            epochs=args.epochs,
            val_fraction=len(val) / len(fit_rows),
            progress=False,
        ).fit(table.iloc[fit_rows])
        seconds = time.perf_counter() - tick
        ll = flow.log_prob(table.iloc[test])
        samples = flow.sample(len(test), seed=0)
        corner_plot(
            x[test],
            samples.to_numpy(),
            list(table.columns),
            out / f"{name}_{model}_corner.png",
            title=f"{name}, {model}: samples (blue) against test rows (grey)",
        )
        emit(
            f"molmat {model}",
            ll,
            seconds,
            layers=args.layers,
            hidden=args.hidden,
            epochs_run=len(flow.history_.records),
            best_epoch=flow.history_.best_epoch,
        )


if __name__ == "__main__":
    main()
