"""Yu et al. (ICCV 2019), "Attributing Fake Images to GANs", as the RepMix paper re-implemented
it in PyTorch for Table 1: the attribution network of github.com/ningyu1991/GANFingerprints
(the ProGAN discriminator's layout) with one extra 256-d fully connected layer before the
8-way classifier (the paper's "Yu et al. (reimp.)" row).

Layout, for a ``2^n``-pixel input (facts of ProGAN's discriminator, which that network
mirrors: feature maps ``nf(stage) = min(fmap_base / 2^stage, fmap_max)``, fmap_base 8192,
fmap_max 512, leaky ReLU 0.2, 2x2 average pooling between resolutions):

- fromRGB: 1x1 convolution to nf(n - 1);
- one block per resolution 2^n ... 8: 3x3 conv to nf(r - 1), 3x3 conv to nf(r - 2),
  average pooling 2x2;
- at 4x4: 3x3 conv to nf(1), flatten, dense to nf(0);
- the re-implementation's extra dense layer to 256, then Linear(256, 8).

Not reproduced: ProGAN's equalised learning rate (replaced by He initialisation, the same
scale at the start of training) and its minibatch-stddev layer (a GAN training device, not part
of attribution). The input is the data's native 128 px (resize 144, random
crop 128, flip, the seen perturbations; test: resize 128): the network needs a power of two.
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
class YuConfig(TrainConfig):
    resize: int = 144
    crop: int = 128
    test_size: int = 128
    fmap_base: int = 8192
    fmap_max: int = 512
    embed_dim: int = 256  # the re-implementation's extra FC

    def check(self) -> None:
        super().check()
        for name in ("crop", "test_size"):
            v = getattr(self, name)
            if v < 8 or v & (v - 1):
                raise UsageError(f"config {name} must be a power of two >= 8 for Yu et al.'s network, got {v}")
        if self.crop != self.test_size:
            raise UsageError(f"config crop ({self.crop}) and test_size ({self.test_size}) must be equal for "
                             f"Yu et al.'s network (its dense layer sees a fixed 4x4 map)")
        if self.fmap_base < 1 or self.fmap_max < 1 or self.embed_dim < 1:
            raise UsageError("config fmap_base, fmap_max and embed_dim must be >= 1")


def _conv(cin: int, cout: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, padding=k // 2), nn.LeakyReLU(0.2)]


@register_model("yu")
class YuAttribution(ImageClassifier):
    Config = YuConfig
    SUMMARY = "Yu et al. (ICCV 2019) GAN-fingerprint classifier, PyTorch re-implementation with a 256-d FC"
    PRESETS: dict[str, dict[str, Any]] = {
        "paper": {},
        # 64 px crops, feature maps 8-32 (about 0.1 M parameters, 41 MFLOP per image), 10x learning rate.
        "cpu": {"resize": 72, "crop": 64, "test_size": 64, "fmap_base": 256, "fmap_max": 32,
                "epochs": 3, "lr": 1e-3, "val_every": 1},
    }

    def __init__(self, config: YuConfig, weights_path: str | None = None) -> None:
        super().__init__(config)
        if weights_path is not None:
            raise UsageError("Yu et al.'s network has no ImageNet weights; drop --pretrained")

        def nf(stage: int) -> int:
            return min(int(config.fmap_base / 2.0 ** stage), config.fmap_max)

        n = config.crop.bit_length() - 1  # log2 of the input size
        layers: list[nn.Module] = _conv(3, nf(n - 1), 1)  # fromRGB
        for r in range(n, 2, -1):  # resolutions 2^n ... 8
            layers += _conv(nf(r - 1), nf(r - 1), 3) + _conv(nf(r - 1), nf(r - 2), 3) + [nn.AvgPool2d(2)]
        layers += _conv(nf(1), nf(1), 3)  # at 4x4
        self.features = nn.Sequential(*layers)
        self.dense = nn.Sequential(nn.Flatten(1), nn.Linear(nf(1) * 16, nf(0)), nn.LeakyReLU(0.2),
                                   nn.Linear(nf(0), config.embed_dim), nn.LeakyReLU(0.2))
        self.classifier = nn.Linear(config.embed_dim, NUM_CLASSES)
        for m in self.modules():  # He initialisation for leaky ReLU 0.2: ProGAN's equalised scale at init
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.config.crop or x.shape[-2] != self.config.crop:
            raise UsageError(f"Yu et al.'s network takes {self.config.crop} px images, got {tuple(x.shape[-2:])}")
        return self.classifier(self.dense(self.features(x)))
