"""RDKit's own messages, switched off: molmat reports bad molecules itself.

RDKit's log switch is not honoured across threads (conformers are embedded on
several at once), so its messages are also routed to Python's ``"rdkit"``
logger and dropped there. This applies to the whole process, like any RDKit
log setting; ``logging.getLogger("rdkit").setLevel(logging.WARNING)`` brings
them back as Python log records.
"""

from __future__ import annotations

import logging

from rdkit import RDLogger, rdBase


def silence_rdkit() -> None:
    """Switch RDKit's messages off in every thread (idempotent)."""
    RDLogger.DisableLog("rdApp.*")
    rdBase.LogToPythonLogger()
    logging.getLogger("rdkit").setLevel(logging.CRITICAL)
