"""The MOSES benchmark corpus, read from the ``molsets`` package or a folder.

MOSES (Polykovskiy et al., Front. Pharmacol. 11, 565644 (2020)) splits a
ZINC Clean Leads subset into train (1,584,663 SMILES), test (176,074) and
scaffold-test (176,225; scaffolds absent from train). The files ship inside
the ``molsets`` wheel; ``pip install --no-deps molsets`` installs them without
the wheel's PyTorch dependencies. Nothing is downloaded at run time.

Example:
    >>> from molmat.data.moses import read_moses
    >>> train = read_moses("train")  # doctest: +SKIP
    >>> len(train)  # doctest: +SKIP
    1584663
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path

SPLITS = {
    "train": "train.csv.gz",
    "test": "test.csv.gz",
    "test_scaffolds": "test_scaffolds.csv.gz",
}
INSTALL = "pip install --no-deps molsets"
ENV_VAR = "MOLMAT_MOSES_DIR"


class MosesNotFound(FileNotFoundError):
    """The MOSES files are neither installed nor at the given path."""


def moses_dir() -> Path:
    """The folder holding MOSES' ``train/test/test_scaffolds.csv.gz``.

    Looked up in ``$MOLMAT_MOSES_DIR`` first, then in the installed ``molsets``
    package (found without importing it: its ``__init__`` needs PyTorch).

    Raises:
        MosesNotFound: with the install command.
    """
    if os.environ.get(ENV_VAR):
        folder = Path(os.environ[ENV_VAR])
        if (folder / SPLITS["train"]).exists():
            return folder
        raise MosesNotFound(f"${ENV_VAR}={folder} holds no {SPLITS['train']}")
    spec = importlib.util.find_spec("moses")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            folder = Path(root) / "dataset" / "data"
            if (folder / SPLITS["train"]).exists():
                return folder
    raise MosesNotFound(
        f"the MOSES data is not installed: {INSTALL} (51 MB; the files only), "
        f"or set ${ENV_VAR} to a folder holding {', '.join(SPLITS.values())}"
    )


def moses_path(split: str) -> Path:
    """Path of one MOSES split file (``train``, ``test`` or ``test_scaffolds``)."""
    if split not in SPLITS:
        raise ValueError(f"unknown MOSES split {split!r}; known: {', '.join(SPLITS)}")
    return moses_dir() / SPLITS[split]


def read_smiles_column(path: str | Path) -> list[str]:
    """The first column of a (gzip) CSV with a header: MOSES' one-column files."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        next(f)  # header
        return [line.split(",", 1)[0].strip() for line in f if line.strip()]


def read_moses(split: str) -> list[str]:
    """The SMILES of one MOSES split, in file order."""
    return read_smiles_column(moses_path(split))
