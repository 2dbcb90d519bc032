"""``molmat md``: molecular dynamics with a trained potential."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, table
from molmat.simulate.md import ENSEMBLES, MAX_DRIFT


def add_parser(sub):
    p = sub.add_parser(
        "md",
        formatter_class=HelpFormatter,
        description="Run MD with the JAX engine (blocks of steps compiled into one "
        "scan): nve (velocity Verlet), nvt (Langevin) or npt (Berendsen, periodic "
        "cells). Writes an extxyz trajectory (positions, momenta, energy, forces, "
        "stress, cell) and a CSV log of energies, temperature and pressure. "
        "Settings and the start structure are checked first (atoms closer than "
        "0.5 Å are refused). A step with a NaN or infinity stops the run with "
        "exit code 2, naming the step; nothing from it is written. So does an "
        "unstable run (see --max-temperature, --max-drift, --allow-unstable). "
        "Units: Å, eV, fs, K, GPa.",
    )
    p.add_argument("--model", required=True, help="potential run folder or archive")
    p.add_argument(
        "--structure",
        required=True,
        help="start structure in any format ASE reads (extxyz, CIF, POSCAR, ...)",
    )
    p.add_argument(
        "--frame",
        type=int,
        default=-1,
        help="frame of --structure to start from; negative counts from the end",
    )
    p.add_argument("--ensemble", choices=ENSEMBLES, default="nve", help="ensemble")
    p.add_argument(
        "--temperature",
        type=float,
        default=300.0,
        help="K: initial Maxwell-Boltzmann velocities and thermostat target",
    )
    p.add_argument("--timestep", type=float, default=0.5, help="time step in fs")
    p.add_argument("--steps", type=int, default=20000, help="number of steps")
    p.add_argument(
        "--friction", type=float, default=0.01, help="Langevin friction in 1/fs (nvt)"
    )
    p.add_argument(
        "--pressure", type=float, default=0.0, help="target pressure in GPa (npt)"
    )
    p.add_argument(
        "--compressibility",
        type=float,
        default=0.01,
        help="isothermal compressibility in 1/GPa (npt; ~1/bulk modulus)",
    )
    p.add_argument(
        "--taut", type=float, default=100.0, help="thermostat time in fs (npt)"
    )
    p.add_argument(
        "--taup", type=float, default=1000.0, help="barostat time in fs (npt)"
    )
    p.add_argument("--log-every", type=int, default=100, help="steps between log rows")
    p.add_argument(
        "--traj-every",
        type=int,
        default=100,
        help="steps between trajectory frames (0: none)",
    )
    p.add_argument(
        "--keep-velocities",
        action="store_true",
        help="start from the momenta stored in --structure instead of drawing them",
    )
    p.add_argument("--skin", type=float, default=0.5, help="neighbour-list buffer in Å")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of velocities and Langevin noise"
    )
    p.add_argument(
        "--float64", action="store_true", help="integrate in double precision"
    )
    p.add_argument(
        "--max-temperature",
        type=float,
        help="K; a hotter step makes the run unstable (default: 10 x the larger "
        "of --temperature and the start temperature, at least 1000 K)",
    )
    p.add_argument(
        "--max-drift",
        type=float,
        default=MAX_DRIFT,
        help="eV/atom; an NVE run whose total energy per atom moves this far "
        "from its step-0 value is unstable",
    )
    p.add_argument(
        "--allow-unstable",
        action="store_true",
        help="warn and go on when the run becomes unstable, instead of stopping "
        "with exit code 2; a NaN or infinity always stops the run",
    )
    p.add_argument("--out", required=True, help="output extxyz trajectory")
    p.add_argument("--log", help="CSV log (default: --out with suffix .csv)")
    return p


def run(args) -> int:
    import ase.io

    import molmat
    from molmat.simulate import run_md

    model = molmat.load(args.model)
    if not hasattr(model, "potential_"):
        raise ValueError(
            f"{args.model} holds a {type(model).__name__}, not a potential"
        )
    atoms = ase.io.read(args.structure, index=args.frame)
    result = run_md(
        model.potential_,
        atoms,
        ensemble=args.ensemble,
        temperature=args.temperature,
        timestep_fs=args.timestep,
        steps=args.steps,
        log_every=args.log_every,
        traj_every=args.traj_every,
        out=args.out,
        log=args.log,
        friction=args.friction,
        pressure=args.pressure,
        compressibility=args.compressibility,
        taut_fs=args.taut,
        taup_fs=args.taup,
        seed=args.seed,
        keep_velocities=args.keep_velocities,
        skin=args.skin,
        float64=args.float64,
        progress=not args.quiet,
        max_temperature=args.max_temperature,
        max_drift=args.max_drift,
        allow_unstable=args.allow_unstable,
    )
    final = result.atoms
    rows = [
        ["atoms", len(final)],
        ["steps", result.steps],
        ["simulated ps", result.steps * args.timestep / 1000],
        ["final temperature (K)", float(final.get_temperature())],
        ["final total energy (eV)", float(final.get_total_energy())],
        ["speed (ns/day)", result.ns_per_day],
        ["neighbour-list builds", result.neighbor_builds],
        ["reallocations", result.reallocations],
        ["unstable from step", result.unstable_step],
        ["log", str(result.log)],
        ["trajectory", str(result.trajectory)],
    ]
    print(table(["md", "value"], rows))
    return 0
