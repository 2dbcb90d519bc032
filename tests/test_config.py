import json

import pytest
import yaml

from molmat.cli.config import parse_args
from molmat.cli.main import build_parser, main

TRAIN = ["--hidden", "16", "--ffn-hidden", "16", "--batch-size", "8", "--no-progress"]


def parse(argv):
    return parse_args(build_parser(argv[:1]), argv)


def write(path, config):
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_config_sets_options_and_command_line_flags_win(tmp_path):
    config = write(
        tmp_path / "run.yaml",
        {
            "data": "esol",
            "out": "runs/a",
            "target": ["a", "b"],
            "batch_size": 16,
            "no-progress": True,
            "mmff": True,
            "model": ["mpnn", "rf"],
            "lr": 0.01,
        },
    )
    args = parse(["train", "--config", config])
    assert (args.data, args.out, args.targets) == ("esol", "runs/a", ["a", "b"])
    assert (args.batch_size, args.max_lr) == (16, 0.01)
    assert not args.progress and args.mmff and args.model == ["mpnn", "rf"]
    args = parse(["train", "--config", config, "--target", "c", "--out", "runs/b"])
    assert args.targets == ["c"] and args.out == "runs/b"
    assert parse(["train", "--config", config, "--batch-size", "8"]).batch_size == 8


def test_potential_train_reads_the_same_kind_of_file(tmp_path):
    config = write(
        tmp_path / "pot.yaml",
        {"data": "f.extxyz", "out": "o", "E0s": "average", "valid-file": "v.xyz"},
    )
    args = parse(["potential", "train", "--config", config, "--epochs", "3"])
    assert (args.data, args.e0s, args.valid_file, args.epochs) == (
        "f.extxyz",
        "average",
        "v.xyz",
        3,
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"data": "esol", "epochz": 3}, "unknown option 'epochz'"),
        ({"data": "esol", "max_lr": 0.1}, "unknown option 'max_lr'"),  # a dest
        ({"data": "esol", "epochs": "many"}, "epochs: invalid int value"),
        ({"data": "esol", "split": "halves"}, "split: invalid choice"),
        ({"data": "esol", "mmff": "yes"}, "mmff: takes true or false"),
        (["data", "esol"], "needs `option: value` lines"),
    ],
)
def test_bad_config_files_name_the_file_and_key(tmp_path, capsys, config, message):
    path = write(tmp_path / "bad.yaml", config)
    with pytest.raises(SystemExit) as stop:
        main(["train", "--config", path, "--out", str(tmp_path / "o")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and path in err


def test_a_run_folder_config_reproduces_the_run(tiny_csv, tmp_path):
    first, second = tmp_path / "x", tmp_path / "y"
    argv = ["train", "--data", str(tiny_csv), "--target", "logS", "--epochs", "2"]
    argv += ["--split", "scaffold", "--seed", "3", "--dropout", "0.1", *TRAIN]
    assert main([*argv, "--out", str(first)]) == 0
    saved = yaml.safe_load((first / "config.yaml").read_text())
    assert saved["seed"] == 3 and saved["target"] == ["logS"]
    assert saved["no-progress"] is True and saved["dropout"] == 0.1
    config = str(first / "config.yaml")
    assert main(["train", "--config", config, "--out", str(second)]) == 0
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (first, second)]
    assert metrics[0]["test"] == metrics[1]["test"]
    assert metrics[0]["split_sizes"] == metrics[1]["split_sizes"]
    assert (first / "split.json").read_text() == (second / "split.json").read_text()
    assert yaml.safe_load((second / "config.yaml").read_text()) == {
        **saved,
        "out": str(second),
    }
