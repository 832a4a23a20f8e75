"""attribution88 import-release ROOT: convert the official release into this format."""

from __future__ import annotations

import argparse

NAME = "import-release"
HELP = "convert the official Attribution88 release (split CSVs + images) into a dataset folder"
#: The optional dependencies it needs (pyproject.toml): `pip install 'attribution88[perturb]'`.
EXTRA = "perturb"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", help="the release's root folder (images are found relative to it)")
    p.add_argument("--out", default="attribution88",
                   help="new dataset folder to write (default: ./attribution88, so that "
                   "load_dataset('attribution88') finds it)")
    p.add_argument("--splits", metavar="DIR", help="folder of train.csv/val.csv/test.csv "
                   "(default: ROOT, then ROOT/splits)")
    p.add_argument("--data-root", metavar="DIR", help="folder the CSV paths are relative to (default: ROOT)")
    p.add_argument("--processed-test", metavar="DIR", help="the official processed test set "
                   "(already perturbed; same relative paths as the test CSV): its images are "
                   "kept byte for byte instead of being perturbed here. A test CSV may name each "
                   "image's perturbation in optional columns `perturbation` (name or number "
                   "0-18) and `severity`")
    p.add_argument("--label-map", metavar="FILE", help="TOML table of the release's label/dlabel "
                   "indices (default: the packaged release.toml; see its comments)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..release import LabelMap, import_release

    manifest = import_release(args.root, args.out, label_map=LabelMap.load(args.label_map),
                              splits_dir=args.splits, data_root=args.data_root,
                              processed_test=args.processed_test,
                              progress=not args.no_progress)
    counts = manifest.counts()
    splits = ", ".join(f"{k} {v:,}" for k, v in counts["splits"].items())
    print(f"imported {counts['total']:,} images into {args.out} ({splits}); "
          f"fingerprint {manifest.fingerprint[:16]}")
    return 0
