"""Model archives: a folder with ``config.json``, ``params.npz`` and ``metrics.json``.

``config.json`` holds everything needed to rebuild the featuriser, the network
and the target scalers; ``params.npz`` holds the parameters as plain arrays
(read with ``allow_pickle=False``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePath

import numpy as np

from molmat.training.serialization import (
    arrays_to_tree,
    load_npz,
    save_npz,
    tree_to_arrays,
)

ARCHIVE_FORMAT = 1
CONFIG = "config.json"
PARAMS = "params.npz"
METRICS = "metrics.json"


class ArchiveError(ValueError):
    """A model archive that is missing, corrupted or incompatible."""


def resolve(path: str | Path) -> Path:
    """The archive folder: ``path`` itself, or ``path/model`` for a run folder."""
    path = Path(path)
    if (path / CONFIG).exists():
        return path
    if (path / "model" / CONFIG).exists():
        return path / "model"
    if not path.exists():
        raise ArchiveError(f"{path}: no such model archive")
    raise ArchiveError(
        f"{path}: not a model archive (no {CONFIG}, nor model/{CONFIG} in a run folder)"
    )


def save_archive(
    path: str | Path, model, config: dict, metrics: dict | None = None
) -> Path:
    """Write ``model``'s parameters, ``config`` and ``metrics`` to folder ``path``."""
    from molmat._version import __version__

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    full = {"archive_format": ARCHIVE_FORMAT, "molmat_version": __version__, **config}
    if model is not None:
        save_npz(path / PARAMS, tree_to_arrays(model))
    (path / CONFIG).write_text(json.dumps(full, indent=2, default=_path_text))
    (path / METRICS).write_text(json.dumps(metrics or {}, indent=2))
    return path


def _path_text(value) -> str:
    """Settings given as paths (an ``init`` archive) are written as text."""
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"{type(value).__name__} {value!r} cannot go into an archive")


def read_config(path: str | Path) -> tuple[Path, dict]:
    """Read and check an archive's config. Returns ``(archive folder, config)``."""
    folder = resolve(path)
    try:
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArchiveError(f"{folder / CONFIG}: corrupted config ({err})") from err
    if not isinstance(config, dict):
        raise ArchiveError(f"{folder / CONFIG}: corrupted config (not a JSON object)")
    fmt = config.get("archive_format")
    if fmt != ARCHIVE_FORMAT:
        raise ArchiveError(
            f"{folder}: archive format {fmt!r} is not supported by this molmat "
            f"(reads format {ARCHIVE_FORMAT}); it was written by molmat "
            f"{config.get('molmat_version', 'unknown')}"
        )
    return folder, config


def load_params(folder: Path, template):
    """Fill ``template`` with the archive's parameters, checking names and shapes."""
    try:
        arrays = load_npz(folder / PARAMS)
    except FileNotFoundError as err:
        raise ArchiveError(f"{folder}: {PARAMS} is missing") from err
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ArchiveError(
            f"{folder / PARAMS}: corrupted parameter file ({err})"
        ) from err
    if not all(np.all(np.isfinite(a)) for a in arrays.values()):
        raise ArchiveError(f"{folder / PARAMS}: parameters contain NaN or inf")
    try:
        return arrays_to_tree(template, arrays)
    except ValueError as err:
        raise ArchiveError(
            f"{folder}: parameters do not fit the config: {err}"
        ) from err


def read_metrics(path: str | Path) -> dict:
    folder = resolve(path)
    try:
        return json.loads((folder / METRICS).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
