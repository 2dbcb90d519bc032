"""On-disk store of embedded conformers, one row per molecule and settings.

Embedding is the slow part of 3D featurisation (tens of molecules per second
per core), so every conformer, and every failure to embed, is kept in an
SQLite file under the feature cache folder and reused by any later job that
meets the same molecule: another split of the same data, an ensemble member,
a prediction. Rows are keyed by the embedding settings and the molecule's
canonical SMILES, and positions are stored in that SMILES' atom order (see
:func:`molmat.featurizers.conformers.canonical_form`).

An unreadable store (e.g. a truncated file) is replaced by an empty one with a
warning; a store that cannot be written (read-only disk) only costs the reuse.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np

from molmat.featurizers.cache import cache_dir

log = logging.getLogger("molmat")

Embedding = tuple[np.ndarray | None, str]  # positions [n_atoms, 3] Å, or None + reason
SCHEMA = """CREATE TABLE IF NOT EXISTS conformers (
    settings TEXT NOT NULL,
    smiles TEXT NOT NULL,
    positions BLOB,
    reason TEXT NOT NULL,
    PRIMARY KEY (settings, smiles)
)"""
QUERY_CHUNK = 500  # SMILES per SELECT (SQLite limits bound parameters)


def default_path() -> Path:
    """``$MOLMAT_CACHE_DIR/conformers.sqlite`` (see :func:`cache_dir`)."""
    return cache_dir() / "conformers.sqlite"


class ConformerStore:
    """Conformers on disk: ``load`` before embedding, ``save`` what was embedded.

    Args:
        path: the SQLite file (created when missing).
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection whose changes are committed on success, then closed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=60)) as connection, connection:
            connection.execute(SCHEMA)
            yield connection

    def load(self, settings: str, smiles: Iterable[str]) -> dict[str, Embedding]:
        """Stored embeddings of the molecules ``smiles`` under ``settings``.

        Returns:
            canonical SMILES -> (positions [n_atoms, 3] float32 Å or None,
            reason ("" where embedding worked)); molecules never embedded
            with these settings are absent.
        """
        wanted = sorted(set(smiles))
        found: dict[str, Embedding] = {}
        try:
            with self._transaction() as connection:
                for start in range(0, len(wanted), QUERY_CHUNK):
                    chunk = wanted[start : start + QUERY_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = connection.execute(
                        "SELECT smiles, positions, reason FROM conformers "
                        f"WHERE settings = ? AND smiles IN ({marks})",
                        [settings, *chunk],
                    )
                    for key, blob, reason in rows:
                        if blob is None:
                            found[key] = (None, reason)
                        elif len(blob) % 12 == 0:  # else a damaged row: embed again
                            xyz = np.frombuffer(blob, dtype=np.float32).reshape(-1, 3)
                            found[key] = (xyz, reason)
        except (sqlite3.OperationalError, OSError) as err:  # locked, no permission
            log.warning("conformer store %s unavailable: %s", self.path, err)
            return {}
        except sqlite3.DatabaseError as err:  # not a database, or a corrupted one
            self._replace_unreadable(err)
            return {}
        return found

    def save(self, settings: str, embeddings: dict[str, Embedding]) -> None:
        """Store ``embeddings`` (canonical SMILES -> (positions or None, reason))."""
        rows = [
            (
                settings,
                key,
                None if xyz is None else xyz.astype(np.float32).tobytes(),
                reason,
            )
            for key, (xyz, reason) in embeddings.items()
        ]
        try:
            with self._transaction() as connection:
                connection.executemany(
                    "INSERT OR REPLACE INTO conformers VALUES (?, ?, ?, ?)", rows
                )
        except (sqlite3.Error, OSError) as err:
            log.warning("could not write conformer store %s: %s", self.path, err)

    def _replace_unreadable(self, err: Exception) -> None:
        log.warning(
            "conformer store %s unreadable (%s); replaced by an empty one",
            self.path,
            err,
        )
        try:
            self.path.unlink()
        except OSError as unlink_err:
            log.warning("could not remove %s: %s", self.path, unlink_err)
