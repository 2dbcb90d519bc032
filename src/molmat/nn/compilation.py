"""XLA compiler options and float precision of jitted hot paths.

On CPU, XLA's YNNPACK fusions of small matrix products make the energy+force
computation of a message-passing potential several times slower (PaiNN on 8
aspirin frames: 29 ms with them, 9.7 ms without; MD of one aspirin molecule
1.7x faster without). Training steps, inference, MD blocks and the ASE
calculator of potentials therefore compile with those fusions off. A jaxlib
that does not know the option gets no options, so every version works.

Double precision is one switch, :func:`precision`, which every float64 path
(training, prediction, the ASE calculator, MD, the physics checks, the
classic MLP's predictions) enters.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def compiler_options() -> dict[str, str]:
    """``CPU_OPTIONS`` if this jaxlib accepts them, else ``{}`` (probed once)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_OPTIONS)(jnp.zeros(()))
    except jax.errors.JaxRuntimeError:
        return {}
    return dict(CPU_OPTIONS)


def potential_jit(fun: Callable) -> Callable:
    """``eqx.filter_jit(fun)`` with :func:`compiler_options`, built at first call.

    Deferring the probe keeps imports from initialising the JAX backend.
    """
    jitted = None

    @functools.wraps(fun)
    def call(*args, **kwargs):
        nonlocal jitted
        if jitted is None:
            jitted = eqx.filter_jit(fun, compiler_options=compiler_options())
        return jitted(*args, **kwargs)

    return call


def precision(float64: bool) -> contextlib.AbstractContextManager:
    """Context in which JAX computes in double precision when ``float64`` is set.

    ``precision(True)`` enables ``jax_enable_x64`` for the block (JAX creates
    and keeps float64 arrays only then); ``precision(False)`` changes nothing.

    Example:
        >>> with precision(True):
        ...     x = jnp.zeros(3, float_dtype(True))
        >>> str(x.dtype)
        'float64'
    """
    return jax.enable_x64(True) if float64 else contextlib.nullcontext()


def float_dtype(float64: bool) -> type[np.floating]:
    """``np.float64`` if ``float64`` else ``np.float32``."""
    return np.float64 if float64 else np.float32
