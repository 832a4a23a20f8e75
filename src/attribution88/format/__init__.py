"""The on-disk format of an attribution88 dataset: parquet shards of PNG images, a manifest
and a dataset card that `datasets.load_dataset` reads (see `shards` for the layout)."""

from .schema import COLUMNS, FORMAT_VERSION, Record, features

__all__ = ["COLUMNS", "FORMAT_VERSION", "Record", "features"]
