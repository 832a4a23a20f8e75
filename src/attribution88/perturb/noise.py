"""Noise corruptions: gaussian_noise, shot_noise, impulse_noise, speckle_noise.

Pixel values are taken on [0, 1] (``x / 255``), noise is drawn per pixel and per channel,
the result clipped to [0, 1] and scaled back to 0..255 (ImageNet-C definitions).
"""

from __future__ import annotations

import numpy as np

from ._base import corruption

# Parameters per severity 1..5 (ImageNet-C / imagecorruptions 1.1.2).
GAUSSIAN_STD = (0.08, 0.12, 0.18, 0.26, 0.38)  # std of additive noise, on [0, 1]
SHOT_PHOTONS = (60, 25, 12, 5, 3)  # Poisson rate at full intensity
IMPULSE_AMOUNT = (0.03, 0.06, 0.09, 0.17, 0.27)  # fraction of values replaced (salt & pepper)
SPECKLE_STD = (0.15, 0.2, 0.35, 0.45, 0.6)  # std of multiplicative noise


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(255)


def _to_255(y: np.ndarray) -> np.ndarray:
    np.clip(y, 0.0, 1.0, out=y)
    y *= 255
    return y


@corruption
def gaussian_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise: ``x + N(0, c^2)``."""
    c = GAUSSIAN_STD[severity - 1]
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    noise *= np.float32(c)
    return _to_255(_unit(x) + noise)


@corruption
def shot_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson (photon) noise: ``Poisson(x * c) / c``."""
    c = SHOT_PHOTONS[severity - 1]
    counts = rng.poisson(x.astype(np.float64) * (c / 255.0))
    return _to_255(counts.astype(np.float32) / np.float32(c))


@corruption
def impulse_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Salt and pepper noise: each value independently replaced with probability ``c``, by 1
    or 0 with equal odds. Drawn as ``skimage.util.random_noise(mode="s&p", amount=c)`` draws
    it (two Bernoulli fields, ``random() <= p``), so the same generator gives the same noise.
    """
    c = IMPULSE_AMOUNT[severity - 1]
    flipped = rng.random(x.shape) <= c
    salted = rng.random(x.shape) <= 0.5
    y = _unit(x)
    y[flipped & salted] = 1.0
    y[flipped & ~salted] = 0.0
    return _to_255(y)


@corruption
def speckle_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative Gaussian noise: ``x + x * N(0, c^2)``."""
    c = SPECKLE_STD[severity - 1]
    y = _unit(x)
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    noise *= np.float32(c)
    return _to_255(y + y * noise)
