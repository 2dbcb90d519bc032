import json

import numpy as np
import pytest

from molmat.data import splits
from molmat.data.csv import DataError


def test_scaffold_split_shares_no_scaffold(esol):
    train, val, test = splits.scaffold_split(esol.mols)
    assert len(train) + len(val) + len(test) == len(esol)
    assert len(np.intersect1d(train, test)) == 0
    scaffolds = [splits.murcko_scaffold(m) for m in esol.mols]
    sets = [{scaffolds[i] for i in part} for part in (train, val, test)]
    assert not sets[0] & sets[2] and not sets[0] & sets[1] and not sets[1] & sets[2]
    assert 0.78 * len(esol) <= len(train) <= 0.8 * len(esol)
    # largest scaffold group (benzene) goes to train
    biggest = max(set(scaffolds), key=scaffolds.count)
    assert biggest in sets[0]


def test_random_split_is_seeded_and_partitions():
    a = splits.random_split(100, seed=3)
    b = splits.random_split(100, seed=3)
    c = splits.random_split(100, seed=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    assert [len(p) for p in a] == [80, 10, 10]
    np.testing.assert_array_equal(np.sort(np.concatenate(a)), np.arange(100))


def test_kfold_test_folds_cover_all_once():
    folds = splits.kfold_splits(53, k=5, seed=0)
    tests = np.concatenate([f[2] for f in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(53))
    for train, val, test in folds:
        assert not set(train) & set(test) and not set(val) & set(test)
        assert len(train) + len(val) + len(test) == 53


def test_split_file_round_trip_uses_csv_rows(tmp_path):
    rows = np.array([0, 1, 2, 4, 5, 7])  # rows 3 and 6 of the CSV were bad
    parts = (np.array([0, 1, 2]), np.array([3]), np.array([4, 5]))
    split = splits.to_rows(parts, rows)
    assert split == {"train": [0, 1, 2], "val": [4], "test": [5, 7]}
    path = tmp_path / "split.json"
    path.write_text(splits.split_json(split))
    back = splits.load_split(path, rows, n_rows=8)
    for x, y in zip(back, parts, strict=True):
        np.testing.assert_array_equal(x, y)
    # a bad row named in a split file is left out
    path.write_text(json.dumps({"train": [0, 3], "val": [4], "test": [7]}))
    np.testing.assert_array_equal(splits.load_split(path, rows, 8)[0], [0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"train": [0], "val": [1]}, "needs 'train'"),
        ({"train": [0, 99], "val": [1], "test": [2]}, "outside"),
        ({"train": [0, 1], "val": [1], "test": [2]}, "two parts"),
        ({"train": ["a"], "val": [1], "test": [2]}, "list of integers"),
    ],
)
def test_bad_split_files(tmp_path, content, message):
    path = tmp_path / "split.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=message):
        splits.load_split(path, np.arange(10), 10)
