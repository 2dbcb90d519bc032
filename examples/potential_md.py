"""Train a PaiNN potential on ethanol frames, then run a short MD simulation with it.

python examples/potential_md.py             # the 10 frames in tests/data
python examples/potential_md.py --quick     # tiny network, 5 epochs, 50 steps
python examples/potential_md.py --data rmd17_ethanol.npz   # full rMD17 file
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ase import Atoms

import molmat
from molmat.data.structures import read_structures
from molmat.simulate import run_md
from molmat.tasks.potential import PotentialModel

REPO = Path(__file__).resolve().parent.parent
FRAMES = REPO / "tests" / "data" / "rmd17_ethanol_10.npz"


def main(argv: list[str] | None = None) -> dict:
    """Run the example; returns the training metrics and the MD result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings that run in seconds"
    )
    parser.add_argument(
        "--data", type=Path, default=FRAMES, help="rMD17 .npz file of ethanol frames"
    )
    parser.add_argument(
        "--out", help="folder for the model and trajectory (default: a temporary one)"
    )
    args = parser.parse_args(argv)

    frames = read_structures(args.data, format="rmd17").frames  # eV, Å
    if args.quick:
        settings = dict(channels=8, layers=1, epochs=5, val_frames=0)
    else:
        settings = dict(epochs=200, val_frames=2)
    model = PotentialModel(model="painn", batch_size=2, progress=False, **settings)
    model.fit(frames)
    metrics = model.evaluate(frames)
    print(
        f"training frames: energy MAE {metrics['energy_mae_meV']:.1f} meV, "
        f"force MAE {metrics['forces_mae_meV_per_A']:.1f} meV/Å"
    )

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        model.save(out / "ethanol-painn")
        potential = molmat.load(out / "ethanol-painn").potential_
        start = Atoms(numbers=frames[0].numbers, positions=frames[0].positions)
        steps = 50 if args.quick else 2000
        result = run_md(
            potential,
            start,
            "nvt",  # Langevin thermostat
            temperature=300.0,  # K
            timestep_fs=0.5,
            steps=steps,
            log_every=25,  # steps between log lines and between trajectory frames
            traj_every=25,
            out=out / "ethanol.extxyz",  # log: ethanol.csv beside it
            progress=False,
            allow_unstable=args.quick,  # a 5-epoch model may heat up
        )
        print(
            f"{result.steps} MD steps ({result.steps * 0.5 / 1000:.3f} ps) at "
            f"{result.ns_per_day:.2f} ns/day; final T = "
            f"{result.atoms.get_temperature():.0f} K"
        )
    return {"metrics": metrics, "md": result}


if __name__ == "__main__":
    main()
