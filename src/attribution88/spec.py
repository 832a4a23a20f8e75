"""The benchmark spec: `spec.toml` read into frozen dataclasses.

Everything that says what Attribution88 *is* — sources and their class indices, semantics and
which are seen in training, the 19 perturbations and their split, the split sizes of each
preset, the test subsets — comes from here, never from constants scattered in the code.

>>> from attribution88.spec import SPEC
>>> SPEC.source("real").index, len(SPEC.cells())
(0, 88)
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from .errors import SpecError, UnknownNameError

#: Every split a built dataset can have, in the order shards are written.
SPLITS: tuple[str, ...] = ("train", "validation", "test", "reserve")
#: Splits of the `default` config.
DEFAULT_SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: The perturbation name recorded for an image that was not perturbed.
NO_PERTURBATION = "none"
#: The perturbation name recorded for a test image that a release delivered already perturbed
#: (the official processed test set) when the release's files do not say which perturbation:
#: its severity is recorded as 0, and its test condition is `UNKNOWN_CONDITION`.
UNKNOWN_PERTURBATION = "unknown"
#: The test condition of `UNKNOWN_PERTURBATION` images: in no test subset, only in `default`.
UNKNOWN_CONDITION = "unknown_pert"


@dataclass(frozen=True)
class Source:
    index: int
    name: str
    display: str

    @property
    def is_fake(self) -> bool:
        return self.index != 0


@dataclass(frozen=True)
class Semantic:
    index: int
    name: str
    dataset: str
    seen: bool


@dataclass(frozen=True)
class Perturbation:
    index: int  # the official ImageNet-C index, 0..18
    name: str
    seen: bool  # used in training; unseen ones appear only in the test split


#: The corruption definitions the engine implements (`attribution88.perturb.FLAVOURS`).
FLAVOURS: tuple[str, ...] = ("repmix", "imagecorruptions")
CHANNEL_ORDERS: tuple[str, ...] = ("RGB", "BGR")
RESIZE_FILTERS: tuple[str, ...] = ("bilinear",)


@dataclass(frozen=True)
class Protocol:
    """How a perturbation is applied to an image of any size.

    The image is resized to ``work_size`` x ``work_size`` with the ``resize`` filter, put in
    ``channel_order`` (the order the corruption sees its channels in), corrupted with the
    ``flavour``'s definitions, returned to RGB order and resized back to its own size.
    Training draws a seen perturbation with probability ``train_probability``.
    """

    flavour: str
    channel_order: str
    work_size: int
    resize: str
    train_probability: float

    def to_dict(self) -> dict:
        return {"flavour": self.flavour, "channel_order": self.channel_order,
                "work_size": self.work_size, "resize": self.resize,
                "train_probability": self.train_probability}

    def describe(self) -> str:
        """One line for a log or a card, e.g. ``repmix (BGR, 224 px, bilinear)``."""
        return f"{self.flavour} ({self.channel_order}, {self.work_size} px, {self.resize})"


@dataclass(frozen=True)
class Cell:
    """One source x semantic cell of the benchmark (88 of them)."""

    source: Source
    semantic: Semantic

    @property
    def name(self) -> str:
        return f"{self.source.name}-{self.semantic.name}"


@dataclass(frozen=True)
class TestSubset:
    """A config of the built dataset holding part of the test split."""

    name: str
    description: str
    semantics: Literal["seen", "unseen", "all"]
    conditions: tuple[str, ...]

    def groups(self) -> tuple[str, ...]:
        """The test groups (shard folders) this subset is made of."""
        status = ("seen", "unseen") if self.semantics == "all" else (self.semantics,)
        return tuple(test_group(s == "seen", c) for s in status for c in self.conditions)


@dataclass(frozen=True)
class Preset:
    """Split sizes per cell, for seen and for unseen semantics."""

    name: str
    description: str
    oversample: float
    seen_sizes: tuple[tuple[str, int], ...]
    unseen_sizes: tuple[tuple[str, int], ...]
    rows_per_shard: int

    def split_sizes(self, semantic: Semantic) -> dict[str, int]:
        """Images per split in one cell of this semantic, in `SPLITS` order (zeros omitted)."""
        sizes = dict(self.seen_sizes if semantic.seen else self.unseen_sizes)
        return {s: sizes[s] for s in SPLITS if sizes.get(s, 0) > 0}

    def cell_size(self, semantic: Semantic) -> int:
        return sum(self.split_sizes(semantic).values())


def test_group(semantic_seen: bool, condition: str) -> str:
    """Name of the test shard folder for a semantic status and a perturbation condition,
    e.g. ``seen_sem-clean`` or ``unseen_sem-unseen_pert``."""
    return f"{'seen' if semantic_seen else 'unseen'}_sem-{condition}"


@dataclass(frozen=True)
class Spec:
    version: str
    hash_key: str
    name: str
    image_size: int
    license: str
    citation: str
    sources: tuple[Source, ...]
    semantics: tuple[Semantic, ...]
    perturbations: tuple[Perturbation, ...]
    severities: tuple[int, ...]
    protocol: Protocol
    conditions: tuple[str, ...]
    subsets: tuple[TestSubset, ...]
    presets: tuple[Preset, ...]
    content_hash: str  # sha256 of the spec file's bytes

    # -- lookups: by name or by index; unknown names suggest the closest valid ones --------
    def source(self, key: str | int) -> Source:
        return _lookup("source", self.sources, key)

    def semantic(self, key: str | int) -> Semantic:
        return _lookup("semantic", self.semantics, key)

    def perturbation(self, key: str | int) -> Perturbation:
        return _lookup("perturbation", self.perturbations, key)

    def preset(self, name: str) -> Preset:
        return _lookup("preset", self.presets, name)

    def subset(self, name: str) -> TestSubset:
        return _lookup("test subset", self.subsets, name)

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def semantic_names(self) -> list[str]:
        return [s.name for s in self.semantics]

    @property
    def perturbation_names(self) -> list[str]:
        return [p.name for p in self.perturbations]

    def seen_perturbations(self) -> tuple[Perturbation, ...]:
        return tuple(p for p in self.perturbations if p.seen)

    def unseen_perturbations(self) -> tuple[Perturbation, ...]:
        return tuple(p for p in self.perturbations if not p.seen)

    def cells(self) -> list[Cell]:
        """All source x semantic cells, source-major."""
        return [Cell(src, sem) for src in self.sources for sem in self.semantics]

    def cell(self, source: str | int, semantic: str | int) -> Cell:
        return Cell(self.source(source), self.semantic(semantic))

    def test_groups(self) -> tuple[str, ...]:
        """Every test shard folder: semantic status x perturbation condition."""
        return tuple(test_group(seen, c) for seen in (True, False) for c in self.conditions)

    def to_dict(self) -> dict:
        """What a built dataset records about the spec it was built with."""
        return {"name": self.name, "version": self.version, "hash_key": self.hash_key,
                "content_hash": self.content_hash, "protocol": self.protocol.to_dict()}


def _lookup(kind: str, items: tuple, key: str | int):
    if isinstance(key, bool):
        raise UnknownNameError(kind, key, [i.name for i in items])
    if isinstance(key, int):
        if 0 <= key < len(items) and getattr(items[key], "index", key) == key:
            return items[key]
        raise UnknownNameError(kind, key, [str(i) for i in range(len(items))])
    for item in items:
        if item.name == key:
            return item
    raise UnknownNameError(kind, key, [i.name for i in items])


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise SpecError(f"invalid spec: {message}")


def _unique(names: list[str], what: str) -> None:
    dup = sorted({n for n in names if names.count(n) > 1})
    _check(not dup, f"duplicate {what} {dup}")


def parse_spec(data: bytes) -> Spec:
    """Parse and validate the bytes of a spec file."""
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SpecError(f"spec file is not valid TOML: {e}") from None
    try:
        sources = tuple(Source(i, s["name"], s["display"]) for i, s in enumerate(raw["sources"]))
        semantics = tuple(Semantic(i, s["name"], s["dataset"], bool(s["seen"]))
                          for i, s in enumerate(raw["semantics"]))
        p = raw["perturbations"]
        pr = raw["protocol"]
        protocol = Protocol(flavour=str(pr["flavour"]), channel_order=str(pr["channel_order"]),
                            work_size=int(pr["work_size"]), resize=str(pr["resize"]),
                            train_probability=float(pr["train_probability"]))
        unseen = set(p["unseen"])
        perturbations = tuple(Perturbation(i, n, n not in unseen) for i, n in enumerate(p["names"]))
        conditions = tuple(raw["test"]["conditions"])
        subsets = tuple(TestSubset(s["name"], s["description"], s["semantics"],
                                   tuple(s["conditions"])) for s in raw["test"]["subsets"])
        presets = tuple(
            Preset(name, v["description"], float(v["oversample"]),
                   tuple((k, int(n)) for k, n in v["seen"].items()),
                   tuple((k, int(n)) for k, n in v["unseen"].items()),
                   int(v["rows_per_shard"]))
            for name, v in raw["presets"].items())
        spec = Spec(
            version=str(raw["version"]), hash_key=str(raw["hash_key"]), name=str(raw["name"]),
            image_size=int(raw["image_size"]), license=str(raw["license"]),
            citation=str(raw["citation"]), sources=sources, semantics=semantics,
            perturbations=perturbations, severities=tuple(int(s) for s in p["severities"]),
            protocol=protocol,
            conditions=conditions, subsets=subsets, presets=presets,
            content_hash=hashlib.sha256(data).hexdigest())
    except (KeyError, TypeError, ValueError) as e:
        raise SpecError(f"spec file lacks or mistypes a field: {e}") from None

    _unique(spec.source_names, "source names")
    _unique(spec.semantic_names, "semantic names")
    _unique(spec.perturbation_names, "perturbation names")
    _unique([s.name for s in subsets], "test subset names")
    _check(sources[0].name == "real", "source 0 must be 'real'")
    _check(protocol.flavour in FLAVOURS, f"protocol flavour must be one of {list(FLAVOURS)}")
    _check(protocol.channel_order in CHANNEL_ORDERS,
           f"protocol channel_order must be one of {list(CHANNEL_ORDERS)}")
    _check(protocol.resize in RESIZE_FILTERS, f"protocol resize must be one of {list(RESIZE_FILTERS)}")
    _check(protocol.work_size >= 32, "protocol work_size must be at least 32")
    _check(0.0 <= protocol.train_probability <= 1.0, "protocol train_probability must be in [0, 1]")
    _check(unseen <= set(spec.perturbation_names), f"unknown unseen perturbations {sorted(unseen - set(spec.perturbation_names))}")
    _check(set(conditions) == {"clean", "seen_pert", "unseen_pert"}, "test conditions must be clean, seen_pert, unseen_pert")
    for s in subsets:
        _check(s.semantics in ("seen", "unseen", "all"), f"subset {s.name}: semantics must be seen, unseen or all")
        _check(set(s.conditions) <= set(conditions) and s.conditions, f"subset {s.name}: unknown conditions")
        _check(s.name.startswith("test_"), f"subset {s.name}: names start with 'test_'")
    for pr in presets:
        for sizes, seen in ((pr.seen_sizes, True), (pr.unseen_sizes, False)):
            d = dict(sizes)
            _check(set(d) <= set(SPLITS), f"preset {pr.name}: unknown split in {sorted(d)}")
            _check(all(n >= 0 for n in d.values()), f"preset {pr.name}: negative size")
            _check(d.get("test", 0) > 0, f"preset {pr.name}: every cell needs test images")
            if not seen:
                _check(not d.get("train") and not d.get("validation"),
                       f"preset {pr.name}: unseen semantics must not enter train or validation")
        _check(pr.oversample >= 1.0, f"preset {pr.name}: oversample must be >= 1")
        _check(pr.rows_per_shard > 0, f"preset {pr.name}: rows_per_shard must be > 0")
    return spec


def load_spec(path: str | Path | None = None) -> Spec:
    """Read a spec file; the packaged `spec.toml` when no path is given."""
    if path is None:
        return _packaged_spec()
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read spec file {path}: {e.strerror}") from None
    return parse_spec(data)


@functools.cache
def _packaged_spec() -> Spec:
    return parse_spec(resources.files("attribution88").joinpath("spec.toml").read_bytes())


#: The benchmark spec shipped with this package.
SPEC: Spec = _packaged_spec()
