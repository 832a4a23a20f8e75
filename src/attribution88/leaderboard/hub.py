"""One leaderboard for a group: the records pushed to and pulled from a Hugging Face dataset
repository (its ``records/`` folder), with huggingface_hub.

Both directions validate before anything moves: `push` uploads only a store that loads
cleanly; `pull` downloads the repository's records, validates them and the merged store, and
only then writes the new files (atomically) -- a record that differs from the local file of the
same name is a conflict, refused unless ``replace``. The token comes from the usual places
(`HF_TOKEN`, `hf auth login`) and never reaches a message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from attribution88.errors import OfflineError, PublishError, UsageError

from .records import load_records

#: Where the records live in the repository.
PATH_IN_REPO = "records"


def push(directory: str | os.PathLike, repo_id: str, *, revision: str | None = None,
         private: bool = False, api: object | None = None) -> int:
    """Upload every record of ``directory`` to ``repo_id`` (a dataset repository, created if
    needed). Returns the number of records."""
    from huggingface_hub import HfApi, constants

    from attribution88.publish import _token

    n = len(load_records(directory))  # a broken store never leaves this machine
    if constants.HF_HUB_OFFLINE:
        raise OfflineError("the Hugging Face Hub is marked offline (HF_HUB_OFFLINE=1); nothing was uploaded")
    token = _token()
    api = api or HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True, token=token)
        api.upload_folder(repo_id=repo_id, folder_path=os.fspath(directory), path_in_repo=PATH_IN_REPO,
                          repo_type="dataset", revision=revision, allow_patterns=["*.json"],
                          commit_message=f"attribution88 leaderboard: {n} records", token=token)
    except OSError as e:  # connection errors
        raise OfflineError(f"cannot reach the Hugging Face Hub ({type(e).__name__}); nothing was "
                           "uploaded") from None
    except Exception as e:  # HTTP errors (401, 403, ...) from huggingface_hub
        detail = " ".join(str(e).replace(token, "***").split())[:300]
        raise PublishError(f"push to {repo_id} failed: {type(e).__name__}: {detail}") from None
    return n


def _snapshot(repo_id: str, revision: str | None) -> Path:
    from ..format.reader import download_dataset_repo

    return download_dataset_repo(repo_id, revision=revision, allow_patterns=[f"{PATH_IN_REPO}/*.json"])


def pull(directory: str | os.PathLike, repo_id: str, *, revision: str | None = None,
         replace: bool = False,
         download: Callable[[str, str | None], Path] = _snapshot) -> tuple[list[str], int]:
    """Add the records of ``repo_id`` that ``directory`` lacks. Returns (the files written,
    the number already there unchanged). On any error nothing is written."""
    directory = Path(directory)
    load_records(directory)  # the local store is valid before anything is added
    remote = download(repo_id, revision) / PATH_IN_REPO
    if not remote.is_dir():
        raise UsageError(f"{repo_id}: no {PATH_IN_REPO}/ folder in the repository; push a store first")
    load_records(remote)
    new, same, conflicts = [], 0, []
    for path in sorted(remote.glob("*.json")):
        local = directory / path.name
        if not local.exists():
            new.append(path)
        elif local.read_bytes() == path.read_bytes():
            same += 1
        elif replace:
            new.append(path)
        else:
            conflicts.append(path.name)
    if conflicts:
        raise UsageError(f"{len(conflicts)} record(s) of {repo_id} differ from the local ones "
                         f"({', '.join(conflicts[:3])}{', ...' if len(conflicts) > 3 else ''}); "
                         "pass --replace to take the repository's")
    with tempfile.TemporaryDirectory(prefix="attribution88-merge-") as tmp:  # the merged store loads
        merged = Path(tmp) / "records"
        shutil.copytree(directory, merged, ignore=shutil.ignore_patterns(".*"))
        for path in new:
            shutil.copyfile(path, merged / path.name)
        load_records(merged)
    from attribution88.atomic import write_bytes

    for path in new:
        write_bytes(directory / path.name, path.read_bytes())
    return [p.name for p in new], same
