"""Normalizing-flow bijections: invertibility, exact log-determinants, densities."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from molmat.models.generative.flow import FLOW_MODELS, build_flow
from molmat.nn.compilation import precision
from molmat.nn.flows import BOUNDED, POSITIVE, REAL, Domain, rq_spline, spline_knots


def identity_domain(dim: int) -> Domain:
    return Domain((REAL,) * dim, (0.0,) * dim, (1.0,) * dim, (0.0,) * dim, (1.0,) * dim)


def randomised(flow, scale: float = 0.4, seed: int = 0):
    """``flow`` with every parameter drawn at random (a new flow is the
    identity, which would test nothing), in float64."""
    arrays, static = eqx.partition(flow, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(arrays)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    leaves = [
        scale * jax.random.normal(k, a.shape, jnp.float64)
        for k, a in zip(keys, leaves, strict=True)
    ]
    return eqx.combine(jax.tree.unflatten(treedef, leaves), static)


to_base = eqx.filter_jit(lambda flow, x, c: flow.to_base(x, c))
from_base = eqx.filter_jit(lambda flow, z, c: flow.from_base(z, c))
log_prob = eqx.filter_jit(lambda flow, x, c: flow.log_prob(x, c))
sample = eqx.filter_jit(lambda flow, key, c: flow.sample(key, c))


@pytest.fixture(autouse=True)
def float64():
    with precision(True):
        yield


@pytest.mark.parametrize("model", FLOW_MODELS)
@pytest.mark.parametrize("cond_dim", [0, 2])
def test_flows_invert_and_their_log_determinants_are_the_jacobians(model, cond_dim):
    dim = 5
    flow = randomised(
        build_flow(
            model,
            dim,
            cond_dim,
            identity_domain(dim),
            layers=3,
            hidden=16,
            key=jax.random.key(1),
        )
    )
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(0, 1.5, (8, dim)))
    c = jnp.asarray(rng.normal(size=(8, cond_dim)))
    z, log_det = to_base(flow, x, c)
    back, log_det_back = from_base(flow, z, c)
    np.testing.assert_allclose(back, x, atol=1e-5)
    np.testing.assert_allclose(log_det_back, -log_det, atol=1e-8)
    assert float(jnp.abs(z - x).max()) > 0.1  # the flow does something
    jac = jax.jit(
        jax.vmap(jax.jacfwd(lambda v, ci: flow.to_base(v[None], ci[None])[0][0]))
    )(x, c)
    np.testing.assert_allclose(
        log_det, jnp.linalg.slogdet(jac)[1], rtol=1e-9, atol=1e-9
    )
    if cond_dim:  # the condition matters
        other = log_prob(flow, x, c + 1.0)
        assert float(jnp.abs(other - log_prob(flow, x, c)).max()) > 1e-3


def test_maf_is_autoregressive():
    flow = randomised(
        build_flow("maf", 4, 0, identity_domain(4), layers=1, key=jax.random.key(2))
    )
    x = jnp.asarray(np.random.default_rng(1).normal(size=(1, 4)))
    jac = jax.jacfwd(lambda v: flow.layers[1].forward(v, jnp.zeros(0))[0])(x[0])
    np.testing.assert_allclose(np.triu(np.asarray(jac), 1), 0.0, atol=0)
    assert np.all(np.abs(np.diag(np.asarray(jac))) > 0)


@pytest.mark.parametrize("model", FLOW_MODELS)
def test_a_two_dimensional_flow_density_integrates_to_one(model):
    flow = randomised(
        build_flow(
            model, 2, 0, identity_domain(2), layers=2, hidden=8, key=jax.random.key(3)
        ),
        scale=0.3,
    )
    grid = np.linspace(-9, 9, 361)
    xx, yy = np.meshgrid(grid, grid)
    points = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=1))
    density = np.exp(np.asarray(log_prob(flow, points, jnp.zeros((len(points), 0)))))
    step = grid[1] - grid[0]
    assert density.sum() * step**2 == pytest.approx(1.0, abs=5e-3)


def test_spline_is_the_identity_at_zero_parameters_and_outside_its_bound():
    xs, ys, slopes = spline_knots(jnp.zeros((3, 3 * 8 - 1)), 8, 4.0)
    v = jnp.array([-2.5, 0.3, 3.9])
    y, log_d = rq_spline(v, xs, ys, slopes, 4.0, inverse=False)
    np.testing.assert_allclose(y, v, atol=1e-12)
    np.testing.assert_allclose(log_d, 0.0, atol=1e-12)
    raw = jax.random.normal(jax.random.key(0), (2, 3 * 8 - 1), jnp.float64)
    xs, ys, slopes = spline_knots(raw, 8, 4.0)
    far = jnp.array([-7.0, 11.0])
    y, log_d = rq_spline(far, xs, ys, slopes, 4.0, inverse=False)
    np.testing.assert_array_equal(y, far)
    np.testing.assert_array_equal(log_d, 0.0)
    # continuous at the bound: the spline ends on the identity's line
    edge = jnp.array([4.0 - 1e-9, -4.0 + 1e-9])
    y, _ = rq_spline(edge, xs, ys, slopes, 4.0, inverse=False)
    np.testing.assert_allclose(y, edge, atol=1e-6)


def test_positive_and_bounded_variables_go_through_bijections():
    domain = Domain(
        (POSITIVE, BOUNDED, REAL),
        (0.0, 2.0, 0.0),
        (1.0, 5.0, 1.0),
        (0.3, -0.2, 1.0),
        (0.7, 1.3, 2.0),
    )
    flow = build_flow("realnvp", 3, 0, domain, layers=2, key=jax.random.key(4))
    x = jnp.array([[0.5, 2.5, -1.0], [12.0, 4.999, 3.0]])
    c = jnp.zeros((2, 0))
    back, _ = from_base(flow, to_base(flow, x, c)[0], c)
    np.testing.assert_allclose(back, x, rtol=1e-9)
    # a new flow is the identity after the domain: log-normal, logit-normal, normal
    expected = (
        stats.lognorm.logpdf(x[:, 0], s=0.7, scale=np.exp(0.3))
        + logit_normal_logpdf(x[:, 1], 2.0, 5.0, -0.2, 1.3)
        + stats.norm.logpdf(x[:, 2], loc=1.0, scale=2.0)
    )
    np.testing.assert_allclose(log_prob(flow, x, c), expected, rtol=1e-9)
    samples = sample(flow, jax.random.key(5), jnp.zeros((2000, 0)))
    assert float(samples[:, 0].min()) > 0
    assert float(samples[:, 1].min()) > 2.0 and float(samples[:, 1].max()) < 5.0


def logit_normal_logpdf(x, low, high, mean, std):
    p = (x - low) / (high - low)
    u = np.log(p) - np.log1p(-p)
    return stats.norm.logpdf(u, mean, std) - np.log(p * (1 - p)) - np.log(high - low)


def test_unknown_flow_or_too_few_variables_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        build_flow("glow", 2, 0, identity_domain(2), key=jax.random.key(0))
    with pytest.raises(ValueError, match="at least 2 variables"):
        build_flow("realnvp", 1, 0, identity_domain(1), key=jax.random.key(0))
    build_flow("maf", 1, 0, identity_domain(1), key=jax.random.key(0))
