"""g-resnet5: the generator MMDGAN (Binkowski et al., ICLR 2018) and CramerGAN (Bellemare et
al., 2017) share in mbinkowski/MMD-GAN (``ResNetGenerator``, chosen by ``-architecture
g-resnet5``), in PyTorch. Both architectures' entries (``mmdgan.py``, ``cramergan.py``) name
this network; they differ only in how the models were trained. Its config and stand-in
settings are in ``mmdgan.py``.

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

import torch
import torch.nn.functional as F

from ..base import ZEROS, Init
from ..mmdgan import ARCHITECTURE, Config
from .layers import (OUTPUT_ACTIVATIONS, BatchNorm, Module, PlainConv2d, PlainLinear, calibrate_batchnorms,
                     channels_last, rescale_channels_, upsample_nearest)


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
        return out if raw else OUTPUT_ACTIVATIONS[ARCHITECTURE.output_activation](out)

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
