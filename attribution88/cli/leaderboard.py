"""attribution88 leaderboard: add scored results as records, list them, render the pages."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "leaderboard"
HELP = "add a scored submission to the leaderboard records, list them, or render the pages"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["add", "list", "render"],
                   help="add RESULTS.json as a record; list the records; render the page")
    p.add_argument("results", nargs="?", help="add: the --json output of attribution88 score")
    p.add_argument("--records", metavar="DIR", help="records folder (default: leaderboard/records of the "
                   "repository checkout you run it in; list/render: else the packaged records)")
    p.add_argument("--name", help="add: the method's name as shown on the board")
    p.add_argument("--paper", default="", help="add: the paper (title, authors, venue)")
    p.add_argument("--url", default="", help="add: a link to the paper or code (http or https)")
    p.add_argument("--notes", default="", help="add: one line about the entry")
    p.add_argument("--configuration", default="", metavar="NAME",
                   help="add: the model configuration, e.g. repmix or repmix/no-compound-loss; the "
                   "board shows the paper's figures for the same configuration beside yours")
    p.add_argument("--replace", action="store_true", help="add: overwrite an existing entry")
    p.add_argument("--out", metavar="FILE", help="render: write the page here (default: print it)")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..leaderboard.add import add_results
    from ..leaderboard.markdown import render_markdown
    from ..leaderboard.records import RANK_BY, default_records_dir, load_records

    # The public board is the repository's leaderboard/records (entries arrive as pull requests):
    # run in a checkout, that folder is the default; the installed package's copy is read-only.
    checkout = Path("leaderboard") / "records"
    directory = args.records or (checkout if checkout.is_dir() else None)
    if args.action == "add":
        if not args.results or not args.name:
            raise UsageError("leaderboard add needs RESULTS.json and --name")
        if directory is None:
            raise UsageError("leaderboard add: no records folder here; run it in a checkout of the "
                             "attribution88 repository or give --records DIR")
        record, path = add_results(directory, args.results, args.name, replace=args.replace,
                                   paper=args.paper, url=args.url, notes=args.notes,
                                   configuration=args.configuration)
        print(f"added {record.name!r} ({RANK_BY} {record.metrics[RANK_BY].value:.4f}) as {path}")
        return 0
    records = load_records(directory or default_records_dir())
    if args.action == "list":
        for r in sorted(records, key=lambda r: (r.data_key, -r.metrics[RANK_BY].value)):
            print(f"{r.kind:9}  {r.metrics[RANK_BY].value:.4f}  {r.name}  [{r.data_key[:40]}]")
        return 0
    page = render_markdown(records)
    if args.out:
        from ..atomic import write_text

        write_text(args.out, page)
        print(f"wrote {args.out} ({len(records)} records)")
    else:
        print(page, end="")
    return 0
