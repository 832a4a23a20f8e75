"""Digital corruptions: brightness, contrast, elastic_transform, pixelate, jpeg_compression,
saturate."""

from __future__ import annotations

import io

import numpy as np

from . import _ops
from ._base import corruption

# Parameters per severity 1..5 (ImageNet-C / imagecorruptions 1.1.2).
BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)  # added to HSV value (ImageNet-C: RGB -> HSV -> RGB)
CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)  # factor on the distance to the channel mean
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


@corruption
def elastic_transform(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Resampling (bilinear, mirrored border) along a smooth random displacement field:
    uniform noise in +-0.5% of the height, Gaussian-smoothed (sigma 1% of each side,
    truncated at 3 sigma, mirrored border), times alpha."""
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
    """Box-filter downscale by c, nearest-neighbour upscale back (Pillow)."""
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
