"""MkDocs hook: the command-line reference, generated from molmat's argparse parser.

A page line ``<!-- molmat-cli -->`` is replaced by one section per command
(usage, description, and a table of options per argument group), walking
:func:`molmat.cli.main.build_parser`. Run alone (``python docs/gen_cli.py``)
it prints the reference.
"""

from __future__ import annotations

import argparse
import os

from molmat.cli.main import build_parser

MARKER = "<!-- molmat-cli -->"
WIDTH = "88"  # usage lines are wrapped as in an 88-column terminal


def escape(text: str) -> str:
    """Help text made safe inside a Markdown table cell."""
    for char, repl in (("\\", "\\\\"), ("|", "\\|"), ("*", "\\*"), ("<", "&lt;")):
        text = text.replace(char, repl)
    return " ".join(text.split())


def option_name(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    names = ", ".join(action.option_strings)
    if action.nargs != 0:
        metavar = action.metavar or (
            "{" + ",".join(map(str, action.choices)) + "}"
            if action.choices
            else action.dest.upper()
        )
        names += f" {metavar}"
    return f"`{names}`"


def option_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = escape(parser._get_formatter()._expand_help(action) if action.help else "")
    if action.choices and action.metavar and action.nargs != 0:
        text += " (one of: " + ", ".join(f"`{c}`" for c in action.choices) + ")"
    return "**required**; " + text if action.required else text


def subcommands(parser: argparse.ArgumentParser):
    """``(name, help, parser)`` of each sub-command of ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def command_section(name: str, help_text: str, parser, depth: int) -> list[str]:
    lines = [f"{'#' * depth} `{name}`", ""]
    if help_text:
        lines += [help_text[0].upper() + help_text[1:] + ".", ""]
    lines += ["```text", parser.format_usage().strip(), "```", ""]
    if parser.description:
        lines += [escape(parser.description), ""]
    for group in parser._action_groups:
        actions = [
            a
            for a in group._group_actions
            if a.help != argparse.SUPPRESS
            and not isinstance(a, argparse._SubParsersAction)
        ]
        if not actions:
            continue
        lines += [f"**{group.title}**", "", "| option | meaning |", "| --- | --- |"]
        lines += [f"| {option_name(a)} | {option_help(parser, a)} |" for a in actions]
        lines.append("")
    for sub_name, sub_help, sub in subcommands(parser):
        lines += command_section(f"{name} {sub_name}", sub_help, sub, depth + 1)
    return lines


def cli_reference() -> str:
    """Markdown for ``molmat`` and every command, in the order of ``--help``."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return "\n".join(command_section("molmat", "", build_parser(), 2)).strip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def on_page_markdown(markdown: str, page, config, files) -> str:
    return markdown.replace(MARKER, cli_reference()) if MARKER in markdown else markdown


if __name__ == "__main__":
    print(cli_reference())
