"""Blur corruptions: defocus_blur, glass_blur, motion_blur, zoom_blur, gaussian_blur."""

from __future__ import annotations

import numpy as np

from . import _ops
from ._base import corruption

# Parameters per severity 1..5 (ImageNet-C; imagecorruptions 1.1.2 has the same tables).
DEFOCUS = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))  # disk radius, alias blur
GLASS = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))  # sigma, max delta, passes
MOTION = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))  # line radius, sigma; angle U(-45, 45)
# Zoom factors 1, 1 + step, ..., count of them (np.arange(1, 1.11, 0.01) etc. in the original).
ZOOM = ((0.01, 12), (0.01, 16), (0.02, 11), (0.02, 13), (0.03, 11))  # step, count
GAUSSIAN_SIGMA = (1, 2, 3, 4, 6)


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(255)


@corruption
def defocus_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Convolution with an anti-aliased disk (OpenCV's default mirrored border), each channel
    in float64 with the float32 kernel, truncated to uint8: ImageNet-C's own arithmetic, so that
    flat areas land on the same side of a grey level as there."""
    import cv2

    radius, alias = DEFOCUS[severity - 1]
    kernel = _ops.disk_kernel(radius, alias)
    y = x / 255.0
    out = np.empty(x.shape, np.uint8)
    for c in range(x.shape[2]):
        out[:, :, c] = np.clip(cv2.filter2D(y[:, :, c], -1, kernel), 0, 1) * 255
    return out


def _glass_pass(img: np.ndarray, delta: int, rng: np.random.Generator) -> np.ndarray:
    """One pass of ImageNet-C's local pixel shuffle, vectorised.

    The original visits the pixels (h, w) with ``delta < h <= H - delta`` and likewise for w,
    from the bottom-right corner backwards (rows descending, then columns descending), draws
    (dx, dy) uniform in [-delta, delta) and "swaps" pixel (h, w) with (h + dy, w + dx). On
    numpy arrays that swap is a copy — the right-hand side holds views, so the second
    assignment writes back the value just copied — hence ImageNet-C's actual operation:
    ``x[h, w] = x[h + dy, w + dx]``, in visiting order, each pixel written once per pass.

    So the new value of a pixel is the current value of its source: the source's new value if
    the source was visited earlier in the pass, else its old value. Following "visited
    earlier" links from each pixel to the first one whose source was not (pointer jumping,
    O(log chain) vectorised steps) gives every pixel's final value at once.
    """
    h, w = img.shape[:2]
    rows = np.arange(h - delta, delta, -1)
    cols = np.arange(w - delta, delta, -1)
    if rows.size == 0 or cols.size == 0:
        return img
    draws = rng.integers(-delta, delta, size=(rows.size, cols.size, 2), dtype=np.int8)
    r, c = rows[:, None], cols[None, :]
    sr, sc = r + draws[..., 1], c + draws[..., 0]
    visited = (sr > delta) & (sr <= h - delta) & (sc > delta) & (sc <= w - delta)
    earlier = visited & ((sr > r) | ((sr == r) & (sc > c)))
    target = (r * w + c).ravel()
    source = (sr * w + sc).ravel()
    link = np.arange(h * w)
    link[target] = np.where(earlier.ravel(), source, target)
    value_of = np.arange(h * w)
    value_of[target] = source
    while True:
        nxt = link[link]
        if np.array_equal(nxt, link):
            break
        link = nxt
    return np.take(img.reshape(h * w, -1), value_of[link], axis=0).reshape(img.shape)


@corruption
def glass_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur, local pixel shuffle (`_glass_pass`), Gaussian blur again."""
    sigma, delta, passes = GLASS[severity - 1]
    y = _ops.gaussian_uint8(x, sigma)
    for _ in range(passes):
        y = _glass_pass(y, delta, rng)
    return _ops.gaussian_uint8(y, sigma)


@corruption(name="motion_blur", flavours=("imagecorruptions",))
def motion_blur_float(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Blur along a line of random direction, uniform in [-45, 45) degrees: imagecorruptions'
    re-implementation of ImageMagick's kernel, in floating point (truncated to uint8)."""
    radius, sigma = MOTION[severity - 1]
    angle = rng.uniform(-45, 45)
    return _ops.motion_blur(x, radius, sigma, angle)


@corruption(name="motion_blur", flavours=("repmix",))
def motion_blur_magick(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Blur along a line of random direction, uniform in [-45, 45) degrees: ImageMagick's
    motion blur with its 8-bit PNG round trip, as imagenet_c runs it through Wand."""
    radius, sigma = MOTION[severity - 1]
    angle = rng.uniform(-45, 45)
    return _ops.magick_motion_blur(x, radius, sigma, angle)


def _zoom_blur(x: np.ndarray, severity: int, centred: bool) -> np.ndarray:
    step, count = ZOOM[severity - 1]
    y = _unit(x)
    acc = y.copy()
    for k in range(count):
        acc += _ops.clipped_zoom(y, 1 + k * step, centred=centred)
    acc /= np.float32(count + 1)
    return np.clip(acc, 0, 1) * 255


@corruption(name="zoom_blur", flavours=("repmix",))
def zoom_blur_centred(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Mean of the image and of its centre magnified by each zoom factor, each magnified
    image trimmed evenly to the image's size (imagenet_c)."""
    return _zoom_blur(x, severity, centred=True)


@corruption(name="zoom_blur", flavours=("imagecorruptions",))
def zoom_blur_top_left(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Mean of the image and of its centre magnified by each zoom factor, each magnified
    image cut to the image's size from its top-left corner (imagecorruptions; the same as
    imagenet_c's at 224 px)."""
    return _zoom_blur(x, severity, centred=False)


@corruption
def gaussian_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur (edges replicated, kernel truncated at 4 sigma), truncated to uint8 as
    ImageNet-C's float64 filter does (`_ops.gaussian_uint8`)."""
    return _ops.gaussian_uint8(x, GAUSSIAN_SIGMA[severity - 1])
