"""StyleGAN (Karras et al., CVPR 2019): the style-based generator, as trained with config-a of
NVlabs/stylegan2 (the original StyleGAN networks), in PyTorch. Its config, registry entry and stand-in settings:
``stylegan.py`` (the architecture's file).

What leaves its fingerprint, kept here: an 8-layer mapping network (lr multiplier 0.01) from
a unit-RMS z to w; a learned 4x4 constant input (initialised to ones); after every
convolution the "epilogue": per-pixel noise scaled by a learned per-channel weight, bias,
leaky ReLU 0.2, instance normalisation and AdaIN (``x * (1 + ys) + yb``, the style an affine
map of w); upsampling by nearest neighbour + 3x3 convolution, done as one fused stride-2
transposed convolution from 128 px up (the same function, with its own border behaviour),
followed by the [1, 2, 1] blur; and the progressive-growing output: one 1x1 ToRGB at the last
resolution. Channels: ``min(fmap_base / 2**(log2(res) - 1), fmap_max)`` = 8192 / 512.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..base import ONES, ZEROS, Init
from ..stylegan import Config
from .layers import (SQRT2, Conv2d, FullyConnected, Module, StyleBasedGenerator, blur2d, channels_last, fir_filter,
                     instance_norm, rescale_channels_, upsample_nearest)


class Epilogue(Module):
    """noise -> bias -> leaky ReLU -> instance norm -> AdaIN style."""

    def __init__(self, channels: int, w_dim: int, resolution: int) -> None:
        super().__init__()
        self.param("noise_weight", [channels], ZEROS)
        # The stored noise map (TF ``noiseN``), used when sampling with the official default.
        self.random_buffer("noise_const", [resolution, resolution], Init("normal", 1.0))
        self.param("bias", [channels], ZEROS)
        self.style = FullyConnected(w_dim, 2 * channels, gain=1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        x = x + self.bias.reshape(1, -1, 1, 1)  # a new tensor: the rest runs in place
        if noise is not None:
            x = x.add_(noise * self.noise_weight.reshape(1, -1, 1, 1))
        x = instance_norm(F.leaky_relu_(x, 0.2))
        style = self.style(w).reshape(w.shape[0], 2, -1, 1, 1)
        return torch.addcmul(style[:, 1], x, style[:, 0] + 1)


class UpConv(Module):
    """Nearest-neighbour x2 then 3x3 conv; ``fused``: the same as one stride-2 transposed
    conv whose 4x4 kernel sums the 3x3 kernel at the four offsets."""

    def __init__(self, in_channels: int, out_channels: int, fused: bool) -> None:
        super().__init__()
        self.fused = fused
        self.weight_gain = SQRT2 / math.sqrt(in_channels * 9)
        self.param("weight", [out_channels, in_channels, 3, 3], Init("normal", 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        if not self.fused:
            return F.conv2d(upsample_nearest(x), w, padding=1)
        w = F.pad(w, (1, 1, 1, 1))
        w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
        # PyTorch's transposed conv scatters with the kernel as is: flip it to correlate.
        return F.conv_transpose2d(x, w.flip(2, 3).transpose(0, 1), stride=2, padding=1)


class SynthesisBlock(Module):
    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, fused: bool) -> None:
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.param("const", [out_channels, 4, 4], ONES)
        else:
            self.conv0_up = UpConv(in_channels, out_channels, fused)
        self.epi0 = Epilogue(out_channels, w_dim, resolution)
        self.conv1 = Conv2d(out_channels, out_channels, 3, bias=False)
        self.epi1 = Epilogue(out_channels, w_dim, resolution)

    def forward(self, x, ws, noises, blur):
        if self.resolution == 4:
            x = channels_last(self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1))
        else:
            x = blur2d(self.conv0_up(x), blur)
        x = self.epi0(x, ws[:, 0], noises[0])
        return self.epi1(self.conv1(x), ws[:, 1], noises[1])


class SynthesisNetwork(Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.resolutions = [2**i for i in range(2, int(math.log2(config.resolution)) + 1)]
        for res in self.resolutions:
            cin = config.channels(res // 2) if res > 4 else 0
            setattr(self, f"b{res}", SynthesisBlock(cin, config.channels(res), config.w_dim, res,
                                                    fused=res >= config.fused_upsample_from))
        self.torgb = Conv2d(config.channels(config.resolution), 3, 1, gain=1.0)
        self.register_buffer("blur_filter", fir_filter(config.blur_filter), persistent=False)

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor] | None) -> torch.Tensor:
        x = None
        for i, res in enumerate(self.resolutions):
            nz = noise[2 * i: 2 * i + 2] if noise is not None else [None, None]
            x = getattr(self, f"b{res}")(x, ws[:, 2 * i: 2 * i + 2], nz, self.blur_filter)
        return self.torgb(x)


class Generator(StyleBasedGenerator):
    Synthesis = SynthesisNetwork

    def noise_shapes(self) -> list[tuple[int, int]]:
        """Two noise maps per resolution (after each convolution, the constant included)."""
        return [(r, r) for r in self.synthesis.resolutions for _ in range(2)]

    def const_noise(self) -> list[torch.Tensor]:
        """The stored noise maps ``(1, 1, H, W)``, in `noise_shapes` order."""
        blocks = [getattr(self.synthesis, f"b{r}") for r in self.synthesis.resolutions]
        return [epi.noise_const[None, None] for b in blocks for epi in (b.epi0, b.epi1)]

    @torch.no_grad()
    def rescale_output(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the output ``output * scale + shift`` per RGB channel (folded into ToRGB)."""
        rescale_channels_(self.synthesis.torgb.weight, self.synthesis.torgb.bias, scale, shift)
