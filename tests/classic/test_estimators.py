import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, WhiteKernel
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from molmat.classic.estimators import (
    DescriptorCleaner,
    MoleculeFeaturizer,
    TanimotoKernel,
    TanimotoKernelRidge,
    TanimotoKernelRidgeClassifier,
    TanimotoSVC,
    TanimotoSVR,
)
from molmat.classic.kernels import kernel_matrix
from molmat.classic.mlp import MLPClassifier, MLPRegressor


@parametrize_with_checks(
    [
        TanimotoKernelRidge(),
        TanimotoSVR(),
        TanimotoSVC(),
        TanimotoKernelRidgeClassifier(),
        TanimotoKernelRidgeClassifier(kind="rbf", class_weight="balanced"),
        DescriptorCleaner(),
        MLPRegressor(hidden=32, epochs=60, patience=10),
        MLPClassifier(hidden=32, epochs=60, patience=10),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_cleaner_learns_from_training_data_only():
    train = np.array(
        [[1.0, 5.0, np.nan, 2.0], [3.0, 5.0, np.nan, np.nan], [5.0, 5.0, np.nan, 4.0]]
    )
    test = np.array([[100.0, -7.0, 1.0, np.nan]])
    cleaner = DescriptorCleaner().fit(train)
    assert list(cleaner.kept_) == [0, 3]
    assert list(cleaner.dropped_constant_) == [1] and list(cleaner.dropped_nan_) == [2]
    before = (cleaner.mean_.copy(), cleaner.std_.copy(), cleaner.median_.copy())
    out = cleaner.transform(test)
    for a, b in zip(
        before, (cleaner.mean_, cleaner.std_, cleaner.median_), strict=True
    ):
        np.testing.assert_array_equal(a, b)  # transforming test data changes nothing
    assert out[0, 0] == pytest.approx((100 - 3) / np.std([1, 3, 5]))
    assert out[0, 1] == pytest.approx(0.0)  # NaN -> training median (3) -> mean


def test_pipeline_on_smiles_works_in_cross_validation(esol):
    model = make_pipeline(
        MoleculeFeaturizer("morgan", n_bits=1024), TanimotoKernelRidge()
    )
    scores = cross_val_score(
        model,
        esol.smiles[:300],
        esol.y[:300, 0],
        cv=3,
        scoring="neg_root_mean_squared_error",
    )
    assert scores.shape == (3,) and (-scores < 2.0).all()


def test_gp_tanimoto_kernel_fits_and_gives_uncertainty(esol):
    x = MoleculeFeaturizer("morgan", n_bits=1024).transform(esol.smiles[:200])
    y = esol.y[:200, 0]
    kernel = ConstantKernel() * TanimotoKernel() + WhiteKernel()
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0).fit(
        x[:150], y[:150]
    )
    mean, std = gp.predict(x[150:], return_std=True)
    assert np.sqrt(np.mean((mean - y[150:]) ** 2)) < y.std()
    assert (std > 0).all()
    # a training molecule is predicted more confidently than new ones
    assert gp.predict(x[:5], return_std=True)[1].mean() < std.mean()
    np.testing.assert_allclose(TanimotoKernel()(x[:4]), kernel_matrix(x[:4]), atol=1e-6)


def test_featurizer_reports_bad_smiles():
    from molmat.data.csv import DataError

    with pytest.raises(DataError, match="X has 1 bad molecules"):
        MoleculeFeaturizer().transform(["CCO", "C1CC("])


def test_kernel_ridge_classifier_ranks_and_weights_classes(esol):
    from sklearn.metrics import roc_auc_score

    x = MoleculeFeaturizer("morgan", n_bits=1024).transform(esol.smiles[:400])
    soluble = (esol.y[:400, 0] > -2.5).astype(int)  # a learnable binary label
    plain = TanimotoKernelRidgeClassifier().fit(x[:300], soluble[:300])
    assert roc_auc_score(soluble[300:], plain.decision_function(x[300:])) > 0.8
    # a rare class gets more positive calls once classes are balanced
    rare = np.flatnonzero(soluble[:300])[::4]
    y_rare = np.zeros(300, int)
    y_rare[rare] = 1
    base = TanimotoKernelRidgeClassifier().fit(x[:300], y_rare).predict(x[300:])
    balanced = TanimotoKernelRidgeClassifier(class_weight="balanced").fit(
        x[:300], y_rare
    )
    assert balanced.predict(x[300:]).sum() > base.sum()
