"""Packaging: one version everywhere, the datasets inside the package."""

import subprocess
import sys
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

import pytest

import molmat
from molmat.data.datasets import DATASETS

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def test_version_command_prints_the_package_version():
    done = subprocess.run(
        [sys.executable, "-m", "molmat.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"molmat {molmat.__version__}"
    assert molmat.__version__ == metadata.version("molmat")


def test_version_comes_from_one_place():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    version = project["tool"]["setuptools"]["dynamic"]["version"]
    assert version == {"attr": "molmat._version.__version__"}


def test_package_data_holds_every_bundled_dataset():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["molmat.data"]
    for info in DATASETS.values():
        assert info.path.exists(), info.path
        in_wheel = [fnmatch(f"files/{info.filename}", p) for p in patterns]
        assert any(in_wheel), f"{info.filename} matches no package-data pattern"


def test_extras_for_docs_and_gpu():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(r.startswith("jax[cuda12]") for r in extras["cuda12"])
    names = {r.split(">")[0].split("<")[0].split("[")[0] for r in extras["docs"]}
    assert {"mkdocs", "mkdocs-material", "mkdocstrings"} <= names
