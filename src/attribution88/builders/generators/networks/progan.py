"""ProGAN (Karras et al., ICLR 2018): the generator of tkarras/progressive_growing_of_gans,
as it stands at the end of progressive growing, in PyTorch. Its config, registry entry and
stand-in settings: ``progan.py`` (the architecture's file).

What leaves its fingerprint, kept here: z normalised to unit RMS, projected by a dense layer
(gain sqrt(2)/4) to a 4x4 map; every convolution followed by bias, leaky ReLU 0.2 and
pixelwise feature normalisation; blocks of nearest-neighbour x2 upsampling and two 3x3
convolutions (equalized learning rate); a linear 1x1 ToRGB at the last resolution only.
Channels: ``min(fmap_base / 2**(log2(res) - 1), fmap_max)`` = 8192 / 512 (64 at 256 px).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..base import ZEROS
from ..progan import Config
from .layers import (SQRT2, Conv2d, FullyConnected, Module, channels_last, pixel_norm, rescale_channels_,
                     upsample_nearest)


class Block(Module):
    """(dense projection | nearest x2 + conv0), conv1; each followed by leaky ReLU + pixel norm."""

    def __init__(self, in_features: int, channels: int, resolution: int) -> None:
        super().__init__()
        self.resolution, self.channels = resolution, channels
        if resolution == 4:
            self.dense = FullyConnected(in_features, channels * 16, gain=SQRT2 / 4, bias=False)
            self.param("bias", [channels], ZEROS)  # one per channel, after the reshape
        else:
            self.conv0 = Conv2d(in_features, channels, 3)
        self.conv1 = Conv2d(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resolution == 4:
            x = channels_last(self.dense(pixel_norm(x)).reshape(-1, self.channels, 4, 4))
            x = x + self.bias.reshape(1, -1, 1, 1)
        else:
            x = self.conv0(upsample_nearest(x))
        x = pixel_norm(F.leaky_relu(x, 0.2))
        return pixel_norm(F.leaky_relu_(self.conv1(x), 0.2))


class Generator(Module):
    """z ``(N, z_dim)`` -> image ``(N, 3, R, R)`` in about [-1, 1]."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.resolution = config.z_dim, config.resolution
        self.resolutions = [2**i for i in range(2, int(math.log2(config.resolution)) + 1)]
        for res in self.resolutions:
            cin = config.z_dim if res == 4 else config.channels(res // 2)
            setattr(self, f"b{res}", Block(cin, config.channels(res), res))
        self.torgb = Conv2d(config.channels(config.resolution), 3, 1, gain=1.0)

    def noise_shapes(self) -> list[tuple[int, int]]:
        return []

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None,
                truncation_psi: float = 1.0, raw: bool = False) -> torch.Tensor:
        x = z.float()
        for res in self.resolutions:
            x = getattr(self, f"b{res}")(x)
        return self.torgb(x)

    def calibrate(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> None:
        """Nothing to measure: ProGAN has no running statistics."""

    @torch.no_grad()
    def rescale_output(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the output ``output * scale + shift`` per RGB channel (folded into ToRGB)."""
        rescale_channels_(self.torgb.weight, self.torgb.bias, scale, shift)
