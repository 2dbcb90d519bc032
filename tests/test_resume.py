"""Runs stopped at any instant resume to the result of a run never stopped."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from molmat import PropertyModel
from molmat.tasks.runs import train_run
from molmat.training import engine, serialization
from molmat.training.engine import ResumeError
from tests.conftest import DATA, SMALL

VARYING = ("seconds", "molecules_per_second")  # wall-clock fields of a record


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def records(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if k not in VARYING}
        for line in lines
    ]


def fit(smiles, y, folder: Path, resume: bool = False) -> PropertyModel:
    return PropertyModel(epochs=2, **SMALL).fit(
        smiles,
        y,
        checkpoint_dir=folder / "checkpoint",
        metrics_log=folder / "metrics.jsonl",
        resume=resume,
    )


def count_writes(monkeypatch, kill_at: int | None) -> list[str]:
    """Count the engine's writes; at write ``kill_at``, die half-way through it.

    Write points: the atomic replacement of a file (the metrics log when a
    run starts, the checkpoint after each epoch) and the append of an
    epoch's line to the metrics log. Dying "half-way" leaves the temporary
    file of an atomic write, or half a line of the log, behind.
    """
    writes: list[str] = []
    atomic = serialization.atomic_write_bytes
    append = engine.MetricsLog.on_epoch_end

    def atomic_write(path, data):
        writes.append(Path(path).name)
        if len(writes) == kill_at:
            Path(str(path) + ".tmp").write_bytes(data[: len(data) // 2])
            raise Killed
        atomic(path, data)

    def log_line(self, loop, record):
        writes.append("append")
        if len(writes) == kill_at:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record)[:20])
            raise Killed
        return append(self, loop, record)

    monkeypatch.setattr(serialization, "atomic_write_bytes", atomic_write)
    monkeypatch.setattr(engine, "atomic_write_bytes", atomic_write)
    monkeypatch.setattr(engine.MetricsLog, "on_epoch_end", log_line)
    return writes


@pytest.mark.slow
def test_property_model_resumes_exactly_after_a_kill_at_every_write(
    esol, tmp_path, monkeypatch
):
    smiles, y = esol.smiles[:60], esol.y[:60]
    writes = count_writes(monkeypatch, kill_at=None)
    reference = fit(smiles, y, tmp_path / "reference")
    expected_records = records(tmp_path / "reference" / "metrics.jsonl")
    assert len(writes) == 5  # log start, then (line, checkpoint) per epoch
    for kill_at in range(1, len(writes) + 1):
        folder = tmp_path / f"killed_{kill_at}"
        count_writes(monkeypatch, kill_at)
        with pytest.raises(Killed):
            fit(smiles, y, folder)
        count_writes(monkeypatch, kill_at=None)
        resumed = fit(smiles, y, folder, resume=True)
        np.testing.assert_array_equal(
            resumed.predict(smiles), reference.predict(smiles), err_msg=str(kill_at)
        )
        assert records(folder / "metrics.jsonl") == expected_records, kill_at
        assert resumed.history_.best_epoch == reference.history_.best_epoch


def test_resume_refuses_other_settings(esol, tmp_path):
    smiles, y = esol.smiles[:40], esol.y[:40]
    PropertyModel(epochs=1, **SMALL).fit(smiles, y, checkpoint_dir=tmp_path)
    with pytest.raises(ResumeError, match="max_lr"):
        PropertyModel(epochs=1, max_lr=5e-3, **SMALL).fit(
            smiles, y, checkpoint_dir=tmp_path, resume=True
        )


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [({"max_lr": 5e-3}, "max_lr"), ({"seed": 1}, "split.json differs")],
)
def test_refused_resume_leaves_the_run_folder_untouched(
    tmp_path, tiny_csv, change, message
):
    settings = dict(model="mpnn", split="random", seed=0, epochs=1, targets=["logS"])
    settings.update(SMALL)
    train_run(tiny_csv, tmp_path, **settings)
    before = snapshot(tmp_path)
    with pytest.raises(ResumeError, match=message):
        train_run(tiny_csv, tmp_path, resume=True, **{**settings, **change})
    assert snapshot(tmp_path) == before


def test_a_new_run_in_an_old_folder_removes_the_old_outputs(tmp_path, tiny_csv):
    settings = dict(model="mpnn", split="random", epochs=1, targets=["logS"], **SMALL)
    train_run(tiny_csv, tmp_path, seed=0, **settings)
    (tmp_path / "test_predictions.csv").unlink()
    assert (tmp_path / "model").exists()
    with pytest.raises(ValueError):
        train_run(tiny_csv, tmp_path, seed=1, smiles_col="no such column", **settings)
    assert not (tmp_path / "model").exists()  # no old model beside a new split


def potential_train(out: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "molmat.cli.main",
        "potential",
        "train",
        "--data",
        str(DATA / "rmd17_ethanol_10.npz"),
        "--format",
        "rmd17",
        "--test-index",
        str(DATA / "rmd17_index_test_01.csv"),
        "--model",
        "painn",
        "--channels",
        "8",
        "--layers",
        "1",
        "--batch-size",
        "2",
        "--val-frames",
        "2",
        "--epochs",
        "6",
        "--lr",
        "0.02",
        "--plateau-patience",
        "1",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_potential_run_killed_mid_training_resumes_bit_identically(tmp_path):
    reference = potential_train(tmp_path / "reference")  # runs beside the other
    killed = potential_train(tmp_path / "killed")
    log = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and killed.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 2:
            time.sleep(0.05)  # somewhere inside the third epoch
            break
        time.sleep(0.01)
    assert killed.poll() is None, "the run ended before it could be killed"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / "metrics.json").exists()
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    resumed = potential_train(tmp_path / "killed", "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()

    def params(run):
        with np.load(tmp_path / run / "model" / "params.npz") as data:
            return {k: data[k] for k in data.files}

    a, b = params("reference"), params("killed")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    metrics = [
        json.loads((tmp_path / run / "metrics.json").read_text())
        for run in ("reference", "killed")
    ]
    assert metrics[0]["test"] == metrics[1]["test"]
    assert metrics[0]["best_epoch"] == metrics[1]["best_epoch"]
    assert records(tmp_path / "reference" / "metrics.jsonl") == records(log)


def test_descriptor_mlp_resumes_exactly(tmp_path, monkeypatch):
    from molmat.classic.mlp import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6)).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.normal(size=80) > 0).astype(int)
    settings = dict(hidden=16, epochs=6, patience=100, class_weight={0: 1.0, 1: 2.0})
    reference = MLPClassifier(**settings).fit(X, y)
    writes = count_writes(monkeypatch, kill_at=3)
    with pytest.raises(Killed):
        MLPClassifier(**settings).fit(X, y, checkpoint_dir=tmp_path)
    assert writes == ["checkpoint.npz"] * 3
    count_writes(monkeypatch, kill_at=None)
    resumed = MLPClassifier(**settings).fit(X, y, checkpoint_dir=tmp_path, resume=True)
    assert resumed.n_epochs_ == reference.n_epochs_ == 6
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))


def test_a_folder_that_is_not_a_run_folder_keeps_its_files(tmp_path, tiny_csv):
    (tmp_path / "notes.png").write_bytes(b"mine")
    (tmp_path / "metrics.json").write_text("{}")
    settings = dict(model="mpnn", split="random", epochs=1, targets=["logS"], **SMALL)
    with pytest.raises(ValueError):
        train_run(tiny_csv, tmp_path, seed=0, smiles_col="no such column", **settings)
    assert (tmp_path / "notes.png").read_bytes() == b"mine"
    assert (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize(
    "where", ["checkpoint", "checkpoint/member_1", "fold_2/checkpoint/target_0"]
)
def test_resume_finds_checkpoints_of_members_targets_and_folds(tmp_path, where):
    from molmat.tasks.run_folder import start_run

    (tmp_path / "data_report.json").write_text("{}")
    (tmp_path / where).mkdir(parents=True)
    (tmp_path / where / engine.CHECKPOINT).write_bytes(b"")
    assert start_run(tmp_path, resume=True)
    assert (tmp_path / where / engine.CHECKPOINT).exists()
    assert not start_run(tmp_path, resume=False)
    assert not (tmp_path / where.split("/")[0]).exists()
