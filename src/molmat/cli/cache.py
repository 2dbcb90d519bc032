"""``molmat cache``: show or clear the feature cache and the conformer store."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, table
from molmat.tasks.caches import CACHES, cache_use, clear_caches


def add_parser(sub):
    p = sub.add_parser(
        "cache",
        formatter_class=HelpFormatter,
        description="Show what the feature cache (featurised molecule lists) and "
        "the conformer store (one ETKDG conformer or failure per molecule and "
        "embedding settings) hold in $MOLMAT_CACHE_DIR (default ~/.cache/molmat), "
        "or delete them. Both are filled again when needed; deleting them costs "
        "only the time to featurise and embed again.",
    )
    p.add_argument(
        "--clear",
        choices=[*CACHES, "all"],
        help="delete the feature cache, the conformer store or both",
    )
    return p


def megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MB"


def run(args) -> int:
    if args.clear:
        print("\n".join(clear_caches(args.clear)))
    rows = [[c.name, c.contents, megabytes(c.bytes), c.path] for c in cache_use()]
    print(table(["cache", "holds", "size", "path"], rows))
    return 0
