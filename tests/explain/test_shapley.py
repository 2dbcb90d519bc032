import itertools
import math

import numpy as np
import pytest

from molmat.explain.shapley import exact_shapley, sampled_shapley, shapley

POINT = np.array([1.0, 2.0, 3.0, 0.5, 4.0])


def toy_value(masks: np.ndarray) -> np.ndarray:
    """A 5-feature model with pairwise and three-way interactions; feature 4
    is ignored. Absent features are 0."""
    x = np.where(masks, POINT, 0.0)
    return (
        x @ np.array([1.0, -2.0, 0.5, 3.0, 0.0])
        + x[:, 0] * x[:, 1] * x[:, 2]
        + np.maximum(x[:, 1] - x[:, 3], 0.0) ** 2
        - np.sin(x[:, 2]) * x[:, 3]
    )


def by_permutations(value, n):
    """Shapley values by their definition: mean marginal gain over all n! orders."""
    phi = np.zeros(n)
    for order in itertools.permutations(range(n)):
        mask = np.zeros(n, bool)
        before = value(mask[None])[0]
        for player in order:
            mask[player] = True
            after = value(mask[None])[0]
            phi[player] += after - before
            before = after
    return phi / math.factorial(n)


def test_exact_values_match_the_definition_and_add_up():
    phi, report = exact_shapley(toy_value, 5)
    np.testing.assert_allclose(phi, by_permutations(toy_value, 5), atol=1e-12)
    full, empty = toy_value(np.array([[True] * 5, [False] * 5]))
    assert phi.sum() == pytest.approx(full - empty)
    assert report.total == pytest.approx(full - empty)
    assert phi[4] == 0.0  # the ignored feature


def test_sampled_values_agree_with_exact_within_their_stated_error():
    exact, _ = exact_shapley(toy_value, 5)
    phi, report = sampled_shapley(toy_value, 5, permutations=400, seed=3)
    assert report.method == "sampling" and report.permutations == 400
    err = report.std_error
    assert (err[:4] > 0).all()  # the three-way term leaves sampling noise
    assert (np.abs(phi - exact) <= 4 * err + 1e-12).all()
    assert phi.sum() == pytest.approx(exact.sum())  # every order telescopes
    assert phi[4] == 0.0 and err[4] == 0.0
    # the reported error falls with more permutations
    errors = [e for _, e in report.max_error_history]
    assert errors[-1] < errors[0]
    assert "400 permutations" in report.summary()


def test_sampling_is_reproducible_and_seeded():
    a, _ = sampled_shapley(toy_value, 5, permutations=20, seed=1)
    b, _ = sampled_shapley(toy_value, 5, permutations=20, seed=1)
    c, _ = sampled_shapley(toy_value, 5, permutations=20, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_shapley_chooses_exact_when_cheaper():
    _, small = shapley(toy_value, 5, permutations=64)
    assert small.method == "exact"
    big = lambda m: m.sum(axis=1).astype(float)  # noqa: E731
    phi, report = shapley(big, 30, permutations=8)
    assert report.method == "sampling"
    np.testing.assert_allclose(phi, 1.0)
    with pytest.raises(ValueError, match="use sampling"):
        exact_shapley(big, 20)
