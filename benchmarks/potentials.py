"""Interatomic-potential benchmark: accuracy, MD speed, speed against DFT, QM9.

One JSON line per result. Sections (``--sections``, comma-separated):

* ``rmd17``: rMD17 ethanol and aspirin (``--rmd17-molecules``), upstream
  split 01 (its 1000 training frames, 50 of them for validation, and its 1000
  test frames), trained for ``--ethanol-minutes`` / ``--aspirin-minutes``;
  energy and force MAE/RMSE.
* ``nve``: 10 ps of NVE (0.5 fs) with the ethanol model: total-energy drift.
* ``md``: MD steps/s and ns/day, JAX engine vs the same model driven step by
  step through ASE's VelocityVerlet: aspirin (the aspirin model) and a
  periodic 256-atom fcc copper cell (a model trained here on EMT data of
  rattled and strained cells, with stress).
* ``dft``: one aspirin frame, our energy+forces vs PySCF PBE/def2-SVP energy
  + gradient (the rMD17 level of theory) in the same run: time ratio and our
  error against that DFT result (needs ``pip install 'molmat[dft]'``).
* ``qm9``: QM9 U0 test MAE at 1k/5k/10k training molecules (needs
  ``molmat[qm9]``), ``--qm9-minutes`` per size.
* ``botnet``: 3BPA (train 300 K; tested on the mixed-temperature set, as the
  upstream test sets are not shipped) and acetylacetone (train 300 K; tests at
  300 K and 600 K), ``--botnet-minutes`` each.

Trained models go to ``--out/<name>/`` and are reused by later sections
(``nve`` and ``md`` read the rMD17 models when they exist).

    python benchmarks/potentials.py                                  # hours
    python benchmarks/potentials.py --sections md,dft --aspirin-minutes 5
    python benchmarks/potentials.py --sections rmd17,nve --rmd17-molecules ethanol
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from molmat.models.potentials.registry import POTENTIALS
from molmat.training.potential import LR_SCHEDULES

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "potentials"
NEEDS_DATA = ("rmd17", "nve", "md", "dft", "botnet")  # sections reading --data-dir
RMD17_MOLECULES = ("ethanol", "aspirin")
MEV = 1000.0


def emit(**fields) -> dict:
    print(json.dumps(fields), flush=True)
    return fields


def rounded(metrics: dict, digits: int = 3) -> dict:
    return {k: round(v, digits) for k, v in metrics.items() if isinstance(v, float)}


# -- accuracy on DFT frames ------------------------------------------------------


def rmd17_frames(molecule: str, args):
    """Upstream split 01 of rMD17 ``molecule``: (train frames, test frames)."""
    from molmat.data.structures import read_structures, rmd17_split

    path = args.data_dir / "rmd17" / f"rmd17_{molecule}.npz"
    data = read_structures(path, format="rmd17")
    train, test = rmd17_split(path, 1)
    return data.select(train, "train"), data.select(test, "test")


def train_rmd17(molecule: str, minutes: float, args) -> dict:
    from molmat.tasks.potential import PotentialModel

    train, test = rmd17_frames(molecule, args)
    model = PotentialModel(
        model=args.model,
        epochs=1_000_000,  # the time limit ends training
        time_limit=minutes,
        lr_schedule=args.lr_schedule,
        batch_size=args.batch_size,
        val_frames=50,
        progress=False,
    )
    tick = time.perf_counter()
    model.fit(train, run_dir=args.out / molecule)
    wall = time.perf_counter() - tick
    metrics = model.evaluate(test)
    model.save(args.out / molecule / "model", {"test": metrics})
    return emit(
        section="rmd17",
        dataset=f"rmd17_{molecule}",
        split="01",
        model=args.model,
        n_train=len(train) - 50,
        n_val=50,
        n_test=len(test),
        time_limit_min=minutes,
        lr_schedule=args.lr_schedule,
        batch_size=args.batch_size,
        train_wall_s=round(wall, 1),
        epochs=len(model.history_.records),
        best_epoch=model.history_.best_epoch,
        compilations=model.history_.compilations,
        **rounded(metrics),
    )


def trained(molecule: str, args):
    """The rMD17 model of ``molecule`` from ``--out``, trained now if missing."""
    import molmat

    folder = args.out / molecule / "model"
    if not folder.exists():
        minutes = getattr(args, f"{molecule}_minutes")
        train_rmd17(molecule, minutes, args)
    return molmat.load(folder)


def botnet(args) -> list[dict]:
    from molmat.data.structures import read_structures
    from molmat.tasks.potential import PotentialModel

    sets = {
        "3bpa": ("iso_atoms", "train_300K", ["train_mixedT"]),
        "acac": ("isolated_atoms", "train_300K", ["test_MD_300K", "test_MD_600K"]),
    }
    results = []
    for name, (isolated, train_name, tests) in sets.items():

        def read(stem, folder=name):
            path = args.data_dir / folder / f"{stem}.extxyz.gz"
            return read_structures(path).frames

        train = read(isolated) + read(train_name)
        model = PotentialModel(
            model=args.model, time_limit=args.botnet_minutes, progress=False
        )
        tick = time.perf_counter()
        model.fit(train, run_dir=args.out / name)
        wall = time.perf_counter() - tick
        seen = {geometry_key(f) for f in train}
        for test_name in tests:
            test = read(test_name)
            unseen = [f for f in test if geometry_key(f) not in seen]
            results.append(
                emit(
                    section="botnet",
                    dataset=f"{name}/{test_name}",
                    trained_on=train_name,
                    model=args.model,
                    e0s=model.e0_method_,
                    train_wall_s=round(wall, 1),
                    n_test=len(unseen),
                    n_dropped_in_training_set=len(test) - len(unseen),
                    **rounded(model.evaluate(unseen)),
                )
            )
    return results


def geometry_key(frame) -> bytes:
    """Elements and positions (to 1e-5 Å): identifies a structure in two sets."""
    return frame.numbers.tobytes() + np.round(frame.positions, 5).tobytes()


# -- molecular dynamics -------------------------------------------------------------


def nve_drift(args) -> dict:
    """10 ps NVE with the ethanol model: max |E_tot - E_tot(0)| per atom."""
    import pandas as pd

    from molmat.simulate import run_md

    pot = trained("ethanol", args)
    _, test = rmd17_frames("ethanol", args)
    atoms = as_atoms(test[0])
    steps = int(args.nve_ps * 1000 / 0.5)
    log = args.out / "nve_ethanol.csv"
    tick = time.perf_counter()
    result = run_md(
        pot.potential_,
        atoms,
        "nve",
        temperature=300,
        timestep_fs=0.5,
        steps=steps,
        log_every=100,
        traj_every=0,
        log=log,
        progress=False,
    )
    wall = time.perf_counter() - tick
    rows = pd.read_csv(log)
    e_tot = rows["E_tot"].to_numpy()
    slope = np.polyfit(rows["time_ps"], e_tot, 1)[0]
    return emit(
        section="nve",
        system="ethanol (rMD17 model)",
        steps=steps,
        timestep_fs=0.5,
        simulated_ps=args.nve_ps,
        max_energy_deviation_meV_per_atom=round(
            MEV * np.max(np.abs(e_tot - e_tot[0])) / len(atoms), 4
        ),
        linear_drift_meV_per_atom_per_ps=round(MEV * slope / len(atoms), 5),
        mean_temperature_K=round(float(rows["T"].mean()), 1),
        wall_s=round(wall, 1),
        ns_per_day=round(result.ns_per_day, 2),
    )


def as_atoms(frame):
    from ase import Atoms

    return Atoms(
        numbers=frame.numbers, positions=frame.positions, cell=frame.cell, pbc=frame.pbc
    )


def copper_model(args):
    """A potential fitted briefly to EMT energies, forces and stress of Cu cells."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    import molmat
    from molmat.data.structures import labelled_frame
    from molmat.tasks.potential import PotentialModel

    folder = args.out / "copper" / "model"
    if folder.exists():
        return molmat.load(folder)
    rng = np.random.default_rng(0)
    frames = []
    for i in range(60):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
        strain = np.eye(3) + rng.normal(0, 0.02, (3, 3))
        atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0, 0.05 + 0.1 * (i % 3), atoms.positions.shape)
        atoms.calc = EMT()
        atoms.get_forces(), atoms.get_stress()  # fills the calculator's results
        frames.append(labelled_frame(atoms, index=i))
    model = PotentialModel(
        model=args.model, time_limit=args.copper_minutes, val_frames=10, progress=False
    )
    model.fit(frames, run_dir=args.out / "copper")
    model.save(folder)
    return model


def md_speed(name: str, pot, atoms, args) -> dict:
    """Steps/s of the JAX engine and of ASE's VelocityVerlet over the calculator."""
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    from molmat.simulate import run_md

    dt = 0.5
    result = run_md(
        pot.potential_,
        atoms.copy(),
        "nve",
        temperature=300,
        timestep_fs=dt,
        steps=args.md_steps,
        log_every=max(args.md_steps // 10, 1),
        traj_every=0,
        progress=False,
    )
    jax_steps_s = result.ns_per_day * 1e6 / dt / 86400
    driven = atoms.copy()
    MaxwellBoltzmannDistribution(
        driven, temperature_K=300, rng=np.random.default_rng(0)
    )
    driven.calc = pot.calculator()
    dyn = VelocityVerlet(driven, timestep=dt * units.fs)
    dyn.run(5)  # compile
    # Steady state: the median step, as the calculator compiles again whenever
    # the edge count crosses onto a new padding size (reported separately).
    ticks = [time.perf_counter()]
    dyn.attach(lambda: ticks.append(time.perf_counter()))
    compiles = driven.calc.n_compiles
    dyn.run(args.ase_steps)
    ase_steps_s = 1.0 / statistics.median(np.diff(ticks))
    ase_mean_steps_s = (len(ticks) - 1) / (ticks[-1] - ticks[0])
    return emit(
        section="md",
        system=name,
        n_atoms=len(atoms),
        periodic=bool(atoms.pbc.any()),
        model=pot.model,
        dtype="float32",
        jax_steps_per_s=round(jax_steps_s, 1),
        jax_ns_per_day=round(result.ns_per_day, 3),
        jax_neighbor_rebuilds=result.neighbor_builds,
        ase_steps_per_s=round(ase_steps_s, 2),
        ase_mean_steps_per_s=round(ase_mean_steps_s, 2),
        ase_compilations_while_timed=driven.calc.n_compiles - compiles,
        ase_ns_per_day=round(ase_steps_s * dt * 86400 / 1e6, 3),
        jax_over_ase=round(jax_steps_s / ase_steps_s, 2),
    )


def md(args) -> list[dict]:
    from ase.build import bulk

    _, test = rmd17_frames("aspirin", args)
    aspirin = md_speed("aspirin", trained("aspirin", args), as_atoms(test[0]), args)
    copper = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(4)
    cu = md_speed("fcc Cu 4x4x4 (periodic)", copper_model(args), copper, args)
    return [aspirin, cu]


# -- speed against DFT --------------------------------------------------------------


def dft(args) -> dict:
    """PySCF PBE/def2-SVP energy+gradient vs our energy+forces on one aspirin frame."""
    from ase import units
    from pyscf import dft as pyscf_dft
    from pyscf import gto, lib

    pot = trained("aspirin", args)
    _, test = rmd17_frames("aspirin", args)
    frame = test[0]
    atoms = as_atoms(frame)
    calc = pot.calculator()
    times = []
    for i in range(args.repeats + 3):
        moved = atoms.copy()
        moved.positions[0, 0] += 1e-6 * i  # a new structure each call, no cache
        moved.calc = calc
        tick = time.perf_counter()
        moved.get_potential_energy(), moved.get_forces()
        times.append(time.perf_counter() - tick)
    ours_s = statistics.median(times[3:])  # the first calls compile
    atoms.calc = calc
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()

    lib.num_threads(os.cpu_count())
    mol = gto.M(
        atom=[(int(z), p) for z, p in zip(frame.numbers, frame.positions, strict=True)],
        basis="def2-svp",
        unit="Angstrom",
        verbose=0,
    )
    tick = time.perf_counter()
    mf = pyscf_dft.RKS(mol, xc="pbe")
    e_dft = mf.kernel() * units.Hartree
    grad = mf.nuc_grad_method().kernel()
    dft_s = time.perf_counter() - tick
    f_dft = -grad * units.Hartree / units.Bohr
    return emit(
        section="dft",
        system="aspirin (rMD17 test frame 0)",
        dft="PySCF PBE/def2-SVP energy+gradient",
        dft_s=round(dft_s, 2),
        model=pot.model,
        ours_energy_forces_ms=round(1000 * ours_s, 3),
        speedup=round(dft_s / ours_s, 0),
        energy_error_vs_pyscf_meV=round(MEV * (energy - e_dft), 2),
        energy_error_vs_rmd17_meV=round(MEV * (energy - frame.energy), 2),
        pyscf_vs_rmd17_meV=round(MEV * (e_dft - frame.energy), 2),
        forces_mae_vs_pyscf_meV_per_A=round(MEV * np.mean(np.abs(forces - f_dft)), 2),
        forces_mae_vs_rmd17_meV_per_A=round(
            MEV * np.mean(np.abs(forces - frame.forces)), 2
        ),
    )


# -- QM9 --------------------------------------------------------------------------


def qm9(args) -> list[dict]:
    from molmat.tasks.qm9 import train_qm9_run

    result = train_qm9_run(
        args.out / "qm9",
        target="U0",
        model=args.model,
        train_sizes=args.qm9_sizes,
        epochs=1_000_000,  # the time limit ends training
        time_limit=args.qm9_minutes,
        lr_schedule=args.lr_schedule,
        progress=False,
    )
    return [
        emit(
            section="qm9",
            dataset="QM9 U0",
            model=args.model,
            n_train=r["n_train"],
            n_test=r["n_test"],
            test_energy_mae_meV=round(r["test"]["energy_mae_meV"], 2),
            test_energy_rmse_meV=round(r["test"]["energy_rmse_meV"], 2),
            lr_schedule=args.lr_schedule,
            train_wall_s=round(r["train_seconds"], 1),
            epochs=r["epochs_run"],
        )
        for r in result["runs"]
    ]


SECTIONS = {
    "rmd17": lambda a: [
        train_rmd17(molecule, getattr(a, f"{molecule}_minutes"), a)
        for molecule in a.rmd17_molecules.split(",")
    ],
    "nve": nve_drift,
    "md": md,
    "dft": dft,
    "qm9": qm9,
    "botnet": botnet,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, from {', '.join(SECTIONS)}",
    )
    parser.add_argument("--model", default="painn", choices=sorted(POTENTIALS))
    parser.add_argument("--out", type=Path, default=Path("runs/bench-potentials"))
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=SHARED,
        help="folder with rmd17/, 3bpa/ and acac/ (the shared potentials data)",
    )
    parser.add_argument(
        "--rmd17-molecules",
        default=",".join(RMD17_MOLECULES),
        help="comma-separated rMD17 molecules of the rmd17 section",
    )
    parser.add_argument("--ethanol-minutes", type=float, default=45.0)
    parser.add_argument(
        "--lr-schedule",
        default="cosine",
        choices=LR_SCHEDULES,
        help="learning-rate schedule of the rMD17 and QM9 runs (cosine: over the "
        "time limit)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, help="structures per rMD17 batch"
    )
    parser.add_argument("--aspirin-minutes", type=float, default=60.0)
    parser.add_argument("--copper-minutes", type=float, default=3.0)
    parser.add_argument("--botnet-minutes", type=float, default=15.0)
    parser.add_argument("--qm9-minutes", type=float, default=20.0)
    parser.add_argument(
        "--qm9-sizes",
        type=lambda t: [int(s) for s in t.split(",")],
        default=[1000, 5000, 10000],
    )
    parser.add_argument("--nve-ps", type=float, default=10.0)
    parser.add_argument("--md-steps", type=int, default=2000, help="JAX engine steps")
    parser.add_argument("--ase-steps", type=int, default=100, help="ASE-driven steps")
    parser.add_argument("--repeats", type=int, default=20, help="energy+force calls")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.sections.split(","):
        if name not in SECTIONS:
            parser.error(f"unknown section {name!r}; choose from {list(SECTIONS)}")
    reading = sorted(set(args.sections.split(",")) & set(NEEDS_DATA))
    if reading and not args.data_dir.is_dir():
        parser.error(
            f"{args.data_dir}: no such folder; sections {reading} read rMD17, 3BPA "
            "and acetylacetone from it (give --data-dir)"
        )
    for molecule in args.rmd17_molecules.split(","):
        if molecule not in RMD17_MOLECULES:
            parser.error(f"unknown rMD17 molecule {molecule!r}; use {RMD17_MOLECULES}")
    for name in args.sections.split(","):
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
