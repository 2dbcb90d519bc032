import math
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem
from scipy.spatial.distance import cosine
from scipy.stats import wasserstein_distance

from molmat.data.moses import read_smiles_column
from molmat.featurizers import cache
from molmat.generate import metrics as M

from ..conftest import DATA

CLEAN = ["CC(=O)Nc1ccc(O)cc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "O=C(O)c1ccccc1"]
REJECTED = {
    "S=C1SC(=Cc2ccccc2)C(=O)N1": "PAINS ene_rhod",
    "Oc1ccccc1O": "PAINS catechol",
    "CCCCl": "MCF alkyl halide",
    "N#CC=Cc1ccccc1": "MCF Michael acceptor",
    "C[N+](C)(C)C": "charged atom",
    "CP(C)C": "phosphorus",
    "C1CCCCCCC1": "8-membered ring",
}


@pytest.fixture(scope="module")
def sample():
    """1,200 MOSES test molecules (tests/data/moses_sample.csv)."""
    return read_smiles_column(DATA / "moses_sample.csv")


@pytest.fixture(scope="module")
def mols(sample):
    return [M.get_mol(s) for s in sample[:400]]


def _bitvects(mols):
    return [AllChem.GetMorganFingerprintAsBitVect(m, 2, 1024) for m in mols]


def test_validity_counts_unparsable_and_empty_strings():
    smiles = ["CCO", "", "C1CC", "c1ccccc1", "CC(C)(C)(C)(C)C", "CCO.Cl", "xyz"]
    assert M.validity(smiles) == pytest.approx(3 / 7)
    assert M.canonical_smiles("OCC.Cl") == "CCO.Cl"  # fragments kept whole


def test_unique_at_uses_the_first_k_and_warns_when_short(caplog):
    canonical = ["CCO", "CCO", "CCN", "CCC", "CCC", "CCF"]
    assert M.unique_at(canonical, 4) == pytest.approx(3 / 4)
    assert M.unique_at(canonical, 10) == pytest.approx(4 / 6)
    assert "unique@10 computed on the 6 valid molecules" in caplog.text


def test_novelty_over_distinct_valid_molecules():
    assert M.novelty(["CCO", "CCO", "CCN", "CCC"], {"CCO", "CCF"}) == pytest.approx(
        2 / 3
    )


def test_fingerprints_are_moses_morgan_bits(mols):
    packed = M.fingerprints(mols[:50])
    assert packed.shape == (50, 16) and packed.dtype == np.uint64
    expected = np.array([list(fp) for fp in _bitvects(mols[:50])], np.uint8)
    np.testing.assert_array_equal(
        np.unpackbits(packed.view(np.uint8), axis=1), expected
    )


def test_snn_and_tanimoto_summary_equal_a_pairwise_loop(mols):
    gen, ref = mols[:150], mols[150:]
    sims = np.array(
        [
            DataStructs.BulkTanimotoSimilarity(fp, _bitvects(ref))
            for fp in _bitvects(gen)
        ]
    )
    summary = M.tanimoto_summary(M.fingerprints(gen), M.fingerprints(ref))
    np.testing.assert_allclose(summary.nearest, sims.max(1), atol=1e-6)
    np.testing.assert_allclose(summary.mean, sims.mean(1), atol=1e-6)
    np.testing.assert_allclose(summary.mean_square, (sims**2).mean(1), atol=1e-6)
    snn = M.snn(M.fingerprints(gen), M.fingerprints(ref))
    assert snn == pytest.approx(sims.max(1).mean(), abs=1e-6)


def test_internal_diversity_equals_the_double_loop(mols):
    fps = _bitvects(mols[:120])
    sims = np.array([[DataStructs.TanimotoSimilarity(a, b) for b in fps] for a in fps])
    packed = M.fingerprints(mols[:120])
    assert M.internal_diversity(packed) == pytest.approx(1 - sims.mean(), abs=1e-6)
    intdiv2 = 1 - np.sqrt((sims**2).mean(1)).mean()  # MOSES: root per molecule
    assert M.internal_diversity(packed, p=2) == pytest.approx(intdiv2, abs=1e-6)


def test_two_empty_fingerprints_are_identical():
    empty = np.zeros((1, 16), np.uint64)
    assert M.snn(empty, np.concatenate([empty, empty + 1])) == 1.0


def _cosine(a: Counter, b: Counter) -> float:
    keys = sorted(set(a) | set(b))
    return 1 - cosine([a[k] for k in keys], [b[k] for k in keys])


def test_fragment_and_scaffold_similarity_equal_hand_counts(mols):
    gen, ref = mols[:60], mols[60:200]

    def fragments(ms):
        return Counter(
            f
            for m in ms
            for f in Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(m)).split(".")
        )

    def scaffolds(ms):
        out = Counter()
        for m in ms:
            core = Chem.Scaffolds.MurckoScaffold.GetScaffoldForMol(m)
            if core.GetRingInfo().NumRings() >= 2:
                out[Chem.MolToSmiles(core)] += 1
        return out

    assert M.fragment_counts(ref) == fragments(ref)
    assert M.scaffold_counts(ref) == scaffolds(ref)
    frag = M.fragment_similarity(gen, fragments(ref))
    assert frag == pytest.approx(_cosine(fragments(ref), fragments(gen)), abs=1e-12)
    scaf = M.scaffold_similarity(gen, scaffolds(ref))
    assert scaf == pytest.approx(_cosine(scaffolds(ref), scaffolds(gen)), abs=1e-12)
    assert math.isnan(M.count_cosine(Counter(), Counter(a=1)))


def test_filters_reject_pains_mcf_charges_and_foreign_atoms():
    for smiles, reason in REJECTED.items():
        assert not M.passes_filters(M.get_mol(smiles)), reason
    assert all(M.passes_filters(M.get_mol(s)) for s in CLEAN)
    mols = [M.get_mol(s) for s in [*CLEAN, *REJECTED]]
    assert M.filters_pass_rate(mols) == pytest.approx(3 / 10)


def test_prescreened_filters_equal_every_substructure_search(sample):
    """The pattern-fingerprint screen changes no outcome (MOSES' full scan)."""
    queries = M._filter_patterns()[0]
    assert len(queries) == 22 + 480 and all(q is not None for q in queries)
    mols = [M.get_mol(s) for s in [*sample[:150], *CLEAN, *REJECTED]]
    for mol in mols:
        with_h = Chem.AddHs(mol)
        full = not any(with_h.HasSubstructMatch(q) for q in queries)
        simple = all(
            a.GetFormalCharge() == 0 and a.GetSymbol() in M.ALLOWED_ATOMS
            for a in mol.GetAtoms()
        ) and not any(len(r) >= 8 for r in mol.GetRingInfo().AtomRings())
        assert M.passes_filters(mol) == (full and simple)


def test_wasserstein_properties(mols):
    gen, ref = M.molecule_properties(mols[:50]), M.molecule_properties(mols[50:150])
    distances = M.wasserstein_properties(gen, ref)
    assert set(distances) == {"logP", "SA", "QED", "weight"}
    assert distances["weight"] == wasserstein_distance(ref["weight"], gen["weight"])


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLMAT_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_reference_stats_are_cached_and_recomputed_when_corrupt(
    sample, fresh_cache, monkeypatch
):
    first = M.reference_stats(sample[:200], progress=False, n_jobs=1, with_fcd=False)
    files = cache.feature_files()
    assert len(files) == 1
    calls = []
    monkeypatch.setattr(M, "_concatenate", lambda parts: calls.append(1))
    second = M.reference_stats(sample[:200], progress=False, n_jobs=1, with_fcd=False)
    assert not calls  # read from the cache
    np.testing.assert_array_equal(
        first.features.fingerprints, second.features.fingerprints
    )
    assert first.features.fragments == second.features.fragments
    assert first.features.scaffolds == second.features.scaffolds
    for name, values in first.features.properties.items():
        np.testing.assert_array_equal(values, second.features.properties[name])
    monkeypatch.undo()
    files[0].write_bytes(b"not a zip file")
    again = M.reference_stats(sample[:200], progress=False, n_jobs=1, with_fcd=False)
    assert again.features.fragments == first.features.fragments
    np.testing.assert_array_equal(
        again.features.fingerprints, first.features.fingerprints
    )


def _fake_fcd(available=True):
    def statistics(smiles, progress=False):
        x = np.array([[len(s), s.count("c")] for s in smiles], np.float64)
        return x.mean(0), np.cov(x, rowvar=False)

    return SimpleNamespace(
        available=lambda: available,
        UNAVAILABLE="ChemNet missing: pip install --no-deps fcd",
        fcd_statistics=statistics,
        frechet_distance=lambda m1, s1, m2, s2: float(np.sum((m1 - m2) ** 2)),
    )


def test_moses_metrics_end_to_end(sample, fresh_cache, monkeypatch, caplog):
    fake = _fake_fcd()
    monkeypatch.setattr(M, "_fcd", lambda: fake)
    test, test_sf, train = sample[400:700], sample[700:1000], sample[1000:]
    generated = [*sample[:40], *sample[:10], "C1CC", "", *sample[1000:1020]]
    results = M.moses_metrics(
        generated, (test, test_sf, train), k=(20, 1000), progress=False, n_jobs=1
    )
    assert "unique@1000 computed on the 70 valid molecules" in caplog.text
    assert results.notes == []
    assert list(results) == [
        "valid", "unique@20", "unique@1000", "FCD/Test", "SNN/Test", "Frag/Test",
        "Scaf/Test", "FCD/TestSF", "SNN/TestSF", "Frag/TestSF", "Scaf/TestSF",
        "IntDiv", "IntDiv2", "Filters", "logP", "SA", "QED", "weight", "Novelty",
    ]  # fmt: skip
    valid = [M.canonical_smiles(s) for s in generated if M.get_mol(s) is not None]
    mols = [M.get_mol(s) for s in valid]
    ref = [M.get_mol(s) for s in test]
    assert results["valid"] == pytest.approx(70 / 72)
    assert results["unique@1000"] == pytest.approx(60 / 70)
    assert results["Novelty"] == pytest.approx(40 / 60)
    assert results["SNN/Test"] == pytest.approx(
        M.snn(M.fingerprints(mols), M.fingerprints(ref))
    )
    assert results["Frag/Test"] == pytest.approx(
        M.fragment_similarity(mols, M.fragment_counts(ref))
    )
    assert results["Scaf/Test"] == pytest.approx(
        M.scaffold_similarity(mols, M.scaffold_counts(ref))
    )
    assert results["IntDiv2"] == pytest.approx(
        M.internal_diversity(M.fingerprints(mols), 2)
    )
    assert results["Filters"] == M.filters_pass_rate(mols)
    props = M.wasserstein_properties(
        M.molecule_properties(mols), M.molecule_properties(ref)
    )
    assert results["QED"] == pytest.approx(props["QED"])
    expected_fcd = fake.frechet_distance(
        *fake.fcd_statistics(valid), *fake.fcd_statistics(test)
    )
    assert results["FCD/Test"] == pytest.approx(expected_fcd)

    rows = M.metrics_table(results)
    assert rows[0] == ["metric", "generated", *M.PUBLISHED_BASELINES]
    assert rows[1][:3] == ["valid", results["valid"], 1.0]
    assert "CharRNN" in M.format_table(rows).splitlines()[0]


def test_fcd_unavailable_is_nan_with_the_install_command(
    sample, fresh_cache, monkeypatch
):
    fake = _fake_fcd(available=False)
    monkeypatch.setattr(M, "_fcd", lambda: fake)
    results = M.moses_metrics(
        sample[:30], (sample[30:90], None, None), k=(10,), progress=False, n_jobs=1
    )
    assert math.isnan(results["FCD/Test"]) and "SNN/TestSF" not in results
    assert results.notes == ["ChemNet missing: pip install --no-deps fcd"]


def test_process_pool_gives_the_serial_result(sample):
    smiles = sample[:1100]
    serial = list(M._map_chunks(M._canonical_chunk, smiles, 1, False, ""))
    pooled = list(M._map_chunks(M._canonical_chunk, smiles, 2, False, ""))
    assert pooled == serial and sum(map(len, pooled)) == 1100
