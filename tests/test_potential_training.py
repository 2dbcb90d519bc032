import json

import numpy as np
import pytest

import molmat
from molmat.cli.main import main
from molmat.data.csv import DataError
from molmat.data.structures import LabelKeys, read_structures, structure_graphs
from molmat.models.potentials.inference import Predictions
from molmat.tasks.potential import ArchiveBest, PotentialModel
from molmat.training.potential import potential_metrics
from tests.conftest import DATA

TINY = dict(model="painn", channels=8, layers=1, batch_size=2, progress=False)


@pytest.fixture(scope="module")
def ethanol():
    return read_structures(DATA / "rmd17_ethanol_10.npz", format="rmd17").frames


@pytest.fixture(scope="module")
def copper():
    return read_structures(
        DATA / "cu_emt.extxyz", keys=LabelKeys(stress="stress")
    ).frames


@pytest.fixture(scope="module")
def fitted(ethanol):
    model = PotentialModel(**TINY, epochs=6, val_frames=2, lr=2e-2, ema_decay=0.9)
    return model.fit(ethanol[:8])


def test_training_learns_and_keeps_best(fitted, ethanol):
    history = fitted.history_
    losses = [r["train_loss"] for r in history.records]
    assert losses[-1] < 0.7 * losses[0]
    best = min(history.records, key=lambda r: r["val_loss"])
    assert history.best_epoch == best["epoch"]
    assert fitted.scaling_.species == (1, 6, 8)
    assert fitted.scaling_.avg_num_neighbors == pytest.approx(8.0)
    # Trained on energies minus E0 sums; the E0s are back in the final model.
    assert fitted.evaluate(ethanol[:8])["energy_mae_meV"] < 5000  # totals ~ -4209 eV


def test_archive_round_trip_and_calculator(fitted, ethanol, tmp_path):
    from ase import Atoms

    fitted.save(tmp_path / "pot")
    loaded = molmat.load(tmp_path / "pot")
    assert isinstance(loaded, PotentialModel)
    before, after = fitted.predict(ethanol[8:]), loaded.predict(ethanol[8:])
    np.testing.assert_array_equal(before["energy"], after["energy"])
    np.testing.assert_array_equal(before["forces"][1], after["forces"][1])
    atoms = Atoms(numbers=ethanol[9].numbers, positions=ethanol[9].positions)
    atoms.calc = loaded.calculator()
    assert atoms.get_potential_energy() == pytest.approx(after["energy"][1], abs=1e-4)
    np.testing.assert_allclose(atoms.get_forces(), after["forces"][1], atol=1e-4)


def test_evaluate_predict_is_predict_and_evaluate_in_one_pass(fitted, ethanol):
    from dataclasses import replace

    metrics, pred = fitted.evaluate_predict(ethanol[8:])
    assert metrics == pytest.approx(fitted.evaluate(ethanol[8:]))
    full = fitted.predict(ethanol[8:])
    np.testing.assert_allclose(pred["energy"], full["energy"], rtol=1e-6)
    np.testing.assert_allclose(pred["forces"][1], full["forces"][1], rtol=1e-5)
    # Energy labels only: the force derivative is skipped, the energies stay.
    unlabelled = [replace(f, forces=None) for f in ethanol[8:]]
    metrics, pred = fitted.evaluate_predict(unlabelled)
    assert "forces_mae_meV_per_A" not in metrics
    assert np.isnan(pred["forces"][0]).all()
    np.testing.assert_allclose(pred["energy"], full["energy"], rtol=1e-6)


def test_scikit_learn_contract():
    from sklearn.base import clone

    model = PotentialModel(**TINY, epochs=3)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    assert copy.set_params(model="schnet", lmax=None).model == "schnet"
    assert not hasattr(copy, "potential_")
    with pytest.raises(ValueError, match="unknown potential 'mace'"):
        PotentialModel(model="mace").fit([])  # stored as given, refused by fit


def test_unknown_element_is_a_clear_error(fitted, ethanol, copper):
    with pytest.raises(DataError, match=r"frame 0: elements \[29\]"):
        fitted.predict(copper[:1])
    with pytest.raises(DataError, match=r"validation frames hold elements \[29\]"):
        PotentialModel(**TINY, epochs=1).fit(ethanol[:4], val=copper[:1])


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"time_limit": 0}, "time_limit must be positive"),
        ({"val_frames": -5}, "val_frames must be >= 0"),
        ({"lmax": 2}, "painn has no lmax setting"),
    ],
)
def test_bad_settings_fail_before_any_work(settings, message):
    with pytest.raises(ValueError, match=message):
        PotentialModel(**{**TINY, **settings}).fit([])  # no frames needed


def test_interrupted_fit_keeps_no_half_built_model(ethanol, tmp_path, monkeypatch):
    """The archive written when validation improves is the whole model (E0s
    included), and the estimator is left unfitted, not holding a network
    without its E0s."""
    archive_best = ArchiveBest.on_epoch_end

    def interrupted(self, loop, record):
        archive_best(self, loop, record)
        raise KeyboardInterrupt

    monkeypatch.setattr(ArchiveBest, "on_epoch_end", interrupted)
    model = PotentialModel(**TINY, epochs=3, val_frames=2)
    with pytest.raises(KeyboardInterrupt):
        model.fit(ethanol[:8], run_dir=tmp_path)
    assert getattr(model, "potential_", None) is None
    saved = molmat.load(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["history"]["best_epoch"] == 1
    # Totals are about -4209 eV: without the E0s the error would be that large.
    assert saved.evaluate(ethanol[8:])["energy_mae_meV"] < 100_000


def test_metrics_match_numpy(ethanol):
    graphs = structure_graphs(ethanol[:3])
    rng = np.random.default_rng(0)
    de, df = rng.normal(size=3) * 0.01, rng.normal(size=graphs.forces.shape) * 0.1
    pred = Predictions(graphs.energy + de, graphs.forces + df, graphs.stress)
    m = potential_metrics(graphs, pred)
    assert m["energy_mae_meV"] == pytest.approx(1000 * np.abs(de).mean())
    assert m["energy_rmse_meV_per_atom"] == pytest.approx(
        1000 * np.sqrt(np.mean((de / 9) ** 2))
    )
    assert m["forces_mae_meV_per_A"] == pytest.approx(1000 * np.abs(df).mean())
    assert "stress_mae_meV_per_A3" not in m


def test_stress_training_in_float64(copper, tmp_path):
    model = PotentialModel(
        **{**TINY, "model": "schnet"}, cutoff=3.0, epochs=2, val_frames=2, float64=True
    ).fit(copper, run_dir=tmp_path / "run")
    metrics = model.evaluate(copper)
    assert np.isfinite(metrics["stress_mae_meV_per_A3"])
    assert model.potential_.embedding.dtype == np.float64
    loaded = molmat.load(tmp_path / "run" / "model")
    assert loaded.evaluate(copper) == pytest.approx(metrics)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "val_stress_mae_meV_per_A3" in json.loads(lines[-1])


def test_cli_train_and_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["potential", "train", "--data", str(DATA / "ethanol_botnet.extxyz")]
    args += ["--test-index", str(DATA / "rmd17_index_test_01.csv")]
    args += ["--model", "schnet", "--channels", "8", "--layers", "1", "--epochs", "2"]
    args += ["--val-frames", "1", "--cutoff", "4", "--out", str(out), "-q"]
    assert main(args) == 0
    report = json.loads((out / "data_report.json").read_text())
    assert {b["index"] for b in report["bad_frames"]} == {9, 10, 11}
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["e0_method"] == "isolated atoms"
    assert (out / "test_parity_forces.png").stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["n_structures"] == 2  # frame 9 is bad
    args = ["potential", "evaluate", "--model", str(out), "--data"]
    args += [str(DATA / "ethanol_botnet.extxyz"), "--out", str(tmp_path / "ev")]
    assert main(args) == 0
    assert "forces_mae_meV_per_A" in capsys.readouterr().out
    assert (tmp_path / "ev" / "eval_parity_energy.png").exists()
    assert main([*args[:-1], str(tmp_path / "ev64"), "--float64"]) == 0
    frames = read_structures(DATA / "ethanol_botnet.extxyz").frames
    frames = [f for f in frames if not f.is_isolated_atom]
    expected = molmat.load(out).evaluate(frames, float64=True)
    metrics64 = json.loads((tmp_path / "ev64" / "metrics.json").read_text())
    assert metrics64 == pytest.approx(expected, rel=1e-12)
    bad = ["potential", "evaluate", "--model", str(out), "--data", "missing.extxyz"]
    assert main(bad) == 2
    assert "missing.extxyz" in capsys.readouterr().err


def test_fit_reads_labels_of_ase_atoms_and_refuses_unlabelled_ones():
    import ase.io
    from ase import Atoms

    images = ase.io.read(DATA / "cu_emt.extxyz", index=":")  # SinglePointCalculator
    small = dict(channels=8, layers=1, epochs=2, batch_size=4, progress=False)
    model = PotentialModel(model="schnet", val_frames=2, **small).fit(images)
    assert all(np.isfinite(r["train_loss"]) for r in model.history_.records)
    bare = [Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]]) for _ in range(4)]
    with pytest.raises(DataError, match="no energy"):
        PotentialModel(model="schnet", val_frames=1, **small).fit(bare)


def test_cosine_schedule_decays_over_the_epoch_budget(ethanol):
    model = PotentialModel(
        **TINY, epochs=5, val_frames=2, lr=1e-2, lr_schedule="cosine"
    )
    lrs = [r["lr"] for r in model.fit(ethanol[:8]).history_.records]
    min_lr = model.train_config().min_lr
    expected = [
        min_lr + (1e-2 - min_lr) * (1 + np.cos(np.pi * e / 5)) / 2 for e in range(5)
    ]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6)
    assert lrs[0] == 1e-2 and all(np.diff(lrs) < 0)
    assert model.history_.compilations == 1  # changing the rate does not retrace


def test_unknown_schedule_is_a_clear_error(ethanol):
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'linear'"):
        PotentialModel(**TINY, epochs=1, val_frames=1, lr_schedule="linear").fit(
            ethanol[:4]
        )


def test_energy_only_prediction_skips_forces(fitted, ethanol):
    from molmat.models.potentials.inference import predict_structures

    graphs = structure_graphs(ethanol[:4])
    full = predict_structures(fitted.potential_, graphs)
    energies = predict_structures(fitted.potential_, graphs, forces=False)
    np.testing.assert_allclose(energies.energy, full.energy, rtol=1e-6)
    assert np.isnan(energies.forces).all() and np.isfinite(full.forces).all()


def test_e0s_average_isolated_or_given(tmp_path):
    from molmat.data.statistics import fit_e0s

    frames = read_structures(DATA / "ethanol_botnet.extxyz").frames
    isolated = [f for f in frames if f.is_isolated_atom]
    train = [f for f in frames if not f.is_isolated_atom]
    species = (1, 6, 8)
    atoms = {int(f.numbers[0]): f.energy for f in isolated}

    def e0s(choice, isolated=isolated):
        return PotentialModel(e0s=choice).reference_energies(train, species, isolated)

    assert e0s("isolated") == (atoms, "isolated atoms")
    assert e0s("average") == (fit_e0s(train, species), "least squares")
    assert e0s("average")[0] != atoms
    path = tmp_path / "e0s.json"
    path.write_text(json.dumps({"1": -13.6, "6": -1025.0, "8": -2035.0, "29": 1.0}))
    assert e0s(str(path)) == ({1: -13.6, 6: -1025.0, 8: -2035.0}, f"given in {path}")
    with pytest.raises(DataError, match=r"isolated-atom frames give no .* \[8\]"):
        e0s("isolated", isolated[:2])
    path.write_text(json.dumps({"1": -13.6}))
    with pytest.raises(DataError, match=rf"{path} give no .* \[6, 8\]"):
        e0s(str(path))
    with pytest.raises(DataError, match="neither auto, average, isolated nor"):
        e0s("mean")


def test_cli_valid_and_test_files_and_per_frame_predictions(tmp_path):
    import ase.io
    import pandas as pd

    images = ase.io.read(DATA / "ethanol_botnet.extxyz", index=":9")
    ase.io.write(tmp_path / "valid.extxyz", images[3:5])
    ase.io.write(tmp_path / "test.extxyz", images[5:8])
    out = tmp_path / "run"
    args = ["potential", "train", "--data", str(DATA / "ethanol_botnet.extxyz")]
    args += ["--valid-file", str(tmp_path / "valid.extxyz")]
    args += ["--test-file", str(tmp_path / "test.extxyz"), "--E0s", "average"]
    args += ["--model", "schnet", "--channels", "8", "--layers", "1", "--epochs", "1"]
    args += ["--cutoff", "4", "--out", str(out), "-q"]
    assert main(args) == 0
    report = json.loads((out / "data_report.json").read_text())
    assert (report["n_valid"], report["n_test"]) == (2, 3)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["n_structures"] == 3
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["e0_method"] == "least squares"
    assert "E0s: average" in (out / "config.yaml").read_text()

    ev = tmp_path / "ev"
    args = ["potential", "evaluate", "--model", str(out), "--data"]
    assert main([*args, str(tmp_path / "test.extxyz"), "--out", str(ev)]) == 0
    frames = read_structures(tmp_path / "test.extxyz").frames
    pred = molmat.load(out).predict(frames)
    written = ase.io.read(ev / "predictions.extxyz", index=":")
    assert len(written) == 3
    for atoms, frame, forces in zip(written, frames, pred["forces"], strict=True):
        np.testing.assert_allclose(atoms.positions, frame.positions, atol=1e-7)
        assert atoms.info["REF_energy"] == pytest.approx(frame.energy, abs=1e-6)
        np.testing.assert_allclose(atoms.arrays["REF_forces"], frame.forces, atol=1e-7)
        np.testing.assert_allclose(atoms.arrays["MM_forces"], forces, atol=1e-5)
    energies = [a.info["MM_energy"] for a in written]
    np.testing.assert_allclose(energies, pred["energy"], rtol=1e-9)
    table = pd.read_csv(ev / "predictions.csv")
    assert list(table["frame"]) == [0, 1, 2]
    errors = 1000 * (pred["energy"] - np.array([f.energy for f in frames]))
    np.testing.assert_allclose(table["energy_error_meV"], errors, rtol=1e-6)
    np.testing.assert_allclose(
        table["energy_error_meV_per_atom"], errors / 9, rtol=1e-6
    )
    assert (table["forces_rmse_meV_per_A"] > 0).all()
    summary = json.loads((ev / "metrics.json").read_text())
    assert summary["energy_mae_meV"] == pytest.approx(np.abs(errors).mean(), rel=1e-5)
