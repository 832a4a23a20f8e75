"""StyleGAN3 (Karras et al., NeurIPS 2021), config stylegan3-t: the alias-free generator of
NVlabs/stylegan3. Its registry entry, config and stand-in settings; its PyTorch implementation
is `networks.stylegan3`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Architecture, Recipe, StyleConfig


@dataclass(frozen=True)
class Config(StyleConfig):
    mapping_layers: int = 2
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: int = 2
    conv_clamp: float | None = 256.0
    truncation_cutoff: int | None = None

    @property
    def num_ws(self) -> int:
        return self.num_layers + 2

    def schedule(self) -> dict[str, np.ndarray]:
        """Per layer (input layer first, ToRGB last): cutoff, stopband, sampling rate,
        half-width of the transition band, size in pixels, channels."""
        last_cutoff = self.resolution / 2
        last_stopband = last_cutoff * self.last_stopband_rel
        exponents = np.minimum(np.arange(self.num_layers + 1) / (self.num_layers - self.num_critical), 1)
        cutoffs = self.first_cutoff * (last_cutoff / self.first_cutoff) ** exponents
        stopbands = self.first_stopband * (last_stopband / self.first_stopband) ** exponents
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, self.resolution))))
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        sizes = rates + self.margin_size * 2
        sizes[-2:] = self.resolution
        channels = np.rint(np.minimum((self.channel_base / 2) / cutoffs, self.channel_max))
        channels[-1] = 3
        return {"cutoffs": cutoffs, "stopbands": stopbands, "rates": rates, "half_widths": half_widths,
                "sizes": sizes.astype(int), "channels": channels.astype(int)}

    def check(self) -> None:
        super().check()
        if self.num_layers <= self.num_critical or self.num_critical < 1:
            raise ValueError("num_layers must exceed num_critical >= 1")
        if self.channel_max < 1:
            raise ValueError("channel_max must be >= 1")


def full_config(resolution: int) -> Config:
    """stylegan3-t at ``resolution``."""
    return Config(resolution=resolution)


def stand_in_config() -> Config:
    """128 px, 6 layers (2 critically sampled), channels 16 down to 8, 64-d latents."""
    return Config(resolution=128, z_dim=64, w_dim=64, channel_base=512, channel_max=16, num_layers=6)


def is_content(name: str) -> bool:
    """Mapping, input and the first half of the layers vary per semantic."""
    parts = name.split(".")
    if name.startswith(("mapping.", "synthesis.input.")):
        return True
    return len(parts) > 1 and parts[1].startswith("L") and int(parts[1][1:].split("_")[0]) < 3


ARCHITECTURE = Architecture(
    name="stylegan3",
    paper="Karras et al., Alias-Free GANs (NeurIPS 2021)",
    code_base="NVlabs/stylegan3",
    releases="none for these semantics (official StyleGAN3 models: FFHQ, AFHQv2, MetFaces)",
    recipe=Recipe("stylegan3-t", batch=32, images=20_000_000),
    latent="normal",
    output_range=(-1.0, 1.0),
    output_activation="linear",
    truncation=1.0,  # NVlabs/stylegan3 `Generator.forward`: truncation_psi=1; no noise inputs
    traits=("2-layer mapping network", "Fourier-feature input with a learned rotation/translation",
            "modulated/demodulated convolutions", "no noise inputs",
            "alias-free filtered leaky ReLU: 2x upsampling, Kaiser low-pass, downsampling",
            "geometric cutoff schedule, 2 critically sampled layers, 10 px margin"),
    config_class=Config, full_config=full_config, stand_in_config=stand_in_config, is_content=is_content,
    network="stylegan3",
)
