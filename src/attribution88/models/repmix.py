"""RepMix (Bui, Yu and Collomosse, ECCV 2022), point by point as the official code
(models/RepMix.py, models/torch_layers.py, utils/folder.py of github.com/TuBui/image_attribution):

- a backbone (ResNet-50, ImageNet weights) whose classifier becomes a 256-d embedding, split
  into stages, with a mixing layer before stage ``mixing_position`` (5: layer4's maps);
- each training sample is a pair of images (the official data set returns every image with a
  random partner); the pair's ratios come from Dirichlet(0.4, 0.4) and are supplied with the
  batch; the mixing layer sums each pair's feature maps weighted by its ratios. Training and
  validation mix; inference (no ratios) skips the layer;
- heads on the embedding: attribution Linear(256, 8), detection Linear(256, 2); the compound
  output multiplies attribution logit 0 (real) by p(real) and logits 1-7 by p(fake), where
  (p(real), p(fake)) = softmax(detection);
- loss: cross-entropy of the gated attribution logits plus cross-entropy of the detection
  logits with class weights [1, 1/7] (not renormalised), each image's term weighted by its
  mixing ratio, summed over the pair and averaged over the batch.

Ablations (the paper's Table 3): ``mixing=False`` (w/o RepMix: one image per sample),
``compound_loss=False`` (no gate and no detection head: cross-entropy of the attribution
logits), ``perturbation=False`` (w/o augmentation), ``mixing_position``, ``backbone``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UsageError
from . import register_model
from .backbones import BackboneConfig
from .base import AttributionModel

NUM_CLASSES = 8  # real + 7 GAN architectures


@dataclass(frozen=True)
class RepMixConfig(BackboneConfig):
    embed_dim: int = 256
    mixing: bool = True
    mixing_position: int | None = None  # None: before the head (5 for the ResNets)
    mixing_beta: float = 0.4  # Dirichlet concentration of each image of a pair
    compound_loss: bool = True

    def check(self) -> None:
        super().check()
        if self.embed_dim < 1:
            raise UsageError(f"config embed_dim must be >= 1, got {self.embed_dim}")
        if not self.mixing_beta > 0:
            raise UsageError(f"config mixing_beta must be > 0, got {self.mixing_beta}")
        if self.mixing_position is not None and (isinstance(self.mixing_position, str) or self.mixing_position < 0):
            raise UsageError(f"config mixing_position must be an integer >= 0, got {self.mixing_position!r}")


class MixingLayer(nn.Module):
    """Mixes consecutive groups of k samples: (S * k, ...) and ratios (S, k) -> (S, ...),
    ``out[s] = sum_j ratios[s, j] * x[s * k + j]``."""

    def forward(self, x: torch.Tensor, ratios: torch.Tensor) -> torch.Tensor:
        s, k = ratios.shape
        if x.shape[0] != s * k:
            raise ValueError(f"mixing {x.shape[0]} samples in groups of {k} needs {s * k}")
        x = x.reshape(s, k, *x.shape[1:])
        return (x * ratios.to(x.dtype).reshape(s, k, *([1] * (x.dim() - 2)))).sum(1)

    def extra_repr(self) -> str:
        return "consecutive groups, ratios supplied with the batch"


@register_model("repmix")
class RepMix(AttributionModel):
    Config = RepMixConfig
    SUMMARY = "RepMix (ECCV 2022): representation mixing + compound loss, ResNet-50"
    PRESETS: dict[str, dict[str, Any]] = {
        "paper": {},
        # Small enough to train on a CPU: ResNet-50's layout at a quarter of
        # its width (1.5 M parameters), 96 px crops of the 128 px images, a few epochs, no
        # ImageNet weights (none exist at this width), a 10x learning rate to make up for it.
        "cpu": {"width": 16, "pretrained": False, "resize": 110, "crop": 96, "test_size": 96,
                "epochs": 6, "lr": 1e-3, "val_every": 1},
    }

    def __init__(self, config: RepMixConfig, weights_path: str | None = None) -> None:
        super().__init__(config)
        stages = config.stages(config.embed_dim, weights_path)
        position = len(stages) - 1 if config.mixing_position is None else config.mixing_position
        if position > len(stages):
            raise UsageError(f"mixing_position {position} is out of range for {config.backbone} "
                             f"(0-{len(stages)}: before stage p, {len(stages)} = after the head)")
        self.mixing_position = position
        self.stages = nn.ModuleList(stages)
        self.mixing = MixingLayer()
        self.attribution = nn.Linear(config.embed_dim, NUM_CLASSES)
        self.detection = nn.Linear(config.embed_dim, 2) if config.compound_loss else None
        # Official class weights of the detection loss: [1, 1 / (num_classes - 1)].
        self.register_buffer("detection_weight", torch.tensor([1.0, 1.0 / (NUM_CLASSES - 1)]), persistent=False)

    @property
    def group_size(self) -> int:
        return 2 if self.config.mixing else 1

    def draw_ratios(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if not self.config.mixing:
            return np.ones((n, 1), np.float32)
        return rng.dirichlet([self.config.mixing_beta] * 2, size=n).astype(np.float32)

    def embed(self, x: torch.Tensor, ratios: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 3, H, W) -> embeddings (S, embed_dim); mixing only when ``ratios`` are given."""
        for i, stage in enumerate(self.stages):
            if i == self.mixing_position and ratios is not None:
                x = self.mixing(x, ratios)
            x = stage(x)
        if self.mixing_position == len(self.stages) and ratios is not None:
            x = self.mixing(x, ratios)
        return x

    def forward(self, x: torch.Tensor, ratios: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        emb = self.embed(x, ratios)
        logits = self.attribution(emb)
        out = {"embedding": emb}
        if self.detection is None:
            out["attribution"] = logits
            return out
        det = self.detection(emb)
        p = det.softmax(1)
        out["detection"] = det
        out["attribution"] = torch.cat([logits[:, :1] * p[:, :1], logits[:, 1:] * p[:, 1:]], 1)
        return out

    def loss(self, out: dict[str, torch.Tensor], sources: torch.Tensor,
             ratios: torch.Tensor) -> dict[str, torch.Tensor]:
        k = sources.shape[1]
        attribution = sum(F.cross_entropy(out["attribution"], sources[:, j], reduction="none") * ratios[:, j]
                          for j in range(k)).mean()
        terms = {"attribution": attribution}
        if self.detection is not None:
            fake = (sources > 0).long()
            terms["detection"] = sum(F.cross_entropy(out["detection"], fake[:, j], weight=self.detection_weight,
                                                     reduction="none") * ratios[:, j] for j in range(k)).mean()
        terms["total"] = sum(terms.values())
        return terms

    def fake_score(self, out: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The detection head's log-odds log p(fake) - log p(real)."""
        if "detection" not in out:
            return None
        det = out["detection"]
        return det[:, 1] - det[:, 0]
