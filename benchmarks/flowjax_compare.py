"""molmat's own flows against flowjax's on one table: the measured reason
for writing them.

Both flows are rational-quadratic spline couplings (8 bins on [-4, 4], 6
layers, conditioners of 2 hidden layers of 64) after the same molmat
``Domain`` (log / logit and standardisation, its Jacobian added to both), on
the CoRE MOF table of ``benchmarks/flows.py`` (LCD, PLD, void fraction,
density) and its split. Measured: the time of one jitted Adam step on a
batch of 256 (median of 5 × 100 steps), the wall time to train with each
library's own loop (molmat: ``FlowModel``; flowjax: ``fit_to_data``, both
with early stopping after 30 stale epochs, at most 300 epochs), and the test
log-likelihood per variable. flowjax is not a molmat dependency: install it
beside the benchmark (``pip install --target /tmp/fjlib --no-deps flowjax
paramax lineax`` and ``PYTHONPATH=/tmp/fjlib``).

    PYTHONPATH=/tmp/fjlib python benchmarks/flowjax_compare.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flows import split, tables
from provenance import commit

from molmat.models.generative.flow import build_flow
from molmat.tasks.flow import FlowModel, fit_domain, unconstrained


def step_seconds(loss, params, batch, repeats: int = 5, steps: int = 100) -> float:
    """Median seconds of one jitted Adam step of ``loss(params, batch)``."""
    opt = optax.adam(1e-3)
    arrays, static = eqx.partition(params, eqx.is_inexact_array)
    state = opt.init(arrays)

    @jax.jit
    def step(arrays, state):
        grads = jax.grad(lambda a: loss(eqx.combine(a, static), batch))(arrays)
        updates, state = opt.update(grads, state, arrays)
        return optax.apply_updates(arrays, updates), state

    arrays, state = step(arrays, state)  # compile
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        for _ in range(steps):
            arrays, state = step(arrays, state)
        jax.block_until_ready(arrays)
        times.append((time.perf_counter() - tick) / steps)
    return float(np.median(times))


def main() -> None:
    from flowjax.bijections import RationalQuadraticSpline
    from flowjax.distributions import Normal
    from flowjax.flows import coupling_flow
    from flowjax.train import fit_to_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mofs", default="../shared/data/materials/mof")
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args()
    table = tables(Path(args.mofs), Path("-"))["core_mof"]
    x = table.to_numpy(np.float64)
    train, val, test = split(len(x))
    fit_rows = np.concatenate([train, val])
    domain = fit_domain(list(table.columns), x[train], "auto")
    u, log_det = unconstrained(domain, x)
    u = u.astype(np.float32)
    dim = x.shape[1]
    batch = jnp.asarray(u[train[:256]])
    common = {"benchmark": "flowjax_compare", "dataset": "core_mof", "commit": commit()}

    # molmat: the flow after an identity domain, on the same unconstrained data
    ours = build_flow(
        "spline",
        dim,
        0,
        domain,
        layers=6,
        hidden=64,
        depth=2,
        bins=8,
        key=jax.random.key(0),
    )
    no_c = jnp.zeros((256, 0))
    ours_step = step_seconds(
        lambda f, b: -f.log_prob(b, no_c).mean(),
        ours,
        jnp.asarray(x[train[:256]], jnp.float32),
    )
    tick = time.perf_counter()
    fitted = FlowModel(
        "spline",
        layers=6,
        hidden=64,
        depth=2,
        bins=8,
        epochs=args.epochs,
        val_fraction=len(val) / len(fit_rows),
        progress=False,
    ).fit(table.iloc[fit_rows])
    ours_wall = time.perf_counter() - tick
    ours_ll = float(np.mean(fitted.log_prob(table.iloc[test]))) / dim

    # flowjax: the same spline coupling flow on the unconstrained data
    theirs = coupling_flow(
        jax.random.key(0),
        base_dist=Normal(jnp.zeros(dim)),
        transformer=RationalQuadraticSpline(knots=8, interval=4),
        flow_layers=6,
        nn_width=64,
        nn_depth=2,
    )
    theirs_step = step_seconds(lambda f, b: -f.log_prob(b).mean(), theirs, batch)
    tick = time.perf_counter()
    theirs_fit, losses = fit_to_data(
        jax.random.key(1),
        theirs,
        u[fit_rows],
        learning_rate=1e-3,
        max_epochs=args.epochs,
        max_patience=30,
        batch_size=256,
        val_prop=len(val) / len(fit_rows),
        show_progress=False,
    )
    theirs_wall = time.perf_counter() - tick
    theirs_ll = (
        float(
            np.mean(
                np.asarray(theirs_fit.log_prob(jnp.asarray(u[test]))) + log_det[test]
            )
        )
        / dim
    )
    for library, step, wall, ll, epochs in (
        ("molmat", ours_step, ours_wall, ours_ll, len(fitted.history_.records)),
        ("flowjax 19.1.2", theirs_step, theirs_wall, theirs_ll, len(losses["train"])),
    ):
        print(
            json.dumps(
                {
                    **common,
                    "model": f"{library} spline coupling, 6 layers",
                    "step_ms": round(1000 * step, 3),
                    "fit_s": round(wall, 1),
                    "epochs_run": epochs,
                    "test_ll_per_dim": round(ll, 4),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
