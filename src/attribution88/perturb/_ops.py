"""Numerical building blocks shared by the corruptions: Gaussian filtering, the centred zoom,
the motion-blur line (imagecorruptions' and ImageMagick's), the defocus disk, the plasma fractal
and the final uint8 conversion.

Each reproduces the operation ImageNet-C (Hendrycks & Dietterich, ICLR 2019) and
imagecorruptions 1.1.2 use — same kernel sizes, borders and sampling grids — with OpenCV or
numpy instead of Python loops. References to "scipy"/"skimage"/"ImageMagick" below name the
operation the original calls, so a reader can check that the semantics match.
"""

from __future__ import annotations

import functools
import math

import numpy as np

#: Added before truncating to uint8. ImageNet-C converts its float results with ``np.uint8``
#: (truncation); a value that is exactly an integer in exact arithmetic (a flat region after a
#: normalised blur) can land a hair below it in floating point and lose a grey level. The
#: tolerance keeps such values on their integer; it moves no other value by a level.
_TRUNCATION_TOLERANCE = 1e-3


def to_uint8(x: np.ndarray) -> np.ndarray:
    """A float image on the 0..255 scale to uint8, clipped then truncated (as ImageNet-C)."""
    x = np.clip(x, 0.0, 255.0)
    x += _TRUNCATION_TOLERANCE
    return np.minimum(x, 255.0).astype(np.uint8)


#: Kernel radius from which `gaussian` filters a 2-D image by matrix products (OpenCV's direct
#: filter is faster below it).
_MATRIX_RADIUS = 24


def gaussian(x: np.ndarray, sigma: float | tuple[float, float], *, mode: str = "nearest",
             truncate: float = 4.0) -> np.ndarray:
    """Gaussian filter over the two spatial axes of a float (H, W) or (H, W, C) image.

    Same kernel as ``scipy.ndimage.gaussian_filter`` (what ``skimage.filters.gaussian`` calls):
    radius ``int(truncate * sigma + 0.5)``, normalised weights ``exp(-t^2 / 2 sigma^2)``;
    ``mode`` "nearest" (edge replicated) or "reflect" (half-sample symmetric). ``sigma`` is
    one value or (sigma_rows, sigma_cols).
    """
    import cv2

    sy, sx = (sigma, sigma) if np.isscalar(sigma) else sigma
    ry, rx = (int(truncate * s + 0.5) for s in (sy, sx))
    if (x.ndim == 2 and max(ry, rx) >= _MATRIX_RADIUS) or ry >= x.shape[0] or rx >= x.shape[1]:
        # a wide kernel (imagenet_c's elastic_transform at severities 1-2: sigma 171 and 20 px,
        # radius 512 and 59 on 224 px) may fold over the border several times: apply each axis
        # as the (n x n) matrix of that filter, borders folded in (faster than OpenCV's
        # direct filter for such kernels, and exact where OpenCV refuses a border wider than
        # the image)
        rows = _gaussian_matrix(x.shape[0], float(sy), ry, mode)
        cols = _gaussian_matrix(x.shape[1], float(sx), rx, mode)
        if x.ndim == 3:
            return np.stack([rows @ x[:, :, c].astype(np.float64) @ cols.T for c in range(x.shape[2])],
                            axis=2).astype(x.dtype, copy=False)
        return (rows @ x.astype(np.float64, copy=False) @ cols.T).astype(x.dtype, copy=False)
    border = {"nearest": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT}[mode]
    return cv2.GaussianBlur(x, (2 * rx + 1, 2 * ry + 1), sigmaX=float(sx), sigmaY=float(sy),
                            borderType=border)


@functools.lru_cache(maxsize=16)
def _gaussian_matrix(n: int, sigma: float, radius: int, mode: str) -> np.ndarray:
    """The (n, n) matrix of ``scipy.ndimage.gaussian_filter1d`` on n samples: weights
    ``exp(-t^2 / 2 sigma^2)`` for t in -radius..radius, normalised; the sample index i + t is
    folded into 0..n-1 by ``mode`` ("reflect": half-sample symmetric, period 2n; "nearest":
    clamped), as often as needed."""
    t = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    w /= w.sum()
    src = np.arange(n)[:, None] + t[None, :]
    if mode == "reflect":
        src = np.mod(src, 2 * n)
        src = np.where(src >= n, 2 * n - 1 - src, src)
    else:
        src = np.clip(src, 0, n - 1)
    m = np.zeros((n, n), np.float64)
    np.add.at(m, (np.repeat(np.arange(n), t.size), src.ravel()), np.tile(w, n))
    m.flags.writeable = False
    return m


def gaussian_uint8(x: np.ndarray, sigma: float) -> np.ndarray:
    """``np.uint8(np.clip(skimage.filters.gaussian(x / 255, sigma, channel_axis=-1), 0, 1) * 255)``
    for a uint8 (H, W, C) image, as ImageNet-C computes it (gaussian_blur, and both blurs of
    glass_blur): scipy's float64 filter (edges replicated, truncated at 4 sigma), truncated to
    uint8.

    Computed with OpenCV in float64, which agrees with scipy to ~1e-15 except in the order of
    its sums. That order decides one thing: whether a flat area of level v comes out a hair
    above or below v / 255, i.e. v or v - 1 after the truncation (a white background after
    imagenet_c's blur is 254 or 255 depending on the sigma). Values within 1e-9 of a level
    only arise from flat neighbourhoods, so they take the level scipy gives a flat image of
    that level (`_flat_levels`); every other value is truncated as computed.
    """
    import cv2

    y = gaussian(cv2.LUT(x, _UNIT), sigma)  # x / 255, exactly as numpy divides
    y *= 255.0
    np.clip(y, 0.0, 255.0, out=y)
    out = np.floor(y)
    y -= out  # the fraction
    near_above = y < 1e-9  # just above a level (or on it)
    near_below = y > 1.0 - 1e-9  # just below the next one
    result = out.astype(np.uint8)
    if near_above.any() or near_below.any():
        levels = _flat_levels(float(sigma))
        idx = out[near_above].astype(np.intp)
        result[near_above] = levels[idx]
        idx = out[near_below].astype(np.intp) + 1
        result[near_below] = levels[np.minimum(idx, 255)]
    return result


#: uint8 -> v / 255 in float64, as numpy computes ``x / 255.`` (for cv2.LUT).
_UNIT = (np.arange(256) / 255.0).reshape(1, 256)


@functools.lru_cache(maxsize=16)
def _flat_levels(sigma: float) -> np.ndarray:
    """For each level v, the uint8 that imagenet_c's ``np.uint8(np.clip(gaussian(flat v / 255),
    0, 1) * 255)`` gives inside a flat area: scipy's filter run on flat images of every level."""
    from scipy import ndimage

    side = 2 * int(4.0 * sigma + 0.5) + 3
    flat = np.broadcast_to(np.arange(256) / 255.0, (side, side, 256)).copy()
    y = ndimage.gaussian_filter(flat, (sigma, sigma, 0), mode="nearest", truncate=4.0)[side // 2, side // 2]
    return (np.clip(y, 0, 1) * 255).astype(np.uint8)


def zoom_geometry(size: int, factor: float) -> tuple[int, int, float]:
    """The centred crop that ImageNet-C's ``clipped_zoom`` magnifies, along one axis.

    Returns (start, out, step): the crop of ``ceil(size / factor)`` pixels starting at
    ``start`` is resized by ``scipy.ndimage.zoom(order=1)`` to ``out = round(crop * factor)``
    pixels, output pixel ``i`` sampling crop coordinate ``i * step`` (corner-aligned grid).
    """
    crop = int(math.ceil(size / float(factor)))
    start = (size - crop) // 2
    out = int(round(crop * factor))
    step = (crop - 1) / (out - 1) if out > 1 else 0.0
    return start, out, step


def zoom_outside(size: int, factor: float) -> np.ndarray:
    """Indices of the output lines that ``scipy.ndimage.zoom`` leaves black.

    scipy computes output line ``i``'s source coordinate as ``i * step`` in double precision
    and, in its default ``mode="constant"``, returns 0 for a coordinate past the last input
    sample. For some sizes and factors the last line's ``(out - 1) * step`` rounds one ulp
    above ``crop - 1``: ImageNet-C's zoom then has a black last row or column (before its
    crop to the image size). Reproduced here, so the layers match imagecorruptions'.
    """
    start, out, step = zoom_geometry(size, factor)
    crop = int(math.ceil(size / float(factor)))
    return np.nonzero(np.arange(out, dtype=np.float64) * step > crop - 1)[0]


def zoom_trim(size: int, factor: float, centred: bool) -> int:
    """The first line of the zoomed image that `clipped_zoom` keeps: imagenet_c trims the
    ``out - size`` extra lines evenly (``(out - size) // 2``), imagecorruptions keeps the first
    ``size``. At 224 px both keep the first (``out - size`` is 0 or 1 there)."""
    return (zoom_geometry(size, factor)[1] - size) // 2 if centred else 0


def clipped_zoom(x: np.ndarray, factor: float, *, centred: bool = False) -> np.ndarray:
    """Magnify the centre of a float32 (H, W[, C]) image by ``factor`` with bilinear sampling
    (OpenCV's warp: source coordinates quantised to 1/32 pixel), cropped to (H, W) from the
    line `zoom_trim` gives."""
    import cv2

    h, w = x.shape[:2]
    top, out_h, sy = zoom_geometry(h, factor)
    left, out_w, sx = zoom_geometry(w, factor)
    tr, tc = zoom_trim(h, factor, centred), zoom_trim(w, factor, centred)
    out_h, out_w = min(out_h - tr, h), min(out_w - tc, w)
    m = np.array([[sx, 0.0, left + tc * sx], [0.0, sy, top + tr * sy]], dtype=np.float64)
    # WARP_INVERSE_MAP: m maps output pixel (col, row) to the source coordinate.
    y = cv2.warpAffine(x, m, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_REPLICATE)
    _blacken(y, zoom_outside(h, factor) - tr, zoom_outside(w, factor) - tc)
    return y


def _blacken(y: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    y[rows[(rows >= 0) & (rows < y.shape[0])]] = 0
    y[:, cols[(cols >= 0) & (cols < y.shape[1])]] = 0


def zoom_exact(x: np.ndarray, factor: float, *, centred: bool | None = None) -> np.ndarray:
    """`clipped_zoom` of a 2-D float image, computed exactly in float64 (separable bilinear,
    as ``scipy.ndimage.zoom(order=1)``): cropped to (H, W) from the line `zoom_trim` gives, or
    (``centred`` None) the whole zoomed image, uncropped (imagecorruptions' snow).

    Snow thresholds its zoomed noise, so the 1/32-pixel quantisation of OpenCV's warp would
    flip a few flakes on or off; this exact path keeps every flake where ImageNet-C has it.
    """
    axes = []
    for n in x.shape[:2]:
        start, out, step = zoom_geometry(n, factor)
        trim = zoom_trim(n, factor, bool(centred))
        coord = start + (np.arange(out) if centred is None else np.arange(trim, trim + n)) * step
        low = np.floor(coord).astype(np.intp)
        axes.append((low, np.minimum(low + 1, n - 1), coord - low))
    (r0, r1, wr), (c0, c1, wc) = axes
    x = x.astype(np.float64, copy=False)
    rows = x[r0] * (1 - wr)[:, None] + x[r1] * wr[:, None]
    y = rows[:, c0] * (1 - wc) + rows[:, c1] * wc
    h, w = x.shape[:2]
    _blacken(y, zoom_outside(h, factor) - zoom_trim(h, factor, bool(centred)),
             zoom_outside(w, factor) - zoom_trim(w, factor, bool(centred)))
    return y


def motion_taps(radius: int, sigma: float, angle: float, shape: tuple[int, ...] | None
                ) -> list[tuple[float, int, int]]:
    """The taps of ImageNet-C's motion blur: (weight, row offset, column offset).

    ``2 * radius + 1`` taps along a line at ``angle`` degrees, weighted by a one-sided Gaussian
    of ``sigma`` normalised over all of them; tap ``i`` reads the pixel ``round(i sin a)``
    rows and ``round(i cos a)`` columns away (halves rounded down) — ImageMagick's
    ``MotionBlurImage`` kernel and offsets. As in imagecorruptions' re-implementation, the line
    stops at the first tap that would leave an image of ``shape`` (its weight is lost);
    ``shape`` None keeps every tap (ImageMagick reads past the border: edge pixels).
    """
    width = 2 * radius + 1
    t = np.arange(width, dtype=np.float64)
    weights = np.exp(-t ** 2 / (2 * sigma ** 2)) / (math.sqrt(2 * math.pi) * sigma)
    weights /= weights.sum()
    a = np.deg2rad(angle)
    py, px = width * np.sin(a), width * np.cos(a)
    length = math.hypot(py, px)
    taps = []
    for i in range(width):
        oy = math.ceil(i * py / length - 0.5)
        ox = math.ceil(i * px / length - 0.5)
        if shape is not None and (abs(oy) >= shape[0] or abs(ox) >= shape[1]):
            break
        taps.append((float(weights[i]), oy, ox))
    return taps


def motion_blur(x: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    """Blur an (H, W) or (H, W, C) image along a line (see `motion_taps`), edges replicated.

    Output is float64 (H, W[, C]); the sum of shifted copies the original computes with
    ``np.roll``, here one slice per tap of an edge-padded copy.
    """
    taps = motion_taps(radius, sigma, angle, x.shape)
    if not taps:
        return np.zeros(x.shape, np.float64)
    return _sum_taps(x, taps, np.float32).astype(np.float64)


def _sum_taps(x: np.ndarray, taps: list[tuple[float, int, int]], dtype: type[np.floating],
              scale: float = 1.0) -> np.ndarray:
    """The sum over ``taps`` of ``weight`` times ``scale * x`` shifted by (oy, ox), edges
    replicated, accumulated in ``dtype`` (the shifted copies are slices of an edge-padded copy)."""
    h, w = x.shape[:2]
    top = max(0, -min(t[1] for t in taps))
    bottom = max(0, max(t[1] for t in taps))
    left = max(0, -min(t[2] for t in taps))
    right = max(0, max(t[2] for t in taps))
    pad = ((top, bottom), (left, right)) + ((0, 0),) * (x.ndim - 2)
    src = np.pad(x, pad, mode="edge").astype(dtype)
    if scale != 1.0:
        src *= dtype(scale)
    out = np.zeros(x.shape, dtype)
    for weight, oy, ox in taps:
        out += dtype(weight) * src[top + oy:top + oy + h, left + ox:left + ox + w]
    return out


def magick_motion_blur(x: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick's ``MagickMotionBlurImage(radius, sigma, angle)`` on a uint8 (H, W) or
    (H, W, C) image read from an 8-bit PNG and written back to one, as imagenet_c runs it
    through Wand. Returns uint8.

    ImageMagick 6 (Q16) holds the pixel ``v`` as ``257 v``, sums the `motion_taps` (all of
    them: past the border it reads edge pixels) in double precision, rounds the sum to the
    nearest 16-bit level, and its 8-bit PNG writer divides by 257 discarding the remainder.
    Measured against ImageMagick 6.9.11-60 Q16 (Debian 12), the oracle's: identical bytes
    (tests/test_perturb_repmix.py checks it when Wand is installed).
    """
    out = _sum_taps(x, motion_taps(radius, sigma, angle, None), np.float64, scale=257.0)
    np.clip(out, 0.0, 65535.0, out=out)
    out += 0.5
    q = out.astype(np.uint32)  # the 16-bit level (truncation of the sum + 0.5)
    return (q // 257).astype(np.uint8)


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """ImageNet-C's defocus kernel: a normalised disk of ``radius`` on a grid of half-size
    max(8, radius), smoothed by a 3x3 (5x5 above radius 8) Gaussian of ``alias_blur``."""
    import cv2

    half = 8 if radius <= 8 else int(radius)
    ksize = (3, 3) if radius <= 8 else (5, 5)
    t = np.arange(-half, half + 1)
    yy, xx = np.meshgrid(t, t)
    disk = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float32)
    disk /= disk.sum()
    return cv2.GaussianBlur(disk, ksize=ksize, sigmaX=alias_blur)


def plasma_fractal(size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """A (size, size) diamond-square height map in [0, 1] (ImageNet-C's fog), ``size`` a power
    of two, toroidal; each level's random offsets are uniform in +-wibble^2 with wibble
    starting at 100 and divided by ``decay`` per level."""
    if size & (size - 1):
        raise ValueError(f"plasma fractal size must be a power of two, not {size}")
    grid = np.zeros((size, size), np.float64)
    step, wibble = size, 100.0
    while step >= 2:
        half = step // 2
        # squares: the centre of each square of corners `step` apart
        corners = grid[0:size:step, 0:size:step]
        acc = corners + np.roll(corners, -1, axis=0)
        acc += np.roll(acc, -1, axis=1)
        grid[half:size:step, half:size:step] = acc / 4 + wibble * rng.uniform(-wibble, wibble, acc.shape)
        # diamonds: the edge midpoints, from the two corners and two centres around each
        centres = grid[half:size:step, half:size:step]
        corners = grid[0:size:step, 0:size:step]
        top = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        grid[0:size:step, half:size:step] = top / 4 + wibble * rng.uniform(-wibble, wibble, top.shape)
        left = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        grid[half:size:step, 0:size:step] = left / 4 + wibble * rng.uniform(-wibble, wibble, left.shape)
        step //= 2
        wibble /= decay
    grid -= grid.min()
    top = grid.max()
    return grid / top if top > 0 else grid


def next_power_of_2(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()
