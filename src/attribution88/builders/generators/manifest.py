"""The manifest of the 77 generator models (``models.toml``), read into frozen dataclasses.

No torch here: `attribution88 generators` lists the models and which checkpoints are present
without loading a network.

>>> from attribution88.builders.generators.manifest import MANIFEST
>>> m = MANIFEST.model("progan", "bedroom")
>>> m.resolution, m.origin, m.release
(256, 'official', 'karras2018iclr-lsun-bedroom-256x256.pkl')
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from attribution88 import settings
from attribution88.settings import CHECKPOINTS_ENV
from attribution88.errors import SpecError, UnknownNameError, UsageError
from attribution88.spec import SPEC
from attribution88.versioned import read_version

from .architectures import ARCHITECTURES
from .base import Architecture, Recipe

#: Where a model's checkpoint comes from (see the comments at the top of models.toml).
#: Layout version of models.toml.
MANIFEST_VERSION = 1

ORIGINS = ("official", "recipe", "byo")
#: File name suffixes of a native checkpoint and of its config record.
WEIGHTS_SUFFIX, RECORD_SUFFIX = ".safetensors", ".json"


@dataclass(frozen=True)
class ModelEntry:
    """One of the 77 models: an architecture trained on one semantic."""

    arch: str
    semantic: str
    resolution: int  # native output side, pixels
    latent_dim: int
    truncation: float | None  # StyleGAN psi; None where the architecture has none
    origin: Literal["official", "recipe", "byo"]
    release: str | None = None  # file name of the official release
    crop: tuple[int, int] | None = None  # (height, width) of the content inside the output
    truncation_cutoff: int | None = None  # layers truncated (None: all)
    noise: Literal["const", "random"] | None = None  # noise inputs: the stored maps, or drawn per image

    @property
    def architecture(self) -> Architecture:
        return ARCHITECTURES.get(self.arch)

    @property
    def code_base(self) -> str:
        return self.architecture.code_base

    @property
    def releases(self) -> str:
        """Where the architecture's official releases are published."""
        return self.architecture.releases

    @property
    def recipe(self) -> Recipe:
        return self.architecture.recipe

    @property
    def name(self) -> str:
        return f"{self.arch}-{self.semantic}"

    @property
    def checkpoint_file(self) -> str:
        return self.name + WEIGHTS_SUFFIX

    @property
    def record_file(self) -> str:
        return self.name + RECORD_SUFFIX

    def source(self) -> str:
        """Where to get the checkpoint, in one line."""
        if self.origin == "official":
            return f"official release {self.release} ({self.releases})"
        if self.origin == "recipe":
            return f"train with {self.code_base}: {self.recipe.describe()}"
        return "bring your own (the paper used a model that is neither official nor reproducible from a recipe)"


@dataclass(frozen=True)
class Manifest:
    format_version: int
    models: tuple[ModelEntry, ...]

    def model(self, arch: str, semantic: str) -> ModelEntry:
        """The model of ``arch`` on ``semantic``; unknown names suggest the closest ones."""
        ARCHITECTURES.get(arch)
        SPEC.semantic(semantic)
        return next(m for m in self.models if m.arch == arch and m.semantic == semantic)

    def select(self, arch: str | None = None, semantic: str | None = None) -> list[ModelEntry]:
        """Models of one architecture and/or one semantic (all when both are None)."""
        if arch is not None:
            ARCHITECTURES.get(arch)
        if semantic is not None:
            SPEC.semantic(semantic)
        return [m for m in self.models if (arch is None or m.arch == arch)
                and (semantic is None or m.semantic == semantic)]


def parse_manifest(data: bytes) -> Manifest:
    """Read and check a manifest: every architecture x semantic exactly once, valid fields.
    Truncation and noise default to the architecture's (`architectures`)."""
    def bad(msg: str) -> SpecError:
        return SpecError(f"invalid generator manifest: {msg}")

    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise bad(str(e)) from None
    unknown = sorted(set(raw) - {"format_version", "models"})
    if unknown:
        raise bad(f"unknown keys {unknown} (per-architecture facts are in the architecture's module)")
    version = read_version(raw, where="generator manifest (models.toml)", key="format_version",
                           supported=MANIFEST_VERSION, error=SpecError)
    models = []
    for i, row in enumerate(raw.get("models", [])):
        where = f"models[{i}]"
        try:
            arch, semantic = row["arch"], row["semantic"]
            if arch not in ARCHITECTURES:
                raise UnknownNameError("architecture", arch, ARCHITECTURES)
            SPEC.semantic(semantic)
            a = ARCHITECTURES.get(arch)
            crop = tuple(row["crop"]) if "crop" in row else None
            entry = ModelEntry(
                arch=arch, semantic=semantic, resolution=int(row["resolution"]),
                latent_dim=int(row["latent_dim"]),
                truncation=_opt(float, row.get("truncation", a.truncation)),
                truncation_cutoff=_opt(int, row.get("truncation_cutoff", a.truncation_cutoff)),
                noise=row.get("noise", a.noise),
                origin=row["origin"], release=row.get("release"), crop=crop)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as e:
            raise bad(f"{where}: {e}") from None
        if entry.noise not in (None, "const", "random"):
            raise bad(f"{where}: noise must be const or random, not {entry.noise!r}")
        if entry.origin not in ORIGINS:
            raise bad(f"{where}: origin must be one of {ORIGINS}, not {entry.origin!r}")
        if (entry.origin == "official") != (entry.release is not None):
            raise bad(f"{where}: an official model names its release file, and only it")
        if entry.resolution < 8 or entry.resolution & (entry.resolution - 1) or entry.latent_dim < 1:
            raise bad(f"{where}: resolution must be a power of two >= 8 and latent_dim >= 1")
        if crop is not None and (len(crop) != 2 or not all(0 < c <= entry.resolution for c in crop)):
            raise bad(f"{where}: crop must be [height, width] within the resolution")
        models.append(entry)
    seen = [(m.arch, m.semantic) for m in models]
    expected = [(a, s) for a in ARCHITECTURES for s in SPEC.semantic_names]
    if sorted(seen) != sorted(expected):
        missing = sorted(set(expected) - set(seen))
        dup = sorted({x for x in seen if seen.count(x) > 1})
        raise bad(f"every architecture x semantic exactly once (missing {missing[:3]}, duplicated {dup[:3]})")
    order = {k: i for i, k in enumerate(expected)}
    models.sort(key=lambda m: order[(m.arch, m.semantic)])
    return Manifest(version, tuple(models))


def _opt(kind: type, value: Any) -> Any:
    return None if value is None else kind(value)


@functools.cache
def _packaged() -> Manifest:
    data = resources.files(__package__).joinpath("models.toml").read_bytes()
    return parse_manifest(data)


#: The 77 models shipped with this package, in spec order (architecture-major).
MANIFEST: Manifest = _packaged()


# -- where checkpoints are ----------------------------------------------------------------------
def checkpoints_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The checkpoint folder: ``explicit`` (``--checkpoints``), else the environment variable
    ``ATTRIBUTION88_CHECKPOINTS``, else None. A named folder that does not exist is an error."""
    value = explicit if explicit is not None else settings.checkpoints()
    if value is None:
        return None
    path = Path(value).expanduser()
    source = "--checkpoints" if explicit is not None else CHECKPOINTS_ENV
    if path.is_file():
        from .checkpoints import looks_like_pickle

        if looks_like_pickle(path):
            raise UsageError(f"{source} {path}: is a pickle (an official release file?), not a folder of converted "
                             f"checkpoints; convert it first, nothing in it is run: attribution88 generators convert "
                             f"{path} --arch ARCH --semantic SEMANTIC --out DIR, then pass {source} DIR")
        raise UsageError(f"{source} {path}: is a file; expected a folder holding ARCH-SEMANTIC.safetensors + .json")
    if not path.is_dir():
        raise UsageError(f"{source} {path}: no such folder")
    return path


def find_checkpoint(model: ModelEntry, directory: Path | None) -> Path | None:
    """``DIR/<arch>-<semantic>.safetensors`` if it exists."""
    if directory is None:
        return None
    path = directory / model.checkpoint_file
    return path if path.is_file() else None
