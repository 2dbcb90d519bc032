import json

import numpy as np
import pandas as pd
import pytest
from ase import units

import molmat
from molmat.cli.main import main
from molmat.data.csv import DataError
from molmat.data.qm9 import qm9_frames, read_qm9_table
from molmat.tasks.qm9 import qm9_split, train_qm9_run
from tests.conftest import DATA

QM9 = DATA / "qm9_81.csv"  # 81 molecules in qm9pack's layout
TINY = dict(channels=8, layers=1, epochs=4, progress=False)


@pytest.fixture(scope="module")
def table():
    return read_qm9_table(QM9)


def test_frames_in_ev_with_geometry_parsed(table):
    data = qm9_frames(table, "U0")
    assert len(data.frames) == 81 and not data.bad_frames
    first = data.frames[1]  # methane
    assert first.config_type == "dsgdb9nsd_000001.xyz"
    np.testing.assert_array_equal(first.numbers, [6, 1, 1, 1, 1])
    assert first.energy == pytest.approx(-40.47893 * units.Hartree)
    ch = np.linalg.norm(first.positions[1:] - first.positions[0], axis=1)
    np.testing.assert_allclose(ch, 1.0919, atol=1e-3)  # C-H bond length, Å
    # "0." and "1." (not JSON numbers) in the acetylene row parse too
    np.testing.assert_allclose(data.frames[0].positions[0], [0.5995394918, 0, 1])


def test_bad_rows_reported_and_skipped(table):
    broken = table.copy()
    broken.loc[2, "XYZ_Ang"] = "[[0.0,0.0]]"
    broken.loc[5, "InternalEnergy_0K_au"] = np.nan
    overlapping = qm9_frames(table, "U0", [7]).frames[0].positions.copy()
    overlapping[1] = overlapping[0]
    broken.loc[7, "XYZ_Ang"] = json.dumps(overlapping.tolist())
    data = qm9_frames(broken, "U0")
    reasons = {b.index: b.reason for b in data.bad_frames}
    assert set(reasons) == {2, 5, 7}
    assert "geometry" in reasons[2] and "energy" in reasons[5]
    assert "apart" in reasons[7]  # two atoms on top of each other
    assert len(data.frames) == 78
    with pytest.raises(DataError, match="row 2"):
        qm9_frames(broken, "U0", strict=True)


def test_unknown_target_and_missing_file():
    with pytest.raises(DataError, match="choose one of"):
        qm9_frames(pd.DataFrame(), "HOMO")
    with pytest.raises(DataError, match="no such file"):
        read_qm9_table("nowhere.csv")


def test_split_is_disjoint_nested_and_seeded():
    a = qm9_split(100, [10, 30], 5, 20, seed=0)
    assert len(a["test"]) == 20 and len(a["val"]) == 5 and len(a["train"]) == 30
    together = np.concatenate(list(a.values()))
    assert len(set(together.tolist())) == 55
    np.testing.assert_array_equal(a["test"], qm9_split(100, [30], 5, 20, 0)["test"])
    assert not np.array_equal(a["test"], qm9_split(100, [30], 5, 20, 1)["test"])
    with pytest.raises(DataError, match="need 155"):
        qm9_split(100, [130], 5, 20, 0)


def test_learning_curve_run_and_reload(tmp_path, table):
    out = tmp_path / "run"
    result = train_qm9_run(
        out, "U0", "painn", (20, 50), val_size=5, test_size=20, path=QM9, **TINY
    )
    maes = [r["test"]["energy_mae_meV"] for r in result["runs"]]
    assert [r["n_train"] for r in result["runs"]] == [20, 50]
    # per-element reference energies take out the bulk: totals are ~10^4 eV
    totals = np.array([f.energy for f in qm9_frames(table, "U0").frames])
    assert max(maes) < 0.05 * 1000 * totals.std()
    curve = pd.read_csv(out / "learning_curve.csv")
    np.testing.assert_allclose(curve["test_energy_mae_meV"], maes, atol=1e-3)
    assert (out / "learning_curve.png").stat().st_size > 0
    assert (out / "n_50" / "test_parity_energy.png").exists()
    split = json.loads((out / "split.json").read_text())
    test_rows = split["test"]
    test = qm9_frames(table, "U0", test_rows).frames
    model = molmat.load(out / "n_50" / "model")
    again = model.evaluate(test)["energy_mae_meV"]
    assert again == pytest.approx(maes[1], rel=1e-5)


def test_cli_trains_qm9_and_explains_mistakes(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["train", "--data", "qm9", "--qm9-file", str(QM9), "--model", "schnet"]
    sizes = ["--train-size", "30", "--val-size", "5", "--test-size", "10"]
    small = ["--hidden", "8", "--depth", "1", "--epochs", "2", "--no-progress"]
    small += ["--lr-schedule", "cosine"]
    assert main([*args, *sizes, *small, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "QM9 U0: schnet" in printed and "MAE meV" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] == 30 and metrics["epochs_run"] == 2
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["params"]["lr_schedule"] == "cosine"
    assert main([*args[:-1], "mpnn", *sizes, "--out", str(out)]) == 2
    assert "QM9 trains 3D potentials" in capsys.readouterr().err
    assert main(["train", "--data", "esol", "--model", "painn", "--out", "x"]) == 2
    assert "potential train" in capsys.readouterr().err


def test_potential_train_trains_qm9_with_its_defaults(tmp_path, capsys):
    out = tmp_path / "pot"
    args = ["potential", "train", "--data", "qm9", "--qm9-file", str(QM9)]
    args += ["--target", "H", "--model", "schnet", "--train-size", "30"]
    args += ["--val-size", "5", "--test-size", "10", "--channels", "8"]
    args += ["--layers", "1", "--epochs", "2", "-q", "--out", str(out)]
    assert main(args) == 0
    assert "QM9 H: schnet" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] == 30 and metrics["epochs_run"] == 2
    params = json.loads((out / "model" / "config.json").read_text())["params"]
    assert params["forces_weight"] == 0.0 and params["batch_size"] == 32
    assert params["channels"] == 8
    index = tmp_path / "test.csv"
    index.write_text("1\n")
    assert main([*args, "--test-index", str(index)]) == 2
    assert "--test-index: not for --data qm9" in capsys.readouterr().err
