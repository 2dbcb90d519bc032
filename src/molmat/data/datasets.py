"""Registry of the datasets bundled inside the package (gzip CSV files)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class DatasetInfo:
    """A bundled dataset: where it lives and how to read it."""

    name: str
    filename: str
    smiles_col: str
    targets: tuple[str, ...]
    task: str  # "regression" or "classification"
    units: str
    size: int
    description: str
    source: str
    licence: str

    @property
    def path(self) -> Path:
        """Path of the gzip CSV inside the installed package."""
        return Path(str(resources.files("molmat.data") / "files" / self.filename))


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="aqsoldb",
            filename="aqsoldb.csv.gz",
            smiles_col="SMILES",
            targets=("Solubility",),
            task="regression",
            units="log10(mol/L)",
            size=9982,
            description="AqSolDB curated aqueous solubility (log S)",
            source="Sorkun, Khetan & Er, Sci. Data 6, 143 (2019); "
            "file as distributed with the dmol-book (whitead/dmol-book)",
            licence="CC0 1.0",
        ),
        DatasetInfo(
            name="esol",
            filename="esol.csv.gz",
            smiles_col="smiles",
            targets=("measured log solubility in mols per litre",),
            task="regression",
            units="log10(mol/L)",
            size=1128,
            description="ESOL (Delaney) aqueous solubility, MoleculeNet version",
            source="Delaney, J. Chem. Inf. Comput. Sci. 44, 1000 (2004); "
            "DeepChem delaney-processed.csv",
            licence="MoleculeNet/DeepChem release (MIT); original data from the paper",
        ),
        DatasetInfo(
            name="bbbp",
            filename="bbbp.csv.gz",
            smiles_col="smiles",
            targets=("p_np",),
            task="classification",
            units="1 = penetrates the blood-brain barrier",
            size=2050,
            description="Blood-brain barrier penetration (MoleculeNet BBBP)",
            source="Martins et al., J. Chem. Inf. Model. 52, 1686 (2012); "
            "MoleculeNet file via the dmol-book",
            licence="MoleculeNet release; dmol-book copy under CC BY-NC 3.0",
        ),
    )
}


def get_dataset(name: str) -> DatasetInfo:
    """Look up a bundled dataset by name (case-insensitive).

    Raises:
        KeyError: with the list of known names when ``name`` is not bundled.
    """
    try:
        return DATASETS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise KeyError(f"unknown dataset {name!r}; bundled datasets: {known}") from None
