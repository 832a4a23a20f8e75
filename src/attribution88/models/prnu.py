"""PRNU-style attribution (the Table 1 baseline of github.com/RUB-SysSec/GANDCTAnalysis, after
Lukáš, Fridrich and Goljan's camera identification and Marra et al.'s GAN fingerprints):

- **noise residual** of an image: ``r = x - denoise(x)`` on its 0-255 pixels, each colour
  channel, with an adaptive Wiener filter (local mean and variance over a ``window`` x
  ``window`` neighbourhood, noise variance ``noise_sigma^2``: ``m + max(v - s2, 0) / max(v, s2)
  * (x - m)``, the spatial form of the filter the PRNU literature applies in the wavelet
  domain), then zero-meaned along every row and every column (removing the linear patterns
  shared by all sources, as in PRNU extraction);
- **fingerprint** of a source: the average residual of its training images, accumulated by
  the training loop (every training step adds its images' residuals to their source's sum);
- **attribution** by normalised correlation: ``rho_s = <r - mean r, F_s - mean F_s> /
  (|r - mean r| |F_s - mean F_s|)`` for the 8 sources (``real`` has a fingerprint too: the
  average residual of real images); the prediction is the highest correlation;
- **detection** from that real-vs-fake decision (the scorer's pred > 0).

The submission's scores are the softmax of ``a * rho_s``, with one learnt temperature ``a``
(cross-entropy, the only parameter trained by gradient), so that the probabilities are usable
for log loss and AUC; the argmax is the raw correlations'.

A fingerprint is a per-pixel pattern, which random flips and crops would misalign: PRNU trains
on whole images at the test size (no flip, no crop) with the same seen-perturbation
augmentation as every model (probability ``perturbation_p``, per image and epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..errors import UsageError
from . import register_model
from .classifier import NUM_CLASSES, ImageClassifier, pixels_255
from .config import TrainConfig


def wiener_denoise(x: torch.Tensor, window: int = 3, noise_var: float = 9.0) -> torch.Tensor:
    """Adaptive (local) Wiener filter of each channel of ``x`` (B, C, H, W)."""
    pad = window // 2
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    mean = F.avg_pool2d(padded, window, stride=1)
    var = (F.avg_pool2d(padded * padded, window, stride=1) - mean * mean).clamp_min(0)
    gain = (var - noise_var).clamp_min(0) / var.clamp_min(noise_var)
    return mean + gain * (x - mean)


def noise_residual(pixels: torch.Tensor, window: int = 3, noise_sigma: float = 3.0) -> torch.Tensor:
    """PRNU noise residual of 0-255 images (B, 3, H, W): image minus its Wiener-denoised
    version, zero-meaned along each row and each column of each channel."""
    r = pixels - wiener_denoise(pixels, window, noise_sigma ** 2)
    r = r - r.mean(-1, keepdim=True)
    return r - r.mean(-2, keepdim=True)


def normalised_correlation(residuals: torch.Tensor, fingerprints: torch.Tensor) -> torch.Tensor:
    """(B, ...) x (S, ...) -> (B, S): the correlation coefficient of each residual with each
    fingerprint over all pixels (0 where either is constant)."""
    r = residuals.flatten(1)
    f = fingerprints.flatten(1).to(r.dtype)
    r = r - r.mean(1, keepdim=True)
    f = f - f.mean(1, keepdim=True)
    r = r / r.norm(dim=1, keepdim=True).clamp_min(1e-12)
    f = f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return r @ f.T


class AlignedTrain:
    """Training transform without geometry changes: resize to ``size`` (bilinear), the seen
    perturbation with probability ``p``, normalise — deterministic per (image id, epoch)."""

    def __init__(self, size: int, p: float, perturb: bool = True) -> None:
        self.size, self.p, self.perturb = size, p, perturb

    def __call__(self, image: Image.Image, image_id: str, epoch: int) -> torch.Tensor:
        from ..ids import train_augmentation_seed
        from ..loader import RepMixEval

        if self.perturb:
            from ..perturb import training_perturbation

            rng = np.random.default_rng(train_augmentation_seed(image_id, epoch))
            if image.size != (self.size, self.size):
                image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
            arr, _, _ = training_perturbation(np.asarray(image), int(rng.integers(0, 2**63 - 1)), p=self.p)
            image = Image.fromarray(arr)
        return RepMixEval(self.size)(image, image_id, epoch)

    def __repr__(self) -> str:
        return f"AlignedTrain(size={self.size}, p={self.p}, perturb={self.perturb})"


@dataclass(frozen=True)
class PRNUConfig(TrainConfig):
    test_size: int = 128  # the native resolution: no resampling of the noise
    resize: int = 128
    crop: int = 128
    window: int = 3
    noise_sigma: float = 3.0  # in 0-255 pixel units
    lr: float = 1e-2  # only the temperature learns by gradient
    epochs: int = 2

    def check(self) -> None:
        super().check()
        if self.window < 3 or self.window % 2 == 0:
            raise UsageError(f"config window must be an odd integer >= 3, got {self.window}")
        if not self.noise_sigma > 0:
            raise UsageError(f"config noise_sigma must be > 0, got {self.noise_sigma}")


@register_model("prnu")
class PRNU(ImageClassifier):
    Config = PRNUConfig
    SUMMARY = "PRNU: per-source average noise residual, attribution by normalised correlation"
    PRESETS: dict[str, dict[str, Any]] = {
        "paper": {},
        "cpu": {"epochs": 2, "val_every": 1},
    }

    def __init__(self, config: PRNUConfig, weights_path: str | None = None) -> None:
        super().__init__(config)
        if weights_path is not None:
            raise UsageError("PRNU has no ImageNet weights; drop --pretrained")
        size = config.test_size
        self.register_buffer("residual_sum", torch.zeros(NUM_CLASSES, 3, size, size, dtype=torch.float64))
        self.register_buffer("residual_count", torch.zeros(NUM_CLASSES, dtype=torch.float64))
        self.log_temperature = nn.Parameter(torch.tensor(math.log(20.0)))

    def train_transform(self, split: str = "train"):
        c = self.config
        return AlignedTrain(c.test_size, c.perturbation_p if split == "train" else 1.0, c.perturbation)

    def fingerprints(self) -> torch.Tensor:
        """(8, 3, H, W): each source's average training residual (zeros before any)."""
        return (self.residual_sum / self.residual_count.clamp_min(1).view(-1, 1, 1, 1)).float()

    def residuals(self, x: torch.Tensor) -> torch.Tensor:
        size = self.config.test_size
        if x.shape[-2:] != (size, size):
            raise UsageError(f"PRNU takes {size} px images (its fingerprints' size), got {tuple(x.shape[-2:])}")
        return noise_residual(pixels_255(x), self.config.window, self.config.noise_sigma)

    def forward(self, x: torch.Tensor, ratios: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        r = self.residuals(x)
        rho = normalised_correlation(r, self.fingerprints())
        return {"attribution": self.log_temperature.exp() * rho, "correlation": rho, "residual": r}

    def loss(self, out: dict[str, torch.Tensor], sources: torch.Tensor,
             ratios: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = super().loss(out, sources, ratios)
        if self.training:  # the fingerprints learn from the training images only
            with torch.no_grad():
                r = out["residual"].double()
                self.residual_sum.index_add_(0, sources[:, 0], r)
                self.residual_count.index_add_(0, sources[:, 0], torch.ones_like(sources[:, 0], dtype=torch.float64))
        return terms

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)["attribution"]
