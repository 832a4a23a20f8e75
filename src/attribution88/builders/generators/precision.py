"""Is reduced precision safe for a generator? Compare its images with fp32's.

Autocast (bf16, or fp16 on CUDA) is only acceptable where it leaves the *statistics* the
benchmark is about unchanged: attribution models learn colour statistics and, above all, the
high-frequency spectrum of GAN images (upsampling and filter artifacts). So the check renders
the same seeds in fp32 and in the reduced precision, through the whole pipeline (quantisation
and downscaling to 128 px included), and compares:

- per RGB channel, the mean and the standard deviation over all images (uint8 levels);
- the azimuthally averaged power spectrum of the (grey, mean-removed) images, averaged over
  the images, in 16 radial bands: the largest difference in dB over the bands;
- and, for information, the mean and max absolute pixel difference and the share of pixels
  that changed.

It passes when every channel's mean and std move by at most `MAX_LEVELS` and no band by more
than `MAX_DB`. On a GPU: ``compare_precision(gen, seeds, "fp16", device="cuda")`` on a few
hundred seeds per architecture, before setting ``--precision fp16`` for a build.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Largest change of a channel's mean or std, in uint8 levels, that still passes.
MAX_LEVELS = 0.25
#: Largest change of the radial power spectrum in any band, in dB, that still passes.
MAX_DB = 0.1
BANDS = 16


@dataclass(frozen=True)
class PrecisionReport:
    precision: str
    images: int
    mean_abs_diff: float  # uint8 levels
    max_abs_diff: int
    changed_pixels: float  # share of pixel values that differ
    channel_mean_diff: float  # max over channels, levels
    channel_std_diff: float
    spectrum_db_diff: float  # max over radial bands, dB
    spectrum_band: int  # the band where it is largest (0 = lowest frequencies)

    @property
    def ok(self) -> bool:
        return (self.channel_mean_diff <= MAX_LEVELS and self.channel_std_diff <= MAX_LEVELS
                and self.spectrum_db_diff <= MAX_DB)

    def summary(self) -> str:
        verdict = "same statistics" if self.ok else "CHANGES statistics"
        return (f"{self.precision} vs fp32 on {self.images} images: {verdict} "
                f"(channel mean/std moved <= {self.channel_mean_diff:.3f}/{self.channel_std_diff:.3f} levels, "
                f"spectrum <= {self.spectrum_db_diff:.3f} dB in band {self.spectrum_band}/{BANDS}; "
                f"pixels: mean |diff| {self.mean_abs_diff:.3f}, max {self.max_abs_diff}, "
                f"{100 * self.changed_pixels:.1f}% changed)")


def radial_spectrum(images: np.ndarray, bands: int = BANDS) -> np.ndarray:
    """Mean power per radial frequency band of uint8 images ``(N, H, W, 3)``: float64 ``(bands,)``."""
    grey = images.astype(np.float64).mean(axis=3)
    grey -= grey.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.fftshift(np.fft.fft2(grey), axes=(1, 2))) ** 2).mean(axis=0)
    h, w = power.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h // 2) / (h / 2), (xx - w // 2) / (w / 2))  # 1 = Nyquist on the axes
    band = np.minimum((r * bands).astype(int), bands - 1)
    return np.array([power[band == b].mean() for b in range(bands)])


def compare_images(reference: np.ndarray, other: np.ndarray, precision: str) -> PrecisionReport:
    """Statistics of ``other`` against ``reference`` (both uint8 ``(N, H, W, 3)``)."""
    a, b = reference.astype(np.float64), other.astype(np.float64)
    diff = np.abs(a - b)
    db = np.abs(10 * np.log10(radial_spectrum(other) / radial_spectrum(reference)))
    return PrecisionReport(
        precision=precision, images=len(reference), mean_abs_diff=float(diff.mean()), max_abs_diff=int(diff.max()),
        changed_pixels=float((diff > 0).mean()),
        channel_mean_diff=float(np.abs(a.mean(axis=(0, 1, 2)) - b.mean(axis=(0, 1, 2))).max()),
        channel_std_diff=float(np.abs(a.std(axis=(0, 1, 2)) - b.std(axis=(0, 1, 2))).max()),
        spectrum_db_diff=float(db.max()), spectrum_band=int(db.argmax()))


def compare_precision(generator, seeds: Sequence[int], precision: str, *, device: str | None = None,
                      batch_size: int = 64) -> PrecisionReport:
    """Render ``seeds`` in fp32 and in ``precision`` and compare (see the module docstring)."""
    from .sampling import sample

    ref = sample(generator, seeds, batch_size=batch_size, device=device)
    low = sample(generator, seeds, batch_size=batch_size, device=device, precision=precision)
    return compare_images(ref, low, precision)
