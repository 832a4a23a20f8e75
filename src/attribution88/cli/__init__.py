"""The `attribution88` command: one module per command in this package, each defining
``NAME``, ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.

Command modules import only the standard library at the top, so `attribution88 --help`
starts fast; heavy work is imported inside ``run``. Errors of attribution88 become one line on
stderr and the error's exit code; anything unexpected becomes one line too, with the
traceback shown only when ATTRIBUTION88_DEBUG=1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__, settings
from ..errors import Attribution88Error

#: Command modules, in the order `--help` lists them.
COMMANDS = [
    "build",
    "import_release",
    "verify",
    "publish",
    "generators",
    "perturb",
    "train",
    "predict",
    "score",
    "compare",
    "attack",
    "leaderboard",
]

PROG = "attribution88"


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Build, load and score the Attribution88 benchmark "
                     "of synthetic-image attribution.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module_name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{module_name}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    debug = settings.debug()
    try:
        return int(args._run(args) or 0)
    except Attribution88Error as e:
        if debug:
            raise
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # a bug or an unforeseen environment problem: still one line
        if debug:
            raise
        detail = " ".join(str(e).split()) or type(e).__name__
        print(f"{PROG} {args.command}: error: {type(e).__name__}: {detail} "
              f"(ATTRIBUTION88_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # python -m attribution88.cli
    sys.exit(main())
