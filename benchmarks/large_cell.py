"""Peak memory of crystal networks on one large MOF cell (about 3,000 atoms).

Picks the usable CoRE MOF 2019 structure (no partial occupancy, no atoms
closer than 0.5 Å) whose atom count is closest to ``--atoms`` (atom sites
counted in the P1 CIFs of the tarball, then read by molmat's CIF reader),
and for each of ``--models`` runs, in a fresh process: fit a
:class:`~molmat.tasks.crystal.CrystalModel` for ``--epochs`` epochs on that
cell and three rattled copies (targets: the MOF's LCD, Å), then predict it.
One JSON line per model: atoms, radius-graph pairs, the peak resident memory
of the process (``ru_maxrss``), fit and predict seconds.

    python benchmarks/large_cell.py --mofs ../shared/data/materials/mof
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import resource
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import commit


def atom_sites(text: str) -> int:
    """Rows of the ``_atom_site_`` loop of a CIF."""
    lines = text.splitlines()
    count, in_sites, started = 0, False, False
    for line in lines:
        word = line.strip()
        if word.startswith("_atom_site_"):
            in_sites, started = True, False
            continue
        if in_sites:
            if not word or word.startswith(("loop_", "_", "#")):
                if started:
                    break
                continue
            started = True
            count += 1
    return count


def closest_mof(folder: Path, atoms: int) -> tuple[str, str]:
    """Name and CIF text of the usable MOF (as molmat's reader judges it)
    whose atom count is closest to ``atoms``."""
    from molmat.data.crystals import read_cif, structure_problem

    candidates = []
    with tarfile.open(folder / "core_mof_2019_asr_cifs.tar.xz") as tar:
        for member in tar:
            if not member.name.endswith(".cif"):
                continue
            text = tar.extractfile(member).read().decode("latin-1")
            candidates.append(
                (abs(atom_sites(text) - atoms), Path(member.name).stem, text)
            )
    for _, name, text in sorted(candidates, key=lambda c: c[:2]):
        if not structure_problem(read_cif(io.StringIO(text))):
            return name, text
    raise SystemExit("no usable MOF in the tarball")


def run_model(model: str, cif: str, lcd: float, epochs: int, queue) -> None:
    from molmat.data.crystals import read_cif
    from molmat.data.radius import neighbor_list
    from molmat.tasks.crystal import CrystalModel

    atoms = read_cif(io.StringIO(cif))
    rng = np.random.default_rng(0)
    copies = [atoms.copy() for _ in range(4)]
    for c in copies[1:]:
        c.positions += rng.normal(0.0, 0.02, c.positions.shape)
    i, _, _ = neighbor_list(atoms.positions, atoms.cell[:], atoms.pbc, 5.0)
    tick = time.perf_counter()
    fitted = CrystalModel(
        model,
        epochs=epochs,
        batch_size=1,
        val_fraction=0,
        patience=None,
        progress=False,
    ).fit(copies, np.full(4, lcd))
    fit_s = time.perf_counter() - tick
    tick = time.perf_counter()
    pred = float(fitted.predict([atoms])[0])
    predict_s = time.perf_counter() - tick
    queue.put(
        {
            "atoms": len(atoms),
            "pairs": len(i),
            "peak_rss_gb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2
            ),
            "fit_s": round(fit_s, 1),
            "predict_s": round(predict_s, 2),
            "finite": bool(np.isfinite(pred)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mofs", default="../shared/data/materials/mof")
    parser.add_argument("--atoms", type=int, default=3000)
    parser.add_argument(
        "--models", nargs="+", default=["cgcnn", "painn", "nequip", "alignn"]
    )
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    folder = Path(args.mofs)
    name, cif = closest_mof(folder, args.atoms)
    table = pd.read_csv(folder / "core_mof_2019_asr.csv.gz", encoding="latin-1")
    lcd = float(table.set_index("filename").loc[name, "LCD"])
    context = multiprocessing.get_context("spawn")
    for model in args.models:
        queue = context.Queue()
        process = context.Process(
            target=run_model, args=(model, cif, lcd, args.epochs, queue)
        )
        process.start()
        process.join()
        result = (
            queue.get() if process.exitcode == 0 else {"exit_code": process.exitcode}
        )
        print(
            json.dumps(
                {
                    "benchmark": "large_cell",
                    "dataset": f"CoRE MOF 2019 {name}",
                    "model": f"molmat {model} (CrystalModel defaults)",
                    "epochs": args.epochs,
                    **result,
                    "commit": commit(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
