"""EigenFace (Sirovich and Kirby; the Table 1 baseline of Yu et al.'s code base,
github.com/ningyu1991/GANFingerprints): PCA on the pixels, a linear classifier on the PCA
coefficients.

How it trains under the common `train` command (one loop for every model):

1. **PCA, in closed form.** During the first training steps the model accumulates the sum and
   the sum of outer products of the flattened, downscaled images (``pca_size`` px, the same
   augmented and perturbed views every model trains on, in the run's seeded order). Once
   ``pca_fit_images`` images have been seen — or at the first validation, if the split is
   smaller — it takes the covariance's top ``components`` eigenvectors (float64
   eigendecomposition, each vector's sign fixed so its largest entry is positive) and keeps
   them, with the mean and the eigenvalues, frozen from then on. Steps before the fit see
   zero coefficients (only the classifier's bias learns).
2. **The linear classifier**, Linear(components, 8) on the whitened coefficients (each
   divided by the square root of its eigenvalue), trained by the loop with cross-entropy
   and Adam for the remaining steps and epochs.

The running sums are not saved in checkpoints (they are large and only needed until the
fit): a run killed before its PCA is fitted starts again from scratch when resumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UsageError
from . import register_model
from .classifier import NUM_CLASSES, ImageClassifier, pixels_255
from .config import TrainConfig


@dataclass(frozen=True)
class EigenFaceConfig(TrainConfig):
    pca_size: int = 32  # images are area-downscaled to pca_size x pca_size before the PCA
    components: int = 256
    pca_fit_images: int = 20000
    resize: int = 128  # the native resolution, flipped and perturbed (no crop)
    crop: int = 128
    test_size: int = 128

    def check(self) -> None:
        super().check()
        dim = 3 * self.pca_size ** 2
        if self.pca_size < 1 or not 1 <= self.components <= dim:
            raise UsageError(f"config components must be in 1..{dim} (3 x pca_size^2), got {self.components}")
        if self.pca_fit_images < 2:
            raise UsageError(f"config pca_fit_images must be >= 2, got {self.pca_fit_images}")


@register_model("eigenface")
class EigenFace(ImageClassifier):
    Config = EigenFaceConfig
    SUMMARY = "EigenFace: PCA of the pixels (closed form) + a linear classifier"
    PRESETS: dict[str, dict[str, Any]] = {
        "paper": {"lr": 1e-3},
        # 16 px PCA inputs, 64 components fitted on the first 1,024 training images.
        "cpu": {"pca_size": 16, "components": 64, "pca_fit_images": 1024, "resize": 64, "crop": 64,
                "test_size": 64, "epochs": 3, "lr": 1e-2, "val_every": 1},
    }

    def __init__(self, config: EigenFaceConfig, weights_path: str | None = None) -> None:
        super().__init__(config)
        if weights_path is not None:
            raise UsageError("EigenFace has no ImageNet weights; drop --pretrained")
        dim, k = 3 * config.pca_size ** 2, config.components
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("basis", torch.zeros(k, dim))  # rows: principal directions
        self.register_buffer("eigenvalues", torch.ones(k))
        # Running sums until the fit (float64, not saved).
        self.register_buffer("_n", torch.zeros((), dtype=torch.float64), persistent=False)
        self.register_buffer("_sum", torch.zeros(dim, dtype=torch.float64), persistent=False)
        self.register_buffer("_outer", torch.zeros(dim, dim, dtype=torch.float64), persistent=False)
        self.classifier = nn.Linear(k, NUM_CLASSES)

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images -> flattened downscaled pixels in [0, 1], (B, 3 * pca_size^2)."""
        s = self.config.pca_size
        small = F.adaptive_avg_pool2d(pixels_255(x) / 255.0, (s, s)) if x.shape[-1] != s else pixels_255(x) / 255.0
        return small.flatten(1)

    @torch.no_grad()
    def accumulate(self, v: torch.Tensor) -> None:
        v = v.double()
        self._n += v.shape[0]
        self._sum += v.sum(0)
        self._outer += v.T @ v

    @torch.no_grad()
    def fit_pca(self) -> None:
        """The top ``components`` principal directions of the accumulated images."""
        n = float(self._n)
        if n < 2:
            raise UsageError("EigenFace: fewer than 2 training images seen before fitting the PCA")
        mean = self._sum / n
        cov = (self._outer - n * torch.outer(mean, mean)) / (n - 1)
        values, vectors = torch.linalg.eigh(cov)  # ascending
        k = self.config.components
        values, vectors = values.flip(0)[:k], vectors.flip(1)[:, :k].T
        signs = torch.sign(vectors.gather(1, vectors.abs().argmax(1, keepdim=True)))
        self.mean.copy_(mean.float())
        self.basis.copy_((vectors * signs).float())
        self.eigenvalues.copy_(values.clamp_min(1e-8).float())
        self.fitted.fill_(True)
        self._n.zero_(), self._sum.zero_(), self._outer.zero_()

    def coefficients(self, v: torch.Tensor) -> torch.Tensor:
        """Whitened PCA coefficients (B, components) of flattened pixels ``v``."""
        return (v - self.mean) @ self.basis.T / self.eigenvalues.sqrt()

    def forward(self, x: torch.Tensor, ratios: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        v = self.pixels(x)
        if not bool(self.fitted):
            if self.training:
                self.accumulate(v)
                if float(self._n) >= self.config.pca_fit_images:
                    self.fit_pca()
            elif float(self._n) >= 2:  # a split smaller than pca_fit_images: fit at the first validation
                self.fit_pca()
            else:
                raise UsageError(f"EigenFace: the PCA was never fitted (fewer than pca_fit_images = "
                                 f"{self.config.pca_fit_images} training images seen); train again with a "
                                 f"smaller --set pca_fit_images=N")
        if not bool(self.fitted):
            return {"attribution": self.classifier(v.new_zeros(v.shape[0], self.config.components))}
        return {"attribution": self.classifier(self.coefficients(v))}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)["attribution"]
