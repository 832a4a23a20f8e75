"""Finding a dataset (a local folder or a Hub repository) and reading its tables.

`read_table` reads columns of a config's split straight from the parquet shards with pyarrow
(no image decoding, no `datasets` import), which is what the scorer and `verify` need. For
images, use `datasets.load_dataset` or `attribution88.loader`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DatasetFormatError, DatasetNotFoundError, OfflineError, UsageError
from ..spec import SPEC, Spec
from .card import config_table
from .manifest import Manifest, read_manifest

if TYPE_CHECKING:
    import pyarrow as pa

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")


def is_repo_id(text: str) -> bool:
    """True for ``org/name`` that is not an existing local path."""
    return bool(_REPO_ID.match(text)) and not Path(text).exists()


def resolve(path_or_repo: str | os.PathLike, *, revision: str | None = None,
            cache_dir: str | None = None) -> Path:
    """The local folder of a dataset: the folder itself, or a Hub repository downloaded (or
    found in the cache) with `huggingface_hub.snapshot_download`."""
    text = os.fspath(path_or_repo)
    path = Path(text)
    if path.is_dir():
        if (path / "__init__.py").exists():
            raise UsageError(f"{path} is a Python package folder, not a dataset: name the "
                             f"dataset folder explicitly")
        read_manifest(path)  # a clear error when it is not a dataset folder
        return path
    if not is_repo_id(text):
        raise DatasetNotFoundError(f"{text}: no such dataset folder (and not a Hub repository id ORG/NAME)")
    return download_dataset_repo(text, revision=revision, cache_dir=cache_dir)


def download_dataset_repo(repo_id: str, *, revision: str | None = None, cache_dir: str | None = None,
                          allow_patterns: list[str] | None = None) -> Path:
    """A Hub dataset repository (or the files of it matching ``allow_patterns``) in the local
    cache, downloaded if needed; one-line errors when it does not exist, is not accessible, or
    the Hub cannot be reached and nothing is cached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(snapshot_download(repo_id, repo_type="dataset", revision=revision,
                                      cache_dir=cache_dir, allow_patterns=allow_patterns))
    except (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError) as e:
        raise DatasetNotFoundError(f"{repo_id}: not found on the Hugging Face Hub or not "
                                   f"accessible with your token ({type(e).__name__})") from None
    except LocalEntryNotFoundError:
        raise OfflineError(f"{repo_id}: cannot reach the Hugging Face Hub and no copy is cached; "
                           f"download it on a connected machine (huggingface-cli download "
                           f"{repo_id} --repo-type dataset --local-dir DIR) and pass DIR") from None
    except OSError as e:
        raise OfflineError(f"{repo_id}: download from the Hugging Face Hub failed ({e})") from None


def config_shards(manifest: Manifest, config: str, split: str, spec: Spec = SPEC) -> list[str]:
    """Relative paths of the shards of one config's split, sorted."""
    table = config_table(manifest, spec)
    if config not in table:
        from ..errors import UnknownNameError
        raise UnknownNameError("config", config, table)
    splits = table[config]
    if split not in splits:
        from ..errors import UnknownNameError
        raise UnknownNameError(f"split of config {config!r}", split, splits)
    groups = splits[split]
    return sorted(s.path for s in manifest.shards
                  if s.split == split and (groups is None or s.group in groups))


def read_table(root: str | os.PathLike, config: str = "default", split: str = "test",
               columns: list[str] | None = None, spec: Spec = SPEC) -> pa.Table:
    """Columns of one config's split as an arrow table (shards in path order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(root)
    manifest = read_manifest(root)
    tables = []
    for rel in config_shards(manifest, config, split, spec):
        try:
            # ParquetFile, not pq.read_table: the latter imports pyarrow.dataset and pandas,
            # which `attribution88 score` must not pay for at startup
            tables.append(pq.ParquetFile(root / rel).read(columns=columns))
        except FileNotFoundError:
            raise DatasetFormatError(f"{root / rel}: shard listed in the manifest is missing "
                                     f"(run attribution88 verify {root})") from None
        except (pa.ArrowInvalid, OSError) as e:
            raise DatasetFormatError(f"{root / rel}: unreadable shard ({e})") from None
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]
