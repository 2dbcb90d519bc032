"""``molmat datasets``: list the bundled datasets."""

from __future__ import annotations

from molmat.cli.output import table
from molmat.data.datasets import DATASETS


def add_parser(sub):
    return sub.add_parser(
        "datasets",
        help="list bundled datasets",
        description="List the datasets bundled with molmat; pass a name to "
        "--data of train/evaluate/predict to use one.",
    )


def run(args) -> int:
    rows = [
        [d.name, d.size, d.task, ", ".join(d.targets), d.units, d.source, d.licence]
        for d in DATASETS.values()
    ]
    print(table(["name", "size", "task", "target", "units", "source", "licence"], rows))
    return 0
