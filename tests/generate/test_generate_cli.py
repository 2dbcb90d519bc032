"""``molmat generate``: train → sample → evaluate → optimize, and bad input."""

import json

import pandas as pd
import pytest

from molmat.cli.main import main
from tests.conftest import DATA


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    lines = (DATA / "moses_sample.csv").read_text().splitlines()
    short = [s for s in lines[1:] if len(s) <= 30]  # one length bucket: fast
    (folder / "train.csv").write_text(
        "\n".join(["SMILES", *short[:100], "C1CC"]) + "\n"
    )
    (folder / "test.csv").write_text("\n".join(lines[:1] + lines[401:601]) + "\n")
    return folder


@pytest.fixture(scope="module")
def vae_run(corpus):
    out = corpus / "vae"
    argv = ["generate", "train", "--data", str(corpus / "train.csv"), "--model", "vae"]
    argv += ["--hidden", "16", "--layers", "1", "--latent", "4", "--epochs", "2"]
    assert main([*argv, "--out", str(out), "-q"]) == 0
    return out


def test_train_sample_evaluate(corpus, vae_run, capsys):
    report = json.loads((vae_run / "data_report.json").read_text())
    assert report["n_molecules"] == 100 and "C1CC" in report["bad_rows"][0]
    for name in ("metrics.json", "learning_curve.png", "config.yaml", "model"):
        assert (vae_run / name).exists()
    gen = corpus / "gen.csv"
    argv = ["generate", "sample", "--model", str(vae_run), "-n", "64", "--seed", "1"]
    assert main([*argv, "--out", str(gen), "-q"]) == 0
    first = pd.read_csv(gen)
    assert len(first) == 64 and set(first.columns) == {"SMILES", "valid"}
    assert main([*argv, "--out", str(corpus / "again.csv"), "-q"]) == 0
    assert pd.read_csv(corpus / "again.csv").equals(first)  # seeded
    capsys.readouterr()
    argv = ["generate", "evaluate", "--generated", str(gen), "--no-fcd", "-q"]
    argv += [
        "--reference",
        str(corpus / "test.csv"),
        "--train",
        str(corpus / "train.csv"),
    ]
    assert main([*argv, "--out", str(corpus / "metrics.csv")]) == 0
    printed = capsys.readouterr().out
    assert "CharRNN" in printed and "SNN/Test" in printed
    table = pd.read_csv(corpus / "metrics.csv").set_index("metric")
    assert 0 <= table.loc["valid", "gen"] <= 1


def test_optimize_writes_its_outputs(corpus, vae_run, capsys):
    out = corpus / "opt"
    argv = ["generate", "optimize", "--model", str(vae_run), "--objective", "qed"]
    assert main([*argv, "--starts", "4", "--steps", "10", "--out", str(out), "-q"]) == 0
    assert "objective_calls" in capsys.readouterr().out
    best = pd.read_csv(out / "best.csv")
    assert best["score"].between(0, 1).all()
    assert (out / "latent_map.png").stat().st_size > 0


def test_bad_input_gives_one_clear_line(corpus, vae_run, capsys):
    argv = ["generate", "sample", "--model", str(corpus / "nothing"), "-n", "5"]
    assert main([*argv, "--out", str(corpus / "x.csv")]) == 2
    assert "no such model archive" in capsys.readouterr().err
    argv = ["generate", "sample", "--model", str(vae_run), "-n", "5"]
    argv += ["--condition", "logP=2", "--out", str(corpus / "x.csv")]
    assert main(argv) == 2
    assert "not conditional" in capsys.readouterr().err
    argv = ["generate", "optimize", "--model", str(vae_run), "--objective", "pka"]
    assert main([*argv, "--out", str(corpus / "o")]) == 2
    assert "neither qed nor plogp" in capsys.readouterr().err
