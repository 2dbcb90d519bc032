"""Graph neural networks for molecular properties.

Named models (``gcn``, ``gin``, ``gat``, ``mpnn``, ``attentivefp``, ``schnet``,
``transformer``) and architecture files (see :mod:`molmat.models.gnn.config`)
build a :class:`PropertyNet` with :func:`build_model`.
"""

from molmat.models.gnn.config import (
    LAYERS,
    ArchitectureError,
    is_graph_model,
    needs_positions,
    resolve_architecture,
)
from molmat.models.gnn.network import (
    ENCODERS,
    PropertyNet,
    architecture_of,
    build_model,
    calibrate_batch_norm,
)

__all__ = [
    "ENCODERS",
    "LAYERS",
    "ArchitectureError",
    "PropertyNet",
    "architecture_of",
    "build_model",
    "calibrate_batch_norm",
    "is_graph_model",
    "needs_positions",
    "resolve_architecture",
]
