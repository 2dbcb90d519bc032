"""The reference FCD (the ``fcd`` 1.2.2 package, PyTorch) for molmat's checks.

Runs under a Python with ``torch`` and ``fcd==1.2.2`` installed (a separate
venv: PyTorch never enters molmat's install); imports nothing from molmat.

    # statistics and FCDs of SMILES sets (one SMILES a line), JSON on stdout
    /path/to/torch-venv/bin/python benchmarks/fcd_reference.py fcd \\
        --set test=test.txt --set scaffolds=scaffolds.txt \\
        --pair test,scaffolds --activations probe.txt probe.npy

    # the test fixtures tests/data/chemnet_reference.npz, torch_state_dict.pt
    /path/to/torch-venv/bin/python benchmarks/fcd_reference.py fixtures tests/data

``fcd`` follows the package's own recipe: ``canonical_smiles`` (RDKit
canonical SMILES, ``None`` for invalid ones), invalid ones dropped, then
``get_predictions`` and ``calculate_frechet_distance`` on the mean and
``np.cov`` of each set's activations, as ``get_fcd`` does. Each set's
activations are computed once; ``seconds`` per set covers canonicalisation,
activations and statistics; ``canonical_sha256`` is the start of the SHA-256
of its canonical SMILES joined by newlines. ``--activations`` writes
``get_predictions`` of the SMILES in a file, as given (no canonicalisation),
to a ``.npy``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

# Inputs of tests/data/chemnet_reference.npz: a two-letter atom (Cl, Br, Si),
# stereo, charges, a dot and a character outside ChemNet's vocabulary (Na's a).
FIXTURE_SMILES = [
    "CCO",
    "Clc1ccc(Br)cc1",
    "C[C@H](N)C(=O)O",
    "O=C([O-])c1ccccc1.[Na+]",
    "C[Si](C)(C)OC1CCCCC1",
]


def read_lines(path: str) -> list[str]:
    return [line.strip() for line in Path(path).read_text().splitlines()]


def set_statistics(
    model, smiles: list[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """fcd's recipe for one set: canonicalise, drop invalid, mean and cov."""
    from fcd import canonical_smiles, get_predictions

    valid = [s for s in canonical_smiles(smiles, njobs=1) if s is not None]
    act = get_predictions(model, valid, device="cpu")
    return np.mean(act, axis=0), np.cov(act.T), valid


def run_fcd(args: argparse.Namespace) -> None:
    import fcd
    import torch

    model = fcd.load_ref_model()
    stats, out = (
        {},
        {"fcd_version": fcd.__version__, "torch_version": torch.__version__},
    )
    out["torch_threads"] = torch.get_num_threads()
    out["sets"] = {}
    for spec in args.set:
        name, path = spec.split("=", 1)
        tick = time.perf_counter()
        mu, sigma, valid = set_statistics(model, read_lines(path))
        seconds = time.perf_counter() - tick
        stats[name] = (mu, sigma)
        sha = hashlib.sha256("\n".join(valid).encode()).hexdigest()[:16]
        out["sets"][name] = {
            "n_valid": len(valid),
            "seconds": seconds,
            "canonical_sha256": sha,
        }
    out["pairs"] = []
    for pair in args.pair:
        a, b = pair.split(",")
        tick = time.perf_counter()
        value = fcd.calculate_frechet_distance(*stats[a], *stats[b])
        seconds = time.perf_counter() - tick
        out["pairs"].append({"sets": [a, b], "fcd": value, "seconds": seconds})
    if args.activations:
        smiles_path, npy_path = args.activations
        act = fcd.get_predictions(model, read_lines(smiles_path), device="cpu")
        np.save(npy_path, act)
    print(json.dumps(out))


def run_fixtures(args: argparse.Namespace) -> None:
    import fcd
    import torch

    folder = Path(args.folder)
    act = fcd.get_predictions(fcd.load_ref_model(), FIXTURE_SMILES, device="cpu")
    np.savez_compressed(
        folder / "chemnet_reference.npz",
        smiles=np.array(FIXTURE_SMILES),
        activations=act.astype(np.float32),
    )
    w = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    state = {
        "w": w,
        "w_t": w.t(),  # strides (1, 4)
        "row": w[1],  # storage offset 4, shares w's storage
        "nested": {"d": torch.linspace(0, 1, 5, dtype=torch.float64)},
        "i": torch.tensor([1, -2, 3], dtype=torch.int64),
        "h": torch.tensor([0.5, -2.0], dtype=torch.float16),
        "b": torch.tensor([True, False]),
        "empty": torch.zeros(0, 3),
    }
    torch.save(state, folder / "torch_state_dict.pt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("fcd", help="statistics and FCDs of SMILES sets")
    p.add_argument("--set", action="append", default=[], help="NAME=SMILES_FILE")
    p.add_argument("--pair", action="append", default=[], help="NAME1,NAME2")
    p.add_argument("--activations", nargs=2, metavar=("SMILES_FILE", "OUT_NPY"))
    p.set_defaults(run=run_fcd)
    p = commands.add_parser("fixtures", help="write the test fixtures to FOLDER")
    p.add_argument("folder")
    p.set_defaults(run=run_fixtures)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
