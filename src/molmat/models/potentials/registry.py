"""Potential networks by name, built from plain (JSON-able) settings."""

from __future__ import annotations

import jax

from molmat.models.potentials.base import Potential
from molmat.models.potentials.common import EnergyScaling
from molmat.models.potentials.nequip import NequIP
from molmat.models.potentials.painn import PaiNN
from molmat.models.potentials.schnet import SchNet

POTENTIALS = {"nequip": NequIP, "painn": PaiNN, "schnet": SchNet}


def build_potential(
    name: str, scaling: EnergyScaling, settings: dict, seed: int = 0
) -> Potential:
    """The network ``name`` with hyperparameters ``settings`` (cutoff, sizes).

    Example:
        >>> build_potential("painn", EnergyScaling((1, 8)), {"channels": 8})
        PaiNN(...)  # doctest: +SKIP
    """
    if name not in POTENTIALS:
        raise ValueError(
            f"unknown potential {name!r}; choose from {sorted(POTENTIALS)}"
        )
    return POTENTIALS[name](scaling, **settings, key=jax.random.key(seed))
