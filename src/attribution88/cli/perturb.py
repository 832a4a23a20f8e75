"""attribution88 perturb IN OUT --name NAME --severity S [--seed N] [--flavour F]: ImageNet-C
corruptions of an image file or of every image in a folder; --list; --contact-sheet OUT.png."""

from __future__ import annotations

import argparse
import sys

NAME = "perturb"
HELP = "apply an ImageNet-C corruption to an image or a folder (official protocol), list the 19, or draw a contact sheet"
#: The optional dependencies it needs (pyproject.toml): `pip install 'attribution88[perturb]'`.
EXTRA = "perturb"

EPILOG = """\
The image is resized (bilinear) to 224x224, corrupted and resized back to its size, as the
benchmark's protocol does (--native-size: corrupt at its own size, at least 32x32). Grey and
RGBA images are converted to RGB (grey repeated, alpha dropped). Outputs are PNG (lossless).
--flavour picks the corruptions' definitions: repmix (the benchmark's: the original ImageNet-C
code as the official RepMix code applies it, in BGR order) or imagecorruptions (that package's
rewrite, RGB order). A contact sheet shows both side by side unless --flavour is given.
A folder is processed recursively: OUT mirrors its tree, each image gets its own seed derived
from --seed and its relative path, non-image files are left alone, unreadable images are
reported by name (exit code 1). A single file uses --seed itself, so its output equals
attribution88.perturb.apply_protocol(image, NAME, S, N, flavour=F).

examples:
  attribution88 perturb --list
  attribution88 perturb cat.jpg cat-fog3.png --name fog --severity 3 --seed 7
  attribution88 perturb photos/ photos-snow/ --name snow --severity 5
  attribution88 perturb cat.jpg cat-elastic.png --name elastic_transform --severity 1 --flavour imagecorruptions
  attribution88 perturb --contact-sheet sheet.png          (oracle image 0, both flavours; or give IN)
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..spec import FLAVOURS, SPEC

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("input", nargs="?", metavar="IN", help="an image file or a folder of images")
    p.add_argument("output", nargs="?", metavar="OUT", help="a .png file (or existing folder) for a file; a folder for a folder")
    p.add_argument("--name", help="the corruption (see --list)")
    p.add_argument("--severity", type=int, metavar="S", help="severity, 1 to 5")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed, a non-negative integer (default 0)")
    p.add_argument("--flavour", choices=FLAVOURS, metavar="F",
                   help=f"the corruptions' definitions: {' or '.join(FLAVOURS)} (default {SPEC.protocol.flavour}, "
                        f"the benchmark's; a contact sheet shows both unless given)")
    p.add_argument("--native-size", action="store_true", help="corrupt at the image's own size, without the resize to 224 and back")
    p.add_argument("--list", action="store_true", help="print the 19 corruptions: index, name, seen/unseen")
    p.add_argument("--contact-sheet", metavar="SHEET.png",
                   help="write one image (IN, or the oracle's first image) under all 19 x 5 corruptions as one PNG")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..spec import SPEC

    if args.list:
        for p in SPEC.perturbations:
            print(f"{p.index:2d}  {p.name:18s} {'seen' if p.seen else 'unseen'}")
        return 0
    if args.contact_sheet:
        return _contact_sheet(args)
    missing = [flag for flag, value in (("IN", args.input), ("OUT", args.output), ("--name", args.name),
                                        ("--severity", args.severity)) if value is None]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} (or use --list / --contact-sheet; see --help)")

    from pathlib import Path

    from ..perturb.engine import check_seed, check_severity, flavour_of
    from ..perturb.files import perturb_file, perturb_folder

    flavour_of(args.flavour).corruptions.get(args.name)
    check_severity(args.severity)
    check_seed(args.seed)
    src = Path(args.input)
    if not src.exists():
        raise UsageError(f"{src}: no such file or folder")
    if src.is_file():
        out = perturb_file(src, args.output, args.name, args.severity, args.seed, native=args.native_size,
                           flavour=args.flavour)
        print(f"wrote {out}")
        return 0
    result = perturb_folder(src, args.output, args.name, args.severity, args.seed,
                            native=args.native_size, progress=not args.no_progress, flavour=args.flavour)
    for rel, reason in result.failed:
        print(f"attribution88 perturb: skipped {rel}: {reason}", file=sys.stderr)
    extra = []
    if result.failed:
        extra.append(f"{len(result.failed)} unreadable, skipped")
    if result.ignored:
        extra.append(f"{len(result.ignored)} non-image files ignored")
    print(f"wrote {len(result.written)} images to {args.output}" + (f" ({'; '.join(extra)})" if extra else ""))
    return 1 if result.failed else 0


def _contact_sheet(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UsageError
    from ..images import read_image
    from ..perturb.contact import contact_sheet
    from ..perturb.files import write_png

    out = Path(args.contact_sheet)
    if out.suffix.lower() != ".png":
        raise UsageError(f"contact sheet {out} must be a .png file")
    if args.output is not None:
        raise UsageError("--contact-sheet takes at most one image (IN); the sheet's path is its value")
    image = read_image(args.input) if args.input else None
    write_png(out, contact_sheet(image, seed=args.seed, flavours=[args.flavour] if args.flavour else None))
    print(f"wrote {out}")
    return 0
