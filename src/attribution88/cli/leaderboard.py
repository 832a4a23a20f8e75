"""attribution88 leaderboard: add scored results as records, list them, render the site and the
Markdown page, serve the site on localhost, take a screenshot of it."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "leaderboard"
HELP = "add a scored submission to the leaderboard records, list them, render, serve or screenshot the site"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["add", "list", "render", "serve", "screenshot", "push", "pull"],
                   help="add RESULTS.json as a record; list the records; render the site (--out) "
                   "and/or the Markdown page (--markdown; default: print it); serve the site on "
                   "localhost; screenshot the main page (--out PNG); push the records to / pull "
                   "them from a Hugging Face dataset repository (--repo)")
    p.add_argument("results", nargs="?", help="add: the --json output of attribution88 score")
    p.add_argument("--records", metavar="DIR", help="records folder (default: leaderboard/records of the "
                   "repository checkout you run it in; else, except for add, the packaged records)")
    p.add_argument("--name", help="add: the method's name as shown on the board")
    p.add_argument("--paper", default="", help="add: the paper (title, authors, venue)")
    p.add_argument("--url", default="", help="add: a link to the paper or code (http or https)")
    p.add_argument("--notes", default="", help="add: one line about the entry")
    p.add_argument("--configuration", default="", metavar="NAME",
                   help="add: the model configuration, e.g. repmix or repmix/no-compound-loss; the "
                   "board shows the paper's figures for the same configuration beside yours")
    p.add_argument("--replace", action="store_true", help="add: overwrite an existing entry; "
                   "pull: take the repository's version of records that differ")
    p.add_argument("--out", metavar="PATH", help="render: the site's folder (SITE/); screenshot: the PNG")
    p.add_argument("--markdown", metavar="FILE", help="render: write the Markdown page here")
    p.add_argument("--site", metavar="DIR", help="serve: a rendered site (default: render the records "
                   "into a temporary folder)")
    p.add_argument("--port", type=int, default=8000, help="serve: the port on 127.0.0.1 (0: any free "
                   "one; default 8000)")
    p.add_argument("--width", type=int, default=1280, help="screenshot: the page width in pixels")
    p.add_argument("--repo", metavar="ORG/NAME", help="push/pull: the dataset repository on the Hub")
    p.add_argument("--revision", help="push/pull: a branch of the repository (default: main)")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..leaderboard.records import RANK_BY, default_records_dir, load_records

    # The public board is the repository's records folder (entries arrive as pull requests): run
    # in a checkout, that folder is the default; an installed package's copy is read-only.
    checkout = Path("src", "attribution88", "leaderboard", "records")
    directory = args.records or (checkout if checkout.is_dir() else None)
    if args.action == "add":
        from ..leaderboard.add import add_results

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
    if args.action in ("push", "pull"):
        return _sync(args, directory)
    if args.action == "serve" and args.site:
        return _serve(Path(args.site), args.port)
    records = load_records(directory or default_records_dir())
    if args.action == "list":
        from ..eval.metric_table import METRICS

        rank = METRICS[RANK_BY]
        for r in sorted(records, key=lambda r: (r.data_key, rank.rank_key(r.metrics[RANK_BY].value))):
            print(f"{r.kind:9}  {r.metrics[RANK_BY].value:.4f}  {r.name}  [{r.data_key[:40]}]")
        return 0
    if args.action == "render":
        return _render(records, args)
    import tempfile

    from ..leaderboard.site import write_site

    with tempfile.TemporaryDirectory(prefix="attribution88-site-") as tmp:
        site = Path(tmp) / "site"
        write_site(records, site)
        if args.action == "serve":
            return _serve(site, args.port)
        if not args.out:
            raise UsageError("leaderboard screenshot needs --out FILE.png")
        from ..leaderboard.browser import screenshot
        from ..leaderboard.serve import serving

        with serving(site, 0) as url:
            path = screenshot(url, args.out, width=args.width)
        print(f"wrote {path} (the main page of {len(records)} records, {args.width} px wide)")
        return 0


def _render(records, args: argparse.Namespace) -> int:
    from ..atomic import write_text
    from ..leaderboard.markdown import render_markdown
    from ..leaderboard.site import write_site

    if args.out:
        n = write_site(records, args.out)
        print(f"wrote the site into {args.out} ({len(records)} records, {n} files); open "
              f"{Path(args.out) / 'index.html'} or run attribution88 leaderboard serve --site {args.out}")
    if args.markdown:
        write_text(args.markdown, render_markdown(records))
        print(f"wrote {args.markdown} ({len(records)} records)")
    if not args.out and not args.markdown:
        print(render_markdown(records), end="")
    return 0


def _serve(site: Path, port: int) -> int:
    from ..errors import UsageError
    from ..leaderboard.serve import serve_forever

    if not (site / "index.html").is_file():
        raise UsageError(f"{site}: no index.html; render a site with attribution88 leaderboard render --out DIR")
    try:
        serve_forever(site, port, ready=lambda url: print(f"serving {site} at {url} (Ctrl-C stops)", flush=True))
    except KeyboardInterrupt:
        print("stopped")
    return 0


def _sync(args: argparse.Namespace, directory: Path | None) -> int:
    from ..errors import UsageError
    from ..leaderboard import hub

    if not args.repo or args.repo.count("/") != 1:
        raise UsageError(f"leaderboard {args.action} needs --repo ORG/NAME (a dataset repository)")
    if directory is None:
        raise UsageError(f"leaderboard {args.action}: no records folder here; run it in a checkout "
                         "of the attribution88 repository or give --records DIR")
    if args.action == "push":
        n = hub.push(directory, args.repo, revision=args.revision)
        print(f"pushed {n} records to https://huggingface.co/datasets/{args.repo}")
        return 0
    written, same = hub.pull(directory, args.repo, revision=args.revision, replace=args.replace)
    print(f"pulled {len(written)} new or changed records from {args.repo} into {directory} "
          f"({same} already there); render the pages again to show them")
    return 0
