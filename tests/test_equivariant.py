import e3nn_jax as e3nn
import jax
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

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


def messages(plan, sh_irreps, x, positions, weights):
    """Sum over neighbours j of ``x_j ⊗ sh(r_j - r_i)``, path-weighted by a
    function of the distance: NequIP's message passing on a point cloud.

    Args:
        x: [n] input features (``plan``'s input irreps).
        positions: [n, 3] points in Å.
        weights: [1, W] frequencies of the radial weights.

    Returns:
        [n] output features (``plan.irreps_out``).
    """
    n = len(positions)
    senders, receivers = np.nonzero(~np.eye(n, dtype=bool))
    vectors = positions[receivers] - positions[senders]
    sh = e3nn.spherical_harmonics(sh_irreps, vectors, normalize=True)
    radial = np.cos(np.linalg.norm(vectors, axis=-1, keepdims=True) * weights)
    y = plan.weighted_product(channel_layout(x[senders]), sh.array, radial)
    return plan.to_irreps(jax.ops.segment_sum(y, receivers, n))


@pytest.mark.parametrize(
    "irreps_in, lmax, target",
    [
        ("4x0e + 4x1o + 4x2e", 2, "0e + 1o + 2e"),
        ("3x0o + 3x1e", 1, "0o + 1e"),  # pseudo-scalars: odd under mirrors
    ],
)
def test_message_passing_is_e3_equivariant(irreps_in, lmax, target):
    """Rotating, mirroring and translating the points (and transforming the
    input features with them) transforms every output irrep by its own matrix:
    scalars stay, vectors turn, pseudo-scalars change sign under a mirror."""
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(7, 3)) * 1.5
    sh_irreps = e3nn.Irreps.spherical_harmonics(lmax)
    plan = product_plan(irreps_in, sh_irreps, target)
    x = e3nn.normal(irreps_in, jax.random.key(0), (7,))
    weights = rng.uniform(0.5, 2.0, size=(1, plan.n_paths * plan.channels))
    out = messages(plan, sh_irreps, x, positions, weights)
    rotation = Rotation.random(random_state=1).as_matrix()
    for matrix in (rotation, np.diag([1.0, 1.0, -1.0]) @ rotation):
        moved = positions @ matrix.T + rng.normal(size=3) * 5.0
        got = messages(plan, sh_irreps, x.transform_by_matrix(matrix), moved, weights)
        expected = out.transform_by_matrix(matrix)
        np.testing.assert_allclose(got.array, expected.array, atol=1e-4)
        mirror = np.linalg.det(matrix) < 0
        for _, ir in out.irreps:
            before, after = out.filter([ir]).array, got.filter([ir]).array
            if ir.l == 0 and (ir.p == 1 or not mirror):
                np.testing.assert_allclose(after, before, atol=1e-4)  # invariant
            else:  # the outputs did turn: the check above was not vacuous
                assert np.abs(after - before).max() > 1e-2, (str(ir), mirror)
