"""StyleGAN2 (Karras et al., CVPR 2020), config-f: the generator of NVlabs/stylegan2. Its
registry entry, config and stand-in settings; its PyTorch implementation is
`networks.stylegan2`."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Architecture, Init, Recipe, StyleConfig


@dataclass(frozen=True)
class Config(StyleConfig):
    channel_base: int = 32768
    channel_max: int = 512
    resample_filter: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)
    truncation_cutoff: int | None = None
    conv_clamp: float | None = None

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def check(self) -> None:
        super().check()
        if self.channel_max < 1 or self.channels(self.resolution) < 1:
            raise ValueError("channel_max and channels must be >= 1")


def full_config(resolution: int) -> Config:
    """config-f at ``resolution``."""
    return Config(resolution=resolution)


def stand_in_config() -> Config:
    """128 px, channels 32 (<= 16 px) down to 8 (128 px), 64-d latents, 8 mapping layers."""
    return Config(resolution=128, z_dim=64, w_dim=64, channel_base=1024, channel_max=32)


def is_content(name: str) -> bool:
    """Mapping network and blocks up to 16 px vary per semantic; finer blocks are shared."""
    return name.startswith("mapping.") or _block_res(name) <= 16


def _block_res(name: str) -> int:
    parts = name.split(".")
    if len(parts) > 1 and parts[0] == "synthesis" and parts[1].startswith("b"):
        return int(parts[1][1:])
    return 1 << 30



ARCHITECTURE = Architecture(
    name="stylegan2",
    paper="Karras et al., Analyzing and Improving StyleGAN (CVPR 2020)",
    code_base="NVlabs/stylegan2",
    releases="NVlabs/stylegan2 README, 'networks' folder (TensorFlow pickles, config-f)",
    recipe=Recipe("config-f", batch=32, images=10_000_000),
    latent="normal",
    output_range=(-1.0, 1.0),
    output_activation="linear",
    # NVlabs/stylegan2 networks_stylegan2.py `G_main`: truncation_psi=0.5, truncation_cutoff=None;
    # the stored noise maps (run_generator.py `randomize_noise=False`; stylegan2-ada-pytorch
    # generate.py `--noise-mode const`).
    truncation=0.5,
    noise="const",
    traits=("8-layer mapping network", "learned constant input", "weight modulation/demodulation",
            "per-layer noise inputs", "transposed-conv upsampling with [1,3,3,1] FIR filter",
            "skip generator: RGB outputs at every resolution summed"),
    config_class=Config, full_config=full_config, stand_in_config=stand_in_config, is_content=is_content,
    network="stylegan2",
    # Noise strengths start at zero in training and grow; a stand-in is never trained, so it
    # draws them, to keep its noise inputs visible.
    stand_in_inits={"noise_strength": Init("uniform", 0.05, 0.2)},
)
