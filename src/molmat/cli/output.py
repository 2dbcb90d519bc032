"""Console output helpers: logging set-up and plain-text tables."""

from __future__ import annotations

import argparse
import logging
import math

from molmat.data.console import ProgressLogHandler


def setup_logging(verbosity: int) -> None:
    """INFO by default, DEBUG with -v, WARNING with -q.

    Lines go to stderr through ``tqdm.write``: a progress bar that is running
    stays in one piece below them.
    """
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = ProgressLogHandler()
    handler.setFormatter(logging.Formatter("%(levelname).1s %(message)s"))
    logger = logging.getLogger("molmat")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def add_no_cache(parser, more: str = "") -> None:
    """``--no-cache`` (``args.use_cache``) on a parser or argument group."""
    parser.add_argument(
        "--no-cache",
        dest="use_cache",
        action="store_false",
        help="do not read or write the feature cache and conformer store in "
        f"$MOLMAT_CACHE_DIR (default ~/.cache/molmat){more}",
    )


def fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    if isinstance(value, tuple) and len(value) == 2:
        return f"{fmt(value[0])} ± {fmt(value[1])}"
    return str(value)


def table(headers: list[str], rows: list[list]) -> str:
    """A left-aligned text table with a rule under the header."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)
    ]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells
    ]
    return "\n".join(row.rstrip() for row in [line, rule, *body])


def metrics_table(metrics: dict) -> str:
    """Rows per target (and the mean when there are several) of a score() dict."""
    per_target = metrics["per_target"]
    names = [k for k, v in metrics.items() if isinstance(v, float)]
    rows = [[t, *(per_target[t][m] for m in names)] for t in per_target]
    if len(per_target) > 1:
        rows.append(["mean", *(metrics[m] for m in names)])
    return table(["target", *names], rows)


def comparison_table(summary: dict) -> str:
    """One row per model of a :func:`~molmat.tasks.compare.compare_models` summary.

    A model with several runs shows mean ± std; with one run, its value alone.
    """
    metrics = summary["metrics"]
    rows = [
        [
            r["model"],
            r["runs"],
            *(_estimate(r[k], r["runs"]) for k in (*metrics, "fit_seconds")),
        ]
        for r in summary["rows"]
    ]
    seeds = ",".join(map(str, summary["seeds"]))
    if all(r["runs"] == 1 for r in summary["rows"]):
        title = f"test metrics, seed {seeds}"
    elif len(summary["seeds"]) > 1:
        title = f"test metrics, mean ± std over seeds {seeds}"
    else:
        title = f"test metrics, mean ± std over the folds of seed {seeds}"
    return title + "\n" + table(["model", "runs", *metrics, "fit s"], rows)


def _estimate(mean_std: tuple[float, float], runs: int):
    """``(mean, std)`` over several runs; the mean alone for one run."""
    return tuple(mean_std) if runs > 1 else mean_std[0]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except for on/off flags and options without one."""

    def _get_help_string(self, action):
        if action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def verbosity_options(p) -> None:
    """-v/-q after a subcommand's action too (SUPPRESS keeps values given before it)."""
    p.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log"
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="only warnings and errors",
    )
