"""Per-atom and per-token attributions of a trained model's predictions.

For graph and sequence networks: integrated gradients, gradient × input,
SmoothGrad (:mod:`molmat.explain.paths`) and Shapley values with atoms or
tokens as players (:mod:`molmat.explain.shapley`). Descriptor and
fingerprint models (forests, kernels) get Shapley values through
:mod:`molmat.explain.features`. All attributions are in the prediction's
units: the target's original units for a regression, the probability of
the positive class for a classifier.

Example:
    >>> result = integrated_gradients(model, ["CCO", "c1ccccc1O"])  # doctest: +SKIP
    >>> result[0].values  # one value per atom of CCO  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from molmat.data.console import progress_bar
from molmat.explain import paths
from molmat.explain.features import feature_shapley
from molmat.explain.inputs import Batch, ModelInputs
from molmat.explain.record import Attribution, item_text
from molmat.explain.shapley import shapley

METHODS = ("ig", "gradient", "smoothgrad", "shap")
COALITION_CHUNK = 128


@dataclass(frozen=True)
class Settings:
    """Options of the attribution methods.

    Attributes:
        steps: ``ig``: midpoint-rule steps on the path.
        tolerance: ``ig``: when set, a batch is integrated again with twice
            the steps until every molecule's completeness error is at most
            ``tolerance`` × |prediction − reference|, or ``max_steps`` is
            reached.
        max_steps: ``ig``: the most steps ``tolerance`` may take.
        samples: ``smoothgrad``: noisy copies of the inputs.
        noise: ``smoothgrad``: noise σ as a fraction of each input's range.
        permutations: ``shap``: sampled orders (exact values when cheaper).
        seed: seed of ``smoothgrad``'s noise and ``shap``'s orders.
    """

    steps: int = 64
    tolerance: float | None = None
    max_steps: int = 1024
    samples: int = 32
    noise: float = 0.15
    permutations: int = 64
    seed: int = 0


def integrated_gradients(
    model,
    X: Sequence,
    target: int | str | None = None,
    steps: int = 64,
    progress: bool = False,
    tolerance: float | None = None,
    max_steps: int = 1024,
) -> list[Attribution]:
    """Integrated gradients from the all-zero baseline, one per usable item of ``X``.

    ``Σ values + rest`` equals ``prediction - reference`` up to the
    quadrature error of ``steps`` midpoint-rule nodes
    (:attr:`Attribution.completeness_error`); with ``tolerance``, steps
    double until that error is within ``tolerance`` (see :class:`Settings`).
    """
    return explain(
        model,
        X,
        "ig",
        target,
        progress=progress,
        steps=steps,
        tolerance=tolerance,
        max_steps=max_steps,
    )


def gradient_x_input(
    model, X: Sequence, target: int | str | None = None, progress: bool = False
) -> list[Attribution]:
    """Input × gradient of the prediction, summed over each atom's or token's
    features."""
    return explain(model, X, "gradient", target, progress=progress)


def smoothgrad(
    model,
    X: Sequence,
    target: int | str | None = None,
    samples: int = 32,
    noise: float = 0.15,
    seed: int = 0,
    progress: bool = False,
) -> list[Attribution]:
    """Input × gradient averaged over ``samples`` noisy copies of the inputs
    (noise σ = ``noise`` × the range of each input array)."""
    return explain(
        model,
        X,
        "smoothgrad",
        target,
        progress=progress,
        samples=samples,
        noise=noise,
        seed=seed,
    )


def shapley_values(
    model,
    X: Sequence,
    target: int | str | None = None,
    permutations: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> list[Attribution]:
    """Shapley values of the atoms (or tokens) of each item: a part absent
    from a coalition has its features at the baseline (zero); molecule
    descriptors stay. Exact for small molecules, sampled over
    ``permutations`` orders otherwise (:func:`~molmat.explain.shapley.shapley`);
    each result carries its :class:`~molmat.explain.shapley.ShapleyReport`."""
    return explain(
        model,
        X,
        "shap",
        target,
        progress=progress,
        permutations=permutations,
        seed=seed,
    )


def explain(
    model,
    X: Sequence,
    method: str,
    target: int | str | None = None,
    progress: bool = False,
    **options,
) -> list[Attribution]:
    """Attributions of ``method`` (one of :data:`METHODS`) for every usable
    item of ``X`` (unusable ones are logged and left out; ``Attribution.row``
    says which item each result belongs to). ``options`` are the fields of
    :class:`Settings`.

    Raises:
        ValueError: an unknown method or target.
        TypeError: a gradient method on a model without gradients.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    settings = Settings(**options)
    X = list(X)
    members = getattr(model, "members_", None)
    if members:
        per_member = [
            explain(m, X, method, target, progress, **options) for m in members
        ]
        return [_mean(found) for found in zip(*per_member, strict=True)]
    if method == "shap" and not hasattr(model, "net_"):
        return feature_shapley(
            model, X, target, settings.permutations, settings.seed, progress
        )
    inputs = ModelInputs.of(model, X, target)
    target_name = model.target_names_[inputs.target]
    key = jax.random.key(settings.seed)
    results: list[Attribution] = []
    bar = progress_bar(
        total=len(inputs), desc=f"explaining ({method})", enabled=progress
    )
    batch_size = 1 if method == "shap" else None
    for batch in inputs.batches(batch_size):
        if method == "shap":
            found = [_shapley_one(batch, settings.permutations, settings.seed)]
        else:
            key, sub = jax.random.split(key)
            found = _gradient_batch(batch, method, settings, sub)
        for i, (values, prediction, reference, rest, report) in zip(
            batch.items, found, strict=True
        ):
            row = int(inputs.rows[i])
            results.append(
                Attribution(
                    item=item_text(X[row]),
                    row=row,
                    method=method,
                    target=target_name,
                    parts=inputs.labels[i],
                    values=values,
                    prediction=prediction,
                    reference=reference,
                    rest=rest,
                    report=report,
                )
            )
        bar.update(len(batch.items))
    bar.close()
    return sorted(results, key=lambda a: a.row)


def _mean(found: tuple[Attribution, ...]) -> Attribution:
    """An ensemble's attribution: the mean over its members' (every method
    here is linear in the model, so this is the ensemble mean's own)."""
    first = found[0]
    return dataclasses.replace(
        first,
        values=np.mean([a.values for a in found], axis=0),
        prediction=float(np.mean([a.prediction for a in found])),
        reference=float(np.mean([a.reference for a in found])),
        rest=float(np.mean([a.rest for a in found])),
        report=None,
        features=None,
    )


def _gradient_batch(batch: Batch, method: str, settings: Settings, key) -> list[tuple]:
    """``(values, prediction, reference, rest, None)`` per row of ``batch``."""
    reference = None
    if method == "ig":
        steps = settings.steps
        while True:
            attr, out, reference = paths.integrated_gradients(
                batch.output, batch.context, batch.values, batch.baseline(), steps
            )
            if settings.tolerance is None or 2 * steps > settings.max_steps:
                break
            if _complete(batch, attr, out, reference, settings.tolerance):
                break
            steps *= 2
    elif method == "gradient":
        attr, out = paths.gradient_x_input(batch.output, batch.context, batch.values)
    else:
        attr, out = paths.smoothgrad(
            batch.output,
            batch.context,
            batch.values,
            key,
            settings.noise,
            settings.samples,
        )
    per_item, rest = batch.parts(attr)
    g = len(batch.items)
    out = np.asarray(out, np.float64)[:g]
    reference = (
        np.full(g, np.nan) if reference is None else np.asarray(reference, np.float64)
    )
    return [
        (per_item[i], float(out[i]), float(reference[i]), float(rest[i]), None)
        for i in range(g)
    ]


def _complete(batch: Batch, attr, out, reference, tolerance: float) -> bool:
    """Whether every row's attributions add up within ``tolerance``."""
    per_item, rest = batch.parts(attr)
    g = len(batch.items)
    total = np.array([v.sum() for v in per_item]) + rest
    change = np.asarray(out, np.float64)[:g] - np.asarray(reference, np.float64)[:g]
    return bool(np.all(np.abs(total - change) <= tolerance * np.abs(change)))


def _shapley_one(batch: Batch, permutations: int, seed: int) -> tuple:
    """``(values, prediction, reference, rest, report)`` of a one-row batch."""
    n = int(batch.sizes[0])

    def value(masks: np.ndarray) -> np.ndarray:
        # pad to a power-of-two number of chunks and the batch's part slots,
        # so molecules of similar size share one compiled function
        k = len(masks)
        chunks = 1 << max(0, int(np.ceil(np.log2(-(-k // COALITION_CHUNK)))))
        padded = np.zeros((chunks * COALITION_CHUNK, batch.width), bool)
        padded[:k, :n] = masks
        out = _coalition_values(
            batch.output,
            batch.coalitions,
            batch.context,
            batch.values,
            jnp.asarray(padded.reshape(chunks, COALITION_CHUNK, -1)),
        )
        return np.asarray(out, np.float64)[:k]

    phi, report = shapley(value, n, permutations, seed)
    ends = value(np.array([np.ones(n, bool), np.zeros(n, bool)]))
    return phi, float(ends[0]), float(ends[1]), 0.0, report


@eqx.filter_jit
def _coalition_values(output, coalitions, context, values, masks):
    """Row 0's prediction [C * chunk] for coalition masks [C, chunk, n]."""

    def block(keep):
        stacked = coalitions(context, values, keep)
        return jax.vmap(lambda v: output(context, v)[0])(stacked)

    return jax.lax.map(block, masks).reshape(-1)
