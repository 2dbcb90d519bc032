"""Run the chemprop CLI and time its Lightning ``Trainer.fit`` calls.

Runs under chemprop's own Python (a separate venv: PyTorch never enters
molmat's install), started by ``benchmarks/property.py --chemprop``:

    /path/to/chemprop-venv/bin/python benchmarks/chemprop_reference.py \\
        TIMING.json train --data-path train.csv val.csv test.csv ...

Everything after ``TIMING.json`` is passed to ``chemprop`` unchanged. The JSON
file receives chemprop's and torch's versions, the seconds from the start of
this script until chemprop's main returns, and for each ``Trainer.fit`` its
seconds (sanity check, training and per-epoch validation; no imports, no
featurisation) and the epochs it ran. This file imports nothing from molmat.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    start = time.perf_counter()
    timing_path, *chemprop_args = sys.argv[1:]

    import chemprop
    import lightning.pytorch as pl
    import torch
    from chemprop.cli.main import main as chemprop_main

    fits: list[dict] = []
    fit = pl.Trainer.fit

    def timed_fit(trainer, *args, **kwargs):
        tick = time.perf_counter()
        try:
            return fit(trainer, *args, **kwargs)
        finally:
            fits.append(
                {
                    "seconds": time.perf_counter() - tick,
                    "epochs": int(trainer.current_epoch),
                }
            )

    pl.Trainer.fit = timed_fit
    sys.argv = ["chemprop", *chemprop_args]
    chemprop_main()
    timing = {
        "chemprop_version": chemprop.__version__,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "total_seconds": time.perf_counter() - start,
        "fits": fits,
    }
    with open(timing_path, "w") as f:
        json.dump(timing, f)


if __name__ == "__main__":
    main()
