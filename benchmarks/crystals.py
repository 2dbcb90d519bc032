"""Crystal generation benchmark: structure prediction and de novo generation.

Splits a CDVAE-style set (CSV with a ``cif`` column) into a seeded held-out
test share and the rest, trains a generator on the rest (resumable), then

- ``csp``: one structure per test composition, scored by CDVAE's match rate
  and RMSE (pymatgen's ``StructureMatcher(stol=0.5, angle_tol=10,
  ltol=0.3)``);
- ``denovo``: ``--n`` new crystals, scored by structural and compositional
  validity, coverage (recall, precision) against the test structures, and
  Wasserstein distances of density and number of elements;

one JSON line per result (appended to ``--results``), with wall seconds and
sampling throughput (structures per second). ``--stage flows`` runs the
flow benchmark of ``benchmarks/flows.py`` on Perov-5 lattice parameters
(flows against a Gaussian and a Gaussian mixture, held-out log-likelihood).

Usage:
    python benchmarks/crystals.py --name perov_5 \
        --data ../shared/data/materials/cdvae/perov_5_val.csv.gz \
        --model diffusion --epochs 1000 --stage all
    # a stopped run goes on where it stopped: same command
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from molmat.data.structures import Frame, geometry_problem
from molmat.tasks.crystal_generator import read_crystals
from molmat.tasks.crystal_generator_runs import (
    frame_atoms,
    generator,
    train_crystal_run,
)
from molmat.tasks.crystal_metrics import (
    COVERAGE_CUTOFFS,
    generation_metrics,
    match_rate,
)

DEFAULTS = {
    "perov_5": "../shared/data/materials/cdvae/perov_5_val.csv.gz",
    "mp_20": "../shared/data/materials/cdvae/mp_20_subset_train.csv.gz",
    "carbon_24": "../shared/data/materials/cdvae/carbon_24_val.csv.gz",
}


def emit(results: Path, record: dict) -> None:
    line = json.dumps({**record, "machine": platform.node()})
    print(line, flush=True)
    with results.open("a") as f:
        f.write(line + "\n")


def overlap_free(structures) -> float:
    """Share (%) of structures that pass the potentials' overlap check."""
    ok = [not geometry_problem(Frame.from_atoms(a)) for a in structures]
    return 100.0 * float(np.mean(ok))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", default="perov_5", help="dataset name in the results")
    p.add_argument("--data", default=None, help="structures (default: by --name)")
    p.add_argument(
        "--model", default="diffusion", choices=["diffusion", "flow-matching"]
    )
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--sampling-steps", type=int, default=None)
    p.add_argument("--anti-annealing", type=float, default=0.0)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument(
        "--test-data",
        default=None,
        help="a separate test set (then all of --data trains)",
    )
    p.add_argument(
        "--max-test",
        type=int,
        default=None,
        help="score a seeded subset of the test set",
    )
    p.add_argument("--n", type=int, default=1000, help="de novo samples")
    p.add_argument(
        "--stage", default="all", choices=["train", "csp", "denovo", "all", "flows"]
    )
    p.add_argument("--mofs", default="../shared/data/materials/mof", help="(flows)")
    p.add_argument("--runs", default="runs/bench-crystals")
    p.add_argument("--results", default="benchmarks/results/crystals.jsonl")
    args = p.parse_args()
    data = args.data or DEFAULTS[args.name]
    run = Path(args.runs) / f"{args.name}-{args.model}"
    results = Path(args.results)
    base = {"dataset": args.name, "model": args.model}
    if args.stage == "flows":
        import flows

        table = flows.tables(Path(args.mofs), Path(data))["perov_5"]
        settings = argparse.Namespace(
            models=["realnvp", "maf", "spline"], layers=8, hidden=128, epochs=400
        )
        flows.run_table("perov_5", table, settings, Path(args.runs))
        return
    if args.stage in ("train", "all"):
        metrics = train_crystal_run(
            data,
            run,
            test_fraction=0.0 if args.test_data else args.test_fraction,
            resume=True,
            model=args.model,
            hidden=args.hidden,
            layers=args.layers,
            batch_size=args.batch_size,
            epochs=args.epochs,
            sampling_steps=args.sampling_steps,
            anti_annealing=args.anti_annealing,
        )
        emit(results, {**base, "stage": "train", **metrics})
    sampling = {
        "sampling_steps": args.sampling_steps,
        "anti_annealing": args.anti_annealing,
    }
    if args.stage in ("csp", "denovo", "all"):
        gen = generator(run / "model")
        gen.progress = True
        for key, value in sampling.items():
            if value is not None:
                setattr(gen, key, value)
        frames, _ = read_crystals(args.test_data or run / "test.extxyz")
        if args.max_test and len(frames) > args.max_test:
            pick = np.random.default_rng(0).permutation(len(frames))[: args.max_test]
            frames = [frames[i] for i in np.sort(pick)]
        reference = [frame_atoms(f) for f in frames]
        base["n_test"] = len(reference)
    if args.stage in ("csp", "all"):
        tick = time.perf_counter()
        predicted = gen.predict_structures([list(f.numbers) for f in frames])
        seconds = time.perf_counter() - tick
        tick = time.perf_counter()
        scores = match_rate(predicted, reference)
        emit(
            results,
            {
                **base,
                "stage": "csp",
                **sampling,
                **scores,
                "overlap_free": overlap_free(predicted),
                "sampling_seconds": seconds,
                "structures_per_second": len(predicted) / seconds,
                "scoring_seconds": time.perf_counter() - tick,
            },
        )
    if args.stage in ("denovo", "all"):
        tick = time.perf_counter()
        structures = gen.generate(args.n)
        seconds = time.perf_counter() - tick
        dataset = args.name if args.name in COVERAGE_CUTOFFS else "mp_20"
        scores = generation_metrics(structures, reference, dataset)
        emit(
            results,
            {
                **base,
                "stage": "denovo",
                **sampling,
                "n": args.n,
                **scores,
                "overlap_free": overlap_free(structures),
                "sampling_seconds": seconds,
                "structures_per_second": args.n / seconds,
            },
        )


if __name__ == "__main__":
    main()
