"""Run folders of every training command: fresh starts and resumes.

A fresh run in the folder of an earlier run (one holding
``data_report.json``) first removes that run's outputs, so a run killed
part-way never leaves an old model beside a new split; a folder that is not
a run folder keeps whatever else it holds. A resumed run
writes nothing before its inputs are known to match: the files that define
the run (split, data report) must equal the interrupted run's, and the
checkpoint must have been made with the same settings
(:class:`~molmat.training.engine.ResumeError` otherwise).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from molmat.training.engine import CHECKPOINT, ResumeError
from molmat.training.serialization import atomic_write_bytes

log = logging.getLogger("molmat")

RUN_OUTPUTS = (
    "model",
    "checkpoint",
    "fold_*",
    "metrics.json",
    "metrics.jsonl",
    "split.json",
    "data_report.json",
    "config.yaml",
    "*_predictions.csv",
    "*.png",
)


def start_run(out: Path, resume: bool) -> bool:
    """Prepare ``out`` for a run; returns whether it resumes.

    ``resume`` without any checkpoint under ``out`` starts afresh (with a
    warning).
    """
    out.mkdir(parents=True, exist_ok=True)
    if resume:
        # one per run, ensemble member, target (MLP) or fold, at any depth
        if any(out.glob(f"**/{CHECKPOINT}")):
            return True
        log.warning("no checkpoint in %s; starting from scratch", out)
    if not (out / "data_report.json").exists():  # not an earlier run's folder
        return False
    for pattern in RUN_OUTPUTS:
        for path in out.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    return False


def write_run_file(path: Path, text: str, resume: bool) -> None:
    """Write a file that defines the run; a resume refuses a different one."""
    if resume and path.exists():
        if path.read_text() != text:
            raise ResumeError(
                f"{path} differs from what this run would write: resume with the "
                "same data, split, seed and settings as the interrupted run"
            )
        return
    atomic_write_bytes(path, text.encode())
