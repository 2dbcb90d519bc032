"""Property networks over token sequences (amino acids, SMILES, SELFIES):
1D CNN, bidirectional GRU and transformer encoders (see
:mod:`molmat.models.sequence.network`)."""

from molmat.models.sequence.encoders import ENCODERS
from molmat.models.sequence.network import (
    POOLS,
    SequenceNet,
    build_sequence_net,
    check_network,
)

__all__ = ["ENCODERS", "POOLS", "SequenceNet", "build_sequence_net", "check_network"]
