"""CoRE MOF 2019, read from the ``core-mof`` package or a folder.

The Computation-Ready, Experimental MOF database (Chung et al., J. Chem.
Eng. Data 64, 5985 (2019)): 12,020 P1 CIF files of metal-organic frameworks
with all solvent removed (``2019-ASR.tar.xz``) and their Zeo++ geometric
properties (``2019-ASR.csv``: LCD, PLD, surface areas, void fraction,
density, metals, open metal sites). ``pip install --no-deps core-mof``
installs both (the package's own code needs pymatgen; the files do not).
Nothing is downloaded at run time. ``--data core_mof`` reads the CIFs with
the property table joined by file name.

Example:
    >>> from molmat.data.core_mof import core_mof_files
    >>> cifs, table = core_mof_files()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd

NAME = "core_mof"
CIFS, TABLE = "2019-ASR.tar.xz", "2019-ASR.csv"
INSTALL = "pip install --no-deps core-mof"
ENV_VAR = "MOLMAT_CORE_MOF_DIR"


class CoreMofNotFound(FileNotFoundError):
    """The CoRE MOF files are neither installed nor at the given path."""


def core_mof_files() -> tuple[Path, Path]:
    """The CIF tarball and the property table of CoRE MOF 2019 (ASR).

    Looked up in ``$MOLMAT_CORE_MOF_DIR`` first (a folder holding
    ``2019-ASR.tar.xz`` and ``2019-ASR.csv``), then in the installed
    ``core-mof`` package (found without importing it).

    Raises:
        CoreMofNotFound: with the install command.
    """
    folders = []
    if os.environ.get(ENV_VAR):
        folders.append(Path(os.environ[ENV_VAR]))
    spec = importlib.util.find_spec("CoRE_MOF")
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(root) / "data" for root in spec.submodule_search_locations]
    for folder in folders:
        if (folder / CIFS).exists() and (folder / TABLE).exists():
            return folder / CIFS, folder / TABLE
    raise CoreMofNotFound(
        f"the CoRE MOF 2019 files are not installed: {INSTALL} (the CIFs and "
        f"their property table), or set ${ENV_VAR} to a folder holding {CIFS} "
        f"and {TABLE}"
    )


def core_mof_table() -> pd.DataFrame:
    """The CoRE MOF 2019 (ASR) property table, one row per MOF (its file
    is Latin-1 encoded)."""
    return pd.read_csv(core_mof_files()[1], encoding="latin-1")
