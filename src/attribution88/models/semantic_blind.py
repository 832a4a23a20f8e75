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
from .backbones import BackboneConfig
from .base import AttributionModel
from .classifier import NUM_CLASSES


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
class SemanticBlindConfig(BackboneConfig):
    backbone: str = "resnet18"
    embed_dim: int = 256
    adversarial_weight: float = 1.0  # gradient reversal factor; 0 = the semantic head is a probe only
    semantic_hidden: int = 256

    def check(self) -> None:
        super().check()
        if self.adversarial_weight < 0:
            raise UsageError(f"config adversarial_weight must be >= 0, got {self.adversarial_weight}")
        if self.embed_dim < 1 or self.semantic_hidden < 1:
            raise UsageError("config embed_dim and semantic_hidden must be >= 1")


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
        self.backbone = nn.Sequential(*config.stages(config.embed_dim, weights_path))
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



def _embeddings(model: SemanticBlind, data: str, split: str, data_config: str, dev: torch.device,
                batch_size: int, workers: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(embeddings (N, D), semantic-head predictions (N,), semantic labels (N,)) of a split,
    at inference (test transform)."""
    from ..loader import Attribution88Dataset

    dataset = Attribution88Dataset(data, split, config=data_config, transform=model.eval_transform(),
                                   returns=("semantic",))
    if len(dataset) == 0:
        raise UsageError(f"{data}: split {split!r} of config {data_config!r} is empty")
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    embeddings, predictions, labels = [], [], []
    with torch.no_grad():
        for images, semantic in loader:
            out = model(images.to(dev))
            embeddings.append(out["embedding"].float().cpu())
            predictions.append(out["semantic"].argmax(1).cpu())
            labels.append(semantic)
    return torch.cat(embeddings), torch.cat(predictions), torch.cat(labels)


def semantic_accuracy(run: str, data: str, split: str = "test", data_config: str = "test_seen",
                      device: str = "auto", batch_size: int = 64, workers: int = 0,
                      probe_split: str | None = "train") -> dict[str, float]:
    """How much of the semantic a trained semantic-blind run's embedding carries, on a split
    of the seen semantics (the only ones the heads know): ``accuracy`` of its semantic head;
    ``probe_accuracy`` of a fresh linear probe (multinomial logistic regression, L-BFGS)
    fitted on the embeddings of ``probe_split`` (clean images, the test transform) — an
    adversary the training never saw; ``chance``: the share of the split's most frequent
    semantic."""
    from .runs import load_model
    from ..devices import resolve_device

    dev = resolve_device(device)
    model, info = load_model(run, "final", dev)
    if info.model != "semantic-blind":
        raise UsageError(f"{run}: a {info.model} run has no semantic head")
    emb, pred, labels = _embeddings(model, data, split, data_config, dev, batch_size, workers)
    result = {"accuracy": float((pred == labels).float().mean()),
              "chance": float(torch.bincount(labels).max()) / len(labels), "images": len(labels)}
    if probe_split is not None:
        train_emb, _, train_labels = _embeddings(model, data, probe_split, "default", dev, batch_size, workers)
        mean, std = train_emb.mean(0), train_emb.std(0).clamp_min(1e-6)
        probe = nn.Linear(emb.shape[1], len(SPEC.semantics))
        nn.init.zeros_(probe.weight), nn.init.zeros_(probe.bias)  # a convex fit: no random start needed
        optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=200, line_search_fn="strong_wolfe")
        x = (train_emb - mean) / std

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(probe(x), train_labels) + 1e-3 * probe.weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            result["probe_accuracy"] = float((probe((emb - mean) / std).argmax(1) == labels).float().mean())
    return result
