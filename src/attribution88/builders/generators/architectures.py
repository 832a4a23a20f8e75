"""The registry of the seven GAN architectures, keyed by the spec's source names.

One file per architecture, named by its source name (``stylegan3.py``, ``stylegan2.py``,
``stylegan.py``, ``progan.py``, ``cramergan.py``, ``mmdgan.py``, ``sngan.py``), holds its
registry entry: a literal ``ARCHITECTURE = {...}`` (paper, code base, where official releases
are published, the paper's training recipe, latent distribution, output range and final
activation, the truncation and noise its official networks are sampled with, the structure
that leaves its fingerprint). This module reads those literals from the files' text, without
importing them: they import torch, and listing architectures and models (`attribution88
generators`) must not. An entry's ``network`` names the module of its PyTorch implementation,
by default its own file; MMDGAN and CramerGAN name ``resnet5`` (the g-resnet5 generator they
share, whose own ``ARCHITECTURE`` holds what they share) and differ only in how they were
trained. Adding an architecture is adding its file (and its source to the spec).

Truncation and noise are part of a cell's definition: the supplement says the StyleGAN
family's "internal truncation mechanism" was on, i.e. the defaults the official networks carry
(each entry cites where). A model row of ``models.toml`` may override them, and a converted
checkpoint's record (read from the authors' file) takes precedence.

A network module (`Architecture.module`) provides:

- ``Config``: a frozen dataclass (subclass of `GeneratorConfig`) of its hyperparameters;
- ``Generator(config)``: the ``torch.nn.Module``, with ``forward(z, noise=None,
  truncation_psi=1.0, raw=False) -> (N, 3, R, R)`` in the architecture's output range (``raw``:
  before the final activation), ``noise_shapes() -> list[(H, W)]`` (per-image noise inputs,
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

import ast
import dataclasses
import importlib
import typing
from dataclasses import dataclass
from importlib import resources
from types import ModuleType
from typing import Any, Literal

from attribution88.errors import CheckpointError, SpecError
from attribution88.registry import Registry
from attribution88.spec import SPEC


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


@dataclass(frozen=True)
class Architecture:
    """One GAN architecture of the benchmark."""

    name: str  # the spec's source name
    display: str
    network: str  # module of this package holding the implementation
    paper: str
    code_base: str
    releases: str  # where official releases are published (file names: models.toml)
    recipe: Recipe
    latent: Literal["normal", "uniform"]  # distribution of z: N(0, 1) or U(-1, 1)
    output_range: tuple[float, float]  # the generator's pixel range, mapped to [0, 255]
    output_activation: Literal["linear", "tanh", "sigmoid"]  # the last layer's
    traits: tuple[str, ...]  # the structure that leaves the fingerprint
    truncation: float | None = None  # psi the official networks are sampled with; None: no truncation
    truncation_cutoff: int | None = None  # layers truncated (None: all)
    noise: Literal["const", "random"] | None = None  # noise inputs: the stored maps, or drawn per image

    def module(self) -> ModuleType:
        """The network module (imports torch)."""
        return importlib.import_module(f"{__package__}.{self.network}")


#: Values an entry may give (``output_activation``: the names of `layers.OUTPUT_ACTIVATIONS`).
_CHOICES = {"latent": ("normal", "uniform"), "output_activation": ("linear", "tanh", "sigmoid"),
            "noise": (None, "const", "random")}


def _literal(module: str) -> dict[str, Any]:
    """The ``ARCHITECTURE = {...}`` literal of ``<module>.py``, read from its text: from that line
    to the first line that is a lone ``}`` (parsing only it keeps listing fast)."""
    where = f"{__package__}.{module}"
    try:
        text = resources.files(__package__).joinpath(f"{module}.py").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{where}: no such module (each architecture of the spec has a file)") from None
    head = "\nARCHITECTURE = {"
    start, end = text.find(head), text.find("\n}\n", text.find(head))
    if start < 0 or end < 0:
        raise SpecError(f"{where}: no ARCHITECTURE entry (a dict literal from 'ARCHITECTURE = {{' to a '}}' line)")
    try:
        value = ast.literal_eval(text[start + len(head) - 1:end + 2])
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, dict):
        raise SpecError(f"{where}: ARCHITECTURE must be a dict literal (no names or calls)")
    return value


def _load(name: str) -> Architecture:
    own = _literal(name)
    network = own.get("network", name)
    entry = {**(_literal(network) if network != name else {}), **own, "network": network}
    if not isinstance(entry.get("recipe"), dict):
        raise SpecError(f"{__package__}.{name}: its ARCHITECTURE entry needs a recipe {{'config': ...}}")
    try:
        recipe = Recipe(**entry.pop("recipe"))
        a = Architecture(name=name, display=SPEC.source(name).display, recipe=recipe, **entry)
    except TypeError as e:
        raise SpecError(f"{__package__}.{name}: invalid ARCHITECTURE entry ({e})") from None
    for key, allowed in _CHOICES.items():
        if getattr(a, key) not in allowed:
            raise SpecError(f"{__package__}.{name}: {key} must be one of {allowed}, not {getattr(a, key)!r}")
    return a


#: The architectures, in the spec's source order (class indices 1..7).
ARCHITECTURES: Registry[Architecture] = Registry("generator architecture")
for _name in SPEC.source_names[1:]:
    ARCHITECTURES.add(_name, _load(_name))


def architecture(name: str) -> Architecture:
    """The architecture called ``name``; an unknown name suggests the closest ones."""
    return ARCHITECTURES.get(name)


# -- configs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeneratorConfig:
    """Base of the networks' configs: frozen, round-trips through a plain dict (the config
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
