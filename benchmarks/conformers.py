"""Conformer-embedding benchmark: ETKDG on one thread against one per core.

Prints one JSON line per (dataset, threads): molecules, failures, wall seconds
and molecules per second, and whether the positions equal the one-thread
run's. Nothing is cached: every run embeds from scratch.

    python benchmarks/conformers.py                        # AqSolDB, 1 and all cores
    python benchmarks/conformers.py --data tox21 --limit 2000 --conformers 3 --mmff
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from molmat.data.csv import read_molecules
from molmat.featurizers.conformers import ConformerOptions, embed_all, usable_cores


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


if __name__ == "__main__":
    main()
