"""Per-atom attributions of crystal networks (element embeddings as inputs)."""

from pathlib import Path

import ase
import ase.io
import numpy as np
import pandas as pd
import pytest
from ase.build import bulk, make_supercell

from molmat.cli.main import main
from molmat.explain import explain, integrated_gradients
from molmat.tasks.crystal import CrystalModel

SAMPLE = Path(__file__).parents[1] / "data" / "matbench_jdft2d_sample.extxyz"


def distorted(atoms: ase.Atoms, seed: int) -> ase.Atoms:
    """``atoms`` with its cell sheared and atoms moved (no symmetry left)."""
    rng = np.random.default_rng(seed)
    out = atoms.copy()
    out.set_cell(out.cell[:] @ (np.eye(3) + rng.normal(0, 0.04, (3, 3))), True)
    out.positions += rng.normal(0, 0.08, out.positions.shape)
    return out


@pytest.fixture(scope="module", params=["cgcnn", "painn"])
def fitted(request):
    images = ase.io.read(SAMPLE, index=":")[:24]
    y = np.array([a.info["exfoliation_en"] for a in images])
    model = CrystalModel(
        request.param,
        hidden=16,
        depth=2,
        cutoff=4.0,
        n_basis=8,
        epochs=3,
        batch_size=8,
        features="magpie-structure",
        progress=False,
    ).fit(images, y)
    return model, images


def test_integrated_gradients_of_a_crystal_add_up_to_the_prediction(fitted):
    model, images = fitted
    # steps double until each structure's sum is within 1% of its change
    found = integrated_gradients(model, images[:6], tolerance=0.01, max_steps=1024)
    assert [a.row for a in found] == list(range(6))
    for a, atoms in zip(found, images[:6], strict=True):
        assert a.parts == atoms.get_chemical_symbols()
        assert a.values.shape == (len(atoms),)
        assert a.completeness_error <= 0.01 * abs(a.prediction - a.reference)
    np.testing.assert_allclose(
        [a.prediction for a in found],
        model.predict(images[:6]),
        rtol=1e-5,
        atol=1e-5,
    )
    # structure descriptors take their share; atoms carry the rest
    assert any(abs(a.rest) > 0 for a in found)


def test_crystal_attributions_follow_rotation_renumbering_and_supercells(fitted):
    model, _ = fitted
    cell = distorted(bulk("NaCl", "rocksalt", a=5.6, cubic=True), seed=1)
    order = np.random.default_rng(0).permutation(len(cell))
    rotated = cell.copy()
    rotated.rotate(37, (1, 2, 3), rotate_cell=True)
    double = make_supercell(cell, np.diag([2, 1, 1]))
    a, b, c, d = explain(model, [cell, rotated, cell[order], double], "ig")
    np.testing.assert_allclose(b.values, a.values, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(c.values, a.values[order], rtol=1e-3, atol=1e-5)
    assert c.parts == [a.parts[i] for i in order]
    # a mean readout: the supercell predicts the same, each copy of an atom
    # carries half of that atom's share
    assert d.prediction == pytest.approx(a.prediction, rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(d.values, np.tile(a.values, 2) / 2, rtol=2e-3, atol=1e-5)


def test_shapley_values_of_crystal_atoms_are_exact_on_small_cells(fitted):
    model, _ = fitted
    cell = distorted(bulk("GaAs", "zincblende", a=5.65), seed=2)
    (a,) = explain(model, [cell], "shap", permutations=100)
    assert a.report.method == "exact"
    assert a.total + a.rest == pytest.approx(a.prediction - a.reference, abs=1e-4)


def test_cli_explains_a_crystal_model_from_a_structure_file(tmp_path, capsys):
    run = tmp_path / "run"
    common = ["--hidden", "8", "--depth", "1", "--split", "random", "--no-progress"]
    assert (
        main(
            [
                "train",
                "--data",
                str(SAMPLE),
                "--target",
                "exfoliation_en",
                "--model",
                "cgcnn",
                "--epochs",
                "2",
                "--out",
                str(run),
                *common,
            ]
        )
        == 0
    )
    first = ase.io.read(SAMPLE, index=":3")
    structures = tmp_path / "three.extxyz"
    ase.io.write(structures, first)
    out = tmp_path / "expl"
    code = main(
        [
            "explain",
            "--model",
            str(run),
            "--data",
            str(structures),
            "--method",
            "ig",
            "--tolerance",
            "0.01",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    parts = pd.read_csv(out / "attributions.csv")
    assert len(parts) == sum(len(a) for a in first)
    assert list(parts[parts.row == 0].part) == first[0].get_chemical_symbols()
    rows = pd.read_csv(out / "molecules.csv")
    assert (
        rows.completeness_error < 0.01 * abs(rows.prediction - rows.reference)
    ).all()
    assert len(rows) == 3 and (out / "pictures" / "0.png").stat().st_size > 0
    # counterfactuals mutate molecules: a clear refusal for structures
    code = main(
        [
            "explain",
            "--model",
            str(run),
            "--data",
            str(structures),
            "--method",
            "counterfactual",
            "--out",
            str(tmp_path / "cf"),
        ]
    )
    assert code != 0 and "crystal structures" in capsys.readouterr().err
