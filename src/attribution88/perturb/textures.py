"""The frost textures, read as data files of the installed imagecorruptions package.

Where they come from: six photographs of frost (``frost1.png`` ... ``frost3.png``,
``frost4.jpg`` ... ``frost6.jpg``) that ship with ImageNet-C's code (github.com/hendrycks/
robustness, ``ImageNet-C/imagenet_c/imagenet_c/frost/``, Apache-2.0) and, identical in name
and use, as package data of imagecorruptions 1.1.2 (github.com/bethgelab/imagecorruptions,
Apache-2.0: the LICENSE file in its wheel and its PyPI classifier). Neither project names a
separate source or license for the photographs; they are distributed under those projects'
Apache-2.0 terms. attribution88 does not copy them: it reads them from the installed
imagecorruptions distribution (a declared dependency) through its file list, without
importing the imagecorruptions module (whose import fails on a current stack: it needs
``pkg_resources``, removed from setuptools 81).

As in imagenet_c and imagecorruptions 1.1.2, only the first five textures are ever drawn (their
``np.random.randint(5)``); ``frost6.jpg`` is listed for completeness. The six files have the
same git blob hashes in both projects (`attribution88.perturb.reference_imagenet_c.FROST_BLOBS`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import math
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError

FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg")
#: How many of the textures frost draws from (imagecorruptions 1.1.2 draws from the first 5).
FROST_DRAWN = 5
_PACKAGE = "imagecorruptions"


def _texture_dir() -> Path:
    """The folder holding the frost files, found without importing imagecorruptions."""
    candidates = []
    try:
        dist = importlib.metadata.distribution(_PACKAGE)
        candidates.append(Path(str(dist.locate_file(f"{_PACKAGE}/frost"))))
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec(_PACKAGE)  # a top-level spec: locates, never executes
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "frost" for p in spec.submodule_search_locations]
    for folder in candidates:
        if all((folder / f).is_file() for f in FROST_FILES[:FROST_DRAWN]):
            return folder
    raise MissingDependencyError(
        "frost needs the frost textures of the imagecorruptions package, which is not "
        "installed (or lacks its frost/ files); install it with: pip install imagecorruptions==1.1.2")


@functools.lru_cache(maxsize=len(FROST_FILES))
def frost_texture(index: int) -> np.ndarray:
    """Frost texture ``index`` (0-based) as read-only uint8 (H, W, 3), BGR as OpenCV decodes
    it (the original crops it in BGR and swaps to RGB afterwards)."""
    import cv2

    path = _texture_dir() / FROST_FILES[index]
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # drops the PNGs' alpha, as cv2.imread does
    if image is None:
        raise MissingDependencyError(f"frost texture {path} cannot be decoded; reinstall imagecorruptions")
    image.flags.writeable = False
    return image


def _frost_scale(texture_hw: tuple[int, int], image_hw: tuple[int, int]) -> float:
    """imagecorruptions' rule: grow the texture until it covers the image, then 10% more."""
    (th, tw), (h, w) = texture_hw, image_hw
    scale = 1.0
    if th < h or tw < w:
        scale = max(h / th if th < h else 0.0, w / tw if tw < w else 0.0)
    return scale * 1.1


@functools.lru_cache(maxsize=32)
def frost_rescaled(index: int, height: int, width: int) -> np.ndarray:
    """Texture ``index`` resized (bicubic) for an image of ``height`` x ``width``: read-only
    uint8 BGR, at least 10% larger than the image on each side."""
    import cv2

    texture = frost_texture(index)
    scale = _frost_scale(texture.shape[:2], (height, width))
    size = (int(math.ceil(texture.shape[1] * scale)), int(math.ceil(texture.shape[0] * scale)))
    out = cv2.resize(texture, dsize=size, interpolation=cv2.INTER_CUBIC)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=32)
def frost_covering(index: int, height: int, width: int) -> np.ndarray:
    """Texture ``index`` at its own resolution (imagenet_c) when it is larger than the image on
    both sides, as it is at 224 px; otherwise resized (bicubic) by the smallest factor that
    makes it one pixel larger than the image on both sides (imagenet_c has no rule for that).
    Read-only uint8 BGR."""
    import cv2

    texture = frost_texture(index)
    th, tw = texture.shape[:2]
    if th > height and tw > width:
        return texture
    scale = max((height + 1) / th, (width + 1) / tw)
    size = (max(width + 1, int(math.ceil(tw * scale))), max(height + 1, int(math.ceil(th * scale))))
    out = cv2.resize(texture, dsize=size, interpolation=cv2.INTER_CUBIC)
    out.flags.writeable = False
    return out
