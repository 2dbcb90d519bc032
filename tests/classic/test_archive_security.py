"""A classic model archive loads only the types molmat writes: no code runs."""

import importlib
import itertools
import json
import zipfile

import numpy as np
import pytest
import skops.io as sio

from molmat.classic.models import CLASSIFIERS, REGRESSORS, kernel_kind, make_estimator
from molmat.cli.main import main
from molmat.featurizers.descriptors import FEATURE_SETS
from molmat.tasks.archives import load
from molmat.tasks.classic import TRUSTED_TYPES, ClassicModel
from molmat.training.archive import ArchiveError

SMILES = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "CCCC", "Oc1ccccc1"]


# One feature set per kernel kind: the feature choice that changes the pipeline.
FEATURES = {kernel_kind(f): f for f in FEATURE_SETS}


def _matrix(kind: str | None, rng) -> np.ndarray:
    if kind == "tanimoto":
        return rng.integers(0, 2, (24, 16)).astype(np.float32)
    if kind == "minmax":
        return rng.integers(0, 4, (24, 16)).astype(np.float32)
    return rng.normal(size=(24, 16)).astype(np.float32)


def _small(estimator):
    """The same types with less work: few trees, a tiny network, few epochs."""
    model = estimator.named_steps["model"]
    params = {"n_estimators": 2, "hidden": 4, "layers": 1, "epochs": 1}
    return estimator.set_params(
        **{f"model__{k}": v for k, v in params.items() if k in model.get_params()}
    )


def _classes(estimator) -> tuple[str, ...]:
    """The classes a pipeline is built from (its settings aside)."""
    parts = [estimator, *estimator.get_params(deep=True).values()]
    return tuple(
        sorted(
            {
                f"{type(p).__module__}.{type(p).__name__}"
                for p in parts
                if hasattr(p, "get_params")
            }
        )
    )


def _estimators():
    """Every distinct pipeline make_estimator makes, unfitted, with its task.

    Pipelines built from the same classes write the same types whatever their
    settings, so each is fitted once.
    """
    seen = set()
    for task, names in (("regression", REGRESSORS), ("classification", CLASSIFIERS)):
        weights = (None,) if task == "regression" else (None, "balanced")
        for name, kind, weight in itertools.product(names, FEATURES, weights):
            estimator = make_estimator(name, task, FEATURES[kind], 0, weight)
            if (task, _classes(estimator)) not in seen:
                seen.add((task, _classes(estimator)))
                yield task, kind, _small(estimator)


def test_every_estimator_molmat_makes_is_on_the_allow_list_and_loads():
    rng = np.random.default_rng(0)
    y = rng.normal(size=24)
    for task, kind, estimator in _estimators():
        X = _matrix(kind, rng)
        estimator.fit(X, y if task == "regression" else (y > 0).astype(float))
        dumped = sio.dumps(estimator)
        unknown = set(sio.get_untrusted_types(data=dumped)) - TRUSTED_TYPES
        assert not unknown, f"add {sorted(unknown)} ({estimator}) to TRUSTED_TYPES"
        loaded = sio.loads(dumped, trusted=sorted(TRUSTED_TYPES))
        np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


def test_allow_list_names_classes_only():
    """No package prefixes and no functions: only classes, which load inert."""
    for name in TRUSTED_TYPES:
        module, _, attr = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attr), type), name


@pytest.fixture
def saved(tmp_path):
    model = ClassicModel("ridge", features="morgan", n_bits=64, use_cache=False)
    return model.fit(SMILES, np.arange(6.0)).save(tmp_path / "model")


def _node(module: str, name: str, loader: str, **fields) -> dict:
    return {"__class__": name, "__module__": module, "__loader__": loader, **fields}


def _text(value: str) -> dict:
    return _node("builtins", "str", "JsonNode", content=json.dumps(value), is_json=True)


def _call_runstring(code: str) -> dict:
    """A node that calls ``numpy.testing._private.utils.runstring(code, {})``."""
    empty = _node(
        "builtins",
        "dict",
        "DictNode",
        content={},
        key_types=_node("builtins", "list", "ListNode", content=[]),
    )
    args = _node("builtins", "tuple", "TupleNode", content=[_text(code), empty])
    return _node(
        "numpy.testing._private.utils",
        "runstring",
        "ConstructorFromReduceNode",
        content=args,
    )


def _plant(file, code: str) -> None:
    """Edit the schema inside a skops zip the way an attacker would."""
    with zipfile.ZipFile(file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    attributes = schema["content"]
    attributes["content"]["hook"] = _call_runstring(code)
    key_types = attributes["key_types"]["content"]
    key_types.append(dict(key_types[0]))
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(file, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture
def hostile(saved, tmp_path):
    marker = tmp_path / "pwned"
    _plant(saved / "target_0.skops", f"open({str(marker)!r}, 'w').write('x')")
    return saved, marker


def test_hostile_archive_runs_no_code_and_names_the_refused_types(hostile):
    folder, marker = hostile
    with pytest.raises(ArchiveError) as err:
        load(folder)
    assert not marker.exists()
    message = str(err.value)
    assert "target_0.skops" in message
    assert "numpy.testing._private.utils.runstring" in message


def test_predict_on_a_hostile_archive_is_one_clear_line(hostile, tmp_path, capsys):
    folder, marker = hostile
    data = tmp_path / "in.csv"
    data.write_text("smiles\nCCO\n")
    out = tmp_path / "out.csv"
    code = main(
        ["predict", "--model", str(folder), "--data", str(data), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code != 0 and not marker.exists()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "refusing to load" in err and "runstring" in err


def test_a_genuine_archive_still_loads(tmp_path):
    model = ClassicModel("ridge", features="morgan", n_bits=64, use_cache=False)
    folder = model.fit(SMILES, np.arange(6.0)).save(tmp_path / "model")
    np.testing.assert_array_equal(load(folder).predict(SMILES), model.predict(SMILES))
