"""Perturbing image files: one file, or every image of a folder tree (what the
``attribution88 perturb`` command runs).

Outputs are lossless PNGs written to a temporary name and renamed into place. A folder's
images keep their relative paths under the output folder, with the suffix ``.png``; each
gets its own seed, ``ids.derive_seed("perturb-file", seed, relative_path)``, so two images
of a folder never share a noise pattern and the result does not depend on the order files
are processed in. An input file is never overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageError, UsageError
from ..ids import derive_seed
from ..images import encode_png, read_image
from .engine import apply, check_seed, check_severity, flavour_of
from .protocol import apply_protocol


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write RGB uint8 (H, W, 3) as a PNG: temporary name, fsync, rename."""
    from ..atomic import write_bytes

    write_bytes(path, encode_png(image))


def image_suffixes() -> set[str]:
    """File suffixes (lower case) of the formats Pillow can open."""
    from PIL import Image

    Image.init()
    return {ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def _corrupter(name: str, severity: int, native: bool, flavour: str | None
               ) -> Callable[[np.ndarray, int], np.ndarray]:
    flavour_of(flavour).corruptions.get(name)
    check_severity(severity)
    fn = apply if native else apply_protocol
    return lambda image, seed: fn(image, name, severity, seed, flavour)


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def perturb_file(src: str | os.PathLike, dst: str | os.PathLike, name: str, severity: int,
                 seed: int, *, native: bool = False, flavour: str | None = None) -> Path:
    """Corrupt one image file with ``seed`` itself and write ``dst`` (a ``.png`` path, or an
    existing folder, which receives ``<stem>.png``). Returns the path written.

    ``native``: corrupt at the image's own size (`apply`) instead of the protocol's
    resize to 224 and back (`apply_protocol`). ``flavour``: the corruptions' definitions
    (default the spec's, "repmix").
    """
    corrupt = _corrupter(name, severity, native, flavour)
    check_seed(seed)
    src, dst = Path(src), Path(dst)
    if dst.is_dir():
        dst = dst / f"{src.stem}.png"
    if dst.suffix.lower() != ".png":
        raise UsageError(f"output {dst} must be a .png file (lossless) or an existing folder")
    if dst.exists() and _same_file(src, dst):
        raise UsageError(f"output {dst} is the input file; choose another output")
    image = read_image(src)
    write_png(dst, corrupt(image, seed))
    return dst


@dataclass
class FolderResult:
    """What `perturb_folder` did: files written, images it could not read (relative path,
    reason), and files skipped for not having an image suffix."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def plan_folder(src: str | os.PathLike, dst: str | os.PathLike) -> tuple[list[tuple[Path, Path, str]], list[str]]:
    """The (input, output, relative path) of every image file under ``src`` (sorted; hidden
    files and folders, and anything inside ``dst``, skipped), and the non-image files."""
    src, dst = Path(src), Path(dst)
    if dst.exists() and not dst.is_dir():
        raise UsageError(f"output {dst} is a file; a folder input needs an output folder")
    if _same_file(src, dst):
        raise UsageError(f"output folder {dst} is the input folder; choose another output")
    suffixes = image_suffixes()
    dst_resolved = dst.resolve()
    jobs, ignored, outputs = [], [], {}
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.resolve().is_relative_to(dst_resolved):
            continue
        if path.suffix.lower() not in suffixes:
            ignored.append(rel.as_posix())
            continue
        out = dst / rel.with_suffix(".png")
        if out.as_posix() in outputs:
            raise UsageError(f"{rel.as_posix()} and {outputs[out.as_posix()]} would both be written "
                             f"to {out}; rename one of them")
        outputs[out.as_posix()] = rel.as_posix()
        jobs.append((path, out, rel.as_posix()))
    return jobs, ignored


def perturb_folder(src: str | os.PathLike, dst: str | os.PathLike, name: str, severity: int,
                   seed: int, *, native: bool = False, progress: bool = False,
                   flavour: str | None = None) -> FolderResult:
    """Corrupt every image file under ``src`` into PNGs under ``dst`` (same relative paths,
    suffix ``.png``). An image that cannot be read (or is too small for ``native``) is recorded
    in ``failed`` and the others go on."""
    corrupt = _corrupter(name, severity, native, flavour)
    check_seed(seed)
    jobs, ignored = plan_folder(src, dst)
    if not jobs:
        raise UsageError(f"no image files in {src} (looked for {', '.join(sorted(image_suffixes())[:8])}, ...)")
    result = FolderResult(ignored=ignored)
    from tqdm.auto import tqdm

    for path, out, rel in tqdm(jobs, desc="perturb", unit="img", disable=not progress):
        try:
            corrupted = corrupt(read_image(path), derive_seed("perturb-file", seed, rel))
        except ImageError as e:
            result.failed.append((rel, str(e)))
            continue
        write_png(out, corrupted)
        result.written.append(out)
    return result
