"""Image conversions used everywhere: to an RGB uint8 array, lossless PNG bytes and back,
center crop + resize.

Conversions (documented behaviour, not errors): greyscale becomes RGB by repeating the
channel; the alpha channel of RGBA / LA images is dropped (the colour channels are kept as they
are, as ``PIL.Image.convert("RGB")`` does); palette and 16-bit images go through Pillow's RGB
conversion. Float arrays are refused (their scale, [0, 1] or [0, 255], is ambiguous): pass uint8.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageError

#: zlib level of the PNGs we write. PNG is lossless at every level; a fixed level keeps the
#: bytes (and so the sha256 of every image) reproducible for a given zlib.
PNG_COMPRESS_LEVEL = 6


def as_rgb(image: np.ndarray | Image.Image, *, name: str = "image") -> np.ndarray:
    """An RGB uint8 array (H, W, 3), C-contiguous, from a PIL image or an array.

    Accepted arrays: uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). Greyscale is repeated
    to three channels; a fourth (alpha) channel is dropped. Anything else, or an image with a
    side of 0, raises `ImageError`.
    """
    if isinstance(image, Image.Image):
        if image.width == 0 or image.height == 0:
            raise ImageError(f"{name} is empty ({image.width}x{image.height})")
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name} must be a PIL image or a numpy array, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"{name} must be uint8, not {image.dtype} (convert with np.uint8(np.clip(x, 0, 255)))")
    if image.ndim == 3 and image.shape[2] in (1, 3, 4):
        arr = image[:, :, :3] if image.shape[2] >= 3 else np.repeat(image, 3, axis=2)
    elif image.ndim == 2:
        arr = np.repeat(image[:, :, None], 3, axis=2)
    else:
        raise ImageError(f"{name} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), not {image.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"{name} is empty ({arr.shape[1]}x{arr.shape[0]})")
    return np.ascontiguousarray(arr)


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of an RGB uint8 array (H, W, 3)."""
    buf = io.BytesIO()
    Image.fromarray(as_rgb(image)).save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def decode_image(data: bytes, *, name: str = "image") -> np.ndarray:
    """Decode image bytes (any format Pillow reads) to RGB uint8 (H, W, 3)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return as_rgb(im, name=name)
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a readable image (unknown format)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"{name}: not a readable image ({type(e).__name__}: {e})") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file to RGB uint8 (H, W, 3); a clear error for a missing or non-image file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read ({e.strerror})") from None
    return decode_image(data, name=str(path))


def center_crop_resize(image: np.ndarray, size: int) -> np.ndarray:
    """The largest centred square, resized to ``size`` x ``size`` with an antialiased
    filter (Pillow's Lanczos, which low-passes before it subsamples): RGB uint8."""
    arr = as_rgb(image)
    h, w = arr.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(arr[top:top + side, left:left + side])
    if side != size:
        square = square.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(square, dtype=np.uint8)
