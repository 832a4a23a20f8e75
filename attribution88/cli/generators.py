"""attribution88 generators: list the 77 generator models and which checkpoints are present."""

from __future__ import annotations

import argparse

NAME = "generators"
HELP = "list the 77 generator models (architecture x semantic), where their checkpoints come from and which are present"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", metavar="A", help="only this architecture (e.g. stylegan2)")
    p.add_argument("--semantic", metavar="S", help="only this semantic (e.g. bedroom)")
    p.add_argument("--checkpoints", metavar="DIR",
                   help="folder of <arch>-<semantic>.safetensors + .json (default: $ATTRIBUTION88_CHECKPOINTS)")
    p.add_argument("--verify", action="store_true",
                   help="load every present checkpoint and report the ones that cannot be used (exit 1 if any)")


def run(args: argparse.Namespace) -> int:
    from ..builders.generators.manifest import MANIFEST, checkpoints_dir, find_checkpoint
    from ..constants import CHECKPOINTS_ENV
    from ..errors import CheckpointError

    models = MANIFEST.select(args.arch, args.semantic)
    directory = checkpoints_dir(args.checkpoints)
    header = ("model", "px", "z", "psi", "origin", "checkpoint", "source")
    rows, present = [], 0
    for m in models:
        path = find_checkpoint(m, directory)
        present += path is not None
        rows.append((m.name, str(m.resolution), str(m.latent_dim), "-" if m.truncation is None else f"{m.truncation:g}",
                     m.origin, "present" if path else "-", _source(m)))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    where = str(directory) if directory else f"no folder (--checkpoints DIR or ${CHECKPOINTS_ENV})"
    print(f"{present} of {len(models)} checkpoints present in {where}")
    if not args.verify:
        return 0
    from ..builders.generators.checkpoints import load_checkpoint

    failed = 0
    for m in models:
        path = find_checkpoint(m, directory)
        if path is None:
            continue
        try:
            load_checkpoint(path, m.arch, m.semantic)
            print(f"ok      {path}")
        except CheckpointError as e:
            failed += 1
            print(f"FAILED  {e}")
    print(f"{present - failed} of {present} present checkpoints load")
    return 1 if failed else 0


def _source(m) -> str:
    if m.origin == "official":
        return f"{m.release} ({m.code_base})"
    if m.origin == "recipe":
        return f"{m.code_base}: {m.recipe.describe()}" if m.recipe else m.code_base
    return "bring your own"
