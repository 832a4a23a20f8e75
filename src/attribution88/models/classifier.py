"""The shared shape of the paper's baselines (Table 1): one image in, 8 attribution logits out,
trained with cross-entropy. Detection is not a head of its own: as in the paper's evaluation,
an image is called fake when the predicted source is not ``real``, which the scorer derives
from the 8 scores. Each baseline is one file registering a subclass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import AttributionModel

NUM_CLASSES = 8  # real + 7 GAN architectures


class ImageClassifier(AttributionModel):
    """A single-image classifier: ``logits(x)`` maps normalised images (B, 3, H, W) to
    attribution logits (B, 8); the loss is their cross-entropy, each image weighted by its
    ratio (1: no mixing). Subclasses override `logits` (and `forward` to expose more)."""

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, ratios: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return {"attribution": self.logits(x)}

    def loss(self, out: dict[str, torch.Tensor], sources: torch.Tensor,
             ratios: torch.Tensor) -> dict[str, torch.Tensor]:
        ce = (F.cross_entropy(out["attribution"], sources[:, 0], reduction="none") * ratios[:, 0]).mean()
        return {"attribution": ce, "total": ce}


def pixels_255(x: torch.Tensor) -> torch.Tensor:
    """Normalised model input (mean = std = 0.5) -> pixel values in [0, 255]."""
    from ..loader import MEAN, STD

    mean = x.new_tensor(MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(STD).view(1, 3, 1, 1)
    return (x * std + mean) * 255.0
