"""The ground truth a submission is scored against.

`load_truth` reads the label columns of one config's split of a built or imported dataset (a
local folder, or a Hub repository downloaded by `attribution88.format.reader.resolve`, which
fetches the same parquet files `datasets` would, without importing it) and checks that the
dataset was built with the benchmark spec this scorer implements. `truth_from_table` builds a
`Truth` from any arrow table with the same columns (tests and benchmarks use it with tables
made in memory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DatasetFormatError, SpecError
from ..spec import NO_PERTURBATION, SPEC, UNKNOWN_PERTURBATION, Spec
from .arrow import to_numpy

if TYPE_CHECKING:
    import pyarrow as pa

#: Columns of a shard the scorer reads.
TRUTH_COLUMNS = ["id", "source", "semantic", "perturbation", "severity"]


@dataclass(frozen=True)
class TruthInfo:
    """Where the truth came from."""

    location: str
    config: str
    split: str
    spec_version: str
    fingerprint: str | None  # manifest fingerprint of the dataset (None for in-memory truth)
    preset: str | None = None
    #: The perturbation protocol the dataset records (`attribution88.spec.Protocol.to_dict`);
    #: None for in-memory truth and datasets of spec 1.x, which did not record it.
    protocol: dict | None = None

    def to_dict(self) -> dict:
        return {"location": self.location, "config": self.config, "split": self.split,
                "spec_version": self.spec_version, "fingerprint": self.fingerprint,
                "preset": self.preset, "protocol": self.protocol}

    @classmethod
    def from_dict(cls, d: dict) -> TruthInfo:
        protocol = d.get("protocol")
        return cls(location=str(d.get("location", "?")), config=str(d.get("config", "default")),
                   split=str(d.get("split", "test")), spec_version=str(d.get("spec_version", "?")),
                   fingerprint=d.get("fingerprint"), preset=d.get("preset"),
                   protocol=dict(protocol) if isinstance(protocol, dict) else None)

    @property
    def protocol_name(self) -> str:
        """The protocol's flavour and channel order, e.g. ``repmix/BGR``, or ``?``."""
        p = self.protocol or {}
        return f"{p['flavour']}/{p['channel_order']}" if {"flavour", "channel_order"} <= set(p) else "?"


@dataclass(frozen=True)
class Truth:
    """Labels of one split, one row per image.

    ids: arrow string array (n,); source: int8 (n,) class index (0 = real); semantic: int8
    (n,) semantic index; perturbation: int8 (n,) perturbation index, -1 for none,
    ``len(spec.perturbations)`` for unknown (a release's processed image whose perturbation
    its files do not name); severity: int8 (n,), 0 for none or unknown.
    """

    ids: pa.Array
    source: np.ndarray
    semantic: np.ndarray
    perturbation: np.ndarray
    severity: np.ndarray
    info: TruthInfo

    @property
    def n(self) -> int:
        return len(self.source)


def truth_from_table(table: pa.Table, info: TruthInfo, spec: Spec = SPEC) -> Truth:
    """A `Truth` from an arrow table with the `TRUTH_COLUMNS` (perturbation by name)."""
    import pyarrow.compute as pc

    missing = [c for c in TRUTH_COLUMNS if c not in table.column_names]
    if missing:
        raise DatasetFormatError(f"{info.location}: truth table lacks column(s) {', '.join(missing)}")
    if table.num_rows == 0:
        raise DatasetFormatError(f"{info.location}: config {info.config!r} split {info.split!r} has no rows")

    def ints(name: str, low: int, high: int) -> np.ndarray:
        col = table.column(name)
        if col.null_count:
            raise DatasetFormatError(f"{info.location}: null values in truth column {name!r}")
        values = to_numpy(col).astype(np.int64)
        if values.min() < low or values.max() > high:
            raise DatasetFormatError(f"{info.location}: truth column {name!r} outside {low}..{high}")
        return values.astype(np.int8)

    source = ints("source", 0, len(spec.sources) - 1)
    semantic = ints("semantic", 0, len(spec.semantics) - 1)
    severity = ints("severity", 0, max(spec.severities))
    encoded = pc.dictionary_encode(table.column("perturbation").combine_chunks())
    lut = []
    for name in encoded.dictionary.to_pylist():
        if name == NO_PERTURBATION:
            lut.append(-1)
        elif name == UNKNOWN_PERTURBATION:
            lut.append(len(spec.perturbations))
        elif name in spec.perturbation_names:
            lut.append(spec.perturbation(name).index)
        else:
            raise DatasetFormatError(f"{info.location}: unknown perturbation {name!r} in the truth")
    perturbation = np.array(lut, dtype=np.int8)[to_numpy(encoded.indices)]
    ids = table.column("id").combine_chunks()
    if ids.null_count:
        raise DatasetFormatError(f"{info.location}: null image ids in the truth")
    return Truth(ids=ids, source=source, semantic=semantic, perturbation=perturbation,
                 severity=severity, info=info)


def check_spec_version(version: str, location: str, spec: Spec = SPEC) -> None:
    """Refuse a dataset of another major.minor spec version than the scorer's.

    A patch release of the spec changes no image, label or assignment (by the versioning rule
    of spec.toml), so it is accepted."""
    def major_minor(v: str) -> tuple[str, ...]:
        return tuple(str(v).split(".")[:2])

    if major_minor(version) != major_minor(spec.version):
        raise SpecError(f"{location}: the dataset was built with benchmark spec {version}, this "
                        f"scorer implements spec {spec.version}; score with a matching "
                        f"attribution88 release or rebuild the dataset")


def load_truth(path_or_repo: str | os.PathLike | None = None, config: str = "default",
               split: str = "test", *, revision: str | None = None, spec: Spec = SPEC) -> Truth:
    """The labels of ``config``/``split`` of a dataset folder or Hub repository ``ORG/NAME``.

    Default location: ``./attribution88`` (where `attribution88 build` writes).
    """
    from ..format.dataset import DEFAULT_OUTPUT
    from ..format.manifest import read_manifest
    from ..format.reader import read_table, resolve

    location = os.fspath(path_or_repo) if path_or_repo is not None else DEFAULT_OUTPUT
    root = resolve(location, revision=revision)
    manifest = read_manifest(root)
    version = str(manifest.spec.get("version", "?"))
    check_spec_version(version, location, spec)
    table = read_table(root, config, split, columns=TRUTH_COLUMNS, spec=spec)
    protocol = manifest.spec.get("protocol")
    info = TruthInfo(location=location, config=config, split=split, spec_version=version,
                     fingerprint=manifest.fingerprint, preset=manifest.preset,
                     protocol=dict(protocol) if isinstance(protocol, dict) else None)
    return truth_from_table(table, info, spec)
