import numpy as np
import pandas as pd
import pytest
from rdkit import DataStructs
from rdkit.Chem import rdFingerprintGenerator
from sklearn.decomposition import PCA

from molmat.classic import chemspace
from molmat.cli.main import main
from molmat.data.csv import read_molecules
from molmat.featurizers.descriptors import molecule_descriptors
from molmat.tasks.chemspace import chemical_space_map, colour_values

N = 40


@pytest.fixture(scope="module")
def molecules(esol):
    return esol.mols[:N]


@pytest.fixture(scope="module")
def bits(molecules):
    return chemspace.prepare_features(
        molecule_descriptors(molecules, "morgan", n_bits=1024), "tanimoto"
    )


@pytest.fixture(scope="module")
def physchem(molecules):
    return chemspace.prepare_features(
        molecule_descriptors(molecules, "physchem"), "euclidean"
    )


@pytest.mark.parametrize(
    "method, metric",
    [("pca", "tanimoto"), ("tsne", "tanimoto"), ("isomap", "tanimoto")]
    + [("tsne", "euclidean"), ("isomap", "euclidean")],
)
def test_embedding_has_two_columns_and_is_reproducible(bits, physchem, method, metric):
    x = bits if metric == "tanimoto" else physchem
    first = chemspace.embed(x, method, seed=3, metric=metric)
    again = chemspace.embed(x, method, seed=3, metric=metric)
    assert first.coords.shape == (N, 2)
    assert np.isfinite(first.coords).all()
    assert first.coords.std(axis=0).min() > 0  # not collapsed onto a point or line
    np.testing.assert_array_equal(first.coords, again.coords)
    assert (first.explained_variance is not None) == (method == "pca")


def test_tsne_seed_changes_the_map(bits):
    a = chemspace.embed(bits, "tsne", seed=0, metric="tanimoto").coords
    b = chemspace.embed(bits, "tsne", seed=1, metric="tanimoto").coords
    assert not np.allclose(a, b)


def test_pca_matches_the_singular_value_decomposition(physchem):
    emb = chemspace.embed(physchem, "pca", seed=0)
    direct = PCA(2).fit(physchem).explained_variance_ratio_
    np.testing.assert_allclose(emb.explained_variance, direct, rtol=1e-6)
    centred = physchem - physchem.mean(axis=0)
    u, s, _ = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(
        emb.explained_variance, s[:2] ** 2 / (s**2).sum(), rtol=1e-4
    )
    np.testing.assert_allclose(np.abs(emb.coords), np.abs(u[:, :2] * s[:2]), atol=1e-3)
    assert emb.axis_labels[0].startswith("PC1 (")


def test_descriptors_are_standardised_and_clipped(molecules):
    raw = molecule_descriptors(molecules, "physchem")
    raw[0, 0] = 1e9  # one absurd value
    x = chemspace.prepare_features(raw, "euclidean")
    assert np.isfinite(x).all() and np.abs(x).max() <= 6.0
    np.testing.assert_allclose(np.median(x[:, 1:], axis=0), 0, atol=1.5)


def test_tanimoto_distances_match_rdkit(molecules, bits):
    d = chemspace.distance_matrix(bits, "tanimoto")
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    fps = [gen.GetFingerprint(m) for m in molecules]
    expected = 1 - np.array(DataStructs.BulkTanimotoSimilarity(fps[5], fps))
    np.testing.assert_allclose(d[5], expected, atol=1e-6)
    np.testing.assert_allclose(d, d.T)


def test_tanimoto_maps_keep_identical_fingerprints_together(tiny_csv):
    table = read_molecules(tiny_csv, targets=[], require_targets=False)
    x = chemspace.prepare_features(
        molecule_descriptors(table.mols, "morgan"), "tanimoto"
    )
    twin_a, twin_b = (table.smiles.index(s) for s in ("CCO", "OCC"))
    tsne = chemspace.embed(x, "tsne", seed=0, metric="tanimoto").coords
    gaps = np.linalg.norm(tsne - tsne[twin_a], axis=1)
    gaps[twin_a] = np.inf
    assert np.argmin(gaps) == twin_b
    isomap = chemspace.embed(x, "isomap", metric="tanimoto", n_neighbors=4).coords
    np.testing.assert_allclose(isomap[twin_a], isomap[twin_b], atol=1e-6)


def test_kmeans_elbow_inertia_decreases(bits):
    found = chemspace.kmeans(chemspace.reduce_dimensions(bits), k=4, seed=0)
    np.testing.assert_array_equal(found.ks, np.arange(1, 11))  # max(2k, 10)
    assert np.all(np.diff(found.inertias) < 0)
    assert np.isnan(found.silhouettes[0]) and -1 <= found.silhouette <= 1
    assert found.sizes.sum() == N and set(found.labels) == set(range(4))


def test_representative_is_the_member_nearest_its_centre(bits):
    x = chemspace.reduce_dimensions(bits, dims=10)
    found = chemspace.kmeans(x, k=5, seed=1, k_max=5)
    for c, rep in enumerate(found.representatives):
        members = np.flatnonzero(found.labels == c)
        gaps = np.linalg.norm(x[members] - found.centers[c], axis=1)
        assert found.labels[rep] == c
        assert np.linalg.norm(x[rep] - found.centers[c]) == pytest.approx(gaps.min())


def test_nearest_to_centres_by_hand():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [12.0, 10.0]])
    centres = np.array([[0.9, 0.0], [10.0, 10.0], [50.0, 50.0]])
    found = chemspace.nearest_to_centres(x, np.array([0, 0, 1, 1]), centres)
    np.testing.assert_array_equal(found, [1, 2, -1])  # cluster 2 is empty


def test_colour_columns_are_numbers_or_categories(tiny_csv):
    table = read_molecules(tiny_csv, targets=[], require_targets=False)
    logs, categorical = colour_values(table, "logS", table.rows)
    assert not categorical
    assert np.isnan(logs[list(table.rows).index(8)])  # 'abc' is left uncoloured
    tox, categorical = colour_values(table, "tox", table.rows)
    assert categorical and set(tox) == {"0", "1", None}
    names, categorical = colour_values(table, "name", table.rows)
    assert categorical and names[0] == "ethanol"


def test_cli_maps_good_rows_and_reports_bad_ones(tiny_csv, tmp_path, capsys):
    out = tmp_path / "maps"
    args = ["map", "--data", str(tiny_csv), "--features", "physchem"]
    code = main([*args, "--color", "logS", "--clusters", "3", "--out", str(out)])
    assert code == 0
    for name in ("map.png", "clusters.png", "elbow.png", "representatives.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    frame = pd.read_csv(out / "embedding.csv")
    assert list(frame.columns) == ["row", "smiles", "pca_1", "pca_2", "cluster", "logS"]
    assert len(frame) == 17 and not {3, 5, 13} & set(frame["row"])
    assert frame.loc[frame["row"].isin([7, 8]), "logS"].isna().all()
    assert set(frame["cluster"]) == {0, 1, 2}
    captured = capsys.readouterr()
    for reported in ("row 3 ", "row 5 ", "row 13 ", "row 8 ('abc')"):
        assert reported in captured.err
    assert "explained variance" in captured.out and "silhouette" in captured.out


def test_cli_tsne_without_colour(tiny_csv, tmp_path):
    out = tmp_path / "tsne"
    args = ["map", "--data", str(tiny_csv), "--method", "tsne", "--seed", "2"]
    assert main([*args, "--max-molecules", "10", "--out", str(out)]) == 0
    frame = pd.read_csv(out / "embedding.csv")
    assert list(frame.columns) == ["row", "smiles", "tsne_1", "tsne_2"]
    assert len(frame) == 10 and not (out / "clusters.png").exists()


def test_cli_unknown_colour_column_is_one_clear_line(tiny_csv, tmp_path, capsys):
    code = main(
        ["map", "--data", str(tiny_csv), "--color", "nope", "--out", str(tmp_path)]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "'nope'" in err[0] and "logS" in err[0] and "tox" in err[0]


def test_impossible_cluster_count_fails_before_any_work(tiny_csv, tmp_path):
    with pytest.raises(ValueError, match="between 1 and 17, got 30"):
        chemical_space_map(tiny_csv, tmp_path, clusters=30)
    with pytest.raises(ValueError, match="unknown method 'umap'"):
        chemical_space_map(tiny_csv, tmp_path, method="umap")
    assert not list(tmp_path.iterdir())
