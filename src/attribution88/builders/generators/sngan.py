"""SNGAN (Miyato et al., ICLR 2018): the ResNet generator of pfnet-research/sngan_projection,
unconditional (spectral normalisation is in the discriminator; the generator has none).

What leaves its fingerprint, kept here: a dense projection of z (normal, 128-d) to a 4x4 map
of ``16 ch`` channels; five residual blocks, each batch norm -> ReLU -> nearest x2 -> 3x3 conv
-> batch norm -> ReLU -> 3x3 conv, plus a shortcut of nearest x2 -> 1x1 conv; batch norm,
ReLU, a 3x3 conv to RGB and tanh. 128 px: channels ``ch * (16, 16, 8, 4, 2, 1)`` with
ch = 64. Batch-norm epsilon 2e-5 (Chainer's default); weights Glorot-uniform (gain sqrt 2 in
the blocks' convolutions, as the code base initialises them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .architectures import GeneratorConfig
from .layers import (OUTPUT_ACTIVATIONS, BatchNorm, Init, Module, PlainConv2d, PlainLinear, calibrate_batchnorms,
                     channels_last, rescale_channels_, upsample_nearest)


#: The registry entry (`architectures.Architecture`), read from this file's text without importing
#: it: a literal, no names or calls.
ARCHITECTURE = {
    "paper": "Miyato et al., Spectral Normalization for GANs (ICLR 2018)",
    "code_base": "pfnet-research/sngan_projection",
    "releases": "none for these semantics (official models: ImageNet, class-conditional)",
    "recipe": {"config": "ResNet generator, hinge loss", "batch": 32, "iterations": 100_000},
    "latent": "normal",
    "output_range": (-1.0, 1.0),
    "output_activation": "tanh",
    "traits": ("ResNet generator: 5 residual up-blocks with batch norm and ReLU",
               "nearest-neighbour upsampling, learnable 1x1 shortcuts", "tanh output"),
}


@dataclass(frozen=True)
class Config(GeneratorConfig):
    z_dim: int = 128
    ch: int = 64
    multipliers: tuple[int, ...] = (16, 16, 8, 4, 2, 1)  # block inputs, then the last block's output
    bottom_width: int = 4
    bn_eps: float = 2e-5

    def check(self) -> None:
        super().check()
        if self.bottom_width * 2 ** (len(self.multipliers) - 1) != self.resolution:
            raise ValueError(f"bottom_width {self.bottom_width} with {len(self.multipliers) - 1} "
                             f"up-blocks does not make {self.resolution} px")
        if min(self.multipliers) < 1 or self.ch < 1 or self.z_dim < 1:
            raise ValueError("ch, z_dim and multipliers must be >= 1")


def full_config(resolution: int) -> Config:
    """sngan_projection's ResNet generator; 128 px has 5 up-blocks, other sizes drop (or add)
    blocks at the coarse end."""
    blocks = int(math.log2(resolution // 4))
    mult = (16, 16, 8, 4, 2, 1)
    mult = (16,) * max(0, blocks + 1 - len(mult)) + mult[max(0, len(mult) - blocks - 1):]
    return Config(resolution=resolution, multipliers=mult)


def stand_in_config() -> Config:
    """128 px, channels 32 at 4 px down to 4 at 128 px, 32-d latents."""
    return Config(resolution=128, z_dim=32, ch=4, multipliers=(8, 8, 4, 2, 2, 1))


def is_content(name: str) -> bool:
    """Projection and the blocks up to 16 px vary per semantic."""
    return name.startswith(("l1.", "block2.", "block3."))


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
        return h if raw else OUTPUT_ACTIVATIONS[ARCHITECTURE["output_activation"]](h)

    @torch.no_grad()
    def calibrate(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> None:
        """Set every batch norm's running statistics to those of ``z``'s batch."""
        calibrate_batchnorms(self, lambda: self(z))

    @torch.no_grad()
    def rescale_output(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the pre-tanh output ``output * scale + shift`` per RGB channel."""
        rescale_channels_(self.l7.weight, self.l7.bias, scale, shift)
