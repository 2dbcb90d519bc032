import numpy as np
import pytest

from molmat.classic.kernels import kernel_matrix
from molmat.featurizers.descriptors import molecule_descriptors


def slow_tanimoto(a, b):
    both, either = np.sum((a > 0) & (b > 0)), np.sum((a > 0) | (b > 0))
    return 1.0 if either == 0 else both / either


def slow_minmax(a, b):
    top = np.sum(np.maximum(a, b))
    return 1.0 if top == 0 else np.sum(np.minimum(a, b)) / top


@pytest.fixture(scope="module")
def fingerprints(esol):
    mols = esol.mols[:60]
    return (
        molecule_descriptors(mols, "morgan", n_bits=512),
        molecule_descriptors(mols, "morgan-counts", n_bits=512),
    )


def test_tanimoto_equals_slow_reference(fingerprints):
    bits, _ = fingerprints
    k = kernel_matrix(bits[:20], bits[20:45])
    ref = np.array([[slow_tanimoto(a, b) for b in bits[20:45]] for a in bits[:20]])
    np.testing.assert_allclose(k, ref, atol=1e-6)


def test_minmax_equals_slow_reference(fingerprints):
    _, counts = fingerprints
    assert counts.max() > 2
    k = kernel_matrix(counts[:20], counts[20:45], kind="minmax")
    ref = np.array([[slow_minmax(a, b) for b in counts[20:45]] for a in counts[:20]])
    np.testing.assert_allclose(k, ref, atol=1e-6)


@pytest.mark.parametrize("kind", ["tanimoto", "minmax"])
def test_kernels_are_symmetric_psd_with_unit_diagonal(fingerprints, kind):
    x = fingerprints[0] if kind == "tanimoto" else fingerprints[1]
    k = kernel_matrix(x, kind=kind).astype(np.float64)
    np.testing.assert_allclose(k, k.T, atol=1e-7)
    np.testing.assert_allclose(np.diag(k), 1.0, atol=1e-6)
    assert np.linalg.eigvalsh(k).min() > -1e-5


def test_minmax_on_bits_is_tanimoto(fingerprints):
    bits, _ = fingerprints
    np.testing.assert_allclose(
        kernel_matrix(bits, kind="minmax"), kernel_matrix(bits), atol=1e-6
    )


def test_empty_fingerprints():
    x = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 1]], np.float32)
    k = kernel_matrix(x)
    assert k[0, 1] == 1.0 and k[0, 2] == 0.0 and k[2, 2] == 1.0


def test_bad_kernel_inputs():
    with pytest.raises(ValueError, match="same d"):
        kernel_matrix(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="non-negative integer"):
        kernel_matrix(np.array([[0.5, 1.0]]), kind="minmax")
    with pytest.raises(ValueError, match="unknown kernel"):
        kernel_matrix(np.ones((2, 3)), kind="rbf")
