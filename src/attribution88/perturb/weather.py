"""Weather corruptions: snow, frost, fog, spatter."""

from __future__ import annotations

import numpy as np

from . import _ops, textures
from ._base import corruption

# Parameters per severity 1..5 (ImageNet-C; imagecorruptions 1.1.2 has the same tables).
# snow: flake-noise mean, std, zoom, threshold, motion radius, motion sigma, image weight
SNOW = ((0.1, 0.3, 3, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55))
FROST = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))  # image, frost weights
FOG = ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))  # fog strength, fractal decay
# spatter: liquid-noise mean, std, blur sigma, threshold, water intensity | mud blur, mud?
SPATTER = ((0.65, 0.3, 4, 0.69, 0.6, 0),
           (0.65, 0.3, 3, 0.68, 0.6, 0),
           (0.65, 0.3, 2, 0.68, 0.5, 0),
           (0.65, 0.3, 1, 0.65, 1.5, 1),
           (0.67, 0.4, 1, 0.65, 1.5, 1))
WATER_COLOUR = (175, 238, 238)  # pale turquoise, added to channels (0, 1, 2)
MUD_COLOUR = (63, 42, 20)  # brown, RGB


def _snow(x: np.ndarray, severity: int, rng: np.random.Generator, magick: bool) -> np.ndarray:
    import cv2

    mean, std, zoom, threshold, radius, sigma, weight = SNOW[severity - 1]
    h, w = x.shape[:2]
    img = x.astype(np.float32) / np.float32(255)
    # imagenet_c trims the magnified layer evenly to the image; imagecorruptions blurs it
    # whole and keeps its top-left corner
    layer = _ops.zoom_exact(rng.normal(mean, std, size=(h, w)), zoom, centred=True if magick else None)
    layer[layer < threshold] = 0
    np.clip(layer, 0, 1, out=layer)
    angle = rng.uniform(-135, -45)
    if magick:  # an 8-bit greyscale PNG (values truncated) through ImageMagick
        layer = _ops.magick_motion_blur((layer * 255).astype(np.uint8), radius, sigma, angle)
    else:  # blurred in floating point, rounded to 8 bits
        layer = np.round(_ops.motion_blur(layer, radius, sigma, angle) * 255).astype(np.uint8)[:h, :w]
    layer = layer[:, :, None] / 255.0
    # grey with RGB weights on channels (0, 1, 2): under the repmix flavour's BGR order,
    # the weights land on B, G, R (as in the official code)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[:, :, None]
    img = weight * img + (1 - weight) * np.maximum(img, grey * 1.5 + 0.5)
    return np.clip(img + layer + np.rot90(layer, k=2), 0, 1) * 255


@corruption(name="snow", flavours=("repmix",))
def snow_magick(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Flakes: thresholded, magnified Gaussian noise (magnified image trimmed evenly),
    quantised to 8 bits and smeared by ImageMagick's motion blur (`_ops.magick_motion_blur`)
    at an angle in [-135, -45) degrees, added twice (the layer and its 180-degree rotation)
    to the image, itself first lightened towards its brightened grey version (imagenet_c)."""
    return _snow(x, severity, rng, magick=True)


@corruption(name="snow", flavours=("imagecorruptions",))
def snow_float(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """As the repmix flavour's snow, but the layer (magnified image cut from its top-left
    corner) blurred in floating point by imagecorruptions' re-implementation of the motion
    blur, then rounded to 8 bits."""
    return _snow(x, severity, rng, magick=False)


def _frost(x: np.ndarray, severity: int, rng: np.random.Generator, rescale: bool) -> np.ndarray:
    image_weight, frost_weight = FROST[severity - 1]
    h, w = x.shape[:2]
    index = int(rng.integers(textures.FROST_DRAWN))
    if rescale:
        texture = textures.frost_rescaled(index, h, w)
    else:
        texture = textures.frost_covering(index, h, w)
    top = int(rng.integers(0, texture.shape[0] - h))
    left = int(rng.integers(0, texture.shape[1] - w))
    crop = texture[top:top + h, left:left + w, ::-1]  # the texture's BGR -> RGB
    return np.clip(image_weight * x.astype(np.float32) + np.float32(frost_weight) * crop, 0, 255)


@corruption(name="frost", flavours=("repmix",))
def frost_native(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A weighted sum of the image and a random crop of one of five frost textures, cropped at
    the texture's own resolution and added in RGB order to the image's channels (under the
    repmix flavour's BGR order the texture's red and blue are swapped, as in the official
    code). imagenet_c needs a texture larger than the image (it is at 224 px); for larger
    images the texture is first scaled up just enough (`textures.frost_covering`)."""
    return _frost(x, severity, rng, rescale=False)


@corruption(name="frost", flavours=("imagecorruptions",))
def frost_rescaled(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A weighted sum of the image and a random crop of one of five frost textures, each
    texture first scaled to cover the image and then 10% more (imagecorruptions)."""
    return _frost(x, severity, rng, rescale=True)


@corruption
def fog(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A plasma-fractal haze added to the image, rescaled to keep its maximum."""
    strength, decay = FOG[severity - 1]
    h, w = x.shape[:2]
    img = x.astype(np.float32) / np.float32(255)
    peak = float(img.max())
    haze = _ops.plasma_fractal(_ops.next_power_of_2(max(h, w)), decay, rng)[:h, :w, None]
    img += (strength * haze).astype(np.float32)
    img *= peak / (peak + strength)
    return np.clip(img, 0, 1) * 255


@corruption
def spatter(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Water drops (severities 1-3: turquoise-tinted, with bright rims from an edge distance
    map) or mud splashes (4-5: brown blots), from thresholded, blurred Gaussian noise."""
    import cv2

    mean, std, sigma, threshold, extra, is_mud = SPATTER[severity - 1]
    h, w = x.shape[:2]
    img = x.astype(np.float32) / np.float32(255)
    liquid = _ops.gaussian(rng.normal(mean, std, size=(h, w)), sigma)
    liquid[liquid < threshold] = 0
    if not is_mud:
        # Values above 1 would wrap around in the original's uint8 cast; with these
        # parameters they lie 8 standard deviations out. Clipping makes them saturate.
        level = np.clip(liquid * 255, 0, 255).astype(np.uint8)
        dist = cv2.distanceTransform(255 - cv2.Canny(level, 50, 150), cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
        emboss = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float32)
        dist = cv2.blur(cv2.filter2D(dist, cv2.CV_8U, emboss), (3, 3)).astype(np.float32)
        m = level * dist
        top = float(m.max())
        m = m * (extra / top) if top > 0 else np.zeros_like(m)
        colour = np.asarray(WATER_COLOUR, np.float32) / 255
        return np.clip(img + m[:, :, None] * colour, 0, 1) * 255
    m = _ops.gaussian((liquid > threshold).astype(np.float32), extra)
    m[m < 0.8] = 0
    colour = np.asarray(MUD_COLOUR, np.float32) / 255
    img *= 1 - m[:, :, None]
    return np.clip(img + m[:, :, None] * colour, 0, 1) * 255
