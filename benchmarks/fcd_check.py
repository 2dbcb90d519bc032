"""molmat's FCD against the ``fcd`` package (1.2.2, PyTorch) on MOSES.

    python benchmarks/fcd_check.py --reference-python /path/to/torch-venv/bin/python

Computes the FCD between the first ``--n`` molecules of MOSES' test set and
of its scaffold-test set, and between test and train, with molmat's JAX port
(:mod:`molmat.generate.fcd`) and with the reference (run by
``benchmarks/fcd_reference.py`` under ``--reference-python``), and ChemNet's
activations of the first ``--probe`` test SMILES (as given) with both. Prints
one JSON line per comparison:

- ``fcd_moses``: sets, n, valid molecules per set, ``fcd_molmat``,
  ``fcd_reference``, ``abs_diff``, ``seconds_molmat`` / ``seconds_reference``
  (both sets' statistics, canonicalisation included, plus the distance; each
  set is computed once and shared by the comparisons), ``mol_per_s_molmat``
  (ChemNet activations only, after compilation) and whether both sides
  canonicalised the sets to the same SMILES;
- ``chemnet_activations``: n, ``max_abs_diff``;

each with ``load_avg`` (1-minute load before and after) and ``commit``.
MOSES is read by :func:`molmat.data.moses.read_moses` (``$MOLMAT_MOSES_DIR``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from provenance import commit

import molmat.generate.fcd as fcd_module
from molmat.data.moses import read_moses

HERE = Path(__file__).parent
SETS = {"test": "test", "scaffolds": "test_scaffolds", "train": "train"}
PAIRS = [("test", "scaffolds"), ("test", "train")]


def digest(smiles: list[str]) -> str:
    """As ``fcd_reference.py``'s ``canonical_sha256``."""
    return hashlib.sha256("\n".join(smiles).encode()).hexdigest()[:16]


def run_reference(python: str, files: dict[str, Path], probe: Path, out: Path) -> dict:
    """The reference's JSON (see ``fcd_reference.py``); activations in ``out``."""
    cmd = [
        python,
        str(HERE / "fcd_reference.py"),
        "fcd",
        "--activations",
        str(probe),
        str(out),
    ]
    cmd += [f"--set={name}={path}" for name, path in files.items()]
    cmd += [f"--pair={a},{b}" for a, b in PAIRS]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"reference failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def molmat_statistics(smiles: list[str]) -> dict:
    """``fcd_statistics`` of one set, timed, with its activations' share."""
    timings: list[tuple[int, float]] = []
    activations = fcd_module.chemnet_activations

    def timed(valid, *args, **kwargs):
        tick = time.perf_counter()
        act = activations(valid, *args, **kwargs)
        timings.append((len(act), time.perf_counter() - tick))
        return act

    fcd_module.chemnet_activations = timed
    try:
        tick = time.perf_counter()
        mu, sigma = fcd_module.fcd_statistics(smiles)
        seconds = time.perf_counter() - tick
    finally:
        fcd_module.chemnet_activations = activations
    (n_valid, act_seconds), *_ = timings
    canonical = fcd_module.canonical_smiles(smiles)
    return dict(
        mu=mu,
        sigma=sigma,
        seconds=seconds,
        n_valid=n_valid,
        act_seconds=act_seconds,
        digest=digest(canonical),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference-python", required=True)
    parser.add_argument("--n", type=int, default=10_000, help="molecules per set")
    parser.add_argument(
        "--probe", type=int, default=100, help="molecules for activations"
    )
    args = parser.parse_args()
    load = [os.getloadavg()[0]]
    sets = {name: read_moses(split)[: args.n] for name, split in SETS.items()}
    fcd_module.chemnet_activations(["C"] * 128)  # compile outside the timings

    stats = {name: molmat_statistics(smiles) for name, smiles in sets.items()}
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: Path(tmp) / f"{name}.txt" for name in sets}
        for name, path in files.items():
            path.write_text("\n".join(sets[name]) + "\n")
        probe = sets["test"][: args.probe]
        (Path(tmp) / "probe.txt").write_text("\n".join(probe) + "\n")
        ref = run_reference(
            args.reference_python,
            files,
            Path(tmp) / "probe.txt",
            Path(tmp) / "probe.npy",
        )
        ref_probe = np.load(Path(tmp) / "probe.npy")

    load.append(os.getloadavg()[0])
    base = {"load_avg": load, "commit": commit()}
    for pair in ref["pairs"]:
        a, b = pair["sets"]
        tick = time.perf_counter()
        value = fcd_module.frechet_distance(
            stats[a]["mu"], stats[a]["sigma"], stats[b]["mu"], stats[b]["sigma"]
        )
        distance_seconds = time.perf_counter() - tick
        line = {
            "benchmark": "fcd_moses",
            "sets": [a, b],
            "n": args.n,
            "n_valid": [stats[a]["n_valid"], stats[b]["n_valid"]],
            "fcd_molmat": value,
            "fcd_reference": pair["fcd"],
            "abs_diff": abs(value - pair["fcd"]),
            "seconds_molmat": stats[a]["seconds"]
            + stats[b]["seconds"]
            + distance_seconds,
            "seconds_reference": ref["sets"][a]["seconds"]
            + ref["sets"][b]["seconds"]
            + pair["seconds"],
            "mol_per_s_molmat": (stats[a]["n_valid"] + stats[b]["n_valid"])
            / (stats[a]["act_seconds"] + stats[b]["act_seconds"]),
            "same_canonical_smiles": all(
                stats[s]["digest"] == ref["sets"][s]["canonical_sha256"] for s in (a, b)
            ),
            "reference": {
                k: ref[k] for k in ("fcd_version", "torch_version", "torch_threads")
            },
        }
        print(json.dumps(line | base))
    act = fcd_module.chemnet_activations(probe)
    line = {
        "benchmark": "chemnet_activations",
        "n": len(probe),
        "max_abs_diff": float(np.abs(act - ref_probe).max()),
        "max_abs_activation": float(np.abs(ref_probe).max()),
    }
    print(json.dumps(line | base))


if __name__ == "__main__":
    main()
