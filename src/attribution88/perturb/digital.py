"""Digital corruptions: brightness, contrast, elastic_transform, pixelate, jpeg_compression,
saturate."""

from __future__ import annotations

import io

import numpy as np

from . import _ops
from ._base import corruption

# Parameters per severity 1..5 (ImageNet-C; imagecorruptions 1.1.2 has the same tables but
# for elastic_transform's).
BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)  # added to HSV value (ImageNet-C: RGB -> HSV -> RGB)
CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)  # factor on the distance to the channel mean
# imagenet_c: alpha (displacement scale, px), sigma (smoothing, px), affine shift (px). The 244
# is the original's (its comment: "244 should have been 224"), kept.
ELASTIC_AFFINE = ((244 * 2, 244 * 0.7, 244 * 0.1),
                  (244 * 2, 244 * 0.08, 244 * 0.2),
                  (244 * 0.05, 244 * 0.01, 244 * 0.02),
                  (244 * 0.07, 244 * 0.01, 244 * 0.02),
                  (244 * 0.12, 244 * 0.01, 244 * 0.02))
# imagecorruptions: alpha; sigma and the noise amplitude are relative to the image size.
ELASTIC_ALPHA = (250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12)
PIXELATE = (0.6, 0.5, 0.4, 0.3, 0.25)  # downscale factor
JPEG_QUALITY = (25, 18, 15, 10, 7)
SATURATE = ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2))  # HSV saturation * a + b


def _hsv(x: np.ndarray) -> np.ndarray:
    """uint8 RGB to float32 HSV (H in degrees, S and V on [0, 1]; S = 0 and H = 0 for grey,
    the conventions of the skimage.color.rgb2hsv that ImageNet-C uses)."""
    import cv2

    return cv2.cvtColor(x.astype(np.float32) / np.float32(255), cv2.COLOR_RGB2HSV)


def _rgb(hsv: np.ndarray) -> np.ndarray:
    import cv2

    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0, 1) * 255


@corruption
def brightness(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """HSV value + c, clipped to 1; hue and saturation kept (a black pixel becomes grey)."""
    hsv = _hsv(x)
    v = hsv[:, :, 2]
    np.clip(v + np.float32(BRIGHTNESS[severity - 1]), 0, 1, out=v)
    return _rgb(hsv)


@corruption
def contrast(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Each channel pulled towards its mean: ``(x - mean) * c + mean``."""
    c = CONTRAST[severity - 1]
    y = x.astype(np.float32) / np.float32(255)
    means = y.mean(axis=(0, 1), keepdims=True, dtype=np.float64).astype(np.float32)
    y -= means
    y *= np.float32(c)
    y += means
    return np.clip(y, 0, 1) * 255


@corruption
def saturate(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """HSV saturation ``S * a + b``, clipped to [0, 1]; hue and value kept. A grey pixel has
    hue 0 (red), so at b > 0 grey areas take ImageNet-C's faint red cast."""
    a, b = SATURATE[severity - 1]
    hsv = _hsv(x)
    s = hsv[:, :, 1]
    np.clip(s * np.float32(a) + np.float32(b), 0, 1, out=s)
    return _rgb(hsv)


@corruption(name="elastic_transform", flavours=("repmix",))
def elastic_affine(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A random affine warp, then resampling along a smooth random displacement field
    (imagenet_c).

    Affine: the three points (c + s, c + s), (c_0 + s, c_1 - s), (c - s, c - s) of the centre
    c = (H // 2, W // 2) (used as (x, y) points, as the original does) and s = min(H, W) // 3
    each move by uniform(-shift, shift) per coordinate; the image is warped by the affine map
    between them (OpenCV, bilinear, border reflect-101). Field: uniform noise in [-1, 1]
    per pixel, Gaussian-smoothed (sigma px, truncated at 3 sigma, half-sample mirrored border,
    folded as often as the kernel needs), times alpha; one for columns, then one for rows.
    Resampling: ``scipy.ndimage.map_coordinates`` (order 1, mirrored border), per channel.
    """
    import cv2
    from scipy import ndimage

    alpha, sigma, shift = ELASTIC_AFFINE[severity - 1]
    h, w = x.shape[:2]
    img = x.astype(np.float32) / np.float32(255)
    centre = np.float32((h, w)) // 2
    side = min(h, w) // 3
    src = np.float32([centre + side, [centre[0] + side, centre[1] - side], centre - side])
    dst = src + rng.uniform(-shift, shift, size=src.shape).astype(np.float32)
    img = cv2.warpAffine(img, cv2.getAffineTransform(src, dst), (w, h), borderMode=cv2.BORDER_REFLECT_101)
    dx = (_ops.gaussian(rng.uniform(-1, 1, size=(h, w)), sigma, mode="reflect", truncate=3)
          * alpha).astype(np.float32)
    dy = (_ops.gaussian(rng.uniform(-1, 1, size=(h, w)), sigma, mode="reflect", truncate=3)
          * alpha).astype(np.float32)
    coords = np.stack([np.arange(h)[:, None] + dy, np.arange(w)[None, :] + dx])
    out = np.empty_like(img)
    for c in range(img.shape[2]):
        ndimage.map_coordinates(img[:, :, c], coords, output=out[:, :, c], order=1, mode="reflect")
    return np.clip(out, 0, 1) * 255


@corruption(name="elastic_transform", flavours=("imagecorruptions",))
def elastic_small(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Resampling (bilinear, mirrored border) along a smooth random displacement field:
    uniform noise in +-0.5% of the height, Gaussian-smoothed (sigma 1% of each side,
    truncated at 3 sigma, mirrored border), times alpha (imagecorruptions' rewrite; no
    affine)."""
    import cv2

    alpha = ELASTIC_ALPHA[severity - 1]
    h, w = x.shape[:2]
    sigma = (h * 0.01, w * 0.01)
    limit = h * 0.005
    dx = (_ops.gaussian(rng.uniform(-limit, limit, (h, w)), sigma, mode="reflect", truncate=3)
          * alpha).astype(np.float32)
    dy = (_ops.gaussian(rng.uniform(-limit, limit, (h, w)), sigma, mode="reflect", truncate=3)
          * alpha).astype(np.float32)
    cols, rows = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    y = x.astype(np.float32) / np.float32(255)
    out = cv2.remap(y, cols + dx, rows + dy, interpolation=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0, 1) * 255


@corruption
def pixelate(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Box-filter downscale by c, back up to the image's size (Pillow). imagenet_c upscales
    with the box filter, imagecorruptions with nearest neighbour: for an upscale both pick
    input pixel floor((i + 0.5) * in / out) for output pixel i, the same bytes."""
    from PIL import Image

    c = PIXELATE[severity - 1]
    h, w = x.shape[:2]
    small = Image.fromarray(x).resize((max(1, int(w * c)), max(1, int(h * c))), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.NEAREST))


@corruption
def jpeg_compression(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """JPEG encoding at quality c, decoded back (Pillow, default subsampling)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(x).save(buf, format="JPEG", quality=JPEG_QUALITY[severity - 1])
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))
