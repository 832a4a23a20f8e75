"""Shard files: where each lives in a dataset folder, and how one is written and read.

Layout of a dataset folder::

    README.md                       dataset card (YAML: configs, dataset_info, license, citation)
    manifest.json                   counts, spec version, per-shard sha256
    data/train/CELL-PPPPP.parquet
    data/validation/CELL-PPPPP.parquet
    data/test/GROUP/CELL-PPPPP.parquet     GROUP = seen_sem-clean, unseen_sem-unseen_pert, ...
    data/reserve/CELL-PPPPP.parquet

CELL is ``source-semantic`` (``stylegan2-bedroom``), PPPPP the part number within (split, group,
cell). One cell's shards depend on nothing else, so cells can be built on different machines.
Split names are folder names under ``data/``, which is how the Hub recognises splits too.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_path
from ..digests import file_sha256
from ..errors import DatasetFormatError
from ..spec import SPEC, SPLITS, Spec
from .schema import FORMAT_VERSION, Record, records_to_table

if TYPE_CHECKING:
    import pyarrow as pa

DATA_DIR = "data"
#: Rows per parquet row group: small groups keep streaming and the Hub's viewer responsive.
ROW_GROUP_SIZE = 100
_METADATA_KEY = b"attribution88"
_SHARD = re.compile(rf"^{DATA_DIR}/({'|'.join(SPLITS)})/(?:([a-z_]+-[a-z_]+)/)?"
                    r"([a-z0-9]+-[a-z0-9]+)-(\d{5})\.parquet$")


@dataclass(frozen=True)
class ShardKey:
    """What a shard holds: one split (and test group) of one cell, part `part`."""

    split: str
    group: str | None
    cell: str
    part: int

    @property
    def path(self) -> str:
        """Path relative to the dataset folder, with forward slashes."""
        folder = f"{DATA_DIR}/{self.split}" + (f"/{self.group}" if self.group else "")
        return f"{folder}/{self.cell}-{self.part:05d}.parquet"

    @classmethod
    def from_path(cls, rel: str) -> ShardKey:
        m = _SHARD.match(rel)
        if not m or (m.group(1) == "test") != (m.group(2) is not None):
            raise DatasetFormatError(f"{rel}: not a shard path of the attribution88 layout")
        return cls(m.group(1), m.group(2), m.group(3), int(m.group(4)))


@dataclass(frozen=True)
class ShardInfo:
    """A written shard, as the manifest lists it."""

    path: str
    split: str
    group: str | None
    cell: str
    rows: int
    bytes: int
    sha256: str


def write_shard(root: str | os.PathLike, key: ShardKey, records: list[Record], *,
                preset: str, notes: dict | None = None, spec: Spec = SPEC) -> ShardInfo:
    """Write one shard atomically: to a temporary name in the same folder, fsync, rename.

    A process killed at any moment leaves either no shard or the complete shard, never a
    partial file under the final name. The bytes depend only on the records (and ``notes``, a
    JSON-able record of how the cell was made, kept in the footer), so rebuilding a shard
    gives the same file.
    """
    import pyarrow.parquet as pq

    if not records:
        raise ValueError(f"{key.path}: a shard needs at least one record")
    table = records_to_table(records, spec)
    meta = dict(table.schema.metadata or {})
    meta[_METADATA_KEY] = json.dumps({
        "format_version": FORMAT_VERSION, "spec_version": spec.version, "preset": preset,
        "split": key.split, "group": key.group, "cell": key.cell, "part": key.part,
        "notes": notes or {},
    }, sort_keys=True).encode()
    table = table.replace_schema_metadata(meta)
    final = Path(root) / key.path
    with atomic_path(final) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, compression="zstd",
                       write_statistics=["id", "split", "perturbation", "severity"])
    return ShardInfo(key.path, key.split, key.group, key.cell, len(records),
                     final.stat().st_size, file_sha256(final))


def read_shard_metadata(path: str | os.PathLike) -> dict:
    """The attribution88 metadata of a shard, from its parquet footer alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise DatasetFormatError(f"{path}: unreadable parquet shard ({e})") from None
    raw = (schema.metadata or {}).get(_METADATA_KEY)
    if raw is None:
        raise DatasetFormatError(f"{path}: parquet file without attribution88 metadata")
    return json.loads(raw)


def read_shard(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as e:
        raise DatasetFormatError(f"{path}: unreadable parquet shard ({e})") from None


def list_shards(root: str | os.PathLike) -> list[str]:
    """Relative paths of every ``*.parquet`` under ``data/``, sorted."""
    base = Path(root)
    return sorted(p.relative_to(base).as_posix() for p in (base / DATA_DIR).rglob("*.parquet"))


def shard_info(root: str | os.PathLike, rel: str) -> ShardInfo:
    """Describe a shard already on disk (rows from the footer, sha256 from the bytes)."""
    import pyarrow.parquet as pq

    path = Path(root) / rel
    key = ShardKey.from_path(rel)
    meta = read_shard_metadata(path)
    if (meta.get("split"), meta.get("group"), meta.get("cell")) != (key.split, key.group, key.cell):
        raise DatasetFormatError(f"{rel}: its metadata says split={meta.get('split')} "
                                 f"group={meta.get('group')} cell={meta.get('cell')}")
    rows = pq.ParquetFile(path).metadata.num_rows
    return ShardInfo(rel, key.split, key.group, key.cell, rows, path.stat().st_size,
                     file_sha256(path))


def shard_info_dict(info: ShardInfo) -> dict:
    return asdict(info)

