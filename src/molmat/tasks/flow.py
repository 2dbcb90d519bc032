"""Normalizing-flow densities of tables of material properties.

:class:`FlowModel` learns the joint density of numeric columns (say the
pore diameters, surface area, void fraction and density of MOFs), optionally
given condition columns (numbers, or categories such as a metal or a flag),
by maximum likelihood on the shared training engine. It scores rows
(``log_prob``: an outlier score for new materials), and samples new rows,
given a condition or not.

Columns are positive (``log``), bounded (``logit``) or real, by the data
(``domains="auto"``: a column strictly inside (0, 1) is bounded to [0, 1],
one with only positive values is positive) or as stated; bijections carry
the constraint, so samples always respect it and densities are in the
data's own units. Log-likelihoods are in nats.

Example:
    >>> flow = FlowModel("spline").fit(table[["LCD", "PLD", "AV_VF"]])  # doctest: +SKIP
    >>> flow.sample(1000)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from molmat.data.batching import row_batches
from molmat.data.console import progress_bar
from molmat.data.core_mof import NAME as CORE_MOF
from molmat.data.core_mof import core_mof_table
from molmat.data.csv import DataError, read_table
from molmat.models.generative.flow import FLOW_MODELS, Flow, build_flow
from molmat.nn.flows import BOUNDED, POSITIVE, REAL, Domain
from molmat.training import archive
from molmat.training.engine import Engine, OptimizerConfig, plateau_callbacks

log = logging.getLogger("molmat")

DOMAIN_KINDS = {"real": REAL, "positive": POSITIVE, "bounded": BOUNDED}


def read_flow_table(source: str | Path, sep: str | None = None) -> pd.DataFrame:
    """A table of properties: ``core_mof`` (the CoRE MOF 2019 property
    table), a bundled dataset name or a CSV/TSV path."""
    if str(source).lower() == CORE_MOF:
        return core_mof_table()
    return read_table(source, sep).frame


def column_domain(name: str, values: np.ndarray, spec: str) -> tuple[int, float, float]:
    """``(kind, low, high)`` of a column from ``spec`` (``auto``, ``real``,
    ``positive`` or ``low:high``); checks the values fit it."""
    if spec == "auto":
        if values.min() > 0 and values.max() < 1:
            return BOUNDED, 0.0, 1.0
        return (POSITIVE, 0.0, 1.0) if values.min() > 0 else (REAL, 0.0, 1.0)
    if spec in ("real", "positive"):
        if spec == "positive" and not values.min() > 0:
            raise DataError(f"column {name} is declared positive but has values <= 0")
        return DOMAIN_KINDS[spec], 0.0, 1.0
    try:
        low, high = (float(v) for v in spec.split(":"))
    except ValueError as err:
        raise ValueError(
            f"domain of {name}: {spec!r} is not auto, real, positive or low:high"
        ) from err
    if not (values.min() > low and values.max() < high):
        raise DataError(
            f"column {name} has values outside its domain ({low}, {high}): "
            f"min {values.min():.4g}, max {values.max():.4g}"
        )
    return BOUNDED, low, high


def fit_domain(columns: list[str], values: np.ndarray, domains: str | dict) -> Domain:
    """The :class:`~molmat.nn.flows.Domain` of the columns of ``values`` [n,
    D]: each column's support (``domains``: ``"auto"`` or ``{column: spec}``,
    see :func:`column_domain`), then the mean and standard deviation of the
    unconstrained values."""
    specs = domains if isinstance(domains, dict) else {}
    if not isinstance(domains, dict) and domains != "auto":
        raise ValueError("domains is 'auto' or a {column: spec} dict")
    unknown = sorted(set(specs) - set(columns))
    if unknown:
        raise ValueError(f"domains name unknown columns {unknown}")
    found = [
        column_domain(name, values[:, i], specs.get(name, "auto"))
        for i, name in enumerate(columns)
    ]
    kinds = tuple(k for k, _, _ in found)
    low = tuple(lo for _, lo, _ in found)
    high = tuple(hi for _, _, hi in found)
    plain = Domain(kinds, low, high, (0.0,) * len(kinds), (1.0,) * len(kinds))
    u, _ = unconstrained(plain, values)
    std = np.where(u.std(axis=0) > 0, u.std(axis=0), 1.0)
    mean = tuple(float(v) for v in u.mean(axis=0))
    return Domain(kinds, low, high, mean, tuple(float(v) for v in std))


def unconstrained(domain: Domain, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` [n, D] through ``domain``: the real values [n, D] and the
    log-Jacobian [n] of the map (a density there, plus it, is one here)."""
    u, log_det = jax.vmap(lambda v: domain.forward(v, jnp.zeros(0)))(
        jnp.asarray(values, jnp.float32)
    )
    return np.asarray(u, np.float64), np.asarray(log_det, np.float64)


@dataclass(frozen=True)
class Conditions:
    """How condition columns become the flow's condition vector: numbers
    standardised, categories one-hot."""

    columns: tuple[str, ...] = ()
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> Conditions:
        mean, std, categories = {}, {}, {}
        for name in frame.columns:
            column = frame[name]
            if pd.api.types.is_numeric_dtype(column):
                mean[name] = float(column.mean())
                std[name] = float(column.std(ddof=0)) or 1.0
            else:
                categories[name] = sorted(column.astype(str).unique().tolist())
        return cls(tuple(frame.columns), mean, std, categories)

    @property
    def width(self) -> int:
        return len(self.mean) + sum(len(v) for v in self.categories.values())

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Condition vectors [n, C]; unknown categories raise ValueError."""
        parts = [np.zeros((len(frame), 0), np.float32)]
        for name in self.columns:
            if name not in frame:
                raise DataError(f"condition column {name!r} is missing")
            if name in self.mean:
                values = frame[name].to_numpy(np.float64)
                parts.append(((values - self.mean[name]) / self.std[name])[:, None])
                continue
            known = self.categories[name]
            values = frame[name].astype(str).to_numpy()
            unknown = sorted(set(values) - set(known))
            if unknown:
                raise ValueError(
                    f"condition {name}: unknown value(s) {unknown[:5]}; the flow "
                    f"knows {known[:10]}{'...' if len(known) > 10 else ''}"
                )
            parts.append((values[:, None] == np.asarray(known)[None]).astype(float))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "columns": list(self.columns),
            "mean": self.mean,
            "std": self.std,
            "categories": self.categories,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Conditions:
        return cls(tuple(d["columns"]), d["mean"], d["std"], d["categories"])


@dataclass(frozen=True)
class FlowLoss:
    """Mean negative log-likelihood per variable of a batch ``(x, c, w)``."""

    dim: int

    def __call__(self, flow: Flow, batch, key):
        x, c, w = batch
        nll = -flow.log_prob(x, c) / self.dim
        return (nll * w).sum() / jnp.maximum(w.sum(), 1e-12), jnp.zeros(0)


@eqx.filter_jit
def _log_prob(flow: Flow, x, c):
    return flow.log_prob(x, c)


@eqx.filter_jit
def _sample(flow: Flow, key, c):
    return flow.sample(key, c)


class FlowModel(BaseEstimator):
    """A normalizing flow over the columns of a table, optionally conditional.

    Args:
        model: ``"realnvp"`` (affine couplings), ``"maf"`` (masked affine
            autoregressive) or ``"spline"`` (rational-quadratic spline
            couplings).
        layers: transforms in the chain.
        hidden, depth: width and hidden layers of each conditioner network.
        bins: spline bins (``spline``).
        domains: ``"auto"`` or ``{column: "real" | "positive" | "low:high"}``
            (unnamed columns: auto).
        epochs, batch_size, lr, weight_decay: AdamW on minibatches, one
            jitted scan per epoch.
        patience: stop after this many epochs without a better validation
            log-likelihood, keeping the best epoch.
        plateau_patience: halve the learning rate after this many such
            epochs (down to 1% of ``lr``).
        ema_epochs: the weights validated and kept are an exponential moving
            average over about this many epochs of steps (0: the weights
            themselves); it smooths the noise of the last steps, which
            matters for densities (0.016 nats per variable on CoRE MOF).
        val_fraction: share of the rows held out for that.
        seed: seed of the split, the initialisation and the batches.
        progress: show a progress bar.
    """

    def __init__(
        self,
        model: str = "spline",
        layers: int = 8,
        hidden: int = 128,
        depth: int = 3,
        bins: int = 16,
        domains: str | dict = "auto",
        epochs: int = 300,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 30,
        plateau_patience: int = 10,
        ema_epochs: float = 5.0,
        val_fraction: float = 0.1,
        seed: int = 0,
        progress: bool = True,
    ):
        self.model = model
        self.layers = layers
        self.hidden = hidden
        self.depth = depth
        self.bins = bins
        self.domains = domains
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.plateau_patience = plateau_patience
        self.ema_epochs = ema_epochs
        self.val_fraction = val_fraction
        self.seed = seed
        self.progress = progress

    # -- fitting -----------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        condition: pd.DataFrame | None = None,
        checkpoint_dir: str | Path | None = None,
        metrics_log: str | Path | None = None,
        resume: bool = False,
    ) -> FlowModel:
        """Fit the density of the columns of ``X`` [n, D] (given the columns
        of ``condition`` [n, C], row by row). Rows with a missing value are
        dropped with a warning naming them."""
        if self.model not in FLOW_MODELS:
            raise ValueError(
                f"unknown flow {self.model!r}; choose one of {FLOW_MODELS}"
            )
        X = pd.DataFrame(X).reset_index(drop=True)
        condition = (
            pd.DataFrame(index=X.index)
            if condition is None
            else pd.DataFrame(condition).reset_index(drop=True)
        )
        bad = self._bad_rows(X, condition)
        if len(bad):
            log.warning(
                "%d rows with a missing or non-numeric value left out (rows %s%s)",
                len(bad),
                ", ".join(map(str, bad[:10])),
                "..." if len(bad) > 10 else "",
            )
        keep = np.setdiff1d(np.arange(len(X)), bad)
        if len(keep) < 10:
            raise DataError(f"{len(keep)} usable rows: a flow needs at least 10")
        X, condition = X.iloc[keep], condition.iloc[keep]
        self.columns_ = list(X.columns)
        self.dropped_rows_ = bad.tolist()
        values = X.to_numpy(np.float64)
        self.domain_ = fit_domain(self.columns_, values, self.domains)
        self.conditions_ = Conditions.fit(condition)
        c = self.conditions_.encode(condition)
        x = values.astype(np.float32)

        n = len(x)
        order = np.random.default_rng(self.seed).permutation(n)
        n_val = int(round(self.val_fraction * n)) if n >= 20 else 0
        val, train = order[:n_val], order[n_val:]
        batch = min(self.batch_size, len(train))
        loss_fn = FlowLoss(len(self.columns_))
        steps_per_epoch = -(-len(train) // batch)
        ema_decay = (
            1.0 - 1.0 / (self.ema_epochs * steps_per_epoch) if self.ema_epochs else 0.0
        )

        def validate(flow):
            nll = -float(np.mean(np.asarray(_log_prob(flow, x[val], c[val]))))
            per_dim = nll / len(self.columns_)
            return {"nll_per_dim": per_dim}, per_dim

        callbacks = plateau_callbacks(
            bool(n_val), self.patience, self.plateau_patience, metrics_log
        )
        engine = Engine(
            loss_fn,
            OptimizerConfig(lr=self.lr, weight_decay=self.weight_decay, grad_clip=10.0),
            epochs=self.epochs,
            seed=self.seed,
            ema_decay=ema_decay,
            callbacks=callbacks,
            validate=validate if n_val else None,
            checkpoint_dir=checkpoint_dir,
            fingerprint={
                **self.get_params(),
                "epochs": None,
                "progress": None,
                "columns": self.columns_,
                "conditions": list(self.conditions_.columns),
                "n": n,
            },
            scan=True,
            throughput=("rows", len(train)),
            progress=self.progress,
        )
        flow = self._template(jax.random.key(self.seed))

        def batches(epoch: int):
            rows = np.random.default_rng([self.seed, epoch]).permutation(train)
            idx, real = row_batches(rows, batch)
            return x[idx], c[idx], real

        self.flow_, self.history_ = engine.fit(flow, batches, resume=resume)
        self.n_train_, self.n_val_ = len(train), n_val
        return self

    def _bad_rows(self, X: pd.DataFrame, condition: pd.DataFrame) -> np.ndarray:
        numeric = X.apply(pd.to_numeric, errors="coerce")
        missing = numeric.isna().any(axis=1) | condition.isna().any(axis=1)
        return np.flatnonzero(missing.to_numpy())

    def _template(self, key) -> Flow:
        return build_flow(
            self.model,
            len(self.columns_),
            self.conditions_.width,
            self.domain_,
            layers=self.layers,
            hidden=self.hidden,
            depth=self.depth,
            bins=self.bins,
            key=key,
        )

    # -- use -----------------------------------------------------------------
    def log_prob(
        self, X: pd.DataFrame, condition: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Log density [n] of each row (nats): NaN for rows with a missing
        value, -inf outside the support (a bounded or positive column out
        of range); both logged."""
        X = pd.DataFrame(X).reset_index(drop=True)
        missing = [c for c in self.columns_ if c not in X]
        if missing:
            raise DataError(
                f"columns {missing} are missing (the flow models {self.columns_})"
            )
        condition = (
            pd.DataFrame(index=X.index)
            if condition is None
            else pd.DataFrame(condition).reset_index(drop=True)
        )
        values = X[self.columns_].apply(pd.to_numeric, errors="coerce").to_numpy()
        out = np.full(len(X), np.nan)
        good = np.flatnonzero(~np.isnan(values).any(axis=1))
        if len(good) < len(X):
            log.warning("%d rows with a missing value scored NaN", len(X) - len(good))
        inside = self._inside(values[good])
        if (~inside).any():
            log.warning(
                "%d rows outside the support of the flow scored -inf (rows %s)",
                int((~inside).sum()),
                ", ".join(map(str, good[~inside][:10])),
            )
        out[good[~inside]] = -np.inf
        rows = good[inside]
        if len(rows):
            c = self.conditions_.encode(condition.iloc[rows])
            for start in range(0, len(rows), 65536):
                part = slice(start, start + 65536)
                out[rows[part]] = np.asarray(
                    _log_prob(
                        self.flow_, values[rows[part]].astype(np.float32), c[part]
                    )
                )
        return out

    def _inside(self, values: np.ndarray) -> np.ndarray:
        d = self.domain_
        kinds, low, high = np.asarray(d.kinds), np.asarray(d.low), np.asarray(d.high)
        ok = np.where(kinds == POSITIVE, values > 0, True)
        ok &= np.where(kinds == BOUNDED, (values > low) & (values < high), True)
        return ok.all(axis=1)

    def score_samples(self, X, condition=None) -> np.ndarray:
        """Scikit-learn's name for :meth:`log_prob`."""
        return self.log_prob(X, condition)

    def sample(
        self,
        n: int,
        condition: dict | pd.DataFrame | None = None,
        seed: int = 0,
        batch: int = 65536,
    ) -> pd.DataFrame:
        """``n`` new rows, given ``condition`` (one value per condition
        column for all rows, or a table of ``n`` rows)."""
        if self.conditions_.columns and condition is None:
            raise ValueError(
                f"a conditional flow samples given {list(self.conditions_.columns)}"
            )
        if isinstance(condition, dict):
            condition = pd.DataFrame({k: [v] * n for k, v in condition.items()})
        frame = pd.DataFrame(index=range(n)) if condition is None else condition
        if len(frame) != n:
            raise ValueError(f"the condition table has {len(frame)} rows, not {n}")
        c = self.conditions_.encode(frame.reset_index(drop=True))
        key = jax.random.key(seed)
        parts = []
        bar = progress_bar(
            total=n, desc="sampling", enabled=self.progress and n > batch
        )
        for start in range(0, n, batch):
            key, sub = jax.random.split(key)
            parts.append(np.asarray(_sample(self.flow_, sub, c[start : start + batch])))
            bar.update(len(parts[-1]))
        bar.close()
        out = pd.DataFrame(np.concatenate(parts), columns=self.columns_)
        return pd.concat([out, frame.reset_index(drop=True)], axis=1)

    # -- persistence -------------------------------------------------------
    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write a model archive folder (config.json, params.npz, metrics.json)."""
        d = self.domain_
        config = {
            "kind": "flow",
            "params": self.get_params(),
            "columns": self.columns_,
            "domain": {
                "kinds": list(d.kinds),
                "low": list(d.low),
                "high": list(d.high),
                "mean": list(d.mean),
                "std": list(d.std),
            },
            "conditions": self.conditions_.to_dict(),
            "history": {
                "best_epoch": self.history_.best_epoch,
                "epochs_run": len(self.history_.records),
            },
        }
        return archive.save_archive(path, self.flow_, config, metrics)


def load_flow(folder: Path, config: dict) -> FlowModel:
    """Rebuild a :class:`FlowModel` from its archive folder and config."""
    try:
        model = FlowModel(**{**config["params"], "progress": False})
        model.columns_ = list(config["columns"])
        d = config["domain"]
        model.domain_ = Domain(
            *(tuple(d[k]) for k in ("kinds", "low", "high", "mean", "std"))
        )
        model.conditions_ = Conditions.from_dict(config["conditions"])
        template = jax.eval_shape(lambda: model._template(jax.random.key(0)))
    except (KeyError, TypeError, ValueError) as err:
        raise archive.ArchiveError(
            f"{folder}: incomplete or invalid config ({err!r})"
        ) from err
    model.flow_ = archive.load_params(folder, template)
    return model
