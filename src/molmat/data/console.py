"""What molmat shows while it works: progress bars, log lines, warnings.

- :func:`progress_bar`: every progress bar of molmat, shown or hidden by an
  explicit flag (tqdm's ``disable=None`` would hide it whenever the output is
  not a terminal, Jupyter included).
- :class:`ProgressLogHandler`: a logging handler that prints through
  ``tqdm.write``, so log lines appear above an active progress bar instead of
  breaking it; the command line's logging set-up uses it.
- :func:`reported_warnings`: turns the scikit-learn ``ConvergenceWarning``
  and numpy ``RuntimeWarning`` raised inside molmat's own fitting and
  featurising code into one log line each, saying what they mean; it changes
  the warning filters only while its block runs.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

log = logging.getLogger("molmat")

# What a caught warning means, by category name (scikit-learn is not imported here).
MEANINGS = {
    "ConvergenceWarning": "the fit did not converge cleanly (an optimiser ran out "
    "of iterations or a hyperparameter reached its bound); the model may be less "
    "accurate than it could be",
    "RuntimeWarning": "a numerical operation gave inf or NaN (an overflow, a "
    "division by zero or an empty column); the numbers computed from it may be "
    "missing or unreliable",
}
_reported: set[tuple[str, str, str]] = set()


def progress_bar(
    iterable: Iterable | None = None, desc: str = "", enabled: bool = True, **kwargs
) -> tqdm:
    """A tqdm bar over ``iterable`` (or a manual one), shown iff ``enabled``.

    ``kwargs`` go to tqdm (``total``, ``unit``, ``initial``...); ``disable``
    is not among them: ``enabled`` decides, on a terminal, in a log file and
    in a notebook alike.
    """
    return tqdm(iterable, desc=desc, disable=not enabled, **kwargs)


class ProgressLogHandler(logging.StreamHandler):
    """A stream handler that writes through ``tqdm.write``.

    Active progress bars are cleared, the record printed and the bars
    redrawn below it, so a log line never lands in the middle of a bar.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
            self.flush()
        except Exception:  # logging's contract: report, never raise
            self.handleError(record)


@contextmanager
def reported_warnings(context: str, meaning: str | None = None) -> Iterator[None]:
    """Log the convergence and numerical warnings raised inside the block.

    Usable as ``with reported_warnings("gp fit"):`` or as a decorator. Each
    distinct scikit-learn ``ConvergenceWarning`` or numpy ``RuntimeWarning``
    becomes one warning of the ``molmat`` logger, naming ``context`` and what
    the warning means (``meaning``, or a general explanation of its kind),
    once per process: repeated refits say it once. Other warnings are passed
    on unchanged to the user's filters.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        _report(caught, context, meaning)


def _report(caught: list, context: str, meaning: str | None) -> None:
    for w in caught:
        kind = w.category.__name__
        if kind not in MEANINGS and not issubclass(w.category, RuntimeWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        key = (context, kind, str(w.message))
        if key in _reported:
            continue
        _reported.add(key)
        text = " ".join(str(w.message).split())  # scikit-learn's span several lines
        explained = meaning or MEANINGS.get(kind, MEANINGS["RuntimeWarning"])
        log.warning("%s: %s (%s: %s)", context, text, kind, explained)
