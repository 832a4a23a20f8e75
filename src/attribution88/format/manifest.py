"""`manifest.json`: what a dataset folder holds — spec version, preset, per-shard sha256 and
row counts, and notes of the build that made it. Versioned, so that a manifest written by an
older release stays readable."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import DatasetFormatError, DatasetNotFoundError
from ..spec import SPEC, Spec
from ..versioned import read_version
from .schema import FORMAT_VERSION
from .shards import ShardInfo, list_shards, shard_info

MANIFEST = "manifest.json"
CARD = "README.md"
#: Files a dataset folder may hold besides its shards.
AUX_FILES = (MANIFEST, CARD, ".gitattributes")


@dataclass(frozen=True)
class Manifest:
    preset: str
    spec: dict
    shards: tuple[ShardInfo, ...]
    build: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    tool_version: str = __version__

    # -- derived ---------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """sha256 over the sorted (path, sha256) of every shard: one hash for the content."""
        h = hashlib.sha256()
        for s in sorted(self.shards, key=lambda s: s.path):
            h.update(f"{s.path}\0{s.sha256}\n".encode())
        return h.hexdigest()

    @property
    def cells(self) -> list[str]:
        return sorted({s.cell for s in self.shards})

    def rows(self, split: str | None = None, groups: tuple[str, ...] | None = None) -> int:
        return sum(s.rows for s in self.shards if (split is None or s.split == split)
                   and (groups is None or s.group in groups))

    def counts(self) -> dict:
        """Rows per split, per test group and per cell x split."""
        splits: Counter = Counter()
        groups: Counter = Counter()
        cells: dict = defaultdict(Counter)
        for s in self.shards:
            splits[s.split] += s.rows
            cells[s.cell][s.split] += s.rows
            if s.group:
                groups[s.group] += s.rows
        return {"total": sum(splits.values()), "splits": dict(sorted(splits.items())),
                "test_groups": dict(sorted(groups.items())),
                "cells": {c: dict(sorted(v.items())) for c, v in sorted(cells.items())}}

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format_version": self.format_version,
            "tool_version": self.tool_version,
            "spec": self.spec,
            "preset": self.preset,
            "fingerprint": self.fingerprint,
            "counts": self.counts(),
            "shards": [s.__dict__ for s in sorted(self.shards, key=lambda s: s.path)],
            "build": self.build,
        }

    @classmethod
    def from_dict(cls, d: dict, where: str = MANIFEST) -> Manifest:
        version = read_version(d, where=where, key="format_version", supported=FORMAT_VERSION,
                               error=DatasetFormatError)
        try:
            shards = tuple(ShardInfo(**s) for s in d["shards"])
            return cls(preset=str(d["preset"]), spec=dict(d["spec"]), shards=shards,
                       build=dict(d.get("build", {})), format_version=version,
                       tool_version=str(d.get("tool_version", "?")))
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetFormatError(f"{where}: malformed ({type(e).__name__}: {e})") from None


def read_manifest(root: str | os.PathLike) -> Manifest:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DatasetNotFoundError(f"{root}: no {MANIFEST}; not an attribution88 dataset folder")
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetFormatError(f"{path}: not valid JSON ({e})") from None


def scan_manifest(root: str | os.PathLike, preset: str, build: dict | None = None,
                  spec: Spec = SPEC) -> Manifest:
    """A manifest describing the shards now in ``root/data`` (hashing every file)."""
    shards = tuple(shard_info(root, rel) for rel in list_shards(root))
    return Manifest(preset=preset, spec=spec.to_dict(), shards=shards, build=dict(build or {}))
