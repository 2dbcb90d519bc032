"""3D conformers from RDKit's ETKDG, for models that read atom positions.

Each molecule gets ``n`` ETKDG (v3) conformers, embedded with explicit
hydrogens and, with ``mmff=True``, relaxed with the MMFF94 force field. The
conformer of lowest force-field energy (MMFF94, or UFF where MMFF has no
parameters) is kept, so a molecule always has one geometry: more conformers
mean a better chance of finding a low-energy one, not an ensemble. Positions
of the molecule's own atoms (hydrogens dropped again) are returned in Å, in
the molecule's atom order.

Embedding is seeded and runs on the molecule rewritten in its canonical atom
order (:func:`canonical_form`, :meth:`CanonicalForm.molecule`; built only
while it is embedded), so a molecule gets the same geometry however
its SMILES is written or its atoms are numbered (up to swaps of symmetric
atoms). :func:`embed_all` embeds on every core at once (RDKit releases the
GIL while it embeds and relaxes), once per distinct molecule, and can reuse
the conformers of earlier jobs from a
:class:`~molmat.featurizers.conformer_store.ConformerStore`.

Example:
    >>> from rdkit import Chem
    >>> positions, reason = embed(Chem.MolFromSmiles("CCO"), ConformerOptions(n=3))
    >>> positions.shape, reason
    ((3, 3), '')
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import rdkit
from rdkit import Chem
from rdkit.Chem import AllChem, rdDistGeom

from molmat.data.console import progress_bar
from molmat.data.rdkit_log import silence_rdkit
from molmat.featurizers.conformer_store import ConformerStore, Embedding
from molmat.featurizers.descriptors import PROGRESS_FROM

STORE_BATCH = 256  # embeddings written to the store at a time

silence_rdkit()

CONFORMER_VERSION = "etkdg-v2"  # v2: embedded in canonical atom order
# RDKit's names of the checks an ETKDG attempt can fail, in GetFailureCounts order
FAILURE_CAUSES = [
    cause.name for _, cause in sorted(rdDistGeom.EmbedFailureCauses.values.items())
]


@dataclass(frozen=True)
class ConformerOptions:
    """How to embed conformers.

    Attributes:
        n: ETKDG conformers tried per molecule (the lowest-energy one is kept).
        mmff: relax every conformer with MMFF94 before choosing.
        seed: random seed of the embedding.
    """

    n: int = 1
    mmff: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"conformers must be at least 1, got {self.n}")

    def tag(self) -> str:
        """The settings as a cache-key string."""
        return f"{CONFORMER_VERSION} n={self.n} mmff={self.mmff} seed={self.seed}"


def _energies(mol: Chem.Mol, conf_ids: list[int]) -> list[float] | None:
    """Force-field energy (kcal/mol) of each conformer; None without parameters."""
    if AllChem.MMFFHasAllMoleculeParams(mol):
        props = AllChem.MMFFGetMoleculeProperties(mol)
        return [
            AllChem.MMFFGetMoleculeForceField(mol, props, confId=c).CalcEnergy()
            for c in conf_ids
        ]
    if AllChem.UFFHasAllMoleculeParams(mol):
        return [
            AllChem.UFFGetMoleculeForceField(mol, confId=c).CalcEnergy()
            for c in conf_ids
        ]
    return None


def failure_summary(counts: np.ndarray, shown: int = 3) -> str:
    """The checks ETKDG's attempts failed most often, as RDKit names them."""
    top = [i for i in np.argsort(-counts, kind="stable")[:shown] if counts[i] > 0]
    if not top:
        return "no attempt recorded"
    listed = ", ".join(f"{FAILURE_CAUSES[i]} ×{counts[i]}" for i in top)
    return f"attempts failed at {listed}"


def embed_in_given_order(mol: Chem.Mol, options: ConformerOptions) -> Embedding:
    """Lowest-energy conformer of ``mol``, embedded in its own atom order.

    Returns:
        ``(positions [n_atoms, 3] float32 in Å, "")``, or ``(None, reason)``
        when ETKDG cannot embed the molecule (also retried from random
        coordinates).
    """
    with_h = Chem.AddHs(mol)
    conf_ids, failures = [], np.zeros(len(FAILURE_CAUSES), np.int64)
    for random_coords in (False, True):
        params = AllChem.ETKDGv3()
        params.randomSeed = options.seed
        params.useRandomCoords = random_coords
        params.trackFailures = True  # same conformers, and the reasons attempts fail
        conf_ids = list(AllChem.EmbedMultipleConfs(with_h, options.n, params))
        if conf_ids:
            break
        counts = np.asarray(params.GetFailureCounts())[: len(FAILURE_CAUSES)]
        failures[: len(counts)] += counts
    if not conf_ids:
        return None, (
            f"ETKDG could not embed a 3D conformer ({options.n} tried; "
            f"{failure_summary(failures)})"
        )
    if options.mmff:
        if not AllChem.MMFFHasAllMoleculeParams(with_h):
            return None, "MMFF94 has no parameters for this molecule"
        AllChem.MMFFOptimizeMoleculeConfs(with_h, maxIters=500)
    energies = _energies(with_h, conf_ids) if len(conf_ids) > 1 else None
    best = conf_ids[int(np.argmin(energies))] if energies else conf_ids[0]
    xyz = with_h.GetConformer(best).GetPositions()[: mol.GetNumAtoms()]
    if not np.all(np.isfinite(xyz)):
        return None, "conformer has non-finite coordinates"
    return xyz.astype(np.float32), ""


@dataclass(frozen=True)
class CanonicalForm:
    """A molecule's canonical SMILES and canonical atom order.

    Attributes:
        smiles: canonical SMILES (the key of stored conformers).
        order: [n_atoms] atom ``i`` of the canonical molecule is atom
            ``order[i]`` of the input.
        source: the input molecule.
    """

    smiles: str
    order: np.ndarray
    source: Chem.Mol

    def molecule(self) -> Chem.Mol:
        """The molecule with its atoms in the order of ``smiles``, built anew.

        Parsed back from ``smiles``; where that does not read back as the same
        atoms (element, charge, isotope, hydrogens, in the written order), the
        input is renumbered instead.
        """
        params = Chem.SmilesParserParams()
        params.removeHs = False  # keep hydrogen atoms the input has
        parsed = Chem.MolFromSmiles(self.smiles, params)
        kinds = atom_kinds(self.source)
        if parsed is None or atom_kinds(parsed) != [kinds[i] for i in self.order]:
            parsed = Chem.RenumberAtoms(self.source, self.order.tolist())
        return parsed

    def in_input_order(self, xyz: np.ndarray) -> np.ndarray:
        """Positions [n_atoms, 3] in canonical order -> in the input's atom order."""
        out = np.empty_like(xyz)
        out[self.order] = xyz
        return out


def canonical_form(mol: Chem.Mol) -> CanonicalForm:
    """``mol``'s canonical SMILES and atom order (no new molecule is kept)."""
    written = Chem.Mol(mol)  # MolToSmiles leaves properties on the molecule
    smiles = Chem.MolToSmiles(written)
    listed = written.GetProp("_smilesAtomOutputOrder")  # "[2,1,0,]"
    order = np.array([int(i) for i in listed.strip("[]").split(",") if i], np.int64)
    return CanonicalForm(smiles, order, mol)


def atom_kinds(mol: Chem.Mol) -> list[tuple[int, int, int, int]]:
    """(element, charge, isotope, hydrogens) of every atom, in atom order."""
    return [
        (a.GetAtomicNum(), a.GetFormalCharge(), a.GetIsotope(), a.GetTotalNumHs())
        for a in mol.GetAtoms()
    ]


def embed(mol: Chem.Mol, options: ConformerOptions) -> Embedding:
    """Lowest-energy conformer of ``mol``, embedded in canonical atom order.

    Returns:
        ``(positions [n_atoms, 3] float32 in Å, "")`` in ``mol``'s atom order,
        or ``(None, reason)`` when ETKDG cannot embed the molecule.
    """
    form = canonical_form(mol)
    xyz, reason = embed_canonical(form, options)
    return (None, reason) if xyz is None else (form.in_input_order(xyz), "")


def embed_canonical(form: CanonicalForm, options: ConformerOptions) -> Embedding:
    """:func:`embed_in_given_order` of the molecule in canonical atom order,
    which exists only while it is embedded."""
    return embed_in_given_order(form.molecule(), options)


def one_position_per_atom(embedding: Embedding, mol: Chem.Mol) -> bool:
    """Whether a stored embedding has one position per atom of ``mol``."""
    xyz = embedding[0]
    return xyz is None or xyz.shape == (mol.GetNumAtoms(), 3)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def embed_all(
    mols: list[Chem.Mol],
    options: ConformerOptions,
    workers: int | None = None,
    store: ConformerStore | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Conformers of many molecules, embedded by ``workers`` threads at once.

    Each distinct molecule (canonical SMILES) is embedded once; with a
    ``store``, molecules it holds are not embedded again and new ones are
    added to it as they finish.

    Args:
        mols: the molecules.
        options: how to embed.
        workers: threads embedding at once (default: :func:`usable_cores`);
            the result does not depend on it.
        store: where earlier conformers are read and new ones written
            (``None``: embed everything, write nothing).

    Returns:
        positions [total_atoms, 3] float32 (zeros for failed molecules) and
        errors [n_mols] str ("" where embedding worked, else the reason).
    """
    forms = [canonical_form(m) for m in mols]
    settings = f"{options.tag()} rdkit={rdkit.__version__}"  # new RDKit: embed anew
    stored = store.load(settings, (f.smiles for f in forms)) if store else {}
    done = {
        f.smiles: stored[f.smiles]
        for f in forms
        if f.smiles in stored and one_position_per_atom(stored[f.smiles], f.source)
    }
    todo = {f.smiles: f for f in forms if f.smiles not in done}
    fresh: dict[str, Embedding] = {}
    with ThreadPoolExecutor(max_workers=workers or usable_cores()) as pool:
        results = pool.map(partial(embed_canonical, options=options), todo.values())
        bar = progress_bar(
            zip(todo, results, strict=True),
            total=len(todo),
            desc="embedding conformers",
            unit="mol",
            enabled=len(todo) >= PROGRESS_FROM,
        )
        for smiles, result in bar:
            done[smiles] = fresh[smiles] = result
            if store and len(fresh) >= STORE_BATCH:
                store.save(settings, fresh)
                fresh = {}
    if store and fresh:
        store.save(settings, fresh)
    blocks, errors = [np.zeros((0, 3), np.float32)], []
    for mol, form in zip(mols, forms, strict=True):
        xyz, reason = done[form.smiles]
        blocks.append(
            form.in_input_order(xyz)
            if xyz is not None
            else np.zeros((mol.GetNumAtoms(), 3), np.float32)
        )
        errors.append(reason)
    return np.concatenate(blocks), np.array(errors, dtype=str)
