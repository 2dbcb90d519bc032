"""Deep ensembles: members differ, the mean is predicted, the spread is saved."""

import numpy as np
import pandas as pd

from molmat import PropertyModel, load
from molmat.tasks.ensemble import EnsembleModel
from tests.conftest import SMALL


def test_ensemble_mean_spread_and_round_trip(esol, tmp_path):
    X, y = esol.smiles[:80], esol.y[:80]
    ens = EnsembleModel(PropertyModel(epochs=2, **SMALL), size=3).fit(X, y)
    members = ens.member_values(X[:10])
    assert members.shape == (3, 10, 1)
    assert np.ptp(members, axis=0).max() > 1e-4  # different seeds, different nets
    mean, spread = ens.predict_with_std(X[:10])
    np.testing.assert_allclose(mean, members.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(spread, members.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(ens.predict(X[:10]), mean[:, 0], rtol=1e-6)
    ens.save(tmp_path / "ens")
    again = load(tmp_path / "ens")
    assert isinstance(again, EnsembleModel) and len(again.members_) == 3
    np.testing.assert_allclose(again.predict_with_std(X[:10])[1], spread, atol=1e-6)


def test_cli_ensemble_writes_spread_and_its_error_correlation(tmp_path, esol):
    from molmat.cli.main import main

    data = tmp_path / "sol.csv"
    pd.DataFrame({"smiles": esol.smiles[:120], "logS": esol.y[:120, 0]}).to_csv(
        data, index=False
    )
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--model", "ridge", "--features", "physchem"]
    args += ["--split", "random", "--ensemble", "2", "--out", str(out)]
    # ridge is deterministic: an ensemble of identical members has zero spread
    assert main(args) == 0
    frame = pd.read_csv(out / "test_predictions.csv")
    assert (frame["logS_std"] == 0).all()
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--data",
                str(data),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    assert "logS_std" in pd.read_csv(tmp_path / "p.csv")
