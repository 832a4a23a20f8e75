"""StyleGAN3 (Karras et al., NeurIPS 2021), config stylegan3-t: the alias-free generator of
NVlabs/stylegan3, in PyTorch. Its config, registry entry and stand-in settings: ``stylegan3.py``
(the architecture's file).

What leaves its fingerprint, kept here: a 2-layer mapping network; an input of Fourier
features (random frequencies in a disc of radius ``first_cutoff``, random phases) whose
rotation and translation are an affine map of w; 14 layers of modulated, demodulated 3x3
convolutions whose input is scaled by a tracked input magnitude, each followed by the
*filtered leaky ReLU*: upsample (by 2, or 4 where the sampling rate grows) with a windowed
sinc low-pass, leaky ReLU (gain sqrt 2), low-pass and downsample to the layer's sampling
rate; no noise inputs; cutoffs and stopbands on a geometric schedule from 2 to
``resolution / 2``, the last two layers critically sampled; a 10 px margin cropped only by the
last layers; a modulated 1x1 ToRGB and an output scale of 0.25. Filters are Kaiser-windowed
sincs (``scipy.signal.firwin``), 6 taps per sampling-rate unit. Layer names follow the
authors' code (``synthesis.L3_52_512``).

One deliberate difference: the authors pre-normalise the styles by their RMS over the whole
batch before modulating; that factor cancels in demodulation, and it is taken per sample here
so that no image depends on the others in its batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..base import ZEROS, Init
from ..stylegan3 import Config
from .layers import (FullyConnected, Module, StyleBasedGenerator, channel_stats, channels_last, conv1x1,
                     filtered_lrelu, lowpass_filter, modulated_conv2d, rescale_channels_)


class SynthesisInput(Module):
    """Fourier features at ``size`` pixels of a ``sampling_rate`` grid, rotated and translated
    by an affine map of w (initialised to the identity), then mixed by a learned matrix."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float) -> None:
        super().__init__()
        self.channels, self.size, self.sampling_rate, self.bandwidth = channels, size, sampling_rate, bandwidth
        self.param("weight", [channels, channels], Init("normal", 1.0))
        self.affine = FullyConnected(w_dim, 4, weight_init=0.0)
        self.affine._init_rules["bias"] = Init("values", values=(1.0, 0.0, 0.0, 0.0))  # identity
        self.register_buffer("transform", torch.eye(3))  # user transform, inverse, wrt the image
        self.random_buffer("freqs", [channels, 2], Init("disc_freqs", bandwidth))
        self.random_buffer("phases", [channels], Init("uniform", -0.5, 0.5))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        t = self.affine(w)  # (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        c, s, tx, ty = t.unbind(dim=1)
        zero, one = torch.zeros_like(c), torch.ones_like(c)
        # Inverse rotation then inverse translation (wrt the image), then the user transform.
        m = torch.stack([torch.stack([c, -s, -c * tx + s * ty], 1),
                         torch.stack([s, c, -s * tx - c * ty], 1),
                         torch.stack([zero, zero, one], 1)], 1)  # (N, 3, 3)
        m = (m[:, :, :, None] * self.transform[None, None, :, :]).sum(dim=2)
        fx, fy = self.freqs[:, 0][None], self.freqs[:, 1][None]  # (1, C)
        phases = self.phases[None] + fx * m[:, 0, 2:3] + fy * m[:, 1, 2:3]
        fx, fy = fx * m[:, 0, 0:1] + fy * m[:, 1, 0:1], fx * m[:, 0, 1:2] + fy * m[:, 1, 1:2]
        amplitudes = (1 - (torch.sqrt(fx**2 + fy**2) - self.bandwidth)
                      / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        pixels = torch.arange(self.size, device=w.device, dtype=torch.float32)
        grid = (pixels + 0.5 - self.size / 2) / self.sampling_rate  # pixel centres, image units
        x = (grid[None, None, None, :] * fx[:, :, None, None] + grid[None, None, :, None] * fy[:, :, None, None]
             + phases[:, :, None, None])
        x = torch.sin(x * (2 * math.pi)) * amplitudes[:, :, None, None]
        return conv1x1(channels_last(x), self.weight / math.sqrt(self.channels))


class SynthesisLayer(Module):
    """Modulated conv, then bias + filtered leaky ReLU (or, for ToRGB, bias only)."""

    def __init__(self, config: Config, index: int, sched: dict[str, np.ndarray]) -> None:
        super().__init__()
        prev, n = max(index - 1, 0), config.num_layers
        self.is_torgb = index == n
        critical = index >= n - config.num_critical
        self.in_size, self.out_size = int(sched["sizes"][prev]), int(sched["sizes"][index])
        in_ch, out_ch = int(sched["channels"][prev]), int(sched["channels"][index])
        in_rate, out_rate = float(sched["rates"][prev]), float(sched["rates"][index])
        tmp_rate = max(in_rate, out_rate) * (1 if self.is_torgb else config.lrelu_upsampling)
        self.kernel = 1 if self.is_torgb else config.conv_kernel
        self.conv_clamp = config.conv_clamp
        self.critically_sampled = critical
        self.affine = FullyConnected(config.w_dim, in_ch, bias_init=1.0)
        self.param("weight", [out_ch, in_ch, self.kernel, self.kernel], Init("normal", 1.0))
        self.param("bias", [out_ch], ZEROS)
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.up = int(round(tmp_rate / in_rate))
        self.down = int(round(tmp_rate / out_rate))
        up_taps = config.filter_size * self.up if self.up > 1 and not self.is_torgb else 1
        down_taps = config.filter_size * self.down if self.down > 1 and not self.is_torgb else 1
        self.up_taps, self.down_taps = up_taps, down_taps
        cut, half = sched["cutoffs"], sched["half_widths"]
        fu = lowpass_filter(up_taps, float(cut[prev]), float(half[prev]) * 2, tmp_rate)
        fd = lowpass_filter(down_taps, float(cut[index]), float(half[index]) * 2, tmp_rate)
        self.register_buffer("up_filter", _or_empty(fu), persistent=False)
        self.register_buffer("down_filter", _or_empty(fd), persistent=False)
        pad_total = (self.out_size - 1) * self.down + 1
        pad_total -= (self.in_size + self.kernel - 1) * self.up
        pad_total += up_taps + down_taps - 2
        pad_lo = (pad_total + self.up) // 2  # symmetric sample locations (paper, appendix C.3)
        pad_hi = pad_total - pad_lo
        self.padding = (pad_lo, pad_hi, pad_lo, pad_hi)
        self.sampling_rate, self.cutoff = out_rate, float(sched["cutoffs"][index])

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles / math.sqrt(self.weight.shape[1] * self.kernel**2)
        x = modulated_conv2d(x, self.weight, styles, demodulate=not self.is_torgb, padding=self.kernel - 1,
                             input_gain=self.magnitude_ema.rsqrt(), prenormalize=True)
        x = x + self.bias.reshape(1, -1, 1, 1)
        fu = self.up_filter if self.up_filter.numel() else None
        fd = self.down_filter if self.down_filter.numel() else None
        return filtered_lrelu(x, fu, fd, up=self.up, down=self.down, padding=self.padding,
                              gain=1.0 if self.is_torgb else math.sqrt(2), slope=1.0 if self.is_torgb else 0.2,
                              clamp=self.conv_clamp)


def _or_empty(f: torch.Tensor | None) -> torch.Tensor:
    return torch.zeros(0) if f is None else f


class SynthesisNetwork(Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        sched = config.schedule()
        self.schedule = sched
        self.input = SynthesisInput(config.w_dim, int(sched["channels"][0]), int(sched["sizes"][0]),
                                    float(sched["rates"][0]), float(sched["cutoffs"][0]))
        self.layer_names = []
        for idx in range(config.num_layers + 1):
            name = f"L{idx}_{int(sched['sizes'][idx])}_{int(sched['channels'][idx])}"
            setattr(self, name, SynthesisLayer(config, idx, sched))
            self.layer_names.append(name)

    def layers(self) -> list[SynthesisLayer]:
        return [getattr(self, n) for n in self.layer_names]

    def forward(self, ws: torch.Tensor, *, calibrate: bool = False) -> torch.Tensor:
        x = self.input(ws[:, 0])
        for i, layer in enumerate(self.layers()):
            if calibrate:  # the magnitude a trained model's moving average holds
                mean, var = channel_stats(x, range(x.ndim))
                layer.magnitude_ema.copy_(var + mean.square())
            x = layer(x, ws[:, i + 1])
        return x * self.config.output_scale if self.config.output_scale != 1 else x


class Generator(StyleBasedGenerator):
    Synthesis = SynthesisNetwork

    def noise_shapes(self) -> list[tuple[int, int]]:
        """StyleGAN3 has no noise inputs."""
        return []

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None,
                truncation_psi: float = 1.0, raw: bool = False) -> torch.Tensor:
        ws = self.mapping(z, self.config.num_ws, truncation_psi, self.config.truncation_cutoff)
        return self.synthesis(ws)

    @torch.no_grad()
    def calibrate(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> None:
        """Set ``w_avg`` and every layer's input magnitude from ``z``'s batch."""
        ws = self.mapping(z, self.config.num_ws)
        self.mapping.w_avg.copy_(channel_stats(ws[:, 0], [0])[0])
        self.synthesis(ws, calibrate=True)

    @torch.no_grad()
    def rescale_output(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the output ``output * scale + shift`` per RGB channel (folded into ToRGB,
        before the output scale)."""
        torgb = self.synthesis.layers()[-1]
        rescale_channels_(torgb.weight, torgb.bias, scale, shift / self.config.output_scale)
