"""Whole-run YAML config files: ``--config run.yaml`` of ``molmat train`` and
``molmat potential train``.

A config file maps a command's long option names (``batch-size`` or
``batch_size``) to values; explicit command-line flags override it. Flags
without a value (``--mmff``) take ``true``/``false``; options that take
several values (``--target``) take a list; comma-separated options
(``--model``, ``--seeds``) take a string or a list. Every finished run folder
gets the options it ran with as ``config.yaml``, which ``--config`` reads back.

Example ``run.yaml``::

    data: esol
    target: [logS]
    split: scaffold
    epochs: 100
    batch-size: 32
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

CONFIG_FILE = "config.yaml"
# Options that say how to run, not what: never read from nor written to a file.
NOT_SETTINGS = ("help", "config", "verbose", "quiet", "resume", "version")


class ExtendAction(argparse.Action):
    """``--opt a b --opt c`` gives ``[a, b, c]``; the first use replaces the
    default (e.g. a config file's list) instead of extending it."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        kept = [] if current is None or current is self.default else current
        setattr(namespace, self.dest, [*kept, *values])


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """The ``--config FILE`` option, read by :func:`parse_args`."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML file of options by long name (e.g. `batch-size: 32`, "
        "`target: [a, b]`); flags given on the command line win. A run folder's "
        f"{CONFIG_FILE} reproduces that run",
    )


def parse_args(parser: argparse.ArgumentParser, argv: list[str]):
    """``parser.parse_args(argv)``, with the defaults of the chosen command
    taken from its ``--config`` file when one is given.

    Errors in the file (unknown option, bad value) end like argparse's own:
    a usage line and a message naming the file and the key.
    """
    command = chosen_parser(parser, argv)
    if any(a.dest == "config" for a in command._actions):
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--config")
        path = pre.parse_known_args(argv)[0].config
        if path:
            apply_config(command, path)
    return parser.parse_args(argv)


def chosen_parser(
    parser: argparse.ArgumentParser, argv: list[str]
) -> argparse.ArgumentParser:
    """The (sub)parser of the command named in ``argv``, e.g. ``potential train``."""
    for arg in argv:
        sub = next(
            (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
            None,
        )
        if sub is None or arg not in sub.choices:
            if arg.startswith("-") or sub is None:
                break
            continue
        parser = sub.choices[arg]
    return parser


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The settings of ``parser`` by long option name with underscores."""
    found = {}
    for action in parser._actions:
        if action.dest in NOT_SETTINGS or isinstance(
            action, argparse._SubParsersAction
        ):
            continue
        longs = [s for s in action.option_strings if s.startswith("--")]
        if longs:
            found[longs[0][2:].replace("-", "_")] = action
    return found


def read_config(path: str | Path, parser: argparse.ArgumentParser) -> dict:
    """``{dest: value}`` of a config file, converted and checked as the
    command line would be.

    Raises:
        ValueError: unreadable YAML, not a mapping, an unknown option or a
            bad value; the message names the file and the key.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"config file {path}: cannot read YAML ({err})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {path}: needs `option: value` lines")
    known = options(parser)
    values = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise ValueError(
                f"config file {path}: unknown option {key!r}; options of "
                f"`{parser.prog}`: {', '.join(sorted(known))}"
            )
        action = known[name]
        try:
            values[action.dest] = _value(parser, action, value)
        except (argparse.ArgumentError, TypeError, ValueError) as err:
            reason = getattr(err, "message", err)  # ArgumentError: no flag name
            raise ValueError(f"config file {path}: {key}: {reason}") from err
    return values


def _value(parser, action: argparse.Action, value):
    """``value`` of a YAML file as argparse turns the same text into one."""
    if action.nargs == 0:  # a flag: --mmff, --no-progress
        if not isinstance(value, bool):
            raise TypeError(f"takes true or false, not {value!r}")
        return action.const if value else action.default
    if value is None:
        return None
    many = action.nargs in ("+", "*")
    if isinstance(value, list):
        texts = [str(v) for v in value] if many else [",".join(map(str, value))]
    else:
        texts = [str(value)]
    return parser._get_values(action, texts)


def apply_config(parser: argparse.ArgumentParser, path: str | Path) -> None:
    """Make the options of a config file ``parser``'s defaults (flags given
    on the command line still win; options the file gives are no longer
    required)."""
    try:
        values = read_config(path, parser)
    except ValueError as err:
        parser.error(str(err))
    parser.set_defaults(**values)
    for action in parser._actions:
        if action.dest in values:
            action.required = False


def resolved_config(parser: argparse.ArgumentParser, args) -> dict:
    """The options a run used, by long option name, as a config file holds them.

    Options left unset (None) are left out, so each model keeps its own
    default when the file is read back.
    """
    config = {}
    for name, action in options(parser).items():
        value = getattr(args, action.dest, None)
        if action.nargs == 0:
            value = value == action.const
        elif value is None:
            continue
        elif isinstance(value, (list, tuple)) and action.nargs not in ("+", "*"):
            value = ",".join(map(str, value))
        elif isinstance(value, Path):
            value = str(value)
        config[name.replace("_", "-")] = value
    return config


def write_config(parser: argparse.ArgumentParser, args, folder: str | Path) -> Path:
    """Write ``folder/config.yaml``: the options of this run (see
    :func:`resolved_config`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_FILE
    text = yaml.safe_dump(resolved_config(parser, args), sort_keys=False)
    path.write_text(text)
    return path
