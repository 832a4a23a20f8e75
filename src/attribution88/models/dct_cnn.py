"""DCT-CNN: Frank et al. (ICML 2020, github.com/RUB-SysSec/GANDCTAnalysis) — a classifier on the
log-scaled 2D DCT spectrum of the image — run, as the RepMix paper ran it for Table 1, with a
ResNet-50 (the original one-layer regression collapsed on Attribution88).

Input pipeline (facts of GANDCTAnalysis: type-II orthonormal 2D DCT of each colour channel of
the 0-255 image, log scaling, then each coefficient standardised with the training set's mean
and variance):

- `dct2` / `idct2`: the orthonormal DCT-II per channel, as two matrix products ``D X D^T``
  (``D`` orthogonal, so the inverse is ``D^T C D``);
- `signed_log`: ``sign(c) * log(1 + |c|)``. GANDCTAnalysis takes ``log(|c| + eps)``, which
  drops the sign; keeping it makes the whole input an invertible transform of the image
  (`signed_log_inverse`), at no cost to the log scale of the magnitudes;
- a per-coefficient standardisation (a BatchNorm1d over the 3 x H x W coefficients without
  affine terms: running mean and variance estimated over the training images, fixed at
  inference).

Then the ResNet-50 (torchvision's layout; ImageNet weights are off by default: they were
learnt on pixels, not spectra) with its classifier replaced by Linear(2048, 8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from . import register_model
from .backbones import BackboneConfig
from .classifier import NUM_CLASSES, ImageClassifier, pixels_255


def dct_matrix(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The orthonormal DCT-II matrix (n, n): ``D[k, i] = a_k cos(pi (2i + 1) k / 2n)``,
    ``a_0 = sqrt(1/n)``, ``a_k = sqrt(2/n)``."""
    i = torch.arange(n, dtype=torch.float64)
    d = torch.cos(math.pi * (2 * i[None, :] + 1) * i[:, None] / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.to(dtype)


def dct2(x: torch.Tensor) -> torch.Tensor:
    """2D orthonormal DCT-II over the last two dimensions (..., H, W)."""
    dh, dw = dct_matrix(x.shape[-2], x.dtype).to(x.device), dct_matrix(x.shape[-1], x.dtype).to(x.device)
    return dh @ x @ dw.T


def idct2(c: torch.Tensor) -> torch.Tensor:
    """Inverse of `dct2`."""
    dh, dw = dct_matrix(c.shape[-2], c.dtype).to(c.device), dct_matrix(c.shape[-1], c.dtype).to(c.device)
    return dh.T @ c @ dw


def signed_log(c: torch.Tensor) -> torch.Tensor:
    return torch.sign(c) * torch.log1p(c.abs())


def signed_log_inverse(s: torch.Tensor) -> torch.Tensor:
    return torch.sign(s) * torch.expm1(s.abs())


def dct_features(x: torch.Tensor) -> torch.Tensor:
    """Normalised images (B, 3, H, W) -> signed-log DCT coefficients of their 0-255 pixels."""
    return signed_log(dct2(pixels_255(x)))


@dataclass(frozen=True)
class DCTCNNConfig(BackboneConfig):
    pretrained: bool = False  # ImageNet weights on spectra: off unless asked for
    resize: int = 128  # the spectrum of the native 128 px image, in training and test (flips only)
    crop: int = 128
    test_size: int = 128

    def check(self) -> None:
        super().check()
        if self.crop != self.test_size:
            raise UsageError(f"config crop ({self.crop}) and test_size ({self.test_size}) must be equal for "
                             f"DCT-CNN: each coefficient is standardised at its position")


@register_model("dct-cnn")
class DCTCNN(ImageClassifier):
    Config = DCTCNNConfig
    SUMMARY = "DCT-CNN (Frank et al., ICML 2020): ResNet-50 on the log-scaled DCT spectrum"
    PRESETS: dict[str, dict[str, Any]] = {
        "paper": {},
        # ResNet-50's layout at an eighth of its width on 64 px images, 10x learning rate.
        "cpu": {"width": 8, "resize": 64, "crop": 64, "test_size": 64, "epochs": 3, "lr": 1e-3,
                "val_every": 1},
    }

    def __init__(self, config: DCTCNNConfig, weights_path: str | None = None) -> None:
        super().__init__(config)
        self.standardise = nn.BatchNorm1d(3 * config.crop * config.crop, affine=False)
        self.stages = nn.Sequential(*config.stages(NUM_CLASSES, weights_path))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        c = dct_features(x)
        size = self.config.crop
        if c.shape[-2:] != (size, size):
            raise UsageError(f"DCT-CNN takes {size} px images, got {tuple(c.shape[-2:])}")
        flat = c.flatten(1)
        if self.training and flat.shape[0] == 1:  # a last batch of one image: use the running statistics
            flat = torch.nn.functional.batch_norm(flat, self.standardise.running_mean, self.standardise.running_var,
                                                  eps=self.standardise.eps)
        else:
            flat = self.standardise(flat)
        c = flat.view_as(c)
        return self.stages(c)
