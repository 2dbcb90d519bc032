"""Compiler options of the potentials' hot paths, and their fallback."""

import jax.numpy as jnp
import numpy as np
import pytest

from molmat.models.potentials import compilation


@pytest.fixture
def fresh_probe():
    compilation.compiler_options.cache_clear()
    yield
    compilation.compiler_options.cache_clear()


def test_unknown_options_are_dropped(fresh_probe, monkeypatch):
    monkeypatch.setattr(compilation, "CPU_OPTIONS", {"xla_cpu_no_such_option": "1"})
    assert compilation.compiler_options() == {}
    square = compilation.potential_jit(lambda x: x**2)
    np.testing.assert_allclose(square(jnp.arange(3.0)), [0.0, 1.0, 4.0])


def test_jitted_matches_eager(fresh_probe):
    def energy(x, w):
        return jnp.sum(jnp.tanh(x @ w) ** 2)

    x = jnp.linspace(-1.0, 1.0, 64).reshape(16, 4)
    w = jnp.linspace(0.5, -0.5, 32).reshape(4, 8)
    jitted = compilation.potential_jit(energy)
    np.testing.assert_allclose(jitted(x, w), energy(x, w), rtol=1e-6)
    assert compilation.compiler_options() in ({}, compilation.CPU_OPTIONS)
