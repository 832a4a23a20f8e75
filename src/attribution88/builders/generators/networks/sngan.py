"""SNGAN (Miyato et al., ICLR 2018): the ResNet generator of pfnet-research/sngan_projection,
unconditional (spectral normalisation is in the discriminator; the generator has none), in
PyTorch. Its config, registry entry and stand-in settings: ``sngan.py`` (the architecture's
file).

What leaves its fingerprint, kept here: a dense projection of z (normal, 128-d) to a 4x4 map
of ``16 ch`` channels; five residual blocks, each batch norm -> ReLU -> nearest x2 -> 3x3 conv
-> batch norm -> ReLU -> 3x3 conv, plus a shortcut of nearest x2 -> 1x1 conv; batch norm,
ReLU, a 3x3 conv to RGB and tanh. 128 px: channels ``ch * (16, 16, 8, 4, 2, 1)`` with
ch = 64. Batch-norm epsilon 2e-5 (Chainer's default); weights Glorot-uniform (gain sqrt 2 in
the blocks' convolutions, as the code base initialises them).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..base import Init
from ..sngan import ARCHITECTURE, Config
from .layers import (OUTPUT_ACTIVATIONS, BatchNorm, Module, PlainConv2d, PlainLinear, calibrate_batchnorms,
                     channels_last, rescale_channels_, upsample_nearest)


class Block(Module):
    def __init__(self, in_channels: int, out_channels: int, eps: float) -> None:
        super().__init__()
        self.b1 = BatchNorm(in_channels, eps)
        self.c1 = PlainConv2d(in_channels, out_channels, 3, init=Init("glorot", math.sqrt(2)))
        self.b2 = BatchNorm(out_channels, eps)
        self.c2 = PlainConv2d(out_channels, out_channels, 3, init=Init("glorot", math.sqrt(2)))
        self.c_sc = PlainConv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c1(upsample_nearest(F.relu_(self.b1(x))))
        h = self.c2(F.relu_(self.b2(h)))
        return h + self.c_sc(upsample_nearest(x))


class Generator(Module):
    """z ``(N, z_dim)`` -> image ``(N, 3, R, R)`` in (-1, 1) (tanh)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.resolution = config.z_dim, config.resolution
        chans = [config.ch * m for m in config.multipliers]
        self.l1 = PlainLinear(config.z_dim, config.bottom_width**2 * chans[0])
        self.num_blocks = len(chans) - 1
        for i in range(self.num_blocks):
            setattr(self, f"block{i + 2}", Block(chans[i], chans[i + 1], config.bn_eps))
        self.b7 = BatchNorm(chans[-1], config.bn_eps)
        self.l7 = PlainConv2d(chans[-1], 3, 3)

    def noise_shapes(self) -> list[tuple[int, int]]:
        return []

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None,
                truncation_psi: float = 1.0, raw: bool = False) -> torch.Tensor:
        w = self.config.bottom_width
        h = channels_last(self.l1(z.float()).reshape(z.shape[0], -1, w, w))
        for i in range(self.num_blocks):
            h = getattr(self, f"block{i + 2}")(h)
        h = self.l7(F.relu_(self.b7(h)))
        return h if raw else OUTPUT_ACTIVATIONS[ARCHITECTURE.output_activation](h)

    @torch.no_grad()
    def calibrate(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> None:
        """Set every batch norm's running statistics to those of ``z``'s batch."""
        calibrate_batchnorms(self, lambda: self(z))

    @torch.no_grad()
    def rescale_output(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the pre-tanh output ``output * scale + shift`` per RGB channel."""
        rescale_channels_(self.l7.weight, self.l7.bias, scale, shift)
