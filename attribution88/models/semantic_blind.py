"""The semantic-blind multi-head model (the related approach of the reference notes, section 5):
a ResNet-18 backbone whose 256-d embedding feeds two heads —

- a **generator head**, Linear(256, 8): the attribution;
- a **semantic head**, an MLP (256 -> 256 -> 11 semantics), behind a **gradient reversal
  layer**: the head learns to predict each image's semantic from the embedding, while the
  reversed gradient (times ``adversarial_weight``) trains the backbone to make that
  impossible. With ``adversarial_weight = 0`` the reversal passes no gradient: the semantic
  head is a plain probe of an embedding trained for attribution only (the ablation).

Loss: cross-entropy of the generator head plus cross-entropy of the semantic head; the
training and validation logs also carry ``semantic_accuracy`` (the semantic head's accuracy on
the embedding), which falls toward chance (1/6 on the seen semantics) when the embedding
stops carrying the semantic.

Scores: per-source **log-likelihood ratios**, the scores of the generator-attribution
competition this design comes from (`attribution88 score --scores llr`):
``LLR_s = log p(s | x) - log p(not s | x) - log(pi_s / (1 - pi_s))`` from the generator head's
softmax, with the class priors ``pi_s = 1/8`` of the balanced training set (so
``LLR_s = logit p(s | x) + log 7``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UsageError
from ..spec import SPEC
from . import register_model
from .backbones import BACKBONES, build_stages
from .base import AttributionModel
from .classifier import NUM_CLASSES
from .config import TrainConfig


class GradientReversal(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-weight``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.weight * grad, None


def reverse_gradient(x: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    return GradientReversal.apply(x, weight)


def llr_from_logits(logits: torch.Tensor, prior: float = 1.0 / NUM_CLASSES) -> torch.Tensor:
    """Per-class one-vs-rest log-likelihood ratios (B, C) of softmax ``logits`` under class
    priors ``prior``: ``log p(s) - log(1 - p(s)) - log(prior / (1 - prior))``, computed with
    log-sum-exps (finite for any finite logits)."""
    c = logits.shape[1]
    log_p = logits.log_softmax(1)
    others = log_p.unsqueeze(1).expand(-1, c, -1).masked_fill(torch.eye(c, dtype=torch.bool, device=logits.device),
                                                              float("-inf"))
    return log_p - torch.logsumexp(others, 2) - math.log(prior / (1 - prior))


@dataclass(frozen=True)
class SemanticBlindConfig(TrainConfig):
    backbone: str = "resnet18"
    width: int | None = None  # ResNets only: base width (None = 64, torchvision's)
    embed_dim: int = 256
    pretrained: bool = True
    adversarial_weight: float = 1.0  # gradient reversal factor; 0 = the semantic head is a probe only
    semantic_hidden: int = 256

    def check(self) -> None:
        super().check()
        BACKBONES.get(self.backbone)
        if self.adversarial_weight < 0:
            raise UsageError(f"config adversarial_weight must be >= 0, got {self.adversarial_weight}")
        if self.embed_dim < 1 or self.semantic_hidden < 1:
            raise UsageError("config embed_dim and semantic_hidden must be >= 1")
        if self.width is not None and (isinstance(self.width, str) or self.width < 1):
            raise UsageError(f"config width must be an integer >= 1, got {self.width!r}")


@register_model("semantic-blind")
class SemanticBlind(AttributionModel):
    Config = SemanticBlindConfig
    SUMMARY = "multi-head ResNet-18: generator head + adversarial semantic head (gradient reversal); LLR scores"
    EXTRA_TARGETS = ("semantic",)
    SCORE_KIND = "llr"
    PRESETS: dict[str, dict[str, Any]] = {
        "paper": {},
        # ResNet-18's layout at a quarter of its width on 64 px crops, no ImageNet weights.
        "cpu": {"width": 16, "pretrained": False, "resize": 72, "crop": 64, "test_size": 64, "epochs": 4,
                "lr": 1e-3, "val_every": 1},
    }

    def __init__(self, config: SemanticBlindConfig, weights_path: str | None = None) -> None:
        super().__init__(config)
        self.backbone = nn.Sequential(*build_stages(config.backbone, config.embed_dim, config.width,
                                                    config.pretrained, weights_path))
        self.generator_head = nn.Linear(config.embed_dim, NUM_CLASSES)
        self.semantic_head = nn.Sequential(nn.Linear(config.embed_dim, config.semantic_hidden), nn.ReLU(inplace=True),
                                           nn.Linear(config.semantic_hidden, len(SPEC.semantics)))

    def forward(self, x: torch.Tensor, ratios: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        emb = self.backbone(x)
        semantic = self.semantic_head(reverse_gradient(emb, self.config.adversarial_weight))
        return {"embedding": emb, "attribution": self.generator_head(emb), "semantic": semantic}

    def loss(self, out: dict[str, torch.Tensor], sources: torch.Tensor, ratios: torch.Tensor,
             semantic: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if semantic is None:
            raise UsageError("the semantic-blind model's loss needs each image's semantic label")
        w = ratios[:, 0]
        attribution = (F.cross_entropy(out["attribution"], sources[:, 0], reduction="none") * w).mean()
        semantic_ce = (F.cross_entropy(out["semantic"], semantic[:, 0], reduction="none") * w).mean()
        with torch.no_grad():
            semantic_accuracy = (out["semantic"].argmax(1) == semantic[:, 0]).float().mean()
        return {"attribution": attribution, "semantic": semantic_ce, "semantic_accuracy": semantic_accuracy,
                "total": attribution + semantic_ce}

    def submission_scores(self, out: dict[str, torch.Tensor]) -> torch.Tensor:
        return llr_from_logits(out["attribution"].float())

    def fake_score(self, out: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """-LLR_real: higher = more likely fake."""
        return -llr_from_logits(out["attribution"].float())[:, 0]


def semantic_accuracy(run: str, data: str, split: str = "test", data_config: str = "test_seen",
                      device: str = "auto", batch_size: int = 64, workers: int = 0) -> dict[str, float]:
    """The semantic head's accuracy on a split of the seen semantics (the head only knows
    those) of a trained semantic-blind run: ``{"accuracy", "chance", "images"}``, chance being
    the share of the most frequent semantic of the split."""
    from ..loader import Attribution88Dataset
    from .runs import load_model
    from .training import resolve_device

    dev = resolve_device(device)
    model, info = load_model(run, "final", dev)
    if info.model != "semantic-blind":
        raise UsageError(f"{run}: a {info.model} run has no semantic head")
    dataset = Attribution88Dataset(data, split, config=data_config, transform=model.eval_transform(),
                                   returns=("semantic",))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    correct, counts = 0, torch.zeros(len(SPEC.semantics))
    with torch.no_grad():
        for images, semantic in loader:
            correct += int((model(images.to(dev))["semantic"].argmax(1).cpu() == semantic).sum())
            counts += torch.bincount(semantic, minlength=len(SPEC.semantics))
    n = int(counts.sum())
    if n == 0:
        raise UsageError(f"{data}: split {split!r} of config {data_config!r} is empty")
    return {"accuracy": correct / n, "chance": float(counts.max()) / n, "images": n}
