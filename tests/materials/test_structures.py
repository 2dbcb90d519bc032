"""Crystal structures in the property workflow: reading, features, models."""

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from molmat.cli.main import main
from molmat.data.crystals import read_structure_table, structures
from molmat.data.structures import Frame
from molmat.featurizers.structure import feature_names, structure_features
from molmat.tasks.archives import load
from molmat.tasks.classic import ClassicModel

SAMPLE = Path(__file__).parents[1] / "data" / "matbench_jdft2d_sample.extxyz"

PARTIAL_CIF = """data_x
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 4.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Fe1 Fe 0.0 0.0 0.0 0.5
Ni1 Ni 0.0 0.0 0.0 0.5
O1 O 0.5 0.5 0.5 1.0
"""


def test_features_ignore_cell_choice_rotation_translation_and_order():
    crystal = bulk("NaCl", "rocksalt", a=5.64) * (1, 1, 1)
    other = crystal.repeat((2, 1, 1))
    other.rotate(33, "x", rotate_cell=True)
    other.rotate(-71, "z", rotate_cell=True)
    other.translate([0.3, -1.1, 0.2])
    other = other[np.random.default_rng(0).permutation(len(other))]
    a, b = structure_features([Frame.from_atoms(crystal), Frame.from_atoms(other)])
    assert a.shape == (len(feature_names()),)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    names = feature_names()
    # rock salt: Na-Cl 2.82 Å, 8 atoms in 179.4 Å^3, 2.17 g/cm^3
    assert a[names.index("nn distance min")] == pytest.approx(2.82)
    assert a[names.index("volume per atom")] == pytest.approx(5.64**3 / 8)
    assert a[names.index("density")] == pytest.approx(2.165, abs=0.005)


def test_a_compressed_crystal_changes_its_packing_features():
    crystal = bulk("Cu", "fcc", a=3.6)
    squeezed = bulk("Cu", "fcc", a=3.3)
    a, b = structure_features([Frame.from_atoms(crystal), Frame.from_atoms(squeezed)])
    names = feature_names()
    assert b[names.index("density")] > a[names.index("density")]
    assert b[names.index("nn distance mean")] < a[names.index("nn distance mean")]
    np.testing.assert_allclose(a[:149], b[:149])  # same composition


def test_bad_structures_are_reported_and_good_ones_kept(tmp_path):
    import ase.io

    good = bulk("Si", "diamond", a=5.43)
    good.info["gap"] = 1.1
    overlap = good.copy()
    overlap.positions[1] = overlap.positions[0] + 0.01
    unlabelled = bulk("Ge", "diamond", a=5.66)
    text = good.copy()
    text.info["gap"] = "high"
    ase.io.write(tmp_path / "set.extxyz", [good, overlap, unlabelled, text])
    table = read_structure_table(tmp_path / "set.extxyz", ["gap"])
    assert list(table.rows) == [0] and table.y[0, 0] == pytest.approx(1.1)
    reasons = {b.row: b.reason for b in table.report.bad_rows}
    assert "closer than" in reasons[1]
    assert "missing target" in reasons[2]
    assert "not a number" in reasons[3]
    folder = tmp_path / "cifs"
    folder.mkdir()
    (folder / "a_partial.cif").write_text(PARTIAL_CIF)
    (folder / "b_broken.cif").write_text("data_x\n_cell_length_a oops\n")
    ase.io.write(folder / "c_si.cif", good)
    table = read_structure_table(folder, require_targets=False)
    assert table.names == ["c_si.cif"]
    reasons = {b.where: b.reason for b in table.report.bad_rows}
    assert "partial occupancies" in reasons["a_partial.cif"]
    assert "unreadable" in reasons["b_broken.cif"]


def test_a_tar_archive_of_cifs_reads_with_labels_joined_by_name(tmp_path):
    import tarfile

    import ase.io

    folder = tmp_path / "mofs"
    folder.mkdir()
    ase.io.write(folder / "SI_clean.cif", bulk("Si", "diamond", a=5.43))
    ase.io.write(folder / "GE_clean.cif", bulk("Ge", "diamond", a=5.66))
    ase.io.write(folder / "CU.vasp", bulk("Cu", "fcc", a=3.6), format="vasp")
    (folder / "BROKEN.cif").write_text(PARTIAL_CIF)
    with tarfile.open(tmp_path / "mofs.tar.xz", "w:xz") as tar:
        tar.add(folder, arcname="cifs")
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,LCD,Has_OMS\nSI_clean,4.5,No\nCU,2.0,Yes\n")
    table = read_structure_table(tmp_path / "mofs.tar.xz", ["LCD"], labels=labels)
    assert table.names == ["CU.vasp", "SI_clean.cif"]
    np.testing.assert_allclose(table.y[:, 0], [2.0, 4.5])
    flags = read_structure_table(tmp_path / "mofs.tar.xz", ["Has_OMS"], labels=labels)
    np.testing.assert_array_equal(flags.y[:, 0], [1.0, 0.0])
    reasons = {b.where: b.reason for b in table.report.bad_rows}
    assert "partial occupancies" in reasons["BROKEN.cif"]
    assert "missing target" in reasons["GE_clean.cif"]
    assert [f.n_atoms for f in table.structures] == [1, 2]


def test_core_mof_reads_from_its_folder_or_says_how_to_get_it(tmp_path, monkeypatch):
    import tarfile

    import ase.io

    from molmat.data import core_mof

    monkeypatch.setenv("MOLMAT_CORE_MOF_DIR", str(tmp_path / "none"))
    with pytest.raises(
        core_mof.CoreMofNotFound, match="pip install --no-deps core-mof"
    ):
        read_structure_table("core_mof", ["LCD"])
    folder = tmp_path / "CoRE_MOF"
    folder.mkdir()
    ase.io.write(tmp_path / "ABC_clean.cif", bulk("Cu", "fcc", a=3.6))
    with tarfile.open(folder / "2019-ASR.tar.xz", "w:xz") as tar:
        tar.add(tmp_path / "ABC_clean.cif", arcname="ASR/ABC_clean.cif")
    (folder / "2019-ASR.csv").write_text("filename,LCD,Has_OMS\nABC_clean,3.3,Yes\n")
    monkeypatch.setenv("MOLMAT_CORE_MOF_DIR", str(folder))
    table = read_structure_table("core_mof", ["LCD", "Has_OMS"])
    np.testing.assert_allclose(table.y, [[3.3, 1.0]])


def test_structures_check_atoms_and_frames():
    frames, reasons = structures([bulk("Cu"), Atoms("H2", [[0, 0, 0], [0, 0, 0]]), 3])
    assert frames[0] is not None and reasons[0] == ""
    assert frames[1] is None and "closer than" in reasons[1]
    assert frames[2] is None and "not a structure" in reasons[2]


def test_structure_model_saves_loads_and_flags_unseen_elements(tmp_path):
    table = read_structure_table(SAMPLE, ["exfoliation_en"])
    model = ClassicModel("rf", features="magpie-structure").fit(
        table.structures[:30], table.y[:30]
    )
    queries = [*table.structures[30:33], bulk("Au")]
    pred = model.predict(queries)
    assert np.isfinite(pred).all()
    model.save(tmp_path / "model")
    again = load(tmp_path / "model")
    np.testing.assert_array_equal(again.predict(queries), pred)
    assert again.unseen_elements(queries)[-1] == ["Au"]


def test_matbench_structure_task_runs_from_an_extxyz(tmp_path, capsys):
    out = tmp_path / "mb"
    argv = ["matbench", "--task", "matbench_jdft2d", "--data", str(SAMPLE)]
    assert main([*argv, "--out", str(out)]) == 0
    assert "RF-SCM/Magpie" in capsys.readouterr().out
    lines = (out / "folds.jsonl").read_text().splitlines()
    folds = [json.loads(line) for line in lines]
    assert [f["features"] for f in folds] == ["magpie-structure"] * 5
    assert sum(f["n_test"] for f in folds) == 40


def test_a_csv_of_cif_strings_reads_as_structures(tmp_path):
    import io

    import ase.io
    import pandas as pd

    text = io.BytesIO()
    ase.io.write(text, bulk("Si", "diamond", a=5.43), format="cif")
    good = text.getvalue().decode()
    pd.DataFrame(
        {"material_id": ["a", "b", "c"], "cif": [good, "not a cif", good]}
        | {"gap": [1.1, 2.0, None]}
    ).to_csv(tmp_path / "set.csv")
    table = read_structure_table(tmp_path / "set.csv", ["gap"])
    assert list(table.rows) == [0] and table.y[0, 0] == pytest.approx(1.1)
    reasons = {b.row: b.reason for b in table.report.bad_rows}
    assert "unreadable CIF" in reasons[1] and "missing target" in reasons[2]
    assert table.structures[0].n_atoms == 2
