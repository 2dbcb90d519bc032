"""The scripts in examples/ run end to end on their --quick settings."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, monkeypatch, *args: str) -> dict:
    """Execute ``examples/NAME`` as a script and return what its ``main`` returned."""
    path = EXAMPLES / name
    monkeypatch.setattr(sys, "argv", [str(path), "--quick", *args])
    namespace = runpy.run_path(str(path), run_name="example")
    return namespace["main"]()


def test_property_model_example(monkeypatch, tmp_path, capsys):
    result = run_example("property_model.py", monkeypatch, "--out", str(tmp_path))
    assert np.isfinite(result["rmse"]) and result["rmse"] > 0
    assert result["predicted"].shape == (3,)
    np.testing.assert_allclose(result["reloaded"], result["predicted"], rtol=1e-6)
    assert (tmp_path / "esol-model" / "config.json").exists()
    assert "reloaded model predicts the same: True" in capsys.readouterr().out


def test_classic_baselines_example(monkeypatch):
    result = run_example("classic_baselines.py", monkeypatch)
    # both models beat predicting the training mean for every test molecule
    assert 0 < result["rf"] < result["mean"] and 0 < result["gp"] < result["mean"]
    assert 0 <= result["gp_coverage_90"] <= 1


def test_potential_md_example(monkeypatch, tmp_path):
    result = run_example("potential_md.py", monkeypatch, "--out", str(tmp_path))
    assert np.isfinite(result["metrics"]["forces_mae_meV_per_A"])
    md = result["md"]
    assert md.steps == 50
    assert len(md.atoms) == 9  # ethanol
    log = (tmp_path / "ethanol.csv").read_text().splitlines()
    assert len(log) == 1 + 1 + 50 // 25  # header, step 0 and every 25th step
    assert (tmp_path / "ethanol.extxyz").stat().st_size > 0


@pytest.mark.parametrize(
    "name", ["property_model.py", "classic_baselines.py", "potential_md.py"]
)
def test_examples_explain_their_options(name, capsys):
    path = EXAMPLES / name
    namespace = runpy.run_path(str(path), run_name="example")
    with pytest.raises(SystemExit) as exit_info:
        namespace["main"](["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out
