import numpy as np
import pytest
from sklearn.linear_model import Ridge

from molmat.classic.intervals import (
    bootstrap_intervals,
    coverage,
    cv_plus_intervals,
    fit_intervals,
)


def synthetic(n, rng):
    x = rng.normal(size=(n, 5))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + rng.standard_t(df=4, size=n)
    return x, y


@pytest.mark.parametrize("folds", [10, 200])  # CV+ and the exact jackknife+
def test_intervals_cover_as_promised_on_synthetic_data(folds):
    # The guarantee is marginal (over training sets): average over several.
    covered, widths = [], {}
    for seed in range(6):
        rng = np.random.default_rng(seed)
        x, y = synthetic(200, rng)
        x_test, y_test = synthetic(2000, rng)
        for alpha in (0.3, 0.1, 0.05):
            lower, upper, median = cv_plus_intervals(
                Ridge, x, y, x_test, alpha=alpha, folds=folds
            )
            assert (lower <= median).all() and (median <= upper).all()
            widths.setdefault(alpha, []).append(np.mean(upper - lower))
            if alpha == 0.1:
                covered.append(coverage(y_test, lower, upper))
    assert 0.87 <= np.mean(covered) <= 0.93, covered
    assert np.mean(widths[0.3]) < np.mean(widths[0.1]) < np.mean(widths[0.05])


def test_intervals_work_on_smiles_with_a_classic_model(esol):
    from molmat.tasks.classic import ClassicModel

    lower, upper, _ = cv_plus_intervals(
        lambda: ClassicModel(model="ridge", features="physchem"),
        esol.smiles[:150],
        esol.y[:150, 0],
        esol.smiles[150:250],
        folds=5,
    )
    assert 0.75 <= coverage(esol.y[150:250, 0], lower, upper) <= 1.0


def test_interval_arguments_are_checked():
    x, y = np.zeros((5, 2)), np.zeros(5)
    with pytest.raises(ValueError, match="folds"):
        cv_plus_intervals(Ridge, x, y, x, folds=1)
    with pytest.raises(ValueError, match="too few"):
        cv_plus_intervals(Ridge, x, y, x, alpha=0.1, folds=5)


def test_bootstrap_intervals_cover_on_synthetic_data():
    covered, widths = [], {}
    for seed in range(4):
        rng = np.random.default_rng(seed)
        x, y = synthetic(200, rng)
        x_test, y_test = synthetic(2000, rng)
        for alpha in (0.3, 0.1):
            lower, upper, mean = bootstrap_intervals(
                Ridge, x, y, x_test, alpha=alpha, n_boot=10, seed=seed
            )
            assert (lower <= mean).all() and (mean <= upper).all()
            widths.setdefault(alpha, []).append(np.mean(upper - lower))
            if alpha == 0.1:
                covered.append(coverage(y_test, lower, upper))
    assert 0.86 <= np.mean(covered) <= 0.94, covered
    assert np.mean(widths[0.3]) < np.mean(widths[0.1])


def test_bootstrap_calibration_gives_the_same_intervals_later():
    rng = np.random.default_rng(0)
    x, y = synthetic(100, rng)
    x_new, _ = synthetic(50, rng)
    lower, upper, calibration = fit_intervals("bootstrap", Ridge, x, y, x_new, 0.2)
    assert len(calibration.models) == len(calibration.residuals) == 20
    for chunk in (7, 1024):  # rows in chunks give the same quantiles
        again_lower, again_upper, mean, spread = calibration.bounds(x_new, chunk=chunk)
        np.testing.assert_allclose(again_lower, lower)
        np.testing.assert_allclose(again_upper, upper)
    assert (lower < mean).all() and (mean < upper).all() and (spread > 0).all()


def test_cv_plus_calibration_half_width_covers_new_data():
    rng = np.random.default_rng(1)
    x, y = synthetic(300, rng)
    x_new, y_new = synthetic(3000, rng)
    _, _, calibration = fit_intervals("cv+", Ridge, x, y, x_new, alpha=0.1)
    pred = Ridge().fit(x, y).predict(x_new)
    lower, upper, *_ = calibration.bounds(x_new, pred)
    np.testing.assert_allclose(upper - lower, 2 * calibration.half_width)
    assert 0.86 <= coverage(y_new, lower, upper) <= 0.94
