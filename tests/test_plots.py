"""Plots a scientist reads: units, titles naming the set, legends, backends.

Figures are written as SVG with text kept as text, so the tests read the
labels, titles and legends that the written file shows.
"""

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pandas as pd
import pytest

from molmat.data.structures import Frame
from molmat.tasks import runs
from molmat.tasks.chemspace import colour_label
from molmat.training import plots


@pytest.fixture(autouse=True)
def _svg_text():
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        yield


def svg_text(path) -> str:
    """Every text of an SVG, one per line."""
    root = ET.parse(path).getroot()
    return "\n".join(
        "".join(el.itertext())
        for el in root.iter()
        if el.tag.endswith("}text") and "".join(el.itertext()).strip()
    )


def test_parity_plot_has_units_title_and_metrics(tmp_path):
    y = np.array([0.0, 1.0, 2.0, 3.0, np.nan, 5.0])
    pred = np.array([0.1, 0.9, 2.2, np.nan, 4.0, 5.1])
    metrics = {"rmse": 0.125, "mae": 0.1, "r2": 0.99}
    path = plots.parity_plot(
        y,
        pred,
        tmp_path / "parity.svg",
        "Solubility",
        metrics,
        units="log10(mol/L)",
        title="aqsoldb: test set, scaffold split, seed 0",
    )
    text = svg_text(path)
    assert "Solubility [log10(mol/L)], measured" in text
    assert "Solubility [log10(mol/L)], predicted" in text
    # pairs with a NaN on either side are not plotted and not counted
    assert "aqsoldb: test set, scaffold split, seed 0 (n = 4)" in text
    assert "RMSE = 0.125 log10(mol/L)" in text
    assert "MAE = 0.1 log10(mol/L)" in text
    assert "R² = 0.99" in text and "y = x" in text


def test_parity_plot_without_units_names_the_target_only(tmp_path):
    y = np.arange(5.0)
    text = svg_text(
        plots.parity_plot(y, y + 0.1, tmp_path / "p.svg", "logS", {"rmse": 0.1})
    )
    assert "logS, measured" in text
    assert "[" not in text


def test_classification_plots_name_the_set(tmp_path):
    rng = np.random.default_rng(0)
    y = np.column_stack([np.tile([0.0, 1.0], 10), np.tile([1.0, 0.0], 10)])
    y[0, 1] = np.nan
    prob = np.clip(y + rng.normal(0, 0.4, y.shape), 0, 1)
    title = "bbbp: test set, random split, seed 1"
    roc = svg_text(plots.roc_plot(y, prob, tmp_path / "roc.svg", ["a", "b"], title))
    assert f"ROC: {title} (n = 20)" in roc
    assert "n = 19)" in roc  # target b's legend entry: one label missing
    pr = svg_text(plots.pr_plot(y, prob, tmp_path / "pr.svg", ["a", "b"], title))
    assert f"precision-recall: {title} (n = 20)" in pr
    assert "a: positive rate 0.50" in pr
    per_target = {
        "a": {"confusion": {"tn": 8, "fp": 2, "fn": 1, "tp": 9}, "threshold": 0.5}
    }
    confusion = svg_text(
        plots.confusion_plot(per_target, tmp_path / "c.svg", title=title)
    )
    assert f"confusion matrices: {title}" in " ".join(confusion.split())  # wrapped
    assert "n = 20" in confusion


def test_learning_curve_labels_units_losses_and_best_epoch(tmp_path):
    records = [
        {"epoch": e, "train_loss": 1.0 / e, "val_rmse": 1.5 - 0.1 * e}
        for e in range(1, 6)
    ]
    text = svg_text(
        plots.learning_curve(
            records,
            tmp_path / "lc.svg",
            "rmse",
            3,
            units="log10(mol/L)",
            loss_label="train loss (MSE of standardised targets)",
            title="esol, mpnn",
        )
    )
    assert "validation RMSE [log10(mol/L)]" in text
    assert "train loss (MSE of standardised targets) (log scale)" in text
    assert "best epoch 3" in text  # legend entry
    assert "epoch" in text.splitlines()
    assert "learning curve: esol, mpnn" in text


def test_potential_learning_curve_shows_rmse_in_mev(tmp_path):
    records = [
        {
            "epoch": e,
            "train_loss": 10.0 / e,
            "train_energy_rmse_meV_per_atom": 20.0 / e,
            "train_forces_rmse_meV_per_A": 200.0 / e,
            "val_energy_rmse_meV_per_atom": 25.0 / e,
            "val_forces_rmse_meV_per_A": 210.0 / e,
        }
        for e in range(1, 5)
    ]
    text = svg_text(
        plots.potential_learning_curve(records, tmp_path / "lc.svg", 4, "nequip")
    )
    assert "energy RMSE [meV/atom]" in text
    assert "force RMSE [meV/Å]" in text
    assert "validation force RMSE" in text and "train energy RMSE" in text
    assert "stress" not in text  # no stress in the records: no panel
    assert "loss" not in text
    with pytest.raises(ValueError, match="no energy or force RMSE"):
        plots.potential_learning_curve(
            [{"epoch": 1, "train_loss": 1.0}], tmp_path / "x.svg", 1
        )


def test_energy_only_potential_curve_has_no_force_panel(tmp_path):
    records = [
        {
            "epoch": e,
            "train_energy_rmse_meV_per_atom": 20.0 / e,
            "train_forces_rmse_meV_per_A": 0.0,  # no forces (QM9)
            "val_energy_rmse_meV_per_atom": 25.0 / e,
        }
        for e in range(1, 4)
    ]
    text = svg_text(plots.potential_learning_curve(records, tmp_path / "lc.svg", 3))
    assert "energy RMSE [meV/atom]" in text and "force" not in text


def test_size_curve_names_units_and_run(tmp_path):
    points = [{"size": n, "rmse": 1.0 / n} for n in (10, 20, 40)]
    path = tmp_path / "size.svg"
    text = svg_text(plots.size_curve(points, path, "rmse", "log10(mol/L)", "esol, rf"))
    assert "RMSE [log10(mol/L)]" in text and "esol, rf" in text
    points = [{"size": n, "r2": 1.0 - 1.0 / n} for n in (10, 20, 40)]
    text = svg_text(plots.size_curve(points, tmp_path / "r2.svg", "r2", "kcal/mol"))
    assert "kcal/mol" not in text  # R² has no units


def test_size_curve_draws_one_line_per_label_with_error_bars(tmp_path):
    points = [
        {"size": n, "rmse": r / n, "std": 0.1 / n, "label": label}
        for label, r in (("from scratch", 2.0), ("pretrained", 1.0))
        for n in (200, 50, 100)
    ]
    fig_path = plots.size_curve(points, tmp_path / "two.svg", "rmse")
    text = svg_text(fig_path)
    assert "from scratch" in text and "pretrained" in text


def test_potential_parity_plots_in_ev_with_mev_metrics(tmp_path, monkeypatch):
    frames = [
        Frame(
            numbers=np.array([1, 8, 1]),
            positions=np.zeros((3, 3)),
            cell=np.zeros((3, 3)),
            pbc=np.zeros(3, bool),
            energy=-14.0 - 0.1 * i,
            forces=np.full((3, 3), 0.1 * i),
        )
        for i in range(4)
    ]
    pred = {
        "energy": np.array([f.energy + 0.03 for f in frames]),
        "forces": [f.forces + 0.002 for f in frames],
    }
    # the file names are fixed PNGs; keep the figures as SVG to read them
    monkeypatch.setattr(
        plots, "save_figure", lambda fig, path: plots.Figure.savefig(fig, f"{path}.svg")
    )
    plots.potential_parity_plots(frames, pred, tmp_path, "test")
    energy = svg_text(tmp_path / "test_parity_energy.png.svg")
    assert "energy per atom [eV/atom], measured" in energy
    assert "RMSE = 10 meV/atom" in energy  # 0.03 eV over 3 atoms
    assert "test set, structures (n = 4)" in energy
    forces = svg_text(tmp_path / "test_parity_forces.png.svg")
    assert "force component [eV/Å], predicted" in forces
    assert "RMSE = 2 meV/Å" in forces
    assert "test set, force components (n = 36)" in forces


def test_comparison_bars_show_spread_only_for_several_runs(tmp_path):
    one = [{"model": "rf", "runs": 1, "rmse": (0.7, 0.0)}]
    text = svg_text(plots.comparison_bars(one, "rmse", tmp_path / "1.svg", "kcal/mol"))
    assert "test RMSE [kcal/mol]" in text
    assert "±" not in text
    three = [{"model": "rf", "runs": 3, "rmse": (0.7, 0.05)}]
    text = svg_text(plots.comparison_bars(three, "rmse", tmp_path / "3.svg"))
    assert "mean ± std over 3 runs" in text


def test_bundled_units_and_split_titles():
    assert runs.target_units("esol", "regression") == "log10(mol/L)"
    assert runs.target_units("bbbp", "classification") == ""  # labels, not units
    assert runs.target_units("my.csv", "regression") == ""
    assert runs.split_title("scaffold", None, 0, 0, 1) == "scaffold split, seed 0"
    assert runs.split_title("kfold", None, 2, 1, 5) == (
        "kfold split, seed 2, fold 2 of 5"
    )
    assert runs.split_title("random", "/x/s.json", 0, 0, 1) == "split file s.json"


def test_train_run_titles_its_plots(tmp_path, monkeypatch):
    smiles = ["C" * n for n in range(1, 11)] + ["C" * n + "O" for n in range(1, 11)]
    frame = pd.DataFrame({"smiles": smiles, "logS": np.linspace(-3, 1, 20)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    calls = []
    real = plots.parity_plot
    monkeypatch.setattr(
        plots, "parity_plot", lambda *a, **k: calls.append(k) or real(*a, **k)
    )
    runs.train_run(
        tmp_path / "d.csv",
        tmp_path / "run",
        split="random",
        seed=3,
        model="ridge",
        features="physchem",
    )
    assert calls[0]["title"] == "d.csv: test set, random split, seed 3"
    assert calls[0]["units"] == ""
    assert (tmp_path / "run" / "parity.png").stat().st_size > 0


def test_importing_molmat_keeps_the_matplotlib_backend(tmp_path):
    script = textwrap.dedent(
        f"""
        import matplotlib
        import numpy as np
        import molmat.tasks.runs, molmat.classic.chemspace
        from molmat.training import plots
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        y = np.arange(4.0)
        plots.parity_plot(y, y, {str(tmp_path / "p.png")!r}, "y", {{}})
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        """
    )
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_map_colour_bar_names_bundled_units():
    target = "measured log solubility in mols per litre"
    assert colour_label("esol", target) == f"{target} [log10(mol/L)]"
    assert colour_label("esol", "smiles") == "smiles"
    assert colour_label("bbbp", "p_np") == "p_np"
    assert colour_label("x.csv", None) == ""
