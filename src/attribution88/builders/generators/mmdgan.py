"""MMDGAN (Binkowski et al., Demystifying MMD GANs, ICLR 2018), as trained with
mbinkowski/MMD-GAN: the g-resnet5 generator of that code base (``ResNetGenerator``, chosen by
``-architecture g-resnet5``) against a critic whose features feed a mixture of
rational-quadratic kernels (``-model mmd``): the generator minimises the squared MMD between
real and generated features.

CramerGAN (cramergan.py) was trained with the same code base and the same generator: its entry
is this one with its own paper and recipe. The two differ only in training: here a 16-d critic
output (``dof_dim``) and a gradient penalty of weight 1. So this file holds the g-resnet5
generator's config and stand-in settings for both; its PyTorch implementation is
`networks.resnet5`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Architecture, GeneratorConfig, Recipe


@dataclass(frozen=True)
class Config(GeneratorConfig):
    """g-resnet5's hyperparameters."""

    z_dim: int = 100
    gf_dim: int = 64
    multipliers: tuple[int, ...] = (16, 8, 4, 2, 1)  # block inputs, then the last block's output
    final_kernel: int = 5
    bn_eps: float = 1e-5

    @property
    def base_size(self) -> int:
        return self.resolution // 2 ** len(self.multipliers)

    def check(self) -> None:
        super().check()
        if self.base_size * 2 ** len(self.multipliers) != self.resolution or self.base_size < 1:
            raise ValueError(f"{len(self.multipliers) - 1} blocks and a stride-2 output layer cannot "
                             f"make {self.resolution} px")
        if min(self.multipliers) < 1 or self.gf_dim < 1 or self.z_dim < 1 or self.final_kernel < 2:
            raise ValueError("gf_dim, z_dim, multipliers must be >= 1 and final_kernel >= 2")


def full_config(resolution: int) -> Config:
    """g-resnet5 (gf_dim 64, z 100) at ``resolution`` (its blocks fixed, the base map scaling)."""
    return Config(resolution=resolution)


def stand_in_config() -> Config:
    """128 px, channels 32 at 4 px down to 4 at 64 px, 32-d latents."""
    return Config(resolution=128, z_dim=32, gf_dim=4, multipliers=(8, 4, 2, 2, 1))


def is_content(name: str) -> bool:
    """The projection and the first two blocks (to 16 px) vary per semantic."""
    return name.startswith(("lin.", "res1.", "res2."))


ARCHITECTURE = Architecture(
    name="mmdgan",
    paper="Binkowski et al., Demystifying MMD GANs (ICLR 2018)",
    code_base="mbinkowski/MMD-GAN",
    releases="none",
    recipe=Recipe("model mmd, architecture g-resnet5, dof_dim 16, gradient_penalty 1", iterations=150_000),
    latent="uniform",
    output_range=(0.0, 1.0),
    output_activation="sigmoid",
    traits=("g-resnet5 generator: 4 pre-activation residual blocks with batch norm",
            "nearest upsampling (depth-to-space of copies) + 3x3 convolutions",
            "final 5x5 stride-2 transposed convolution", "sigmoid output"),
    config_class=Config, full_config=full_config, stand_in_config=stand_in_config, is_content=is_content,
    network="resnet5",
)
