import json

import numpy as np
import pytest

from molmat.data import splits
from molmat.data.csv import DataError


def scaffold_sets(mols, parts):
    scaffolds = [splits.murcko_scaffold(m) for m in mols]
    return scaffolds, [{scaffolds[i] for i in part} for part in parts]


@pytest.mark.parametrize("balanced", [True, False])
def test_scaffold_split_shares_no_scaffold(esol, balanced):
    parts = splits.scaffold_split(esol.mols, seed=1, balanced=balanced)
    train, val, test = parts
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(len(esol)))
    scaffolds, sets = scaffold_sets(esol.mols, parts)
    assert not sets[0] & sets[2] and not sets[0] & sets[1] and not sets[1] & sets[2]
    assert 0.78 * len(esol) <= len(train) <= 0.8 * len(esol)
    assert len(val) >= 0.08 * len(esol) and len(test) >= 0.08 * len(esol)
    # the largest scaffold group (benzene) goes to train
    biggest = max(set(scaffolds), key=scaffolds.count)
    assert biggest in sets[0]


def test_balanced_scaffold_split_depends_on_the_seed(esol):
    """Seeds give different scaffold splits (as chemprop's scaffold_balanced),
    each still keeping every scaffold in one part; the deterministic split
    ignores the seed."""
    one = splits.scaffold_split(esol.mols, seed=1)
    two = splits.scaffold_split(esol.mols, seed=2)
    assert not np.array_equal(one[2], two[2])
    assert not np.array_equal(one[1], two[1])
    for parts in (one, two):
        _, sets = scaffold_sets(esol.mols, parts)
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    for a, b in zip(
        splits.scaffold_split(esol.mols, seed=1, balanced=False),
        splits.scaffold_split(esol.mols, seed=2, balanced=False),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_random_split_is_seeded_and_partitions():
    a = splits.random_split(100, seed=3)
    b = splits.random_split(100, seed=3)
    c = splits.random_split(100, seed=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    assert [len(p) for p in a] == [80, 10, 10]
    np.testing.assert_array_equal(np.sort(np.concatenate(a)), np.arange(100))


@pytest.mark.parametrize("k", [2, 5])
def test_kfold_trains_on_the_other_folds(k):
    """scikit-learn's k-fold: each fold tests on one fold and trains on the
    other k-1 (10% of them held out for validation)."""
    n = 53
    folds = splits.kfold_splits(n, k=k, seed=0)
    assert len(folds) == k
    tests = np.concatenate([f[2] for f in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(n))
    for train, val, test in folds:
        rest = np.setdiff1d(np.arange(n), test)
        np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), rest)
        assert not set(train) & set(val)
        assert len(val) == round(0.1 * len(rest))
    other = splits.kfold_splits(n, k=k, seed=1)
    assert not np.array_equal(folds[0][2], other[0][2])


def test_kfold_needs_two_folds():
    with pytest.raises(ValueError, match="2 to 10 folds"):
        splits.kfold_splits(10, k=1, seed=0)


def test_split_file_round_trip_uses_csv_rows(tmp_path):
    rows = np.array([0, 1, 2, 4, 5, 7])  # rows 3 and 6 of the CSV were bad
    parts = (np.array([0, 1, 2]), np.array([3]), np.array([4, 5]))
    split = splits.to_rows(parts, rows)
    assert split == {"train": [0, 1, 2], "val": [4], "test": [5, 7]}
    path = tmp_path / "split.json"
    path.write_text(splits.split_json(split))
    (back,) = splits.load_splits(path, rows, n_rows=8)
    for x, y in zip(back, parts, strict=True):
        np.testing.assert_array_equal(x, y)
    # a bad row named in a split file is left out
    path.write_text(json.dumps({"train": [0, 3], "val": [4], "test": [7]}))
    np.testing.assert_array_equal(splits.load_splits(path, rows, 8)[0][0], [0])


def test_chemprop_split_file_gives_the_same_sets(tmp_path):
    """chemprop writes a list with one {"train", "val", "test"} object per
    replicate; each is one split, the same as molmat's own object."""
    rows = np.arange(10)
    split = {"train": [0, 1, 2, 3, 4, 5], "val": [6, 7], "test": [8, 9]}
    ours, theirs = tmp_path / "split.json", tmp_path / "splits.json"
    ours.write_text(json.dumps(split))
    theirs.write_text(json.dumps([split]))
    (a,), (b,) = (
        splits.load_splits(ours, rows, 10),
        splits.load_splits(theirs, rows, 10),
    )
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    other = {"train": [9, 8, 7, 6, 5, 4], "val": [3, 2], "test": [1, 0]}
    theirs.write_text(json.dumps([split, other]))
    first, second = splits.load_splits(theirs, rows, 10)
    np.testing.assert_array_equal(second[2], [1, 0])  # in the file's order
    np.testing.assert_array_equal(first[2], [8, 9])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"train": [0], "val": [1]}, "needs 'train'"),
        ({"train": [0, 99], "val": [1], "test": [2]}, "outside"),
        ({"train": [0, 1], "val": [1], "test": [2]}, "two parts"),
        ({"train": ["a"], "val": [1], "test": [2]}, "list of integers"),
        ([], "needs 'train'"),
        ([{"train": [0], "val": [1], "test": [2]}, [0, 1]], "needs 'train'"),
        ("0,1,2", "needs 'train'"),
        (
            [{"train": [0], "val": [1], "test": [2]}, {"train": [0], "val": [0]}],
            "needs 'train'",
        ),
        (
            [
                {"train": [0], "val": [1], "test": [2]},
                {"train": [0], "val": [0], "test": [3]},
            ],
            r"replicate 1\): rows \[0\] are in two parts",
        ),
    ],
)
def test_bad_split_files(tmp_path, content, message):
    path = tmp_path / "split.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=message) as err:
        splits.load_splits(path, np.arange(10), 10)
    assert str(path) in str(err.value)
