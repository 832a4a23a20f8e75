"""StyleGAN2 (Karras et al., CVPR 2020), config-f: the generator of NVlabs/stylegan2, in
PyTorch. Its config, registry entry and stand-in settings: ``stylegan2.py`` (the
architecture's file).

What leaves its fingerprint, kept here: an 8-layer mapping network (lr multiplier 0.01) from
a unit-RMS z to w; a learned 4x4 constant input; per layer, a 3x3 convolution whose weight is
modulated by a style (an affine map of w) and demodulated to unit norm, a per-pixel noise
input scaled by a learned strength, bias and leaky ReLU (gain sqrt 2); upsampling by a
stride-2 transposed convolution followed by the [1, 3, 3, 1] FIR low-pass; and the *skip*
output structure: a modulated 1x1 ToRGB at every resolution, the RGB images upsampled with
the same FIR filter and summed. Channels: ``min(channel_base / resolution, channel_max)``
(config-f: 32768 / 512; 16384 in the TF code's ``fmap_base / 2**stage`` form, the same).
Parameter names follow the authors' PyTorch port (``synthesis.b8.conv0.affine.weight``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..base import ZEROS, Init
from ..stylegan2 import Config
from .layers import (SQRT2, FullyConnected, Module, StyleBasedGenerator, channels_last, fir_filter,
                     modulated_conv2d, rescale_channels_, upsample2d)


class SynthesisLayer(Module):
    """Modulated 3x3 conv (optionally upsampling), noise, bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, *,
                 up: int = 1, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.up, self.resolution, self.conv_clamp = up, resolution, conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.param("weight", [out_channels, in_channels, 3, 3], Init("normal", 1.0))
        self.param("noise_strength", [], ZEROS)
        self.param("bias", [out_channels], ZEROS)
        # The network's stored noise map (NVlabs: TF ``noiseN`` variables, PyTorch ``noise_const``),
        # used by the authors' scripts by default (``randomize_noise=False``, ``--noise-mode const``).
        self.random_buffer("noise_const", [resolution, resolution], Init("normal", 1.0))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None,
                resample_filter: torch.Tensor) -> torch.Tensor:
        # lrelu(y) * sqrt2 == lrelu(sqrt2 * y): the gain is folded into demodulation, noise
        # strength and bias, and the rest runs in place on the convolution's output.
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight, styles, demodulate=True, padding=1, up=self.up,
                             resample_filter=resample_filter, gain=SQRT2)
        if noise is not None:
            x = x.add_(noise * (self.noise_strength * SQRT2))
        x = F.leaky_relu_(x.add_((self.bias * SQRT2).reshape(1, -1, 1, 1)), 0.2)
        return x.clamp_(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


class ToRGB(Module):
    """Modulated 1x1 conv without demodulation, bias, linear."""

    def __init__(self, in_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.weight_gain = 1.0 / math.sqrt(in_channels)
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.param("weight", [3, in_channels, 1, 1], Init("normal", 1.0))
        self.param("bias", [3], ZEROS)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False).add_(self.bias.reshape(1, -1, 1, 1))
        return x.clamp_(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


class SynthesisBlock(Module):
    """One resolution: (constant | upsampling conv0), conv1, ToRGB added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 conv_clamp: float | None) -> None:
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.param("const", [out_channels, 4, 4], Init("normal", 1.0))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGB(out_channels, w_dim, conv_clamp)

    def forward(self, x, img, ws, noises, f):
        """ws: (N, 3, w_dim) for conv0, conv1, torgb (conv0 unused at 4x4)."""
        if self.resolution == 4:
            x = channels_last(self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1))
        else:
            x = self.conv0(x, ws[:, 0], noises[0], f)
        x = self.conv1(x, ws[:, 1], noises[-1], f)
        y = self.torgb(x, ws[:, 2])
        img = y if img is None else upsample2d(img, f) + y
        return x, img


class SynthesisNetwork(Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.resolutions = [2**i for i in range(2, int(math.log2(config.resolution)) + 1)]
        for res in self.resolutions:
            cin = config.channels(res // 2) if res > 4 else 0
            setattr(self, f"b{res}", SynthesisBlock(cin, config.channels(res), config.w_dim, res, config.conv_clamp))
        self.register_buffer("resample_filter", fir_filter(config.resample_filter), persistent=False)

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor] | None) -> torch.Tensor:
        x = img = None
        for i, res in enumerate(self.resolutions):
            k = 2 * i  # ws index of this block's conv1 (b4) / conv0 (others)
            w3 = ws[:, [0, 0, 1]] if res == 4 else ws[:, [k - 1, k, k + 1]]
            if noise is None:
                nz = [None, None]
            elif res == 4:
                nz = [noise[0]]
            else:
                nz = noise[2 * i - 1: 2 * i + 1]
            x, img = getattr(self, f"b{res}")(x, img, w3, nz, self.resample_filter)
        return img


class Generator(StyleBasedGenerator):
    Synthesis = SynthesisNetwork

    def noise_shapes(self) -> list[tuple[int, int]]:
        """One noise map per synthesis layer: 4x4 once, then two per resolution."""
        return [(4, 4)] + [(r, r) for r in self.synthesis.resolutions[1:] for _ in range(2)]

    def const_noise(self) -> list[torch.Tensor]:
        """The stored noise maps ``(1, 1, H, W)``, in `noise_shapes` order."""
        s = self.synthesis
        layers = [s.b4.conv1] + [getattr(getattr(s, f"b{r}"), c) for r in s.resolutions[1:] for c in ("conv0", "conv1")]
        return [layer.noise_const[None, None] for layer in layers]

    @torch.no_grad()
    def rescale_output(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the output ``output * scale + shift`` per RGB channel (all ToRGB layers
        scaled, the shift added by the last one)."""
        for res in self.synthesis.resolutions:
            torgb = getattr(self.synthesis, f"b{res}").torgb
            rescale_channels_(torgb.weight, torgb.bias, scale, shift if res == self.resolution else None)
