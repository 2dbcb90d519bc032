import e3nn_jax as e3nn
import jax
import numpy as np
import pytest

from molmat.nn.equivariant import channel_layout, product_plan


@pytest.mark.parametrize(
    "irreps_in, lmax",
    [("6x0e", 2), ("6x0e + 6x1o + 6x2e", 2), ("3x0e + 3x1o", 1), ("2x1o + 2x3o", 3)],
)
def test_weighted_product_equals_e3nn(irreps_in, lmax):
    """Same values, irreps and layout as e3nn's regrouped tensor product
    scaled per irrep, so networks trained with either agree."""
    sh_irreps = e3nn.Irreps.spherical_harmonics(lmax)
    target = e3nn.Irreps([(5, (ell, (-1) ** ell)) for ell in range(lmax + 1)])
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    x = e3nn.normal(irreps_in, k1, (40,))
    sh = e3nn.spherical_harmonics(
        sh_irreps, jax.random.normal(k2, (40, 3)), normalize=True
    )
    expected = e3nn.tensor_product(x, sh, filter_ir_out=target).regroup()
    weights = jax.random.normal(k3, (40, expected.irreps.num_irreps))
    expected = expected * weights

    plan = product_plan(irreps_in, sh_irreps, target)
    got = plan.to_irreps(plan.weighted_product(channel_layout(x), sh.array, weights))
    assert got.irreps == expected.irreps
    np.testing.assert_allclose(got.array, expected.array, atol=1e-5)


def test_channel_layout_fills_zero_chunks():
    x = e3nn.zeros("2x0e + 2x1o", (3,))
    assert all(chunk is None for chunk in x.chunks)
    assert channel_layout(x).shape == (3, 4, 2)


def test_mixed_multiplicities_are_refused():
    with pytest.raises(ValueError, match="same multiplicity"):
        product_plan("4x0e + 2x1o", "1x0e + 1x1o", "0e + 1o")
