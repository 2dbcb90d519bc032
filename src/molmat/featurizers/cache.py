"""On-disk cache of featurised arrays, keyed by featuriser settings and SMILES."""

from __future__ import annotations

import hashlib
import logging
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from zipfile import BadZipFile

import numpy as np

log = logging.getLogger("molmat")


def cache_dir() -> Path:
    """Feature cache folder: ``$MOLMAT_CACHE_DIR`` or ``~/.cache/molmat``."""
    return Path(os.environ.get("MOLMAT_CACHE_DIR", Path.home() / ".cache" / "molmat"))


def features_dir() -> Path:
    """Where featurised arrays are kept: one ``.npz`` file per molecule list
    and featuriser settings."""
    return cache_dir() / "features"


def feature_files() -> list[Path]:
    """The feature cache's files (left-over temporary ones included)."""
    folder = features_dir()
    return sorted(folder.glob("*.npz")) if folder.is_dir() else []


def clear_features() -> int:
    """Delete the feature cache's files; returns how many were deleted."""
    files = feature_files()
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def cached_arrays(
    settings: list[str],
    smiles: list[str],
    compute: Callable[[], dict[str, np.ndarray]],
    use_cache: bool = True,
) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, read from the cache when the same job ran before.

    Args:
        settings: featuriser name, version and options (part of the key).
        smiles: the molecules, as strings (part of the key).
        compute: makes the arrays on a cache miss.
        use_cache: ``False`` always computes and writes nothing.
    """
    if not use_cache:
        return compute()
    digest = hashlib.sha256("\n".join([*settings, *smiles]).encode()).hexdigest()[:32]
    path = features_dir() / f"{digest}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            log.debug("features loaded from cache %s", path)
            return arrays
        except (OSError, ValueError, KeyError, EOFError, BadZipFile, zlib.error):
            log.warning("feature cache %s unreadable; featurising again", path)
    arrays = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **arrays)  # one-hot features: ~70x smaller
        tmp.replace(path)
    except OSError as err:
        log.warning("could not write feature cache %s: %s", path, err)
    return arrays
