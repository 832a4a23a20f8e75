"""What an architecture's file is made of, without torch: its registry entry (`Architecture`,
with its training `Recipe`), the bases of its config (`GeneratorConfig`; `StyleConfig` for the
StyleGAN families) and the initialisation rules (`Init`) its network's tensors are drawn by.
`architectures` lists what an architecture's file provides."""

from __future__ import annotations

import dataclasses
import importlib
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from attribution88.errors import CheckpointError, SpecError
from attribution88.spec import SPEC


# -- initialisation rules ----------------------------------------------------------------------
@dataclass(frozen=True)
class Init:
    """How a parameter (or random buffer) is drawn: ``normal`` (std ``a``), ``uniform``
    (in ``[a, b)``), ``const`` (value ``a``), ``glorot`` (uniform, gain ``a``: bound
    ``a * sqrt(6 / (fan_in + fan_out))``), ``disc_freqs`` (StyleGAN3's Fourier frequencies
    in a disc of radius ``a``), ``values`` (the 1-D tensor ``values``). The networks draw
    them (`networks.layers.initialize`)."""

    kind: Literal["normal", "uniform", "const", "glorot", "disc_freqs", "values"]
    a: float = 0.0
    b: float = 0.0
    values: tuple[float, ...] = ()


ONES, ZEROS = Init("const", 1.0), Init("const", 0.0)


# -- configs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeneratorConfig:
    """Base of the architectures' configs: frozen, round-trips through a plain dict (the config
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
        """Raise ValueError for values the network cannot build."""
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, not {self.resolution}")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise CheckpointError(f"{where} must be a list")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(v, item, where) for v in value)
    if origin in (typing.Union, types.UnionType):
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


@dataclass(frozen=True)
class StyleConfig(GeneratorConfig):
    """What the StyleGAN families' configs share: the mapping network (StyleGAN3: 2 layers)."""

    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01

    @property
    def num_ws(self) -> int:
        """Styles the synthesis network takes (StyleGAN 1-2: two per resolution from 4 px)."""
        return 2 * int(math.log2(self.resolution)) - 2

    def check(self) -> None:
        super().check()
        if min(self.z_dim, self.w_dim, self.mapping_layers) < 1:
            raise ValueError("z_dim, w_dim and mapping_layers must be >= 1")


# -- registry entries ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipe:
    """How the paper trained an architecture (supplement Tab. 1)."""

    config: str
    batch: int | None = None
    images: int | None = None  # real images shown to the discriminator
    iterations: int | None = None  # generator updates

    def describe(self) -> str:
        parts = [self.config]
        if self.batch:
            parts.append(f"batch {self.batch}")
        if self.images:
            parts.append(f"{self.images / 1e6:g}M images")
        if self.iterations:
            parts.append(f"{self.iterations // 1000}k iterations")
        return ", ".join(parts)


#: Values an entry may give (``output_activation``: the names of `networks.layers.OUTPUT_ACTIVATIONS`).
_CHOICES = {"latent": ("normal", "uniform"), "output_activation": ("linear", "tanh", "sigmoid"),
            "noise": (None, "const", "random")}


@dataclass(frozen=True)
class Architecture:
    """One GAN architecture of the benchmark: its registry entry, written in its own file."""

    name: str  # the spec's source name (and the file's)
    paper: str
    code_base: str
    releases: str  # where official releases are published (file names: models.toml)
    recipe: Recipe
    latent: Literal["normal", "uniform"]  # distribution of z: N(0, 1) or U(-1, 1)
    output_range: tuple[float, float]  # the generator's pixel range, mapped to [0, 255]
    output_activation: Literal["linear", "tanh", "sigmoid"]  # the last layer's
    traits: tuple[str, ...]  # the structure that leaves the fingerprint
    config_class: type[GeneratorConfig]  # the network's hyperparameters (``Config`` of the file)
    full_config: Callable[[int], GeneratorConfig]  # the paper's model at a native resolution
    stand_in_config: Callable[[], GeneratorConfig]  # the small stand-in of the `mini` preset
    #: Which tensors (state-dict names) make a stand-in's content: drawn per semantic, the others
    #: (the fingerprint) shared across the semantics of the architecture.
    is_content: Callable[[str], bool]
    network: str  # module of `networks` holding the PyTorch implementation
    #: Stand-ins only: rules that replace those of tensors (by attribute name) that start at zero
    #: and that training would grow (noise strengths).
    stand_in_inits: Mapping[str, Init] = field(default_factory=dict)
    truncation: float | None = None  # psi the official networks are sampled with; None: no truncation
    truncation_cutoff: int | None = None  # layers truncated (None: all)
    noise: Literal["const", "random"] | None = None  # noise inputs: the stored maps, or drawn per image

    def __post_init__(self) -> None:
        where = f"{__package__}.{self.name}: ARCHITECTURE"
        for key, allowed in _CHOICES.items():
            if getattr(self, key) not in allowed:
                raise SpecError(f"{where}: {key} must be one of {allowed}, not {getattr(self, key)!r}")
        if not (isinstance(self.config_class, type) and issubclass(self.config_class, GeneratorConfig)):
            raise SpecError(f"{where}: config_class must be a GeneratorConfig subclass, not {self.config_class!r}")
        lo, hi = self.output_range
        if not lo < hi:
            raise SpecError(f"{where}: output_range must be (low, high) with low < high, not {self.output_range!r}")
        bad = [k for k, v in self.stand_in_inits.items() if not isinstance(v, Init)]
        if bad:
            raise SpecError(f"{where}: stand_in_inits values must be Init rules ({bad})")

    @property
    def display(self) -> str:
        """The spec's display name of the source."""
        return SPEC.source(self.name).display

    def module(self) -> ModuleType:
        """The network module, ``networks.<network>``, with its ``Generator`` (imports torch)."""
        return importlib.import_module(f"{__package__}.networks.{self.network}")
