"""MOSES metrics benchmark: reference statistics and scoring 30,000 molecules.

One JSON line per step: (a) building the test, scaffold-test and train
statistics the first time (in a fresh cache folder, or a given one: then
``cache`` says whether it was cold or warm), (b) scoring 30,000 "generated"
molecules against the cached statistics with every metric. FCD is part of
(a) and (b) with ``--with-fcd`` only (ChemNet on a CPU takes about half an
hour for the two reference sets); without it, when ChemNet is installed, (c)
times ChemNet's moments of the 30,000 molecules: what FCD adds to (b). The
generated molecules are 30,000 MOSES train SMILES not in the test set, drawn
with a fixed seed. Each line has ``benchmark``, ``dataset``, ``n_generated``,
``wall_s``, the metric values, ``load_avg`` (1-minute load before and after)
and ``commit``.

    MOLMAT_MOSES_DIR=/path/to/moses python benchmarks/generation_metrics.py
    python benchmarks/generation_metrics.py --with-fcd   # ChemNet too (slow)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

from provenance import commit

from molmat.data.moses import read_moses
from molmat.featurizers.cache import feature_files
from molmat.generate import fcd, metrics

N_GENERATED = 30_000


def generated_molecules(n: int, seed: int = 0) -> list[str]:
    """``n`` MOSES train SMILES absent from the test set, drawn at random (the
    train file is ordered: its first molecules are not a fair sample)."""
    test = set(read_moses("test"))
    pool = [s for s in read_moses("train") if s not in test]
    return random.Random(seed).sample(pool, n)


def timed(step: str, n: int, function, *args, **kwargs) -> tuple[dict, object]:
    """Run ``function`` and describe the run as one JSON-ready line."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    result = function(*args, **kwargs)
    wall = time.perf_counter() - start
    line = {
        "benchmark": f"generation_metrics/{step}",
        "dataset": "moses",
        "n_generated": n,
        "wall_s": round(wall, 2),
        "load_avg": [round(load, 2), round(os.getloadavg()[0], 2)],
        "commit": commit(),
    }
    return line, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=N_GENERATED)
    parser.add_argument("--with-fcd", action="store_true")
    parser.add_argument(
        "--cache-dir", help="feature cache (default: a fresh temporary folder)"
    )
    args = parser.parse_args()
    os.environ["MOLMAT_CACHE_DIR"] = args.cache_dir or tempfile.mkdtemp()
    generated = generated_molecules(args.n)

    cache = "warm" if feature_files() else "cold"
    line, _ = timed(
        "reference", 0, metrics.moses_reference, False, with_fcd=args.with_fcd
    )
    print(json.dumps(line | {"cache": cache}), flush=True)

    line, results = timed(
        "score",
        len(generated),
        metrics.moses_metrics,
        generated,
        progress=False,
        with_fcd=args.with_fcd,
    )
    print(json.dumps(line | {"metrics": dict(results), "notes": results.notes}))

    if not args.with_fcd and fcd.available():
        canonical = [metrics.canonical_smiles(s) for s in generated]
        line, _ = timed("fcd_moments", len(generated), fcd.fcd_statistics, canonical)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
