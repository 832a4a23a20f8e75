"""`attribution88 publish DIR --repo-id ORG/NAME`: push a built dataset to the Hugging Face Hub.

- What is uploaded is exactly the manifest's shards, `manifest.json` and the dataset card,
  re-rendered from the manifest, under the same paths: the card's YAML configs name the split
  folders (`data/train/`, `data/test/GROUP/`, ...), which the Hub's viewer and `load_dataset`
  both read, so they agree on splits and configs.
- Resumable: with huggingface_hub >= 1.x (and hf_xet, its default), `upload_folder` streams
  files, commits large folders in batches and, when re-run after an interruption, skips what is
  committed and deduplicates what was uploaded; older releases (0.25 - 0.x) offer the same
  through `upload_large_folder`, which we use when present. The plan says which is used.
- The token comes from the usual places (`HF_TOKEN`, the token file of `hf auth login`) through
  `huggingface_hub.get_token`; it is never printed or logged. A missing token or an offline
  machine stops before anything is sent, with one clear line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import OfflineError, PublishError, UsageError
from .format.card import render_card
from .atomic import write_text
from .format.manifest import CARD, MANIFEST, read_manifest
from .format.reader import is_repo_id
from .spec import SPEC, Spec


@dataclass(frozen=True)
class PublishPlan:
    root: Path
    repo_id: str
    files: tuple[tuple[str, int], ...]  # (path in repo, bytes)
    card: str
    strategy: str  # "upload_folder" or "upload_large_folder"
    private: bool
    revision: str | None

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def describe(self) -> list[str]:
        lines = [f"repository: https://huggingface.co/datasets/{self.repo_id}"
                 + (f" (revision {self.revision})" if self.revision else "")
                 + (" [private]" if self.private else ""),
                 f"method: huggingface_hub {self.strategy} (resumable: re-run the same command after an interruption)",
                 f"files: {len(self.files)}, {self.total_bytes / 1e6:,.1f} MB"]
        lines += [f"  {path}  {size:,} bytes" for path, size in self.files]
        return lines


def _strategy(api: object) -> str:
    return "upload_large_folder" if hasattr(api, "upload_large_folder") else "upload_folder"


def plan_publish(root: str | os.PathLike, repo_id: str, *, private: bool = False,
                 revision: str | None = None, api: object | None = None, spec: Spec = SPEC) -> PublishPlan:
    """Everything that would be uploaded, checked locally; renders the card into the folder."""
    from huggingface_hub import HfApi

    root = Path(root)
    if not is_repo_id(repo_id) or repo_id.count("/") != 1:
        raise UsageError(f"--repo-id {repo_id!r} is not a Hub repository id of the form ORG/NAME")
    manifest = read_manifest(root)
    missing = [s.path for s in manifest.shards if not (root / s.path).is_file()]
    if missing:
        raise PublishError(f"{root}: {len(missing)} shard(s) listed in the manifest are missing "
                           f"(first: {missing[0]}); run attribution88 verify {root}")
    card = render_card(manifest, spec)
    if not (root / CARD).is_file() or (root / CARD).read_text(encoding="utf-8") != card:
        write_text(root / CARD, card)
    files = [(CARD, (root / CARD).stat().st_size), (MANIFEST, (root / MANIFEST).stat().st_size)]
    files += [(s.path, s.bytes) for s in sorted(manifest.shards, key=lambda s: s.path)]
    return PublishPlan(root, repo_id, tuple(files), card, _strategy(api or HfApi()), private, revision)


def _token() -> str:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login` "
                           "(a token with write access to the repository)")
    return token


def publish(plan: PublishPlan, *, api: object | None = None, commit_message: str | None = None) -> str:
    """Create the repository if needed and upload the plan's files. Returns the repo URL."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise OfflineError("the Hugging Face Hub is marked offline (HF_HUB_OFFLINE=1); nothing was uploaded")
    token = _token()
    api = api or HfApi(token=token)
    allow = [path for path, _ in plan.files]
    message = commit_message or f"attribution88: upload {len(plan.files)} files"
    try:
        api.create_repo(plan.repo_id, repo_type="dataset", private=plan.private, exist_ok=True, token=token)
        if plan.strategy == "upload_large_folder":
            api.upload_large_folder(repo_id=plan.repo_id, folder_path=str(plan.root), repo_type="dataset",
                                    revision=plan.revision, allow_patterns=allow, private=plan.private)
        else:
            api.upload_folder(repo_id=plan.repo_id, folder_path=str(plan.root), repo_type="dataset",
                              revision=plan.revision, allow_patterns=allow, commit_message=message,
                              token=token)
    except OSError as e:  # requests/httpx connection errors are OSErrors
        raise OfflineError(f"cannot reach the Hugging Face Hub ({type(e).__name__}); nothing more was "
                           f"uploaded; re-run the same command to resume") from None
    except Exception as e:  # HTTP errors (401, 403, 404, ...) from huggingface_hub
        detail = " ".join(str(e).replace(token, "***").split())[:300]
        raise PublishError(f"upload to {plan.repo_id} failed: {type(e).__name__}: {detail}; "
                           f"re-run the same command to resume") from None
    return f"https://huggingface.co/datasets/{plan.repo_id}"
