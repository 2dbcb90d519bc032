"""The crystal-generation metrics of CDVAE (Xie et al. 2022), as DiffCSP and
FlowMM report them.

- Structure prediction (:func:`match_rate`): the share of predicted
  structures that pymatgen's ``StructureMatcher(stol=0.5, angle_tol=10,
  ltol=0.3)`` matches to their reference, and the mean normalised RMS
  displacement over the matched ones. An invalid prediction counts as
  unmatched.
- De novo generation (:func:`generation_metrics`): structural validity (all
  distances between distinct sites > 0.5 Å under the minimum image and a
  volume > 0.1 Å³) and compositional validity (charge neutrality with a
  Pauling electronegativity test, by ``smact.screening.smact_validity``);
  coverage recall and precision: the share of reference (recall) or
  generated (precision) crystals with a partner within the structure and
  composition fingerprint cut-offs (CrystalNN ``ops`` site fingerprints
  averaged over sites, and Magpie element-property statistics, both from
  matminer); and the Wasserstein distances of density (g/cm³) and number
  of elements between valid generated crystals and the references.

One deviation: CDVAE standardises the composition fingerprints with
constants fitted to its own training data; here they are standardised with
the reference set's mean and standard deviation.

pymatgen, smact and matminer are an optional extra (``pip install
"molmat[crystal]"``); without them these functions raise an ImportError
that says so. :data:`PUBLISHED` holds the numbers of CDVAE and DiffCSP.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import wasserstein_distance

from molmat.data.console import progress_bar

log = logging.getLogger("molmat")

INSTALL = 'pip install "molmat[crystal]"  (pymatgen, smact, matminer)'
MATCHER = {"stol": 0.5, "angle_tol": 10, "ltol": 0.3}
# coverage cut-offs (structure, composition fingerprint distances) of CDVAE
COVERAGE_CUTOFFS = {
    "perov_5": (0.2, 4.0),
    "carbon_24": (0.2, 4.0),
    "mp_20": (0.4, 10.0),
}
# Published results: structure prediction (one sample) and de novo
# generation, as reported in DiffCSP (Jiao et al., NeurIPS 2023), Tables 1 and 3.
PUBLISHED = {
    "csp": {
        "perov_5": {"CDVAE": (45.31, 0.1138), "DiffCSP": (52.02, 0.0760)},
        "carbon_24": {"CDVAE": (17.09, 0.2969), "DiffCSP": (17.54, 0.2759)},
        "mp_20": {"CDVAE": (33.90, 0.1045), "DiffCSP": (51.49, 0.0631)},
    },
    # validity (structure, composition) %, coverage (recall, precision) %,
    # Wasserstein distance of density and of the number of elements
    "denovo": {
        "perov_5": {
            "CDVAE": (100.0, 98.59, 99.45, 98.46, 0.1258, 0.0628),
            "DiffCSP": (100.0, 98.85, 99.74, 98.27, 0.1110, 0.0128),
        },
        "mp_20": {
            "CDVAE": (100.0, 86.70, 99.15, 99.49, 0.6875, 1.4320),
            "DiffCSP": (100.0, 83.25, 99.71, 99.76, 0.3502, 0.3398),
        },
    },
}


def _require():
    try:
        import matminer  # noqa: F401
        import pymatgen.core  # noqa: F401
        import smact  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"crystal metrics need pymatgen, smact and matminer ({err.name} is "
            f"missing): {INSTALL}"
        ) from err


def to_structure(atoms):
    """A pymatgen ``Structure`` of an ``ase.Atoms``, or None if it cannot be
    built (non-finite or degenerate lattice)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    cell = np.asarray(atoms.cell[:], float)
    if not np.isfinite(cell).all() or not np.isfinite(atoms.positions).all():
        return None
    if abs(np.linalg.det(cell)) < 1e-8:
        return None
    try:
        return AseAtomsAdaptor.get_structure(atoms)
    except (ValueError, np.linalg.LinAlgError):
        return None


def structure_valid(structure, cutoff: float = 0.5) -> bool:
    """CDVAE's structural validity of a pymatgen ``Structure``."""
    if structure is None or structure.volume < 0.1:
        return False
    if len(structure) < 2:
        return True
    d = structure.distance_matrix + np.eye(len(structure)) * (cutoff + 10.0)
    return bool(d.min() >= cutoff)


def composition_valid(structure) -> bool:
    """SMACT's charge neutrality and electronegativity check of the
    structure's composition (pure elements and all-metal alloys pass)."""
    from smact.screening import smact_validity

    if structure is None:
        return False
    return bool(smact_validity(structure.composition))


def match_rate(predicted: list, reference: list, progress: bool = True) -> dict:
    """Structure-prediction match rate (%) and mean RMSE of ``predicted``
    against ``reference`` (``ase.Atoms``, pairwise)."""
    _require()
    from pymatgen.analysis.structure_matcher import StructureMatcher

    if len(predicted) != len(reference):
        raise ValueError(
            f"{len(predicted)} predictions for {len(reference)} references"
        )
    matcher = StructureMatcher(**MATCHER)
    rms = []
    bar = progress_bar(total=len(predicted), desc="matching", enabled=progress)
    for pred, ref in zip(predicted, reference, strict=True):
        p, r = to_structure(pred), to_structure(ref)
        found = None
        if structure_valid(p) and r is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = matcher.get_rms_dist(p, r)
        rms.append(np.nan if found is None else found[0])
        bar.update()
    bar.close()
    rms = np.asarray(rms, float)
    matched = np.isfinite(rms)
    return {
        "n": len(rms),
        "match_rate": 100.0 * float(matched.mean()) if len(rms) else 0.0,
        "rmse": float(rms[matched].mean()) if matched.any() else float("nan"),
    }


def _fingerprints(structures: list, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Structure [n, 61] and composition [n, 132] fingerprints (NaN rows
    where one fails)."""
    from matminer.featurizers.composition.composite import ElementProperty
    from matminer.featurizers.site.fingerprint import CrystalNNFingerprint

    site_fp = CrystalNNFingerprint.from_preset("ops")
    comp_fp = ElementProperty.from_preset("magpie", impute_nan=True)
    struct, comp = [], []
    bar = progress_bar(total=len(structures), desc="fingerprints", enabled=progress)
    for s in structures:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                sites = [site_fp.featurize(s, i) for i in range(len(s))]
                struct.append(np.mean(sites, axis=0))
            except Exception:  # noqa: BLE001  matminer raises many kinds
                struct.append(None)
            try:
                comp.append(np.asarray(comp_fp.featurize(s.composition), float))
            except Exception:  # noqa: BLE001
                comp.append(None)
        bar.update()
    bar.close()
    return _stack(struct), _stack(comp)


def _stack(rows: list) -> np.ndarray:
    width = next((len(r) for r in rows if r is not None), 0)
    return np.asarray(
        [r if r is not None else np.full(width, np.nan) for r in rows], float
    ).reshape(len(rows), width)


def coverage(
    generated: list,
    reference: list,
    cutoffs: tuple[float, float],
    n_generated: int,
    progress: bool = True,
) -> dict:
    """Coverage recall and precision (%) of pymatgen structures ``generated``
    (valid ones) against ``reference``; precision is over ``n_generated``
    (all samples, as CDVAE counts it)."""
    gs, gc = _fingerprints(generated, progress)
    rs, rc = _fingerprints(reference, progress)
    keep = np.isfinite(gs).all(1) & np.isfinite(gc).all(1)
    keep_ref = np.isfinite(rs).all(1) & np.isfinite(rc).all(1)
    gs, gc, rs, rc = gs[keep], gc[keep], rs[keep_ref], rc[keep_ref]
    if not len(gs) or not len(rs):
        return {"cov_recall": 0.0, "cov_precision": 0.0}
    mean, std = rc.mean(0), rc.std(0)
    std = np.where(std > 0, std, 1.0)
    gc, rc = (gc - mean) / std, (rc - mean) / std
    d_struct, d_comp = cdist(gs, rs), cdist(gc, rc)
    s_cut, c_cut = cutoffs
    recall = (d_struct.min(0) <= s_cut) & (d_comp.min(0) <= c_cut)
    precision = (d_struct.min(1) <= s_cut) & (d_comp.min(1) <= c_cut)
    return {
        "cov_recall": 100.0 * float(recall.mean()),
        "cov_precision": 100.0 * float(precision.sum()) / n_generated,
    }


def generation_metrics(
    generated: list,
    reference: list,
    dataset: str = "perov_5",
    progress: bool = True,
) -> dict:
    """CDVAE's de novo metrics of ``generated`` against ``reference``
    (``ase.Atoms``); ``dataset`` picks the coverage cut-offs."""
    _require()
    if dataset not in COVERAGE_CUTOFFS:
        raise ValueError(
            f"no coverage cut-offs for {dataset!r}; known: {list(COVERAGE_CUTOFFS)}"
        )
    gen = [to_structure(a) for a in generated]
    ref = [to_structure(a) for a in reference]
    ref = [s for s in ref if s is not None]
    struct_ok = np.asarray([structure_valid(s) for s in gen])
    comp_ok = np.asarray([composition_valid(s) for s in gen])
    valid = [s for s, ok in zip(gen, struct_ok & comp_ok, strict=True) if ok]
    out = {
        "n_generated": len(gen),
        "structure_validity": 100.0 * float(struct_ok.mean()),
        "composition_validity": 100.0 * float(comp_ok.mean()),
        "validity": 100.0 * float((struct_ok & comp_ok).mean()),
        "reference_composition_validity": 100.0
        * float(np.mean([composition_valid(s) for s in ref])),
    }
    if valid:
        out["wdist_density"] = float(
            wasserstein_distance([s.density for s in valid], [s.density for s in ref])
        )
        out["wdist_n_elements"] = float(
            wasserstein_distance(
                [len(s.composition.elements) for s in valid],
                [len(s.composition.elements) for s in ref],
            )
        )
    built = [s for s in gen if structure_valid(s)]
    out.update(coverage(built, ref, COVERAGE_CUTOFFS[dataset], len(gen), progress))
    return out
