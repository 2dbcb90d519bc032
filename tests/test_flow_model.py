"""Flows over property tables: fitting, sampling, scoring, archives and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from molmat.cli.main import main
from molmat.data.csv import DataError
from molmat.tasks.archives import load
from molmat.tasks.flow import FlowModel

from .conftest import DATA

MOFS = DATA / "core_mof_sample.csv"
COLUMNS = ["LCD", "PLD", "AV_VF", "cm3_g"]
SMALL = dict(layers=3, hidden=32, epochs=60, batch_size=64, progress=False)


@pytest.fixture(scope="module")
def mofs() -> pd.DataFrame:
    return pd.read_csv(MOFS)


@pytest.fixture(scope="module")
def fitted(mofs):
    return FlowModel("spline", **SMALL).fit(mofs[COLUMNS])


def test_a_flow_learns_the_joint_density_and_keeps_the_supports(fitted, mofs):
    # auto domains: all positive, the void fraction inside (0, 1)
    assert fitted.domain_.kinds == (1, 1, 2, 1)
    # a new flow is a product of independent log-normal/logit-normal
    # marginals; training learns how pore size, void fraction and density
    # go together
    start = FlowModel("spline", **{**SMALL, "epochs": 1, "lr": 1e-9}).fit(mofs[COLUMNS])
    gain = fitted.log_prob(mofs[COLUMNS]).mean() - start.log_prob(mofs[COLUMNS]).mean()
    assert gain > 0.5 * len(COLUMNS), gain
    samples = fitted.sample(3000, seed=1)
    assert list(samples.columns) == COLUMNS
    assert (samples[["LCD", "PLD", "cm3_g"]] > 0).all().all()
    assert samples.AV_VF.between(0, 1, inclusive="neither").all()
    # larger cavities go with emptier, lighter frameworks in samples as in data
    for frame in (mofs, samples):
        assert frame[["LCD", "AV_VF"]].corr(method="spearman").iloc[0, 1] > 0.3
        assert frame[["AV_VF", "cm3_g"]].corr(method="spearman").iloc[0, 1] < -0.3


def test_save_load_gives_identical_densities_and_samples(fitted, mofs, tmp_path):
    fitted.save(tmp_path / "flow")
    loaded = load(tmp_path / "flow")
    np.testing.assert_array_equal(
        loaded.log_prob(mofs[COLUMNS]), fitted.log_prob(mofs[COLUMNS])
    )
    pd.testing.assert_frame_equal(loaded.sample(50, seed=3), fitted.sample(50, seed=3))


def test_a_row_scores_the_same_alone_or_among_others(fitted, mofs):
    together = fitted.log_prob(mofs[COLUMNS].iloc[:64])
    alone = fitted.log_prob(mofs[COLUMNS].iloc[[17]])
    assert alone[0] == pytest.approx(together[17], rel=1e-5, abs=1e-5)


def test_bad_rows_are_reported_not_lost(fitted, mofs, caplog):
    rows = mofs[COLUMNS].iloc[:5].copy()
    rows.iloc[1, 0] = np.nan  # missing
    rows.iloc[2, 2] = 1.5  # a void fraction above 1: outside the support
    rows.iloc[3, 3] = -0.2  # a negative density
    scores = fitted.log_prob(rows)
    assert np.isnan(scores[1]) and np.isneginf(scores[2]) and np.isneginf(scores[3])
    assert np.isfinite(scores[[0, 4]]).all()
    assert "outside the support" in caplog.text and "rows 2, 3" in caplog.text
    with pytest.raises(DataError, match="AV_VF"):
        fitted.log_prob(mofs[["LCD", "PLD", "cm3_g"]])
    train = mofs[COLUMNS].copy()
    train.iloc[[4, 9], 1] = np.nan
    model = FlowModel("realnvp", **{**SMALL, "epochs": 1}).fit(train)
    assert model.dropped_rows_ == [4, 9]
    with pytest.raises(DataError, match="declared positive"):
        FlowModel(domains={"LCD": "positive"}, **SMALL).fit(
            mofs[COLUMNS].assign(LCD=mofs.LCD - 5)
        )
    with pytest.raises(DataError, match="outside its domain"):
        FlowModel(domains={"AV_VF": "0:0.5"}, **SMALL).fit(mofs[COLUMNS])


def test_a_conditional_flow_samples_given_a_category(mofs):
    model = FlowModel("maf", **SMALL).fit(mofs[["LCD", "AV_VF"]], mofs[["Has_OMS"]])
    assert model.conditions_.categories == {"Has_OMS": ["No", "Yes"]}
    yes = model.sample(200, {"Has_OMS": "Yes"}, seed=0)
    assert list(yes.columns) == ["LCD", "AV_VF", "Has_OMS"]
    assert (yes.Has_OMS == "Yes").all()
    other = model.sample(200, {"Has_OMS": "No"}, seed=0)
    assert not np.allclose(yes.LCD, other.LCD)
    with pytest.raises(ValueError, match="unknown value"):
        model.sample(10, {"Has_OMS": "Maybe"})
    with pytest.raises(ValueError, match="samples given"):
        model.sample(10)


def test_cli_trains_samples_and_scores_a_flow(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(
        [
            "flow",
            "train",
            "--data",
            str(MOFS),
            "--columns",
            "LCD,PLD,AV_VF,cm3_g",
            "--model",
            "realnvp",
            "--layers",
            "2",
            "--epochs",
            "5",
            "--domain",
            "AV_VF=0:1",
            "--no-progress",
            "--out",
            str(run),
        ]
    )
    assert code == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_test"] == 40 and metrics["n_train"] + metrics["n_val"] == 360
    assert np.isfinite(metrics["test_log_likelihood_per_dim"])
    assert np.isfinite(metrics["gaussian_test_log_likelihood_per_dim"])
    for picture in ("corner.png", "learning_curve.png"):
        assert (run / picture).stat().st_size > 0
    samples = tmp_path / "samples.csv"
    assert (
        main(
            ["flow", "sample", "--model", str(run), "-n", "100", "--out", str(samples)]
        )
        == 0
    )
    assert len(pd.read_csv(samples)) == 100
    scored = tmp_path / "scored.csv"
    assert (
        main(
            [
                "flow",
                "score",
                "--model",
                str(run),
                "--data",
                str(MOFS),
                "--out",
                str(scored),
            ]
        )
        == 0
    )
    table = pd.read_csv(scored)
    assert len(table) == 400 and table.log_likelihood.notna().all()
    code = main(
        [
            "flow",
            "train",
            "--data",
            str(MOFS),
            "--columns",
            "LCD,nope",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code != 0 and "no column ['nope']" in capsys.readouterr().err


def test_core_mof_table_is_read_from_its_folder(tmp_path, monkeypatch, mofs):
    from molmat.tasks.flow import read_flow_table

    folder = tmp_path / "CoRE_MOF"
    folder.mkdir()
    (folder / "2019-ASR.tar.xz").write_bytes(b"")
    # the published table is Latin-1 (author names with accents)
    sample = mofs.head(30).assign(Note="Müller")
    sample.to_csv(folder / "2019-ASR.csv", index=False, encoding="latin-1")
    monkeypatch.setenv("MOLMAT_CORE_MOF_DIR", str(folder))
    table = read_flow_table("core_mof")
    assert len(table) == 30 and (table.Note == "Müller").all()
    np.testing.assert_allclose(table.LCD, sample.LCD)
