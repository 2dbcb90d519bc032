"""Atom and bond features and the directed-edge molecular graph (host side, numpy).

Atom features (``ATOM_DIM`` columns, one-hot blocks with a final "other" slot):
element (atomic number 1-100), degree (0-5), formal charge (-2..2), total
hydrogens (0-4), hybridisation, chirality tag, aromaticity, ring membership,
ring size (3-8), and mass / 100.

Bond features (``BOND_DIM`` columns): type (single, double, triple, aromatic),
conjugation, ring membership, stereo (none, any, Z, E, cis, trans).

Each bond becomes two directed edges stored next to each other, so the edge
travelling the other way round of edge ``e`` is ``e ^ 1`` (D-MPNN needs it).
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from molmat.data.console import progress_bar
from molmat.data.graphs import GraphSet
from molmat.featurizers.cache import cached_arrays
from molmat.featurizers.conformer_store import ConformerStore
from molmat.featurizers.conformers import ConformerOptions, embed_all
from molmat.featurizers.descriptors import PROGRESS_FROM, molecule_descriptors

FEATURIZER_VERSION = "graph-v1"

ELEMENTS = list(range(1, 101))
DEGREES = [0, 1, 2, 3, 4, 5]
CHARGES = [-2, -1, 0, 1, 2]
HYDROGENS = [0, 1, 2, 3, 4]
HYBRIDISATIONS = [
    Chem.HybridizationType.S,
    Chem.HybridizationType.SP,
    Chem.HybridizationType.SP2,
    Chem.HybridizationType.SP2D,
    Chem.HybridizationType.SP3,
    Chem.HybridizationType.SP3D,
    Chem.HybridizationType.SP3D2,
]
CHIRAL_TAGS = [
    Chem.ChiralType.CHI_UNSPECIFIED,
    Chem.ChiralType.CHI_TETRAHEDRAL_CW,
    Chem.ChiralType.CHI_TETRAHEDRAL_CCW,
]
RING_SIZES = [3, 4, 5, 6, 7, 8]
BOND_TYPES = [
    Chem.BondType.SINGLE,
    Chem.BondType.DOUBLE,
    Chem.BondType.TRIPLE,
    Chem.BondType.AROMATIC,
]
BOND_STEREO = [
    Chem.BondStereo.STEREONONE,
    Chem.BondStereo.STEREOANY,
    Chem.BondStereo.STEREOZ,
    Chem.BondStereo.STEREOE,
    Chem.BondStereo.STEREOCIS,
    Chem.BondStereo.STEREOTRANS,
]

_ATOM_BLOCKS = [ELEMENTS, DEGREES, CHARGES, HYDROGENS, HYBRIDISATIONS, CHIRAL_TAGS]
ELEMENT_ONEHOT = len(ELEMENTS) + 1  # the leading one-hot block of the atom features
ATOM_DIM = sum(len(b) + 1 for b in _ATOM_BLOCKS) + 1 + 1 + len(RING_SIZES) + 1
BOND_DIM = len(BOND_TYPES) + 1 + 1 + 1 + len(BOND_STEREO) + 1


def _one_hot_index(choices: list, values: list) -> np.ndarray:
    """Index of each value in ``choices``; unknown values map to ``len(choices)``."""
    lookup = {c: i for i, c in enumerate(choices)}
    return np.array([lookup.get(v, len(choices)) for v in values], dtype=np.int64)


def atom_features(mol: Chem.Mol) -> np.ndarray:
    """Atom feature matrix, [n_atoms, ATOM_DIM] float32."""
    atoms = list(mol.GetAtoms())
    n = len(atoms)
    out = np.zeros((n, ATOM_DIM), dtype=np.float32)
    columns = [
        [a.GetAtomicNum() for a in atoms],
        [a.GetTotalDegree() for a in atoms],
        [a.GetFormalCharge() for a in atoms],
        [a.GetTotalNumHs() for a in atoms],
        [a.GetHybridization() for a in atoms],
        [a.GetChiralTag() for a in atoms],
    ]
    offset = 0
    rows = np.arange(n)
    for choices, values in zip(_ATOM_BLOCKS, columns, strict=True):
        out[rows, offset + _one_hot_index(choices, values)] = 1.0
        offset += len(choices) + 1
    ring_info = mol.GetRingInfo()
    out[:, offset] = [a.GetIsAromatic() for a in atoms]
    out[:, offset + 1] = [a.IsInRing() for a in atoms]
    offset += 2
    for k, size in enumerate(RING_SIZES):
        out[:, offset + k] = [ring_info.IsAtomInRingOfSize(i, size) for i in range(n)]
    offset += len(RING_SIZES)
    out[:, offset] = [a.GetMass() / 100.0 for a in atoms]
    return out


def bond_features(bond: Chem.Bond) -> np.ndarray:
    """Feature vector of one bond, [BOND_DIM] float32."""
    out = np.zeros(BOND_DIM, dtype=np.float32)
    out[_one_hot_index(BOND_TYPES, [bond.GetBondType()])[0]] = 1.0
    offset = len(BOND_TYPES) + 1
    out[offset] = bond.GetIsConjugated()
    out[offset + 1] = bond.IsInRing()
    offset += 2
    out[offset + _one_hot_index(BOND_STEREO, [bond.GetStereo()])[0]] = 1.0
    return out


def mol_graph(mol: Chem.Mol) -> dict[str, np.ndarray]:
    """Featurise one molecule into atom/edge arrays (see :class:`GraphSet`)."""
    bonds = list(mol.GetBonds())
    ends = np.array(
        [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in bonds], dtype=np.int32
    ).reshape(-1, 2)
    senders = np.stack([ends[:, 0], ends[:, 1]], axis=1).reshape(-1)
    receivers = np.stack([ends[:, 1], ends[:, 0]], axis=1).reshape(-1)
    bond_x = np.repeat(
        np.array([bond_features(b) for b in bonds], dtype=np.float32).reshape(
            -1, BOND_DIM
        ),
        2,
        axis=0,
    )
    return {
        "atom_x": atom_features(mol),
        "bond_x": bond_x,
        "senders": senders,
        "receivers": receivers,
    }


def featurize(
    mols: list[Chem.Mol],
    mol_features: str | None = None,
    conformers: ConformerOptions | None = None,
    conformer_store: ConformerStore | None = None,
) -> GraphSet:
    """Featurise molecules into one :class:`GraphSet`.

    Args:
        mols: sanitised RDKit molecules.
        mol_features: name of a descriptor set for ``mol_x`` (``None``: none).
        conformers: embed 3D conformers into ``positions`` (``None``: no 3D).
            Molecules that fail keep zero positions and a reason in ``errors``.
        conformer_store: reuse and keep conformers there (``None``: embed all).
    """
    bar = progress_bar(mols, "featurising", len(mols) >= PROGRESS_FROM, unit="mol")
    graphs = [mol_graph(m) for m in bar]
    positions, errors = (
        embed_all(mols, conformers, store=conformer_store)
        if conformers
        else (None, None)
    )
    return GraphSet(
        atom_x=np.concatenate([g["atom_x"] for g in graphs]).astype(np.float32)
        if graphs
        else np.zeros((0, ATOM_DIM), np.float32),
        bond_x=np.concatenate(
            [np.zeros((0, BOND_DIM), np.float32)] + [g["bond_x"] for g in graphs]
        ),
        senders=np.concatenate(
            [np.zeros(0, np.int32)] + [g["senders"] for g in graphs]
        ),
        receivers=np.concatenate(
            [np.zeros(0, np.int32)] + [g["receivers"] for g in graphs]
        ),
        n_atoms=np.array([len(g["atom_x"]) for g in graphs], dtype=np.int32),
        n_edges=np.array([len(g["senders"]) for g in graphs], dtype=np.int32),
        mol_x=molecule_descriptors(mols, mol_features),
        positions=positions,
        errors=errors,
    )


def featurize_cached(
    smiles: list[str],
    mols: list[Chem.Mol],
    mol_features: str | None = None,
    use_cache: bool = True,
    conformers: ConformerOptions | None = None,
) -> GraphSet:
    """Featurise, reusing a cached result for the same SMILES list.

    The cache key holds the featuriser version, the descriptor set, the
    conformer settings and the SMILES strings, so a repeated run on the same
    data skips featurisation (and conformer embedding). Conformers are also
    kept per molecule in the :class:`ConformerStore`, so another list that
    shares molecules (another split, a prediction) embeds only the new ones.
    ``use_cache=False`` reads and writes neither.
    """
    settings = [FEATURIZER_VERSION, str(mol_features)]
    if conformers:
        settings.append(conformers.tag())
    store = ConformerStore() if use_cache and conformers else None

    def compute() -> dict[str, np.ndarray]:
        return featurize(mols, mol_features, conformers, store).arrays()

    arrays = cached_arrays(settings, smiles, compute, use_cache)
    try:
        return GraphSet(**arrays)
    except TypeError:  # a cache entry of another layout
        return GraphSet(**compute())
