"""On-disk store of embedded conformers, one row per molecule and settings.

Embedding is the slow part of 3D featurisation (tens of molecules per second
per core), so every conformer, and every failure to embed, is kept in an
SQLite file under the feature cache folder and reused by any later job that
meets the same molecule: another split of the same data, an ensemble member,
a prediction. Rows are keyed by the embedding settings and the molecule's
canonical SMILES, and positions are stored in that SMILES' atom order (see
:func:`molmat.featurizers.conformers.canonical_form`).

A store that is not an SQLite database or is damaged is moved aside (to
``conformers.sqlite.unreadable``) with a warning and a new one is started; a
store that cannot be read or written (locked by a stuck process, read-only
disk) is left alone with a warning and not used again by this job.
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
UNREADABLE = ("file is not a database", "malformed")  # SQLITE_NOTADB, _CORRUPT
JOURNALS = ("-journal", "-wal", "-shm")  # SQLite's files beside a database
SET_ASIDE = ".unreadable"  # suffix of a damaged store moved aside


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
        self.usable = True  # False after a failure: the job goes on without it

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection whose changes are committed on success, then closed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=60)) as connection, connection:
            connection.execute(SCHEMA)
            yield connection

    def load(self, settings: str, smiles: Iterable[str]) -> dict[str, Embedding]:
        """Stored embeddings of the molecules ``smiles`` under ``settings``.

        Args:
            settings: embedding settings, as one string.
            smiles: the molecules' keys (canonical SMILES).

        Returns:
            key -> (positions [n_atoms, 3] float32 Å or None, reason ("" where
            embedding worked)); molecules not stored with these settings are
            absent.
        """
        wanted = sorted(set(smiles))
        found: dict[str, Embedding] = {}
        if not self.usable:
            return found
        try:
            with self._connection() as connection:
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
        except (sqlite3.Error, OSError) as err:
            self._failed(err)
            return {}
        return found

    def save(self, settings: str, embeddings: dict[str, Embedding]) -> None:
        """Store ``embeddings`` (key -> (positions or None, reason))."""
        if not self.usable:
            return
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
            with self._connection() as connection:
                connection.executemany(
                    "INSERT OR REPLACE INTO conformers VALUES (?, ?, ?, ?)", rows
                )
        except (sqlite3.Error, OSError) as err:
            self._failed(err)

    def files(self) -> list[Path]:
        """The store's file, its journals and a damaged store set aside, if any."""
        suffixes = ("", *JOURNALS, SET_ASIDE)
        paths = [self.path.with_name(self.path.name + s) for s in suffixes]
        return [path for path in paths if path.exists()]

    def counts(self) -> tuple[int, int]:
        """(conformers, failures to embed) stored: one per molecule and settings.

        ``(0, 0)`` for a missing or empty store; no file is created.

        Raises:
            sqlite3.Error: when the file cannot be read as a store now.
        """
        if not self.path.exists():
            return 0, 0
        uri = f"{self.path.resolve().as_uri()}?mode=rw"  # rw: never creates a file
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            try:
                return connection.execute(
                    "SELECT COUNT(positions), COUNT(*) - COUNT(positions) "
                    "FROM conformers"
                ).fetchone()
            except sqlite3.OperationalError as err:
                if "no such table" in str(err):  # an empty file
                    return 0, 0
                raise

    def clear(self) -> None:
        """Delete the store, its journals and a damaged store set aside."""
        for path in self.files():
            path.unlink(missing_ok=True)

    def _failed(self, err: Exception) -> None:
        """Warn; move a damaged store aside and start afresh, else stop using it."""
        self.usable = False
        if not isinstance(err, sqlite3.DatabaseError) or not any(
            text in str(err) for text in UNREADABLE
        ):
            log.warning("conformer store %s not used: %s", self.path, err)
            return
        aside = self.path.with_name(self.path.name + SET_ASIDE)
        log.warning(
            "conformer store %s unreadable (%s); moved to %s, a new one is started",
            self.path,
            err,
            aside.name,
        )
        try:
            self.path.replace(aside)
            for journal in JOURNALS:
                self.path.with_name(self.path.name + journal).unlink(missing_ok=True)
            self.usable = True
        except OSError as move_err:
            log.warning("could not move %s aside: %s", self.path, move_err)
