"""FCD: the torch-file reader, ChemNet's port and the Fréchet distance.

Fixtures, both written by ``benchmarks/fcd_reference.py fixtures tests/data``
under PyTorch 2.13 and fcd 1.2.2 (a separate venv; molmat never imports torch):

- ``torch_state_dict.pt``: a ``torch.save`` of small tensors (views with an
  offset and transposed strides, float64/int64/float16/bool, an empty one);
- ``chemnet_reference.npz``: fcd's ``get_predictions`` of five SMILES.
"""

from __future__ import annotations

import pickle
import zipfile

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

from molmat.data.torch_weights import TorchFileError, load_torch_file, read_state_dict
from molmat.generate import fcd as fcd_module
from molmat.generate.fcd import (
    UNAVAILABLE,
    FCDUnavailable,
    available,
    chemnet_activations,
    fcd,
    fcd_statistics,
    frechet_distance,
)
from molmat.models.generative.chemnet import (
    INDEX,
    LSTM,
    ChemNet,
    Conv,
    encode,
    load_chemnet,
    pad_length,
    same_padding,
    tokenize,
)
from tests.conftest import DATA

STATE_DICT = DATA / "torch_state_dict.pt"
requires_weights = pytest.mark.skipif(not available(), reason=UNAVAILABLE)


def test_state_dict_round_trip():
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    expected = {
        "w": w,
        "w_t": w.T,
        "row": w[1],
        "nested.d": np.linspace(0, 1, 5),
        "i": np.array([1, -2, 3], np.int64),
        "h": np.array([0.5, -2.0], np.float16),
        "b": np.array([True, False]),
        "empty": np.zeros((0, 3), np.float32),
    }
    got = read_state_dict(STATE_DICT)
    assert list(got) == list(expected)
    for name, value in expected.items():
        assert got[name].dtype == value.dtype, name
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    assert got["w_t"].flags.c_contiguous


def _torch_zip(path, members: dict[str, bytes]):
    """A zip in torch's layout holding ``members`` (``data.pkl``, ``data/0``...)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(f"archive/{name}", data)
    return path


def _fixture_members() -> dict[str, bytes]:
    with zipfile.ZipFile(STATE_DICT) as zf:
        return {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}


class _Shell:
    def __reduce__(self):
        import os

        return os.system, ("echo pwned",)


@pytest.mark.parametrize(
    "pickled, name",
    [
        (b"cos\nsystem\n(S'echo pwned'\ntR.", "os.system"),  # GLOBAL, protocol 0
        (pickle.dumps(_Shell(), protocol=4), ".system"),  # STACK_GLOBAL (posix)
        (b"cbuiltins\neval\n(S'1'\ntR.", "builtins.eval"),
    ],
    ids=["GLOBAL", "STACK_GLOBAL", "eval"],
)
def test_forbidden_global_is_refused(tmp_path, capfd, pickled, name):
    path = _torch_zip(tmp_path / "evil.pt", {"data.pkl": pickled})
    with pytest.raises(TorchFileError, match="refused") as e:
        load_torch_file(path)
    assert name in str(e.value) and str(path) in str(e.value)
    assert "pwned" not in capfd.readouterr().out


def test_missing_and_corrupted_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_torch_file(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(TorchFileError, match="not a torch zip"):
        load_torch_file(tmp_path / "junk.pt")
    members = _fixture_members()
    cases = {
        "data/0 is missing": {"data.pkl": members["data.pkl"]},
        "storage 0 holds 8 bytes": {**members, "data/0": b"\0" * 8},
        "byte order 'big'": {**members, "byteorder": b"big"},
        "corrupted": {**members, "data.pkl": members["data.pkl"][:100]},
    }
    for i, (message, case) in enumerate(cases.items()):
        with pytest.raises(TorchFileError, match=message):
            load_torch_file(_torch_zip(tmp_path / f"{i}.pt", case))


def test_not_chemnet_is_refused():
    with pytest.raises(TorchFileError, match="not ChemNet's"):
        load_chemnet(STATE_DICT)


def test_tokens_and_padding():
    # two-letter atoms are one token, unknown characters (Na's "a") are "X"
    assert tokenize("Cl[Na+]") == [
        INDEX[t] for t in ["Cl", "[", "N", "X", "+", "]", "."]
    ]
    assert tokenize("CCl") != tokenize("ClC")
    assert encode(["C"], 4).tolist() == [[INDEX["C"], INDEX["."], -1, -1]]
    assert pad_length(["CCO"]) == 350 and pad_length(["C" * 400]) == 401
    assert same_padding(350, 4, 2) == (1, 1) and same_padding(175, 4, 2) == (1, 2)


def test_frechet_distance_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    var1, var2 = rng.uniform(0.1, 2, 5), rng.uniform(0.1, 2, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-10)
    swapped = frechet_distance(mu2, np.diag(var2), mu1, np.diag(var1))
    assert swapped == pytest.approx(got, rel=1e-10)
    a = rng.normal(size=(50, 5))
    sigma = np.cov(a, rowvar=False)
    assert frechet_distance(mu1, sigma, mu1, sigma) == pytest.approx(0, abs=1e-8)
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(mu1, sigma, mu1[:4], sigma[:4, :4])


def _random_chemnet(seed: int = 0, hidden: int = 8) -> ChemNet:
    """Small random weights; forget gates biased open so inputs are remembered."""
    rng = np.random.default_rng(seed)
    u = lambda *shape: jnp.asarray(rng.uniform(-0.5, 0.5, shape), jnp.float32)  # noqa: E731
    forget = jnp.zeros(4 * hidden).at[hidden : 2 * hidden].set(4.0)
    return ChemNet(
        Conv(u(8, 35, 4), 2),
        Conv(u(8, 8, 4), 2),
        LSTM(u(4 * hidden, 8), u(4 * hidden, hidden), forget),
        LSTM(u(4 * hidden, hidden), u(4 * hidden, hidden), forget),
    )


def test_molecule_alone_or_in_a_padded_batch():
    net = eqx.filter_jit(_random_chemnet())
    alone = net(jnp.asarray(encode(["CCO", "", ""], 64)))  # one shape, one compilation
    together = net(jnp.asarray(encode(["c1ccc(Cl)cc1CCCCCC", "CCO", "O=C(O)" * 8], 64)))
    np.testing.assert_allclose(together[1], alone[0], atol=1e-6)
    assert not np.allclose(together[0], together[1], atol=1e-3)


@requires_weights
def test_activations_match_the_reference():
    ref = np.load(DATA / "chemnet_reference.npz")
    got = chemnet_activations(list(ref["smiles"]))
    # float32 round-off: differences reach ~1e-6 (absolute) on activations near 0
    np.testing.assert_allclose(got, ref["activations"], rtol=1e-4, atol=1e-5)
    # the same molecule inside a list of longer ones, in batches of 2 rows
    mixed = ["CC(C)Cc1ccc(C(C)C(=O)O)cc1" * 3, str(ref["smiles"][1]), "Brc1ccccc1" * 4]
    np.testing.assert_allclose(
        chemnet_activations(mixed, batch_size=2)[1], got[1], rtol=1e-4, atol=1e-5
    )


@requires_weights
def test_statistics_and_fcd_of_a_tiny_set(monkeypatch):
    set1 = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "not a smiles"]
    set2 = ["CCC", "CCOC", "c1ccncc1", "OCCO"]
    mu, sigma = fcd_statistics(set1)
    assert mu.shape == (512,) and sigma.shape == (512, 512)
    assert mu.dtype == sigma.dtype == np.float64
    assert np.isfinite(mu).all() and np.isfinite(sigma).all()
    np.testing.assert_array_equal(sigma, sigma.T)
    # fcd() passes both sets' statistics on (the distance itself, a 512-dim
    # sqrtm taking seconds, is checked against fcd by benchmarks/fcd_check.py)
    calls = []
    monkeypatch.setattr(
        fcd_module, "frechet_distance", lambda *a: calls.append(a) or 1.0
    )
    assert fcd(set1, set2) == 1.0
    for got, expected in zip(calls[0], (mu, sigma, *fcd_statistics(set2)), strict=True):
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="two or more valid"):
        fcd_statistics(["CCO", "not a smiles"])


def test_missing_weights_raise(monkeypatch):
    monkeypatch.setattr(fcd_module, "weights_path", lambda: None)
    fcd_module.chemnet.cache_clear()
    try:
        assert not fcd_module.available()
        with pytest.raises(FCDUnavailable, match="pip install --no-deps fcd") as e:
            chemnet_activations(["CCO"])
        assert isinstance(e.value, ImportError) and str(e.value) == UNAVAILABLE
    finally:
        fcd_module.chemnet.cache_clear()
