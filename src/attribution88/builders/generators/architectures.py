"""The registry of the seven GAN architectures, keyed by the spec's source names.

This module imports no torch: listing architectures and models (`attribution88 generators`)
stays fast. Each entry names the family module (one file per family in this package) that
holds its PyTorch implementation; MMDGAN and CramerGAN share the g-resnet5 generator
(`resnet5.py`) and differ only in how they were trained.

A family module provides:

- ``Config``: a frozen dataclass (subclass of `GeneratorConfig`) of its hyperparameters;
- ``Generator(config)``: the ``torch.nn.Module``, with ``forward(z, noise=None,
  truncation_psi=1.0, raw=False) -> (N, 3, R, R)`` in the architecture's output range (``raw``:
  before a final tanh / sigmoid), ``noise_shapes() -> list[(H, W)]`` (per-image noise inputs,
  in draw order), ``calibrate(z, noise)`` (statistics a trained model would have: ``w_avg``,
  batch-norm statistics, StyleGAN3's input magnitudes) and ``rescale_output(scale, shift)``
  (fold a per-channel affine map of the raw output into the last layer);
- ``full_config(resolution) -> Config``: the paper's model at a native resolution;
- ``stand_in_config() -> Config``: the small stand-in of the `mini` preset;
- ``is_content(name) -> bool``: which parameters make a stand-in's content (they vary per
  semantic) rather than its fingerprint (shared across the semantics of an architecture);
- optionally ``STAND_IN_INITS``: initialisation rules that replace, for stand-ins only, those
  of zero-initialised tensors that training would grow (noise strengths).
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from attribution88.errors import CheckpointError
from attribution88.registry import Registry
from attribution88.spec import SPEC


@dataclass(frozen=True)
class Architecture:
    """One GAN architecture of the benchmark."""

    name: str  # the spec's source name
    display: str
    family: str  # module of this package holding the implementation
    paper: str
    code_base: str
    latent: Literal["normal", "uniform"]  # distribution of z: N(0, 1) or U(-1, 1)
    output_range: tuple[float, float]  # the generator's pixel range, mapped to [0, 255]
    traits: tuple[str, ...]  # the structure that leaves the fingerprint

    def module(self) -> ModuleType:
        """The family module (imports torch)."""
        return importlib.import_module(f"{__package__}.{self.family}")


#: The architectures, in the spec's source order (class indices 1..7).
ARCHITECTURES: Registry[Architecture] = Registry("generator architecture")


def _add(name: str, **kw: Any) -> None:
    ARCHITECTURES.add(name, Architecture(name=name, display=SPEC.source(name).display, **kw))


_add("stylegan3", family="stylegan3", paper="Karras et al., Alias-Free GANs (NeurIPS 2021)",
     code_base="NVlabs/stylegan3", latent="normal", output_range=(-1.0, 1.0),
     traits=("2-layer mapping network", "Fourier-feature input with a learned rotation/translation",
             "modulated/demodulated convolutions", "no noise inputs",
             "alias-free filtered leaky ReLU: 2x upsampling, Kaiser low-pass, downsampling",
             "geometric cutoff schedule, 2 critically sampled layers, 10 px margin"))
_add("stylegan2", family="stylegan2", paper="Karras et al., Analyzing and Improving StyleGAN (CVPR 2020)",
     code_base="NVlabs/stylegan2", latent="normal", output_range=(-1.0, 1.0),
     traits=("8-layer mapping network", "learned constant input", "weight modulation/demodulation",
             "per-layer noise inputs", "transposed-conv upsampling with [1,3,3,1] FIR filter",
             "skip generator: RGB outputs at every resolution summed"))
_add("stylegan", family="stylegan", paper="Karras et al., A Style-Based Generator (CVPR 2019)",
     code_base="NVlabs/stylegan2 (config-a)", latent="normal", output_range=(-1.0, 1.0),
     traits=("8-layer mapping network", "learned constant input", "AdaIN (instance norm + style)",
             "per-layer, per-channel noise inputs",
             "nearest (or fused transposed-conv) upsampling + [1,2,1] blur",
             "progressive-growing output: RGB from the last resolution only"))
_add("progan", family="progan", paper="Karras et al., Progressive Growing of GANs (ICLR 2018)",
     code_base="tkarras/progressive_growing_of_gans", latent="normal", output_range=(-1.0, 1.0),
     traits=("dense latent projection to 4x4", "pixelwise feature normalisation",
             "nearest-neighbour upsampling + 3x3 convolutions",
             "progressive-growing output: RGB from the last resolution only"))
_add("cramergan", family="resnet5", paper="Bellemare et al., The Cramer Distance (2017)",
     code_base="mbinkowski/MMD-GAN", latent="uniform", output_range=(0.0, 1.0),
     traits=("g-resnet5 generator: 4 pre-activation residual blocks with batch norm",
             "nearest upsampling (depth-to-space of copies) + 3x3 convolutions",
             "final 5x5 stride-2 transposed convolution", "sigmoid output"))
_add("mmdgan", family="resnet5", paper="Binkowski et al., Demystifying MMD GANs (ICLR 2018)",
     code_base="mbinkowski/MMD-GAN", latent="uniform", output_range=(0.0, 1.0),
     traits=("g-resnet5 generator: 4 pre-activation residual blocks with batch norm",
             "nearest upsampling (depth-to-space of copies) + 3x3 convolutions",
             "final 5x5 stride-2 transposed convolution", "sigmoid output"))
_add("sngan", family="sngan", paper="Miyato et al., Spectral Normalization for GANs (ICLR 2018)",
     code_base="pfnet-research/sngan_projection", latent="normal", output_range=(-1.0, 1.0),
     traits=("ResNet generator: 5 residual up-blocks with batch norm and ReLU",
             "nearest-neighbour upsampling, learnable 1x1 shortcuts", "tanh output"))


def architecture(name: str) -> Architecture:
    """The architecture called ``name``; an unknown name suggests the closest ones."""
    return ARCHITECTURES.get(name)


# -- configs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeneratorConfig:
    """Base of the families' configs: frozen, round-trips through a plain dict (the config
    record written beside a checkpoint)."""

    resolution: int

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config") -> GeneratorConfig:
        """Build from a dict; unknown, missing or ill-typed fields raise `CheckpointError`."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{where}: the config must be a JSON object")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise CheckpointError(f"{where}: unknown config fields {unknown} for {cls.__module__.rsplit('.', 1)[-1]}")
        hints = typing.get_type_hints(cls)
        values = {}
        for name, f in fields.items():
            if name not in data:
                if f.default is dataclasses.MISSING:
                    raise CheckpointError(f"{where}: config field {name!r} is missing")
                continue
            values[name] = _coerce(data[name], hints[name], f"{where}: config field {name!r}")
        try:
            config = cls(**values)
            config.check()
        except ValueError as e:
            raise CheckpointError(f"{where}: {e}") from None
        return config

    def check(self) -> None:
        """Raise ValueError for values the family cannot build."""
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, not {self.resolution}")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise CheckpointError(f"{where} must be a list")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(v, item, where) for v in value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    if typing.get_origin(hint) is Literal and value in typing.get_args(hint):
        return value
    raise CheckpointError(f"{where} has an invalid value {value!r}")
