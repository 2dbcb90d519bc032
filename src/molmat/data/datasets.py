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
        DatasetInfo(
            name="clintox",
            filename="clintox.csv.gz",
            smiles_col="smiles",
            targets=("FDA_APPROVED", "CT_TOX"),
            task="classification",
            units="1 = approved by the FDA / failed clinical trials for toxicity",
            size=1484,
            description="ClinTox: FDA approval and clinical-trial toxicity "
            "(MoleculeNet, 2 tasks, imbalanced)",
            source="Gayvert, Madhukar & Elemento, Cell Chem. Biol. 23, 1294 (2016); "
            "MoleculeNet file via the dmol-book",
            licence="MoleculeNet release; dmol-book copy under CC BY-NC 3.0",
        ),
        DatasetInfo(
            name="tox21",
            filename="tox21.csv.gz",
            smiles_col="smiles",
            targets=(
                "NR-AR",
                "NR-AR-LBD",
                "NR-AhR",
                "NR-Aromatase",
                "NR-ER",
                "NR-ER-LBD",
                "NR-PPAR-gamma",
                "SR-ARE",
                "SR-ATAD5",
                "SR-HSE",
                "SR-MMP",
                "SR-p53",
            ),
            task="classification",
            units="1 = active in the assay (missing labels empty)",
            size=7831,
            description="Tox21 2014 challenge: 12 nuclear-receptor and stress-response "
            "assays (MoleculeNet)",
            source="Tox21 Data Challenge 2014 (NIH/NCATS); chemprop data/tox21.csv",
            licence="MoleculeNet release (MIT); public-domain assay data",
        ),
        DatasetInfo(
            name="bace",
            filename="bace.csv.gz",
            smiles_col="mol",
            targets=("Class",),
            task="classification",
            units="1 = BACE-1 inhibitor (IC50 <= 100 nM)",
            size=1513,
            description="BACE: human beta-secretase 1 inhibitors (MoleculeNet)",
            source="Subramanian et al., J. Chem. Inf. Model. 56, 1936 (2016); "
            "chemprop data/bace.csv",
            licence="MoleculeNet release (MIT)",
        ),
        DatasetInfo(
            name="sider",
            filename="sider.csv.gz",
            smiles_col="smiles",
            targets=(
                "Hepatobiliary disorders",
                "Metabolism and nutrition disorders",
                "Product issues",
                "Eye disorders",
                "Investigations",
                "Musculoskeletal and connective tissue disorders",
                "Gastrointestinal disorders",
                "Social circumstances",
                "Immune system disorders",
                "Reproductive system and breast disorders",
                "Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
                "General disorders and administration site conditions",
                "Endocrine disorders",
                "Surgical and medical procedures",
                "Vascular disorders",
                "Blood and lymphatic system disorders",
                "Skin and subcutaneous tissue disorders",
                "Congenital, familial and genetic disorders",
                "Infections and infestations",
                "Respiratory, thoracic and mediastinal disorders",
                "Psychiatric disorders",
                "Renal and urinary disorders",
                "Pregnancy, puerperium and perinatal conditions",
                "Ear and labyrinth disorders",
                "Cardiac disorders",
                "Nervous system disorders",
                "Injury, poisoning and procedural complications",
            ),
            task="classification",
            units="1 = side effect reported (MedDRA system organ class)",
            size=1427,
            description="SIDER: 27 side-effect classes of marketed drugs (MoleculeNet)",
            source="Kuhn et al., Nucleic Acids Res. 44, D1075 (2016); "
            "chemprop data/sider.csv",
            licence="MoleculeNet release (MIT); SIDER under CC BY-NC-SA 4.0",
        ),
    )
}

# Well-known sets too large to ship: where to get them, and how to use them.
NOT_BUNDLED = {
    "hiv": "HIV (41,127 molecules, binary HIV_active): download MoleculeNet's "
    "HIV.csv (e.g. chemprop's data/HIV.csv.gz) and pass --data path/to/HIV.csv",
    "toxcast": "ToxCast (8,576 molecules, 617 tasks): download MoleculeNet's "
    "toxcast_data.csv and pass --data path/to/toxcast_data.csv",
    "muv": "MUV (93,087 molecules, 17 tasks): download MoleculeNet's muv.csv and "
    "pass --data path/to/muv.csv",
    "moses": "MOSES (1,584,663 training, 176,074 test and 176,225 "
    "scaffold-test SMILES, for generative models): pip install --no-deps "
    "molsets, then molmat generate train --data moses; molmat generate "
    "evaluate --reference moses scores samples against its test sets",
    "matbench": "Matbench v0.1 composition tasks (matbench_expt_gap, "
    "matbench_expt_is_metal, matbench_glass, matbench_steels): pip install "
    'matminer, then python -c "from matminer.datasets import load_dataset; '
    "load_dataset('matbench_expt_gap').to_csv('matbench_expt_gap.csv')\" and "
    "molmat matbench --task matbench_expt_gap --data matbench_expt_gap.csv",
    "core_mof": "CoRE MOF 2019 (12,020 MOF CIFs with Zeo++ pore geometry: LCD, "
    "PLD, surface area, void fraction, open metal sites): pip install --no-deps "
    "core-mof (or MOLMAT_CORE_MOF_DIR), then molmat pretrain --data core_mof "
    "--model painn or molmat train --data core_mof --target LCD --model painn",
    "perov_5": "Perov-5 (18,928 perovskites, 5 atoms per cell; CDVAE's "
    "train/val/test CSVs with a cif column): git clone "
    "https://github.com/txie-93/cdvae, then set MOLMAT_CDVAE_DIR=cdvae/data "
    "(--data perov_5 reads perov_5/train.csv there) or pass --data "
    "cdvae/data/perov_5/train.csv",
    "mp_20": "MP-20 (45,231 Materials Project crystals of up to 20 atoms; "
    "CDVAE's splits): git clone https://github.com/txie-93/cdvae, then set "
    "MOLMAT_CDVAE_DIR=cdvae/data or pass --data cdvae/data/mp_20/train.csv",
    "carbon_24": "Carbon-24 (10,153 carbon structures of 6-24 atoms; CDVAE's "
    "splits): git clone https://github.com/txie-93/cdvae, then set "
    "MOLMAT_CDVAE_DIR=cdvae/data or pass --data cdvae/data/carbon_24/train.csv",
    "qm9": "QM9 (130,831 molecules with DFT geometries; energies U0, U, H, G, "
    "ZPVE): pip install 'molmat[qm9]', then molmat train --data qm9 --target U0 "
    "--model painn",
}


def get_dataset(name: str) -> DatasetInfo:
    """Look up a bundled dataset by name (case-insensitive).

    Raises:
        KeyError: with the list of known names when ``name`` is not bundled.
    """
    try:
        return DATASETS[name.lower()]
    except KeyError:
        if name.lower() in NOT_BUNDLED:
            raise KeyError(
                f"{name} is not bundled. {NOT_BUNDLED[name.lower()]}"
            ) from None
        known = ", ".join(sorted(DATASETS))
        raise KeyError(f"unknown dataset {name!r}; bundled datasets: {known}") from None
