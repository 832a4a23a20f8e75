"""StyleGAN (Karras et al., CVPR 2019): the style-based generator, as trained with config-a of
NVlabs/stylegan2 (the original StyleGAN networks). Its registry entry, config and stand-in
settings; its PyTorch implementation is `networks.stylegan`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .base import Architecture, Init, Recipe, StyleConfig


@dataclass(frozen=True)
class Config(StyleConfig):
    fmap_base: int = 8192
    fmap_max: int = 512
    blur_filter: tuple[float, ...] = (1.0, 2.0, 1.0)
    fused_upsample_from: int = 128  # resolutions from which upsampling is a fused transposed conv
    truncation_cutoff: int | None = 8

    def channels(self, res: int) -> int:
        return min(self.fmap_base // 2 ** (int(math.log2(res)) - 1), self.fmap_max)

    def check(self) -> None:
        super().check()
        if self.channels(self.resolution) < 1:
            raise ValueError("channels must be >= 1")


def full_config(resolution: int) -> Config:
    """The original StyleGAN generator at ``resolution``."""
    return Config(resolution=resolution)


def stand_in_config() -> Config:
    """128 px, channels 32 (<= 16 px) down to 8 (128 px), 64-d latents, 8 mapping layers;
    upsampling fused at 128 px as in the full model."""
    return Config(resolution=128, z_dim=64, w_dim=64, fmap_base=512, fmap_max=32)


def is_content(name: str) -> bool:
    """Mapping network and blocks up to 16 px vary per semantic; finer blocks are shared."""
    parts = name.split(".")
    if name.startswith("mapping."):
        return True
    return len(parts) > 1 and parts[1].startswith("b") and int(parts[1][1:]) <= 16


ARCHITECTURE = Architecture(
    name="stylegan",
    paper="Karras et al., A Style-Based Generator (CVPR 2019)",
    code_base="NVlabs/stylegan2 (config-a)",
    releases="NVlabs/stylegan README, 'networks' folder (TensorFlow pickles)",
    recipe=Recipe("config-a (StyleGAN2 code base; otherwise as StyleGAN2)", batch=32, images=10_000_000),
    latent="normal",
    output_range=(-1.0, 1.0),
    output_activation="linear",
    # NVlabs/stylegan networks_stylegan.py `G_style`: truncation_psi=0.7, truncation_cutoff=8; the
    # stored noise maps (pretrained_example.py `randomize_noise=False`).
    truncation=0.7,
    truncation_cutoff=8,
    noise="const",
    traits=("8-layer mapping network", "learned constant input", "AdaIN (instance norm + style)",
            "per-layer, per-channel noise inputs", "nearest (or fused transposed-conv) upsampling + [1,2,1] blur",
            "progressive-growing output: RGB from the last resolution only"),
    config_class=Config, full_config=full_config, stand_in_config=stand_in_config, is_content=is_content,
    network="stylegan",
    # Per-channel noise weights start at zero in training; a stand-in draws them.
    stand_in_inits={"noise_weight": Init("uniform", 0.0, 0.2)},
)
