"""The columns of an attribution88 shard, as `datasets` features.

Class names travel with the data: the features (with the `ClassLabel` names of `source` and
`semantic`) are written into every shard's parquet schema metadata (the key `huggingface`,
which `datasets` reads back), and into the dataset card's `dataset_info`.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..spec import SPEC, Spec

if TYPE_CHECKING:  # datasets is imported lazily: `attribution88 score` must start fast
    import datasets
    import pyarrow as pa

#: Format of the files on disk; bumped when columns or layout change incompatibly.
FORMAT_VERSION = 1

#: Column name -> description, in the order of the shards' schema.
COLUMNS: dict[str, str] = {
    "id": "stable image id, SOURCE-SEMANTIC-NNNNN (built) or SOURCE-SEMANTIC-rNNNNN (imported)",
    "image": "lossless PNG, 128x128 RGB",
    "source": "class label: real or one of the 7 GAN architectures (0 = real)",
    "semantic": "class label: CelebA or one of the 10 LSUN categories",
    "is_fake": "true for the 7 GAN sources",
    "split": "train, validation, test or reserve",
    "perturbation": "ImageNet-C corruption applied (test split only), or 'none'",
    "severity": "corruption severity 1-5, 0 when none",
    "perturbation_seed": "seed of the corruption's random draws (test split only)",
    "generator_seed": "latent seed the generator was sampled with (GAN sources, built data)",
    "origin": "where the image came from: generator checkpoint, real-image file, release path",
    "sha256": "sha256 of the PNG bytes in `image`",
}


@functools.cache
def features(spec: Spec = SPEC) -> datasets.Features:
    """The `datasets.Features` of a shard."""
    import datasets as ds

    return ds.Features({
        "id": ds.Value("string"),
        "image": ds.Image(),
        "source": ds.ClassLabel(names=spec.source_names),
        "semantic": ds.ClassLabel(names=spec.semantic_names),
        "is_fake": ds.Value("bool"),
        "split": ds.Value("string"),
        "perturbation": ds.Value("string"),
        "severity": ds.Value("int8"),
        "perturbation_seed": ds.Value("int64"),
        "generator_seed": ds.Value("int64"),
        "origin": ds.Value("string"),
        "sha256": ds.Value("string"),
    })


def arrow_schema(spec: Spec = SPEC) -> pa.Schema:
    """The arrow schema of a shard, carrying the features in its `huggingface` metadata."""
    return features(spec).arrow_schema


@dataclass(frozen=True)
class Record:
    """One image and everything the format stores about it."""

    id: str
    png: bytes
    source: int
    semantic: int
    split: str
    perturbation: str
    severity: int
    perturbation_seed: int | None
    generator_seed: int | None
    origin: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()


def records_to_table(records: list[Record], spec: Spec = SPEC) -> pa.Table:
    """Records as an arrow table with the shard schema."""
    import pyarrow as pa

    schema = arrow_schema(spec)
    columns = {
        "id": [r.id for r in records],
        "image": [{"bytes": r.png, "path": None} for r in records],
        "source": [r.source for r in records],
        "semantic": [r.semantic for r in records],
        "is_fake": [r.source != 0 for r in records],
        "split": [r.split for r in records],
        "perturbation": [r.perturbation for r in records],
        "severity": [r.severity for r in records],
        "perturbation_seed": [r.perturbation_seed for r in records],
        "generator_seed": [r.generator_seed for r in records],
        "origin": [r.origin for r in records],
        "sha256": [r.sha256 for r in records],
    }
    return pa.Table.from_pydict(columns, schema=schema)
