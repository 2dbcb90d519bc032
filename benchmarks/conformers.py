"""Conformer-embedding benchmark: ETKDG on one thread against one per core.

Prints one JSON line per (dataset, threads): molecules, failures, wall seconds
and molecules per second, and whether the positions equal the one-thread
run's; these runs embed from scratch. Then two lines for the conformer store:
the training part (80 %) of random split 0 embedded into an empty store, and
that of random split 1 embedded with it (only molecules split 0 did not hold
are embedded), with the same check.

    python benchmarks/conformers.py                        # AqSolDB, 1 and all cores
    python benchmarks/conformers.py --data tox21 --limit 2000 --conformers 3 --mmff
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from molmat.data.csv import read_molecules
from molmat.data.graphs import concat_ranges
from molmat.data.splits import random_split
from molmat.featurizers.conformer_store import ConformerStore
from molmat.featurizers.conformers import (
    ConformerOptions,
    canonical_form,
    embed_all,
    usable_cores,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="aqsoldb", help="bundled dataset or CSV")
    parser.add_argument("--limit", type=int, help="embed only the first N molecules")
    parser.add_argument(
        "--conformers", type=int, default=1, help="ETKDG tries per molecule"
    )
    parser.add_argument("--mmff", action="store_true", help="relax with MMFF94")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=sorted({1, usable_cores()}),
        help="thread counts to time (the first is the reference)",
    )
    args = parser.parse_args()
    mols = read_molecules(args.data).mols[: args.limit]
    options = ConformerOptions(n=args.conformers, mmff=args.mmff)
    reference = None
    for threads in args.threads:
        tick = time.perf_counter()
        positions, errors = embed_all(mols, options, workers=threads)
        wall = time.perf_counter() - tick
        reference = reference or (positions, errors)
        same = np.array_equal(positions, reference[0]) and np.array_equal(
            errors, reference[1]
        )
        line = {
            "dataset": args.data,
            "molecules": len(mols),
            "conformers": args.conformers,
            "mmff": args.mmff,
            "threads": threads,
            "failures": int(np.count_nonzero(errors)),
            "wall_s": round(wall, 2),
            "molecules_per_s": round(len(mols) / wall, 1),
            "same_as_first": bool(same),
        }
        print(json.dumps(line), flush=True)
    time_store(args, mols, options, reference)


def time_store(args, mols, options, reference) -> None:
    """Embed the training parts of two random splits through one fresh store."""
    offsets = np.cumsum([0] + [m.GetNumAtoms() for m in mols])
    keys = [canonical_form(m).smiles for m in mols]
    stored: set[str] = set()
    with tempfile.TemporaryDirectory() as folder:
        store = ConformerStore(Path(folder) / "conformers.sqlite")
        for seed in (0, 1):
            part = np.sort(random_split(len(mols), seed)[0])
            new = {keys[i] for i in part} - stored
            tick = time.perf_counter()
            positions, errors = embed_all([mols[i] for i in part], options, store=store)
            wall = time.perf_counter() - tick
            stored |= new
            same = np.array_equal(
                positions, reference[0][concat_ranges(offsets, part)]
            ) and np.array_equal(errors, reference[1][part])
            line = {
                "dataset": args.data,
                "store": f"train part of random split {seed}",
                "molecules": len(part),
                "embedded": len(new),
                "threads": usable_cores(),
                "wall_s": round(wall, 2),
                "molecules_per_s": round(len(part) / wall, 1),
                "same_as_first": bool(same),
            }
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
