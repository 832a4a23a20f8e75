"""attribution88 verify DIR_OR_REPO: re-hash a dataset against its manifest and the spec."""

from __future__ import annotations

import argparse

NAME = "verify"
HELP = "re-hash every shard and image against the manifest and the spec; exit 1 on any mismatch"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="a dataset folder, or a Hub repository ORG/NAME (downloaded first)")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="problems listed per kind (default 20)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..verify import verify

    report = verify(args.dataset, progress=not args.no_progress)
    for line in report.lines(limit=args.limit):
        print(line)
    print(report.summary())
    return 0 if report.ok else 1
