"""g-resnet5: the generator MMDGAN (Binkowski et al., ICLR 2018) and CramerGAN (Bellemare et
al., 2017) share in mbinkowski/MMD-GAN (``ResNetGenerator``, chosen by ``-architecture
g-resnet5``). Both architectures' entries (mmdgan.py, cramergan.py) name this network; they
differ only in how the models were trained (their recipes: the critic's output size and
gradient penalty). What they share of their registry entry is here (`ARCHITECTURE`).

What leaves its fingerprint, kept here: z uniform in [-1, 1] (100-d) through a dense layer to a
``16 gf_dim``-channel map at 1/32 of the output size; four pre-activation residual blocks, each
batch norm -> ReLU -> nearest x2 (the code base's depth-to-space of four copies) -> 3x3 conv
(no bias) -> batch norm -> ReLU -> 3x3 conv, with a shortcut of nearest x2 -> 1x1 conv, halving
the channels; batch norm, ReLU, then a 5x5 stride-2 transposed convolution to RGB with
TensorFlow's 'SAME' alignment (one pixel of the full output cropped at the top/left, two at the
bottom/right) and a sigmoid. Five x2 stages in all: 128 px from a 4x4 map with gf_dim = 64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .architectures import GeneratorConfig
from .layers import (OUTPUT_ACTIVATIONS, ZEROS, BatchNorm, Init, Module, PlainConv2d, PlainLinear,
                     calibrate_batchnorms, channels_last, rescale_channels_, upsample_nearest)


#: What the registry entries of MMDGAN and CramerGAN share (`architectures`: read from this
#: file's text without importing it, a literal; mmdgan.py and cramergan.py add the rest).
ARCHITECTURE = {
    "code_base": "mbinkowski/MMD-GAN",
    "releases": "none",
    "latent": "uniform",
    "output_range": (0.0, 1.0),
    "output_activation": "sigmoid",
    "traits": ("g-resnet5 generator: 4 pre-activation residual blocks with batch norm",
               "nearest upsampling (depth-to-space of copies) + 3x3 convolutions",
               "final 5x5 stride-2 transposed convolution", "sigmoid output"),
}


@dataclass(frozen=True)
class Config(GeneratorConfig):
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


class ResidualBlock(Module):
    def __init__(self, in_channels: int, out_channels: int, eps: float) -> None:
        super().__init__()
        self.bn1 = BatchNorm(in_channels, eps)
        self.conv1 = PlainConv2d(in_channels, out_channels, 3, bias=False, init=Init("glorot", math.sqrt(2)))
        self.bn2 = BatchNorm(out_channels, eps)
        self.conv2 = PlainConv2d(out_channels, out_channels, 3, init=Init("glorot", math.sqrt(2)))
        self.shortcut = PlainConv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(upsample_nearest(F.relu_(self.bn1(x))))
        h = self.conv2(F.relu_(self.bn2(h)))
        return self.shortcut(upsample_nearest(x)) + h


class Generator(Module):
    """z ``(N, z_dim)`` uniform in [-1, 1] -> image ``(N, 3, R, R)`` in (0, 1) (sigmoid)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.resolution = config.z_dim, config.resolution
        chans = [config.gf_dim * m for m in config.multipliers]
        s = config.base_size
        self.lin = PlainLinear(config.z_dim, chans[0] * s * s, init=Init("normal", 0.02))
        self.num_blocks = len(chans) - 1
        for i in range(self.num_blocks):
            setattr(self, f"res{i + 1}", ResidualBlock(chans[i], chans[i + 1], config.bn_eps))
        self.bn = BatchNorm(chans[-1], config.bn_eps)
        k = config.final_kernel
        self.param("out_weight", [chans[-1], 3, k, k], Init("normal", 0.02))  # (in, out, k, k)
        self.param("out_bias", [3], ZEROS)

    def noise_shapes(self) -> list[tuple[int, int]]:
        return []

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None,
                truncation_psi: float = 1.0, raw: bool = False) -> torch.Tensor:
        s = self.config.base_size
        h = channels_last(self.lin(z.float()).reshape(z.shape[0], -1, s, s))
        for i in range(self.num_blocks):
            h = getattr(self, f"res{i + 1}")(h)
        out = self.output_layer(F.relu_(self.bn(h)))
        return out if raw else OUTPUT_ACTIVATIONS[ARCHITECTURE["output_activation"]](out)

    def output_layer(self, h: torch.Tensor) -> torch.Tensor:
        """The stride-2 transposed convolution to RGB, aligned as TensorFlow's 'SAME' padding:
        input pixel i reaches outputs 2i - (k-2)//2 ... (pre-sigmoid)."""
        full = F.conv_transpose2d(h, self.out_weight, self.out_bias, stride=2)  # side 2n + k - 2
        k, n = self.config.final_kernel, h.shape[-1]
        top = (k - 2) // 2  # total crop k - 2, the smaller half first
        return full[:, :, top:top + 2 * n, top:top + 2 * n]

    @torch.no_grad()
    def calibrate(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> None:
        """Set every batch norm's running statistics to those of ``z``'s batch."""
        calibrate_batchnorms(self, lambda: self(z))

    @torch.no_grad()
    def rescale_output(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the pre-sigmoid output ``output * scale + shift`` per RGB channel (the transposed
        convolution's weight is ``(in, out, k, k)``)."""
        rescale_channels_(self.out_weight, self.out_bias, scale, shift, dim=1)
