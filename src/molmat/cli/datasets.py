"""``molmat datasets``: list the bundled datasets."""

from __future__ import annotations

from molmat.cli.output import table
from molmat.data.datasets import DATASETS, NOT_BUNDLED


def add_parser(sub):
    return sub.add_parser(
        "datasets",
        description="List the datasets bundled with molmat; pass a name to "
        "--data of train/evaluate/predict to use one.",
    )


def targets_text(targets: tuple[str, ...], shown: int = 3) -> str:
    """Target names, or the first few and a count when there are many."""
    if len(targets) <= shown:
        return ", ".join(targets)
    return f"{len(targets)} tasks: {', '.join(targets[:shown])}, ..."


def run(args) -> int:
    rows = [
        [d.name, d.size, d.task, targets_text(d.targets), d.units, d.licence]
        for d in DATASETS.values()
    ]
    print(table(["name", "size", "task", "targets", "units", "licence"], rows))
    print("\nNot bundled (read from a path):")
    for name, how in NOT_BUNDLED.items():
        print(f"  {name}: {how}")
    return 0
