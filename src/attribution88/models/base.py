"""The interface every reference model of the registry implements, so that `train`, `predict`
and the adversarial attack treat them alike.

A training sample is a group of ``group_size`` images (RepMix: 2, mixed into one
representation; most models: 1) with one ratio per image, drawn by ``draw_ratios`` from the
run's seeded generator and supplied with the batch. Inference never passes ratios.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..loader import MEAN, STD, RepMixEval, RepMixTrain
from .config import TrainConfig


class AttributionModel(nn.Module):
    """Base class of the reference models.

    Subclasses set ``Config`` (a `TrainConfig` subclass) and ``PRESETS`` (name -> field
    overrides; "paper" is the default) and implement `forward` and `loss`.
    """

    Config: ClassVar[type[TrainConfig]] = TrainConfig
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"paper": {}}
    #: One line shown by `attribution88 train --list`.
    SUMMARY: ClassVar[str] = ""
    #: Set by the registry: the name the model is registered under.
    name: ClassVar[str] = ""
    #: Loader fields the loss needs beside the source (e.g. "semantic"): the training loop
    #: loads them and passes each to `loss` as a keyword argument, (S, group_size).
    EXTRA_TARGETS: ClassVar[tuple[str, ...]] = ()
    #: What `submission_scores` returns, as `attribution88 score --scores` names it.
    SCORE_KIND: ClassVar[str] = "probs"

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config

    # -- what a subclass provides ---------------------------------------------------------------
    @property
    def group_size(self) -> int:
        """Images per training sample."""
        return 1

    def draw_ratios(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Weights of the images of ``n`` samples: float32 (n, group_size), rows summing to 1."""
        return np.ones((n, self.group_size), np.float32)

    def forward(self, x: torch.Tensor, ratios: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Normalised images float32 (B, 3, H, W) -> outputs; ``"attribution"``: (S, 8) logits,
        S = B / group_size when ``ratios`` (S, group_size) are given, else S = B."""
        raise NotImplementedError

    def loss(self, out: dict[str, torch.Tensor], sources: torch.Tensor,
             ratios: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named loss terms and their sum ``"total"``; ``sources`` and ``ratios`` are
        (S, group_size)."""
        raise NotImplementedError

    def submission_scores(self, out: dict[str, torch.Tensor]) -> torch.Tensor:
        """The 8 score columns of a submission, of kind ``SCORE_KIND``: by default the
        softmax of the attribution logits (probabilities)."""
        return out["attribution"].float().softmax(1)

    def fake_score(self, out: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """A per-image detection score (higher = more likely fake), or None."""
        return None

    # -- shared behaviour ---------------------------------------------------------------------------
    @classmethod
    def config_from_preset(cls, preset: str = "paper", **overrides: Any) -> TrainConfig:
        if preset not in cls.PRESETS:
            from ..errors import UnknownNameError

            raise UnknownNameError(f"preset of {cls.name}", preset, cls.PRESETS)
        return cls.Config.from_dict({**cls.PRESETS[preset], **overrides}, f"{cls.name} preset {preset}")

    def train_transform(self, split: str = "train"):
        """Loader transform of training (p = config.perturbation_p) or validation (p = 1, a
        fixed perturbed set, as the official code) samples."""
        c = self.config
        p = c.perturbation_p if split == "train" else 1.0
        return RepMixTrain(resize=c.resize, crop=c.crop, p=p, perturb=c.perturbation)

    def eval_transform(self):
        return RepMixEval(self.config.test_size)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (B, 3, H, W) -> the model's input (mean = std = 0.5)."""
        mean = images.new_tensor(MEAN).view(1, 3, 1, 1)
        std = images.new_tensor(STD).view(1, 3, 1, 1)
        return (images - mean) / std

    def attribution_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Inference on images in [0, 1] (B, 3, H, W) at the model's test size: attribution
        logits (B, 8), differentiable with respect to ``images`` (for attacks). Call `eval()`
        first for inference statistics."""
        return self(self.normalise(images))["attribution"]

    def make_optimizer(self) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        """Adam with L2 weight decay and a per-epoch StepLR, as the official code."""
        c = self.config
        optimizer = torch.optim.Adam(self.parameters(), lr=c.lr, betas=tuple(c.betas),
                                     weight_decay=c.weight_decay)
        return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=c.lr_gamma)
