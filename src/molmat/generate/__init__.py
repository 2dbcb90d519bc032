"""Molecule generation: language models, a SELFIES VAE, MOSES metrics.

Example:
    >>> from molmat.generate import LanguageModel, metrics
    >>> lm = LanguageModel(model="rnn", tokens="smiles").fit(smiles)  # doctest: +SKIP
    >>> generated = lm.sample(10_000, temperature=0.9)  # doctest: +SKIP
    >>> metrics.moses_metrics(generated, "moses")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

__all__ = ["VAE", "LanguageModel", "fcd", "metrics", "optimize"]

_LAZY = {
    "LanguageModel": ("molmat.generate.language", "LanguageModel"),
    "VAE": ("molmat.generate.vae", "VAE"),
}


def __getattr__(name: str):
    # imported lazily: the submodules pull in JAX and RDKit
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in ("fcd", "metrics", "optimize"):
        return importlib.import_module(f"molmat.generate.{name}")
    raise AttributeError(f"module 'molmat.generate' has no attribute {name!r}")
