"""ETKDG conformers: geometry, choice, failures, caching and 3D models."""

import logging

import numpy as np
import pandas as pd
import pytest
import rdkit
from rdkit import Chem
from rdkit.Chem import AllChem

from molmat.featurizers import conformers as fc
from molmat.featurizers import graph as fg
from molmat.featurizers.conformer_store import ConformerStore
from molmat.featurizers.conformers import ConformerOptions, embed
from molmat.tasks.property import PropertyModel

UNEMBEDDABLE = "C1#CC1"  # cyclopropyne: ETKDG finds no geometry


def embedded_again(*args, **kwargs):
    raise AssertionError("embedded again")


def test_bond_lengths_are_chemical():
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    xyz, reason = embed(mol, ConformerOptions())
    assert reason == "" and xyz.shape == (mol.GetNumAtoms(), 3)
    for bond in mol.GetBonds():
        length = np.linalg.norm(xyz[bond.GetBeginAtomIdx()] - xyz[bond.GetEndAtomIdx()])
        assert 1.1 < length < 1.6


def test_lowest_mmff_energy_conformer_is_kept_and_embedding_is_seeded():
    mol = Chem.MolFromSmiles("CCCCOCCN")
    options = ConformerOptions(n=6, mmff=True, seed=7)
    xyz, _ = embed(mol, options)
    np.testing.assert_array_equal(embed(mol, options)[0], xyz)
    form = fc.canonical_form(mol)  # embedding runs in canonical atom order
    with_h = Chem.AddHs(form.molecule())
    params = AllChem.ETKDGv3()
    params.randomSeed = 7
    ids = list(AllChem.EmbedMultipleConfs(with_h, 6, params))
    energies = [e for _, e in AllChem.MMFFOptimizeMoleculeConfs(with_h, maxIters=500)]
    best = with_h.GetConformer(ids[int(np.argmin(energies))]).GetPositions()
    best = form.in_input_order(best[: mol.GetNumAtoms()])
    np.testing.assert_allclose(xyz, best, atol=1e-4)
    for bond in mol.GetBonds():  # mapped back onto the input's atoms
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        assert 1.1 < np.linalg.norm(xyz[i] - xyz[j]) < 1.6


def test_conformer_does_not_depend_on_atom_order_or_spelling():
    mol = Chem.MolFromSmiles("OC[C@H](N)c1ccc(F)cc1Cl")  # no symmetric atoms
    perm = np.random.default_rng(0).permutation(mol.GetNumAtoms())
    renumbered = Chem.RenumberAtoms(mol, perm.tolist())
    options = ConformerOptions(n=2)
    xyz, _ = embed(mol, options)
    np.testing.assert_array_equal(embed(renumbered, options)[0], xyz[perm])
    assert fc.canonical_form(renumbered).smiles == fc.canonical_form(mol).smiles
    # a symmetric molecule written two ways: same geometry up to swapping
    # its equivalent atoms, so the same interatomic distances
    a, b = (embed(Chem.MolFromSmiles(s), options)[0] for s in ("CC(C)O", "OC(C)C"))
    distances = [
        np.sort(np.linalg.norm(p[:, None] - p[None], axis=-1), None) for p in (a, b)
    ]
    np.testing.assert_allclose(distances[0], distances[1], atol=1e-5)


def test_failed_embedding_gives_a_reason_and_zero_positions():
    mols = [Chem.MolFromSmiles(s) for s in ["CCO", UNEMBEDDABLE, "C"]]
    graphs = fg.featurize(mols, conformers=ConformerOptions())
    assert graphs.errors[0] == graphs.errors[2] == ""
    assert "could not embed" in graphs.errors[1]
    assert graphs.positions.shape == (3 + 3 + 1, 3)
    assert (graphs.positions[3:6] == 0).all() and (graphs.positions[:3] != 0).any()
    kept = graphs.subset([0, 2])
    assert list(kept.n_atoms) == [3, 1] and kept.positions.shape == (4, 3)


def test_parallel_embedding_equals_one_thread():
    smiles = ["CCO", UNEMBEDDABLE, "CC(=O)Oc1ccccc1C(=O)O", "C1CCNCC1", "O=C=O"] * 3
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    options = ConformerOptions(n=2, mmff=True)
    serial = fc.embed_all(mols, options, workers=1)
    parallel = fc.embed_all(mols, options, workers=4)
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[1], parallel[1])
    assert serial[0].shape == (sum(m.GetNumAtoms() for m in mols), 3)
    assert [bool(e) for e in serial[1]] == [s == UNEMBEDDABLE for s in smiles]
    assert fc.usable_cores() >= 1


def test_conformers_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLMAT_CACHE_DIR", str(tmp_path))
    smiles = ["CCO", "c1ccccc1O"]
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    options = ConformerOptions(n=2)
    first = fg.featurize_cached(smiles, mols, conformers=options)

    monkeypatch.setattr(fg, "embed_all", embedded_again)
    second = fg.featurize_cached(smiles, mols, conformers=options)
    np.testing.assert_array_equal(first.positions, second.positions)
    with pytest.raises(AssertionError, match="embedded again"):  # other settings
        fg.featurize_cached(smiles, mols, conformers=ConformerOptions(n=3))


def test_rdkit_messages_stay_silent_on_several_threads(capfd):
    salts = [f"[Zn+2].[O-]C(=O){'C' * n}c1ccccc1.[O-]C(=O)C" for n in range(8)]
    mols = [Chem.MolFromSmiles(s) for s in salts]  # RDKit's UFF typer warns on Zn
    positions, errors = fc.embed_all(mols, ConformerOptions(), workers=2)
    assert not errors.any() and "UFFTYPER" not in capfd.readouterr().err


def test_conformer_store_embeds_each_molecule_once(tmp_path, monkeypatch):
    calls, original = [], fc.embed_in_given_order

    def counting(mol, options):
        calls.append(Chem.MolToSmiles(mol))
        return original(mol, options)

    built, molecule = [], fc.CanonicalForm.molecule

    def counting_built(form):
        built.append(form.smiles)
        return molecule(form)

    monkeypatch.setattr(fc, "embed_in_given_order", counting)
    monkeypatch.setattr(fc.CanonicalForm, "molecule", counting_built)
    store = ConformerStore(tmp_path / "conformers.sqlite")
    options = ConformerOptions()
    first = ["CCO", UNEMBEDDABLE, "c1ccccc1O", "CCO"]
    positions, errors = fc.embed_all(
        [Chem.MolFromSmiles(s) for s in first], options, store=store
    )
    assert sorted(calls) == sorted(["CCO", "C1#CC1", "Oc1ccccc1"])  # duplicates once
    np.testing.assert_array_equal(positions[:3], positions[-3:])
    calls.clear()
    second = ["OCC", UNEMBEDDABLE, "Cc1ccccc1"]  # another list, another spelling
    again, reasons = fc.embed_all(
        [Chem.MolFromSmiles(s) for s in second], options, store=store
    )
    assert calls == ["Cc1ccccc1"]  # ethanol and the failure come from the store
    assert built[3:] == calls  # no canonical molecule built for stored ones
    np.testing.assert_array_equal(again[:3], positions[:3][::-1])  # OCC = CCO reversed
    assert reasons[1] == errors[1] and "could not embed" in reasons[1]
    fc.embed_all([Chem.MolFromSmiles("CCO")], ConformerOptions(n=2), store=store)
    assert calls[-1] == "CCO"  # other settings, embedded again


def test_unreadable_conformer_store_or_row_is_replaced(tmp_path, caplog):
    path = tmp_path / "conformers.sqlite"
    path.write_bytes(b"this is no database" * 100)
    mols = [Chem.MolFromSmiles("CCO")]
    expected = fc.embed_all(mols, ConformerOptions())
    with caplog.at_level(logging.WARNING, logger="molmat"):
        got = fc.embed_all(mols, ConformerOptions(), store=ConformerStore(path))
    assert f"conformer store {path} unreadable" in caplog.text
    assert (
        path.with_name("conformers.sqlite.unreadable").read_bytes().startswith(b"this")
    )
    np.testing.assert_array_equal(got[0], expected[0])
    settings = f"{ConformerOptions().tag()} rdkit={rdkit.__version__}"
    assert set(ConformerStore(path).load(settings, ["CCO"])) == {"CCO"}
    for damaged in (np.zeros((2, 3), np.float32), np.zeros(5, np.float32)):
        ConformerStore(path).save(settings, {"CCO": (damaged, "")})
        got = fc.embed_all(mols, ConformerOptions(), store=ConformerStore(path))
        np.testing.assert_array_equal(got[0], expected[0])  # embedded again


def test_a_store_that_cannot_be_opened_is_left_alone(tmp_path, caplog):
    path = tmp_path / "conformers.sqlite"
    path.mkdir()  # e.g. a locked or unwritable file: SQLite cannot open it
    store = ConformerStore(path)
    mols = [Chem.MolFromSmiles(s) for s in ["CCO", "CCN"]]
    with caplog.at_level(logging.WARNING, logger="molmat"):
        got = fc.embed_all(mols, ConformerOptions(), store=store)
    np.testing.assert_array_equal(got[0], fc.embed_all(mols, ConformerOptions())[0])
    assert caplog.text.count(f"conformer store {path} not used") == 1  # once a job
    assert path.is_dir() and not store.usable


def test_no_cache_writes_no_conformer_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLMAT_CACHE_DIR", str(tmp_path))
    mols = [Chem.MolFromSmiles("CCO")]
    fg.featurize_cached(["CCO"], mols, conformers=ConformerOptions(), use_cache=False)
    assert not (tmp_path / "conformers.sqlite").exists()
    fg.featurize_cached(["CCO"], mols, conformers=ConformerOptions())
    assert (tmp_path / "conformers.sqlite").exists()


@pytest.mark.parametrize(
    "smiles",
    ["[H]OC([H])([H])C", "[Na+].[O-]C(=O)CCl", "CC(=O)[O-].[NH4+]", "C1CC1.O"],
)
def test_positions_follow_the_input_atoms(smiles, monkeypatch):
    mol = Chem.MolFromSmiles(smiles, sanitize=True)
    mol = Chem.AddHs(mol) if "[H]" in smiles else mol  # explicit hydrogen atoms
    form = fc.canonical_form(mol)
    parsed = form.molecule()
    monkeypatch.setattr(fc.Chem, "MolFromSmiles", lambda *args: None)
    renumbered = form.molecule()  # the fallback when parsing fails
    for canonical in (parsed, renumbered):
        assert fc.atom_kinds(canonical) == [fc.atom_kinds(mol)[i] for i in form.order]
        xyz, _ = fc.embed_in_given_order(canonical, ConformerOptions())
        xyz = form.in_input_order(xyz)
        for bond in mol.GetBonds():
            i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
            assert 0.9 < np.linalg.norm(xyz[i] - xyz[j]) < 1.9


def test_schnet_skips_and_reports_molecules_without_conformer(
    esol, caplog, monkeypatch
):
    X = [*esol.smiles[:8], UNEMBEDDABLE]
    y = np.append(esol.y[:8, 0], 1.0)
    model = PropertyModel(
        model="schnet",
        hidden=8,
        depth=1,
        ffn_hidden=8,
        epochs=1,
        val_fraction=0,
        progress=False,
    )
    with caplog.at_level(logging.WARNING, logger="molmat"):
        model.fit(X, y)
    assert model.dropped_ == [
        {
            "set": "X",
            "index": 8,
            "smiles": UNEMBEDDABLE,
            "reason": model.dropped_[0]["reason"],
        }
    ]
    assert f"molecule 8 ({UNEMBEDDABLE}) skipped: ETKDG could not embed" in caplog.text
    pred = model.predict([UNEMBEDDABLE, "CCO"])
    assert np.isnan(pred[0]) and np.isfinite(pred[1])
    monkeypatch.setattr(fc, "embed_in_given_order", embedded_again)  # all stored
    again = model.predict([*X[:3], UNEMBEDDABLE, "OCC"])
    assert np.isnan(again[3]) and again[4] == pytest.approx(pred[1], abs=1e-5)


def test_schnet_without_conformers_is_a_clear_error():
    with pytest.raises(ValueError, match="schnet reads 3D positions"):
        PropertyModel(model="schnet", conformers=0, progress=False).fit(
            ["CCO"] * 3, [1, 2, 3]
        )


def test_conformer_count_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        ConformerOptions(n=0)
    assert fc.CONFORMER_VERSION in ConformerOptions(n=2).tag()


def test_run_folder_lists_rows_without_conformer(esol, tmp_path):
    import json

    from molmat.tasks.runs import train_run

    smiles = [*esol.smiles[:11], UNEMBEDDABLE]
    csv = tmp_path / "x.csv"
    pd.DataFrame({"smiles": smiles, "y": np.arange(12.0)}).to_csv(csv, index=False)
    split = tmp_path / "split.json"
    split.write_text(
        json.dumps({"train": [*range(8), 11], "val": [8], "test": [9, 10]})
    )
    result = train_run(
        csv,
        tmp_path / "run",
        split_file=split,
        model="schnet",
        hidden=8,
        depth=1,
        ffn_hidden=8,
        epochs=1,
        progress=False,
    )
    skipped = result["runs"][0]["skipped_molecules"]
    assert skipped == [
        {"row": 11, "smiles": UNEMBEDDABLE, "reason": skipped[0]["reason"]}
    ]
    assert np.isfinite(result["runs"][0]["test"]["rmse"])


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_no_cache_prediction_reads_and_writes_no_store(
    command, esol, tmp_path, monkeypatch
):
    from molmat.cli.main import main

    monkeypatch.setenv("MOLMAT_CACHE_DIR", str(tmp_path / "cache"))
    model = PropertyModel(
        model="schnet", hidden=8, depth=1, ffn_hidden=8, epochs=1, progress=False
    )
    model.fit(esol.smiles[:8], esol.y[:8, 0], target_names=["logS"])
    model.save(tmp_path / "model")
    store = tmp_path / "cache" / "conformers.sqlite"
    store.unlink()
    csv = tmp_path / "new.csv"
    csv.write_text("smiles,logS\nCCO,0.5\nOCC(N)=O,-0.2\n")
    out = tmp_path / ("p.csv" if command == "predict" else "evaluation")
    args = ["--model", str(tmp_path / "model"), "--data", str(csv), "--out", str(out)]
    assert main([command, *args, "--no-cache"]) == 0
    assert not store.exists()
    frame = pd.read_csv(out if command == "predict" else out / "predictions.csv")
    column = [c for c in frame.columns if c.startswith("logS_pred")][0]
    np.testing.assert_allclose(
        frame[column], model.predict(["CCO", "OCC(N)=O"]), atol=1e-5
    )
    assert store.exists()  # the model itself was trained with the cache


def test_failure_reason_names_the_checks_etkdg_failed():
    xyz, reason = embed(Chem.MolFromSmiles(UNEMBEDDABLE), ConformerOptions())
    assert xyz is None and "attempts failed at ETK_MINIMIZATION ×" in reason
    counts = np.zeros(len(fc.FAILURE_CAUSES), np.int64)
    assert fc.failure_summary(counts) == "no attempt recorded"
    counts[[0, 2, 3]] = [5, 9, 1]
    assert fc.failure_summary(counts, shown=2) == (
        "attempts failed at CHECK_TETRAHEDRAL_CENTERS ×9, INITIAL_COORDS ×5"
    )
