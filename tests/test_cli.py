import json
import subprocess
import sys

import pandas as pd
import pytest

from molmat.cli.main import main

TRAIN = ["--hidden", "32", "--ffn-hidden", "32", "--batch-size", "8", "--no-progress"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_csv):
    out = tmp_path_factory.mktemp("run")
    code = main(
        [
            "train",
            "--data",
            str(tiny_csv),
            "--smiles-col",
            "smiles",
            "--target",
            "logS",
            "--split",
            "random",
            "--epochs",
            "3",
            "--out",
            str(out),
            *TRAIN,
        ]
    )
    assert code == 0
    return out


def test_train_writes_a_complete_run_folder(run_dir, capsys):
    for name in (
        "split.json",
        "metrics.json",
        "metrics.jsonl",
        "data_report.json",
        "parity.png",
        "learning_curve.png",
        "test_predictions.csv",
        "model/config.json",
        "model/params.npz",
        "model/metrics.json",
    ):
        assert (run_dir / name).exists(), name
    split = json.loads((run_dir / "split.json").read_text())
    rows = split["train"] + split["val"] + split["test"]
    assert len(rows) == 15 and 3 not in rows  # bad row 3 never used
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3
    report = json.loads((run_dir / "data_report.json").read_text())
    assert len(report["bad_rows"]) == 5


def test_split_file_is_accepted_back(run_dir, tmp_path, tiny_csv):
    out = tmp_path / "again"
    code = main(
        [
            "train",
            "--data",
            str(tiny_csv),
            "--target",
            "logS",
            "--split-file",
            str(run_dir / "split.json"),
            "--epochs",
            "1",
            "--out",
            str(out),
            *TRAIN,
        ]
    )
    assert code == 0
    assert json.loads((out / "split.json").read_text()) == json.loads(
        (run_dir / "split.json").read_text()
    )


def test_predict_keeps_columns_and_rows(run_dir, tmp_path, tiny_csv, capsys):
    out = tmp_path / "preds.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(run_dir),
                "--data",
                str(tiny_csv),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    frame, original = pd.read_csv(out), pd.read_csv(tiny_csv)
    assert list(frame.columns) == [*original.columns, "logS_pred", "in_domain"]
    assert len(frame) == len(original)
    assert frame["logS_pred"].isna().sum() == 3  # unparsable, empty, valence error
    assert "17 of 20 rows predicted" in capsys.readouterr().out


def test_evaluate_prints_and_saves_metrics(run_dir, tmp_path, tiny_csv, capsys):
    out = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(run_dir),
                "--data",
                str(tiny_csv),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "rmse" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 15 and (out / "parity.png").exists()


def folder_state(folder):
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_evaluate_leaves_the_model_folder_untouched(run_dir, tiny_csv, capsys):
    before = folder_state(run_dir)
    argv = ["evaluate", "--model", str(run_dir), "--data", str(tiny_csv)]
    assert main(argv) == 0
    assert folder_state(run_dir) == before
    out = run_dir.parent / f"{run_dir.name}_evaluation_tiny"
    assert json.loads((out / "metrics.json").read_text())["n"] == 15
    assert (out / "predictions.csv").exists()
    capsys.readouterr()
    assert main([*argv, "--out", str(run_dir / "eval")]) == 2
    assert "inside the model folder" in capsys.readouterr().err
    assert folder_state(run_dir) == before


@pytest.mark.parametrize(
    "flags",
    [
        ["--target", "a", "b"],
        ["--target", "a", "--target", "b"],
        ["--target", "a", "b", "--split", "random"],
    ],
)
def test_several_targets_after_one_flag_or_repeated(flags):
    from molmat.cli.main import build_parser

    for command in ("train", "compare"):
        argv = [command, "--data", "x.csv", "--out", "o", *flags]
        if command == "compare":
            argv += ["--models", "mpnn"]
        args = build_parser([command]).parse_args(argv)
        assert args.targets == ["a", "b"], command


def test_datasets_lists_bundled_sets(capsys):
    assert main(["datasets"]) == 0
    text = capsys.readouterr().out
    for name in ("aqsoldb", "esol", "bbbp", "CC0"):
        assert name in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "nope.csv", "--out", "x"], "no such file"),
        (
            ["predict", "--model", "/no/model", "--data", "esol", "--out", "p.csv"],
            "no such model archive",
        ),
    ],
)
def test_errors_are_one_clear_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_target_column_error(tiny_csv, tmp_path, capsys):
    code = main(
        [
            "train",
            "--data",
            str(tiny_csv),
            "--target",
            "pIC50",
            "--out",
            str(tmp_path / "r"),
            *TRAIN,
        ]
    )
    assert code == 2
    assert "pIC50" in capsys.readouterr().err


def test_corrupted_archive_error(run_dir, tmp_path, tiny_csv, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run_dir / "model", broken)
    (broken / "params.npz").write_bytes(b"garbage")
    code = main(
        [
            "predict",
            "--model",
            str(broken),
            "--data",
            str(tiny_csv),
            "--out",
            str(tmp_path / "p.csv"),
        ]
    )
    assert code == 2
    assert "corrupted parameter file" in capsys.readouterr().err


def test_kfold_reports_mean_and_std(tiny_csv, tmp_path, capsys):
    out = tmp_path / "cv"
    code = main(
        [
            "train",
            "--data",
            str(tiny_csv),
            "--target",
            "logS",
            "--split",
            "kfold",
            "--folds",
            "3",
            "--epochs",
            "1",
            "--out",
            str(out),
            *TRAIN,
        ]
    )
    assert code == 0
    assert "3-fold cross-validation" in capsys.readouterr().out
    tests = []
    for k in range(3):
        split = json.loads((out / f"fold_{k}" / "split.json").read_text())
        tests += split["test"]
    assert sorted(tests) == sorted(set(tests)) and len(tests) == 15
    for k in range(3):  # trains on the other two folds, 10% of them validate
        split = json.loads((out / f"fold_{k}" / "split.json").read_text())
        assert len(split["train"]) + len(split["val"]) == 15 - len(split["test"])
        assert len(split["val"]) == 1 and len(split["train"]) == 9
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert len(summary["rmse"]) == 2  # mean, std


@pytest.mark.parametrize("argv", [["--help"], ["datasets"], ["cache"]])
def test_help_and_light_commands_do_not_load_jax(argv):
    """`molmat --help` starts fast: the parser imports no JAX, RDKit or tasks."""
    code = (
        "import sys\n"
        "from molmat.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('jax', 'rdkit', 'molmat.tasks.runs')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_command_has_help_and_options(capsys):
    from molmat.cli.main import COMMANDS, build_parser

    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        assert "--verbose" in capsys.readouterr().out, name


@pytest.mark.parametrize(("patience", "epochs_run"), [(None, 11), (0, 12)])
def test_early_stopping_by_default(tiny_csv, tmp_path, patience, epochs_run):
    """Graph networks stop 10 epochs after the best validation epoch unless
    patience is 0. A learning rate of 1e-12 leaves float32 weights as they
    are, so epoch 1 stays the best."""
    from molmat.tasks.runs import train_run

    settings = dict(max_lr=1e-12, init_lr=1e-12, final_lr=1e-12, epochs=12)
    if patience is not None:
        settings["patience"] = patience
    result = train_run(
        tiny_csv,
        tmp_path,
        model="mpnn",
        targets=["logS"],
        split="random",
        hidden=16,
        ffn_hidden=16,
        batch_size=8,
        progress=False,
        **settings,
    )
    (run,) = result["runs"]
    assert (run["best_epoch"], run["epochs_run"]) == (1, epochs_run)
    assert "test" in run
