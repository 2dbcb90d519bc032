"""What the on-disk caches hold, and clearing them.

Two caches live in :func:`~molmat.featurizers.cache.cache_dir`: the feature
cache (featurised molecule lists, one ``.npz`` file per list and settings) and
the conformer store (one ETKDG conformer, or failure, per molecule and
embedding settings). Both are filled again as needed; clearing them costs
only time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from molmat.featurizers.cache import clear_features, feature_files, features_dir
from molmat.featurizers.conformer_store import ConformerStore

CACHES = ("features", "conformers")


@dataclass(frozen=True)
class CacheUse:
    """One cache: what it holds and its size on disk.

    Attributes:
        name: ``features`` or ``conformers``.
        contents: what it holds, in words.
        bytes: size of its files.
        path: its folder or file.
    """

    name: str
    contents: str
    bytes: int
    path: Path


def counted(n: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def size_of(paths: list[Path]) -> int:
    """Bytes of the files ``paths`` (those that still exist)."""
    return sum(p.stat().st_size for p in paths if p.exists())


def cache_use() -> list[CacheUse]:
    """What each cache holds now."""
    files = feature_files()
    store = ConformerStore()
    try:
        conformers, failures = store.counts()
        stored = f"{counted(conformers, 'conformer')}, {counted(failures, 'failure')}"
    except sqlite3.Error as err:
        stored = f"could not be read ({err})"
    return [
        CacheUse(
            "features", counted(len(files), "file"), size_of(files), features_dir()
        ),
        CacheUse("conformers", stored, size_of(store.files()), store.path),
    ]


def clear_caches(which: str = "all") -> list[str]:
    """Delete the feature cache, the conformer store or both (``"all"``).

    Returns:
        one line per cache on what was deleted.
    """
    if which not in (*CACHES, "all"):
        raise ValueError(f"cache must be one of {[*CACHES, 'all']}, got {which!r}")
    done = []
    if which in ("features", "all"):
        done.append(f"features: {counted(clear_features(), 'file')} deleted")
    if which in ("conformers", "all"):
        store = ConformerStore()
        files = store.files()
        store.clear()
        done.append(f"conformers: {counted(len(files), 'file')} deleted")
    return done
