import numpy as np
import pytest

from molmat import PropertyModel
from molmat.training.metrics import classification_scores, regression_scores, score
from tests.conftest import SMALL


def test_early_stopping_keeps_best_epoch(esol):
    smiles, y = esol.smiles[:120], esol.y[:120]
    model = PropertyModel(epochs=30, patience=3, max_lr=3e-2, **SMALL).fit(smiles, y)
    records = model.history_.records
    best = model.history_.best_epoch
    assert len(records) - best <= 3
    val = [r["val_rmse"] for r in records]
    assert val[best - 1] == min(val)


def test_one_compilation_per_run(esol):
    model = PropertyModel(epochs=3, **SMALL).fit(esol.smiles[:200], esol.y[:200])
    assert model.history_.compilations == 1


def test_metrics_match_reference_implementations():
    from scipy import stats
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    y, p = rng.normal(size=50), rng.normal(size=50)
    r = regression_scores(y, p)
    assert r["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert r["r2"] == pytest.approx(skm.r2_score(y, p))
    assert r["pearson"] == pytest.approx(stats.pearsonr(y, p).statistic)
    labels, prob = rng.integers(0, 2, 60), rng.random(60)
    c = classification_scores(labels, prob)
    assert c["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, prob))
    assert c["mcc"] == pytest.approx(skm.matthews_corrcoef(labels, prob >= 0.5))


def test_score_masks_missing_labels_per_target():
    y = np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 2.0]])
    pred = np.array([[1.0, 100.0], [2.0, 1.0], [3.0, 2.0]])
    out = score("regression", y, pred, ["a", "b"])
    assert out["per_target"]["b"]["rmse"] == 0.0 and out["rmse"] == 0.0


def test_single_class_validation_falls_back_to_log_loss(esol, caplog):
    smiles = esol.smiles[:60]
    y = (esol.y[:60, 0] > esol.y[:60, 0].mean()).astype(np.float32)
    val_smiles = [s for s, label in zip(smiles, y, strict=True) if label == 1][:10]
    model = PropertyModel(epochs=3, **SMALL).fit(
        smiles, y, X_val=val_smiles, y_val=np.ones(len(val_smiles))
    )
    assert model.history_.best_epoch > 0
    assert "val_log_loss" in model.history_.records[0]
    assert "one class only" in caplog.text
