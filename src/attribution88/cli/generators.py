"""attribution88 generators: list the 77 generator models and which checkpoints are present;
``attribution88 generators convert FILE --arch A --semantic S``: convert an official release
file (NVlabs pickles, Chainer npz, MMD-GAN TF checkpoints) to a native checkpoint without running anything from it."""

from __future__ import annotations

import argparse

NAME = "generators"
HELP = "list the 77 generator models (architecture x semantic), where their checkpoints come from and which are present"
#: The optional dependencies it needs (pyproject.toml): `pip install 'attribution88[build]'`.
EXTRA = "build"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    c = sub.add_parser("convert", help="convert an official checkpoint (NVlabs pickle, Chainer .npz, "
                       "MMD-GAN TF checkpoint) to "
                       "ARCH-SEMANTIC.safetensors + .json, without importing or running anything from it",
                       description="Read the authors' released file with a restricted reader (no code from the "
                       "file is imported or run) and write a native checkpoint for the build.")
    c.add_argument("file", metavar="FILE", help="the downloaded file, e.g. stylegan2-cat-config-f.pkl "
                   "(a TensorFlow checkpoint: its PREFIX, PREFIX.index or folder)")
    c.add_argument("--arch", required=True, metavar="A", help="its architecture (stylegan3, stylegan2, stylegan, "
                   "progan, sngan, mmdgan, cramergan)")
    c.add_argument("--semantic", required=True, metavar="S", help="the semantic it was trained on (e.g. cat)")
    c.add_argument("--out", metavar="DIR", help="checkpoint folder to write into (default "
                   "$ATTRIBUTION88_CHECKPOINTS, else ./checkpoints)")
    c.add_argument("--force", action="store_true", help="replace an existing checkpoint of that cell")
    c.set_defaults(_run=run_convert)
    p.add_argument("--arch", metavar="A", help="only this architecture (e.g. stylegan2)")
    p.add_argument("--semantic", metavar="S", help="only this semantic (e.g. bedroom)")
    p.add_argument("--checkpoints", metavar="DIR",
                   help="folder of <arch>-<semantic>.safetensors + .json (default: $ATTRIBUTION88_CHECKPOINTS)")
    p.add_argument("--verify", action="store_true",
                   help="load every present checkpoint and report the ones that cannot be used (exit 1 if any)")


def run(args: argparse.Namespace) -> int:
    from ..builders.generators.manifest import MANIFEST, checkpoints_dir, find_checkpoint
    from ..settings import CHECKPOINTS_ENV
    from ..errors import CheckpointError

    models = MANIFEST.select(args.arch, args.semantic)
    directory = checkpoints_dir(args.checkpoints)
    header = ("model", "px", "z", "psi", "noise", "origin", "checkpoint", "source")
    rows, present = [], 0
    for m in models:
        path = find_checkpoint(m, directory)
        present += path is not None
        psi = "-" if m.truncation is None else f"{m.truncation:g}" + (
            f"/{m.truncation_cutoff}" if m.truncation_cutoff is not None else "")
        rows.append((m.name, str(m.resolution), str(m.latent_dim), psi, m.noise or "-",
                     m.origin, "present" if path else "-", m.source()))
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


def run_convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..builders.generators.architectures import ARCHITECTURES
    from ..builders.generators.convert import convert_file
    from ..builders.generators.manifest import MANIFEST
    from .. import settings
    from ..errors import UsageError

    model = MANIFEST.model(ARCHITECTURES.get(args.arch).name, args.semantic)
    out = Path(args.out or settings.checkpoints() or "checkpoints")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; expected a folder for {model.checkpoint_file}")
    target = out / model.checkpoint_file
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; pass --force to replace it")
    path, converted = convert_file(args.file, model.arch, model.semantic, out)
    s = converted.sampling
    sampling = ", ".join(f"{k} {v}" for k, v in (("psi", s.get("truncation_psi")),
                                                   ("cutoff", s.get("truncation_cutoff")), ("noise", s.get("noise")))
                         if v is not None) or "no truncation, no noise inputs"
    print(f"{args.file}: {converted.source_format}, {converted.config.resolution} px -> {path} "
          f"(+ {path.with_suffix('.json').name}); sampling: {sampling}")
    print(f"build with: attribution88 build --arch {model.arch} --semantic {model.semantic} --checkpoints {out}")
    return 0
