"""Property networks on periodic structures (crystals, MOFs)."""

from molmat.models.crystal.network import (
    CRYSTAL_MODELS,
    CRYSTAL_READOUTS,
    CrystalNet,
    build_crystal_net,
    crystal_encoder_levels,
    mean_neighbors,
    neighbour_sample,
)

__all__ = [
    "CRYSTAL_MODELS",
    "CRYSTAL_READOUTS",
    "CrystalNet",
    "build_crystal_net",
    "crystal_encoder_levels",
    "mean_neighbors",
    "neighbour_sample",
]
