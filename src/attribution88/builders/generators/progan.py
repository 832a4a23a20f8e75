"""ProGAN (Karras et al., ICLR 2018): the generator of tkarras/progressive_growing_of_gans, as
it stands at the end of progressive growing. Its registry entry, config and stand-in settings;
its PyTorch implementation is `networks.progan`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .base import Architecture, GeneratorConfig, Recipe


@dataclass(frozen=True)
class Config(GeneratorConfig):
    z_dim: int = 512
    fmap_base: int = 8192
    fmap_max: int = 512

    def channels(self, res: int) -> int:
        return min(self.fmap_base // 2 ** (int(math.log2(res)) - 1), self.fmap_max)

    def check(self) -> None:
        super().check()
        if self.z_dim < 1 or self.channels(self.resolution) < 1:
            raise ValueError("z_dim and channels must be >= 1")


def full_config(resolution: int) -> Config:
    return Config(resolution=resolution)


def stand_in_config() -> Config:
    """128 px, channels 32 (<= 16 px) down to 8 (128 px), 64-d latents."""
    return Config(resolution=128, z_dim=64, fmap_base=512, fmap_max=32)


def is_content(name: str) -> bool:
    """Blocks up to 16 px vary per semantic; finer blocks and ToRGB are shared."""
    parts = name.split(".")
    return parts[0].startswith("b") and int(parts[0][1:]) <= 16


ARCHITECTURE = Architecture(
    name="progan",
    paper="Karras et al., Progressive Growing of GANs (ICLR 2018)",
    code_base="tkarras/progressive_growing_of_gans",
    releases="tkarras/progressive_growing_of_gans README, 'networks/tensorflow-version' folder "
             "(TensorFlow pickles)",
    recipe=Recipe("default (progressive growing)", batch=32, images=12_000_000),
    latent="normal",
    output_range=(-1.0, 1.0),
    output_activation="linear",
    traits=("dense latent projection to 4x4", "pixelwise feature normalisation",
            "nearest-neighbour upsampling + 3x3 convolutions",
            "progressive-growing output: RGB from the last resolution only"),
    config_class=Config, full_config=full_config, stand_in_config=stand_in_config, is_content=is_content,
    network="progan",
)
