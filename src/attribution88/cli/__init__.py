"""The `attribution88` command: one module per command in this package, each defining
``NAME``, ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``, and
``EXTRA`` where it needs optional dependencies (the extra of pyproject.toml that installs them).

Command modules import only the standard library at the top, so `attribution88 --help`
starts fast; heavy work is imported inside ``run``. Errors of attribution88 become one line on
stderr and the error's exit code; anything unexpected becomes one line too, with the
traceback shown only when ATTRIBUTION88_DEBUG=1. A missing optional dependency is one line
naming the extra that installs it.
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

#: Extras that one module stands for, whatever the command (pyproject.toml); any other missing
#: module is reported with the command's own ``EXTRA``.
EXTRA_OF_MODULE = {"matplotlib": "plots", "ray": "ray", "torchmetrics": "fid", "torch_fidelity": "fid"}


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
        p.set_defaults(_run=module.run, _extra=getattr(module, "EXTRA", None))
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
    missing = missing_distributions(args._extra) if args._extra else []
    if missing:
        print(f"{PROG} {args.command}: error: this needs the {args._extra!r} extra, which lacks "
              f"{', '.join(missing)} (pip install 'attribution88[{args._extra}]')", file=sys.stderr)
        return 1
    try:
        return int(args._run(args) or 0)
    except Attribution88Error as e:
        if debug:
            raise
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:
        if debug or not e.name or e.name.split(".")[0] == "attribution88":
            raise
        print(f"{PROG} {args.command}: error: {_missing_module(e.name, args._extra)}", file=sys.stderr)
        return 1
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


def missing_distributions(extra: str) -> list[str]:
    """The distributions of an extra (and of the extras it names) that are not installed, read
    from the installed package's metadata, so pyproject.toml stays the one list. Nothing when the
    metadata cannot be read (running from a source tree): the import then says what is missing."""
    import importlib.metadata as metadata
    import re

    try:
        requirements = metadata.requires(PROG) or []
    except metadata.PackageNotFoundError:
        return []
    missing, extras, seen = [], [extra], set()
    while extras:
        current = extras.pop()
        if current in seen:
            continue
        seen.add(current)
        for requirement in requirements:
            marker = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
            if not marker or marker.group(1) != current:
                continue
            name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
            nested = re.match(r"[A-Za-z0-9._-]+\[([^\]]+)\]", requirement)
            if name.lower() == PROG and nested:
                extras.extend(e.strip() for e in nested.group(1).split(","))
                continue
            try:
                metadata.version(name)
            except metadata.PackageNotFoundError:
                if name not in missing:
                    missing.append(name)
    return missing


def _missing_module(name: str, command_extra: str | None) -> str:
    top = name.split(".")[0]
    extra = EXTRA_OF_MODULE.get(top, command_extra)
    if extra is None:
        return f"the module {top!r} is not installed (pip install {top})"
    return (f"the module {top!r} is not installed: this needs the {extra!r} extra "
            f"(pip install 'attribution88[{extra}]')")


if __name__ == "__main__":  # python -m attribution88.cli
    sys.exit(main())
