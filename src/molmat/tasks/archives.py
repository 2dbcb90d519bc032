"""Loading any model archive through a registry of archive kinds.

An archive's ``config.json`` names its ``kind``; each kind maps to the one
function that rebuilds it, imported only when such an archive is loaded. The
kinds are listed one by one: an archive of any other kind is refused, and no
estimator module needs to know the others.

Example:
    >>> from molmat.tasks.archives import load
    >>> model = load("runs/logS")  # doctest: +SKIP
    >>> model.predict(["CCO"])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from pathlib import Path

from molmat.training import archive

# kind -> "module:function(folder, config)" that rebuilds it
ARCHIVE_KINDS = {
    "property": "molmat.tasks.property:load_property",
    "sequence": "molmat.tasks.sequence:load_sequence",
    "sequence-encoder": "molmat.tasks.pretrain:load_encoder",
    "graph-encoder": "molmat.tasks.pretrain:load_graph_encoder",
    "classic": "molmat.tasks.classic:load_classic",
    "crystal": "molmat.tasks.crystal:load_crystal",
    "crystal-encoder": "molmat.tasks.crystal_pretrain:load_crystal_encoder",
    "ensemble": "molmat.tasks.ensemble:load_ensemble",
    "potential": "molmat.tasks.potential:load_potential",
    "generator": "molmat.generate.language:load_generator",
    "vae": "molmat.generate.vae:load_vae",
    "flow": "molmat.tasks.flow:load_flow",
    "crystal-generator": "molmat.tasks.crystal_generator:load_crystal_generator",
}


def load(path: str | Path):
    """Load a model archive (or run folder) of any registered kind.

    Returns a ready estimator: ``PropertyModel``, ``ClassicModel``,
    ``EnsembleModel`` or ``PotentialModel``.

    Raises:
        ArchiveError: the archive is missing, corrupted, incompatible or of an
            unknown kind.
    """
    folder, config = archive.read_config(path)
    kind = config.get("kind")
    if kind not in ARCHIVE_KINDS:
        raise archive.ArchiveError(
            f"{folder}: not a molmat model archive (kind {kind!r}; known kinds: "
            f"{', '.join(ARCHIVE_KINDS)})"
        )
    module, function = ARCHIVE_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), function)(folder, config)
