"""SNGAN (Miyato et al., ICLR 2018): the ResNet generator of pfnet-research/sngan_projection,
unconditional (spectral normalisation is in the discriminator; the generator has none). Its
registry entry, config and stand-in settings; its PyTorch implementation is `networks.sngan`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .base import Architecture, GeneratorConfig, Recipe


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


ARCHITECTURE = Architecture(
    name="sngan",
    paper="Miyato et al., Spectral Normalization for GANs (ICLR 2018)",
    code_base="pfnet-research/sngan_projection",
    releases="none for these semantics (official models: ImageNet, class-conditional)",
    recipe=Recipe("ResNet generator, hinge loss", batch=32, iterations=100_000),
    latent="normal",
    output_range=(-1.0, 1.0),
    output_activation="tanh",
    traits=("ResNet generator: 5 residual up-blocks with batch norm and ReLU",
            "nearest-neighbour upsampling, learnable 1x1 shortcuts", "tanh output"),
    config_class=Config, full_config=full_config, stand_in_config=stand_in_config, is_content=is_content,
    network="sngan",
)
