"""Reverse Engineering (Asnani, Yin, Hassner and Liu, 2021, github.com/vishal3477/
Reverse_Engineering_GMs), as used for model attribution: a fingerprint estimation network (FEN)
turns the image into a fingerprint image, and a classifier attributes the fingerprint.

- **FEN** (the paper's design, after DnCNN): ``fen_layers`` 3x3 convolutions of
  ``fen_width`` channels at full resolution, batch norm and ReLU between them, the last one
  back to 3 channels: the fingerprint F (B, 3, H, W).
- **Fingerprint constraints** (the paper's losses on F, with its 2D Fourier spectrum
  ``S = |FFT(F)|`` centred, orthonormal): magnitude ``mean(F^2)`` (a fingerprint is a faint
  signal), spectrum ``mean(S^2)`` over the low-frequency square of side
  ``low_frequency`` x size (its energy is in the high frequencies), repetitive ``-max S``
  over the high frequencies (upsampling leaves periodic peaks), each averaged over the batch.
  The paper weights them; the weights here (``magnitude_weight``, ...) are this
  implementation's choice, not published figures.
- **Classifier** on F: ``cls_blocks`` strided 3x3 conv + BN + ReLU blocks doubling from
  ``cls_width`` channels, global average pooling, a 256-d FC with ReLU, Linear(256, 8); trained
  with cross-entropy jointly with the FEN (end to end, as the attribution experiments do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from . import register_model
from .classifier import NUM_CLASSES, ImageClassifier
from .config import TrainConfig


@dataclass(frozen=True)
class ReverseEngineeringConfig(TrainConfig):
    fen_layers: int = 17
    fen_width: int = 64
    cls_blocks: int = 4
    cls_width: int = 64
    embed_dim: int = 256
    low_frequency: float = 0.25
    magnitude_weight: float = 0.05
    spectrum_weight: float = 0.001
    repetitive_weight: float = 0.01

    def check(self) -> None:
        super().check()
        if self.fen_layers < 2 or self.fen_width < 1 or self.cls_blocks < 1 or self.cls_width < 1 or self.embed_dim < 1:
            raise UsageError("config fen_layers must be >= 2 and fen_width, cls_blocks, cls_width, embed_dim >= 1")
        if not 0 < self.low_frequency < 1:
            raise UsageError(f"config low_frequency must be in (0, 1), got {self.low_frequency}")
        for name in ("magnitude_weight", "spectrum_weight", "repetitive_weight"):
            if getattr(self, name) < 0:
                raise UsageError(f"config {name} must be >= 0, got {getattr(self, name)}")


def low_frequency_mask(h: int, w: int, fraction: float, device: torch.device | None = None) -> torch.Tensor:
    """Bool (h, w): the centred square of side ``fraction`` x size of a centred spectrum."""
    mh, mw = max(1, round(h * fraction)), max(1, round(w * fraction))
    mask = torch.zeros(h, w, dtype=torch.bool, device=device)
    top, left = h // 2 - mh // 2, w // 2 - mw // 2
    mask[top:top + mh, left:left + mw] = True
    return mask


def fingerprint_losses(fingerprint: torch.Tensor, low_frequency: float) -> dict[str, torch.Tensor]:
    """The magnitude, spectrum and repetitive terms of a batch of fingerprints (B, 3, H, W)."""
    spectrum = torch.fft.fftshift(torch.fft.fft2(fingerprint, norm="ortho"), dim=(-2, -1)).abs()
    low = low_frequency_mask(*fingerprint.shape[-2:], low_frequency, fingerprint.device)
    return {
        "magnitude": fingerprint.pow(2).mean(),
        "spectrum": spectrum[..., low].pow(2).mean(),
        "repetitive": -spectrum[..., ~low].flatten(1).max(1).values.mean(),
    }


@register_model("reverse-engineering")
class ReverseEngineering(ImageClassifier):
    Config = ReverseEngineeringConfig
    SUMMARY = "Reverse Engineering (Asnani et al. 2021): fingerprint estimation network + classifier"
    PRESETS: dict[str, dict[str, Any]] = {
        "paper": {},
        # 5 FEN layers of 8 channels, a 3-block classifier from 16 channels, 64 px crops.
        "cpu": {"fen_layers": 5, "fen_width": 8, "cls_blocks": 3, "cls_width": 16, "resize": 72, "crop": 64,
                "test_size": 64, "epochs": 3, "lr": 1e-3, "val_every": 1},
    }

    def __init__(self, config: ReverseEngineeringConfig, weights_path: str | None = None) -> None:
        super().__init__(config)
        if weights_path is not None:
            raise UsageError("Reverse Engineering has no ImageNet weights; drop --pretrained")
        w = config.fen_width
        fen: list[nn.Module] = [nn.Conv2d(3, w, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(config.fen_layers - 2):
            fen += [nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        fen.append(nn.Conv2d(w, 3, 3, padding=1))
        self.fen = nn.Sequential(*fen)
        blocks: list[nn.Module] = []
        cin = 3
        for i in range(config.cls_blocks):
            cout = config.cls_width * 2 ** i
            blocks += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True)]
            cin = cout
        self.classifier = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                                        nn.Linear(cin, config.embed_dim), nn.ReLU(inplace=True),
                                        nn.Linear(config.embed_dim, NUM_CLASSES))

    def forward(self, x: torch.Tensor, ratios: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        fingerprint = self.fen(x)
        return {"attribution": self.classifier(fingerprint), "fingerprint": fingerprint}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)["attribution"]

    def loss(self, out: dict[str, torch.Tensor], sources: torch.Tensor,
             ratios: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        terms = super().loss(out, sources, ratios)
        constraints = fingerprint_losses(out["fingerprint"], c.low_frequency)
        terms.update(constraints)
        terms["total"] = (terms["attribution"] + c.magnitude_weight * constraints["magnitude"]
                          + c.spectrum_weight * constraints["spectrum"]
                          + c.repetitive_weight * constraints["repetitive"])
        return terms
