"""attribution88 build: sample, clean, split, perturb and write the benchmark (or some cells)."""

from __future__ import annotations

import argparse

NAME = "build"
HELP = "build the benchmark (default: the mini preset, every cell) or chosen cells into ./attribution88"
#: The optional dependencies it needs (pyproject.toml): `pip install 'attribution88[build]'`.
EXTRA = "build"


def _slice(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected I/N, e.g. 2/8") from None
    return i, n


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="mini", help="split sizes and defaults: mini (default) or full")
    p.add_argument("--arch", action="append", metavar="SOURCE",
                   help="only this source (a GAN architecture, or real); repeatable; default all")
    p.add_argument("--semantic", action="append", metavar="SEMANTIC",
                   help="only this semantic; repeatable; default all")
    p.add_argument("--out", default="attribution88",
                   help="dataset folder (default ./attribution88, so load_dataset('attribution88') finds it)")
    p.add_argument("--reals", action="append", metavar="SOURCE",
                   help="real images: DIR with one sub-folder per semantic, or SEMANTIC=DIR, "
                   "SEMANTIC=hf:NAME[:SPLIT[:COLUMN]], SEMANTIC=samples; repeatable "
                   "(mini default: crops of scikit-image's sample photographs)")
    p.add_argument("--checkpoints", metavar="DIR", help="generator checkpoints (SOURCE-SEMANTIC.safetensors "
                   "+ .json; default $ATTRIBUTION88_CHECKPOINTS); see attribution88 generators")
    p.add_argument("--entry-point", action="append", metavar="ARCH=MODULE:FUNCTION", default=[],
                   help="your own generator code for an architecture (or SOURCE-SEMANTIC cell); repeatable")
    p.add_argument("--stand-ins", action="store_true",
                   help="sample the small stand-in generators for the cells without a checkpoint or entry point "
                   "(the mini preset's default when neither --checkpoints nor --entry-point is given)")
    p.add_argument("--lpips-backbone", metavar="FILE", help="local ImageNet weights of the LPIPS backbone "
                   "(default $ATTRIBUTION88_LPIPS_BACKBONE; mini runs without, with an untrained backbone)")
    p.add_argument("--shortlist-k", type=int, default=10, metavar="K", help="nearest reals shortlisted per candidate")
    p.add_argument("--reject-fraction", type=float, metavar="F",
                   help="never keep this share of the candidates farthest from any real (default 1/3; "
                   "0: one per k-means cluster, outliers included)")
    p.add_argument("--fid-inception", metavar="FILE", help="torch-fidelity's Inception weights "
                   "(weights-inception-2015-12-05-6726825d.pth): adds FID of each selection to the "
                   "cleaning report (needs attribution88[fid]; skipped without)")
    p.add_argument("--device", default="cpu", help="torch device for sampling: cpu, cuda, cuda:1 ...")
    p.add_argument("--batch-size", type=int, default=32, help="generator batch size")
    p.add_argument("--workers", type=int, help="local worker processes (default: one per core on "
                   "the CPU, one with --device cuda)")
    p.add_argument("--executor", default="local", choices=["local", "ray"], help="where cells run")
    p.add_argument("--ray-address", metavar="ADDR", help="an existing Ray cluster (default: start a local one)")
    p.add_argument("--shard", type=_slice, metavar="I/N", help="build slice I of N (cells I, I+N, ...)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import logging
    import os

    from ..builders.threads import passive_omp_wait

    passive_omp_wait()  # before torch and faiss load: idle OpenMP threads sleep, not spin
    from tqdm.contrib.logging import logging_redirect_tqdm

    from .. import settings
    from ..builders.build import default_real_sources, run_build
    from ..builders.pipeline import BuildConfig, select_cells, shard_slice
    from ..errors import UsageError
    from ..spec import SPEC

    preset = SPEC.preset(args.preset).name
    entry_points = {}
    for item in args.entry_point:
        key, sep, value = item.partition("=")
        if not sep or ":" not in value:
            raise UsageError(f"--entry-point {item!r}: expected ARCH=MODULE:FUNCTION")
        entry_points[key] = value
    mini = preset == "mini"
    config = BuildConfig(
        preset=preset, out=args.out, real_sources=default_real_sources(preset, args.reals),
        checkpoints=args.checkpoints or settings.checkpoints(),
        # Stand-ins only where no generator was given: the mini preset without --checkpoints
        # (or $ATTRIBUTION88_CHECKPOINTS) and --entry-point, or --stand-ins for the cells left.
        entry_points=entry_points,
        stand_ins=args.stand_ins or (mini and not entry_points
                                     and not (args.checkpoints or settings.checkpoints())),
        lpips_backbone=args.lpips_backbone or settings.lpips_backbone(),
        allow_untrained_lpips=mini, shortlist_k=args.shortlist_k,
        **({} if args.reject_fraction is None else {"reject_fraction": args.reject_fraction}),
        fid_weights=args.fid_inception, device=args.device,
        batch_size=args.batch_size)
    if not 0.0 <= config.reject_fraction < 1.0:
        raise UsageError(f"--reject-fraction must be in [0, 1), got {config.reject_fraction}")
    if config.fid_weights:  # fail now, in one line, rather than in every cell
        from ..builders.fid import InceptionFid

        InceptionFid(config.fid_weights)
    selection = select_cells(args.arch, args.semantic)
    cells = shard_slice(selection, *args.shard) if args.shard else selection
    logging.getLogger("attribution88").setLevel(logging.INFO if args.verbose else logging.WARNING)
    with logging_redirect_tqdm():
        summary = run_build(config, cells, selection=selection, executor_name=args.executor,
                            workers=args.workers, ray_address=args.ray_address,
                            progress=not args.no_progress)
    built = len(summary.built)
    print(f"{built} cell(s) built, {len(summary.skipped)} already complete, in {summary.seconds:.1f} s")
    m = summary.manifest
    if m is None:
        print(f"slice done; {args.out} is finalized by the run that completes the last cell")
        return 0
    counts = m.counts()
    print(f"{args.out}: {counts['total']:,} images in {len(m.cells)} cells "
          f"({', '.join(f'{k} {v:,}' for k, v in counts['splits'].items())}); "
          f"fingerprint {m.fingerprint[:16]}")
    for warning in m.build.get("warnings", []):
        print(f"note: {warning}")
    where = "'attribution88'" if os.path.normpath(args.out) == "attribution88" else repr(args.out)
    print(f"load it with: from datasets import load_dataset; load_dataset({where})")
    return 0
