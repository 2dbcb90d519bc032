import numpy as np
import pytest
from sklearn.linear_model import Ridge

from molmat.classic import assessment as a
from molmat.data.splits import murcko_scaffold
from molmat.tasks.classic import ClassicModel


def rmse(y, p):
    return float(np.sqrt(np.mean((y - p) ** 2)))


@pytest.fixture(scope="module")
def linear_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    return x, x @ rng.normal(size=6) + 0.3 * rng.normal(size=300)


def test_y_randomisation_collapses_performance(linear_data):
    x, y = linear_data
    result = a.y_randomisation(Ridge, x, y, shuffles=4)
    assert result["metric"] == "r2" and result["real"] > 0.9
    assert result["shuffled_best"] < 0.1


def test_y_randomisation_on_molecules(esol):
    result = a.y_randomisation(
        lambda: ClassicModel("ridge", features="physchem"),
        esol.smiles[:300],
        esol.y[:300, 0],
        shuffles=2,
    )
    assert result["real"] > 0.6 and result["shuffled_best"] < 0.2


def test_out_of_fold_predictions_never_see_their_row(linear_data):
    x, y = linear_data

    class Memoriser:
        def fit(self, X, y):
            self.seen = {tuple(r): v for r, v in zip(X, y, strict=True)}
            return self

        def predict(self, X):
            return np.array([self.seen.get(tuple(r), 0.0) for r in X])

    assert (a.cv_predictions(Memoriser, x, y) == 0).all()  # nothing leaks


def test_group_cv_keeps_scaffolds_together(esol):
    smiles, y = esol.smiles[:200], esol.y[:200, 0]
    groups = [murcko_scaffold(m) for m in esol.mols[:200]]
    seen_with = {}

    class Recorder:
        def fit(self, X, y):
            self.train = set(X)
            return self

        def predict(self, X):
            for s in X:
                seen_with[s] = self.train
            return np.zeros(len(X))

    a.cv_predictions(Recorder, smiles, y, folds=4, groups=groups)
    scaffold_of = dict(zip(smiles, groups, strict=True))
    for s, train in seen_with.items():
        assert all(scaffold_of[t] != scaffold_of[s] for t in train)


def test_repeated_cv_and_bootstrap_interval(linear_data):
    x, y = linear_data
    scores = a.repeated_cv(Ridge, x, y, folds=5, repeats=3)
    assert len(scores) == 3 and all(s["r2"] > 0.9 for s in scores)
    assert len({round(s["rmse"], 9) for s in scores}) > 1  # repeats differ
    pred = a.cv_predictions(Ridge, x, y)
    value, low, high = a.bootstrap_ci(y, pred, rmse, n_boot=500)
    assert low < value < high and high - low < value
    wider = a.bootstrap_ci(y[:60], pred[:60], rmse, n_boot=500)
    assert wider[2] - wider[1] > high - low  # fewer molecules, wider interval


def test_learning_curve_improves_with_data(linear_data):
    x, y = linear_data
    curve = a.learning_curve(Ridge, x[:250], y[:250], x[250:], y[250:], [8, 30, 250])
    assert [c["size"] for c in curve] == [8, 30, 250]
    assert curve[0]["rmse"] > curve[-1]["rmse"]


def test_classification_assessment_is_stratified_and_scored_on_probabilities():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(240, 4))
    y = (x[:, 0] + 0.5 * rng.normal(size=240) > 1.0).astype(float)  # ~18% positive
    pred = a.cv_predictions(LogisticRegression, x, y, folds=4, task="classification")
    assert ((pred > 0) & (pred < 1)).all()  # probabilities, not labels
    result = a.y_randomisation(
        LogisticRegression, x, y, shuffles=3, folds=4, task="classification"
    )
    assert result["metric"] == "roc_auc" and result["real"] > 0.85
    assert result["shuffled_best"] < 0.7
    curve = a.learning_curve(
        LogisticRegression,
        x[:200],
        y[:200],
        x[200:],
        y[200:],
        [10, 50, 200],
        task="classification",
    )
    assert all(np.isfinite(p["roc_auc"]) for p in curve)  # both classes in each
