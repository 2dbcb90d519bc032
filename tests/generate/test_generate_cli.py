"""``molmat generate``: train → sample → evaluate → optimize, and bad input."""

import json

import pandas as pd
import pytest

from molmat.cli.main import main
from molmat.generate.runs import objective_function
from tests.conftest import DATA
from tests.generate.conftest import SMILES


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
def lm_run(corpus):
    out = corpus / "lm"
    argv = ["generate", "train", "--data", str(corpus / "train.csv"), "--hidden", "16"]
    argv += ["--layers", "1", "--epochs", "2", "--batch-size", "50"]
    assert main([*argv, "--out", str(out), "-q"]) == 0
    return out


def test_train_sample_evaluate(corpus, lm_run, capsys):
    report = json.loads((lm_run / "data_report.json").read_text())
    assert report["n_molecules"] == 100 and "C1CC" in report["bad_rows"][0]
    for name in ("metrics.json", "learning_curve.png", "config.yaml", "model"):
        assert (lm_run / name).exists()
    gen = corpus / "gen.csv"
    argv = ["generate", "sample", "--model", str(lm_run), "-n", "64", "--seed", "1"]
    assert main([*argv, "--top-p", "0.9", "--out", str(gen), "-q"]) == 0
    first = pd.read_csv(gen, keep_default_na=False)
    assert len(first) == 64 and set(first.columns) == {"SMILES", "valid"}
    assert (
        main([*argv, "--top-p", "0.9", "--out", str(corpus / "again.csv"), "-q"]) == 0
    )
    assert pd.read_csv(corpus / "again.csv", keep_default_na=False).equals(first)
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
    assert table.loc["valid", "gen"] == pytest.approx(first["valid"].mean())


def test_optimize_writes_its_outputs(corpus, vae, capsys):
    vae.save(corpus / "vae")
    known = corpus / "known.csv"
    known.write_text("\n".join(["SMILES", *SMILES]) + "\n")
    argv = ["generate", "optimize", "--model", str(corpus / "vae"), "--objective"]
    argv += ["qed", "--data", str(known), "--starts", "4", "--steps", "10"]
    assert main([*argv, "--out", str(corpus / "opt"), "-q"]) == 0
    assert "objective_calls" in capsys.readouterr().out
    best = pd.read_csv(corpus / "opt" / "best.csv")
    assert best["score"].between(0, 1).all()
    assert (corpus / "opt" / "latent_map.png").stat().st_size > 0


def test_bad_input_gives_one_clear_line(corpus, lm_run, capsys):
    argv = ["generate", "sample", "--model", str(corpus / "nothing"), "-n", "5"]
    assert main([*argv, "--out", str(corpus / "x.csv")]) == 2
    assert "no such model archive" in capsys.readouterr().err
    argv = ["generate", "sample", "--model", str(lm_run), "-n", "5"]
    argv += ["--condition", "logP=2", "--out", str(corpus / "x.csv")]
    assert main(argv) == 2
    assert "not conditional" in capsys.readouterr().err
    argv = ["generate", "optimize", "--model", str(lm_run), "--objective", "qed"]
    assert main([*argv, "--out", str(corpus / "o")]) == 2
    assert "not a VAE archive" in capsys.readouterr().err
    argv = ["generate", "train", "--data", str(corpus / "train.csv"), "--model", "vae"]
    assert main([*argv, "--width", "8", "--out", str(corpus / "bad")]) == 2
    assert "--width is not an option of --model vae" in capsys.readouterr().err
    with pytest.raises(ValueError, match="neither qed nor plogp"):
        objective_function("pka")
