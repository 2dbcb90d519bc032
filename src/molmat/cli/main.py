"""The ``molmat`` command: parses arguments and calls :mod:`molmat.tasks`.

Only the chosen command's module is imported (``molmat --help`` and light
commands such as ``molmat datasets`` never load JAX).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from functools import partial
from types import SimpleNamespace

from molmat._version import __version__
from molmat.cli.config import parse_args
from molmat.cli.output import setup_logging

# name -> one-line help; each command lives in ``molmat.cli.<name>``
COMMANDS = {
    "train": "train a property model",
    "compare": "compare models on identical splits",
    "predict": "predict properties for a CSV of SMILES",
    "evaluate": "score a model on a labelled CSV",
    "assess": "cross-validate a model with confidence intervals",
    "matbench": "run a Matbench v0.1 task by its official folds",
    "featurize": "write descriptor/fingerprint tables",
    "map": "draw a 2D chemical-space map, optionally with k-means clusters",
    "md": "run molecular dynamics with a trained potential",
    "potential": "train or evaluate an interatomic potential",
    "generate": "train generators, sample and score new molecules",
    "pretrain": "pretrain a graph or sequence encoder on unlabelled data",
    "flow": "normalizing flows over property tables: train, sample, score",
    "crystal": "generate crystal structures: train, generate, evaluate",
    "attention": "draw a sequence transformer's attention for one input",
    "explain": "attribute predictions to atoms or tokens; find counterfactuals",
    "datasets": "list bundled datasets",
    "cache": "show or clear the on-disk caches",
}
DESCRIPTION = (
    "Deep learning on molecules and materials: property models from SMILES, "
    "interatomic potentials from DFT frames, molecular dynamics and feature tables."
)


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the full options of ``commands`` (default: all).

    Commands left out are listed by name and help only, without importing
    their modules.
    """
    chosen = list(COMMANDS) if commands is None else commands
    parser = argparse.ArgumentParser(prog="molmat", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"molmat {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in COMMANDS.items():
        if name not in chosen:
            sub.add_parser(name, help=text)
            continue
        command = importlib.import_module(f"molmat.cli.{name}")
        p = command.add_parser(
            SimpleNamespace(add_parser=partial(sub.add_parser, help=text))
        )
        p.add_argument(
            "-v", "--verbose", action="count", default=0, help="more log output"
        )
        p.add_argument(
            "-q", "--quiet", action="store_true", help="only warnings and errors"
        )
        p.set_defaults(handler=command.run)
    return parser


def _command(argv: list[str]) -> list[str]:
    """The command named in ``argv`` (before any option value), if any."""
    for arg in argv:
        if arg in COMMANDS:
            return [arg]
        if not arg.startswith("-"):
            break
    return []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(build_parser(_command(argv)), argv)
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
