"""The ``molmat`` command: parses arguments and calls :mod:`molmat.tasks`."""

from __future__ import annotations

import argparse
import logging
import sys

from molmat._version import __version__
from molmat.cli import (
    assess,
    cache,
    compare,
    datasets,
    evaluate,
    featurize,
    map,
    md,
    potential,
    predict,
    train,
)
from molmat.cli.output import setup_logging

COMMANDS = (
    train,
    compare,
    predict,
    evaluate,
    assess,
    featurize,
    map,
    md,
    potential,
    datasets,
    cache,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="molmat",
        description="Deep learning on molecules and materials: property models "
        "from SMILES, interatomic potentials from DFT frames, molecular dynamics "
        "and feature tables.",
    )
    parser.add_argument("--version", action="version", version=f"molmat {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = command.add_parser(sub)
        p.add_argument(
            "-v", "--verbose", action="count", default=0, help="more log output"
        )
        p.add_argument(
            "-q", "--quiet", action="store_true", help="only warnings and errors"
        )
        p.set_defaults(handler=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(-1 if args.quiet else args.verbose)
    try:
        return args.handler(args) or 0
    except KeyboardInterrupt:
        resume = "; a training run continues with --resume"
        print(f"interrupted{resume if 'resume' in args else ''}", file=sys.stderr)
        return 130
    except Exception as err:  # every failure becomes one clear line, not a traceback
        if logging.getLogger("molmat").isEnabledFor(logging.DEBUG):
            raise
        print(f"molmat {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
