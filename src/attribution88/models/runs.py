"""A training run on disk: the folder `attribution88 train --out RUN` writes and `predict` reads.

    RUN/config.json                  model name, its full config, seed, training data (JSON)
    RUN/metrics.jsonl                one JSON line per finished epoch
    RUN/checkpoints/last.safetensors weights, optimizer and scheduler state, loop state (JSON
                                     metadata): replaced atomically after every epoch
    RUN/model.safetensors            the trained weights, written when training ends

Everything is safetensors or JSON: nothing is pickled, and loading runs no code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..atomic import atomic_path, write_json, write_text
from ..errors import CheckpointError, UsageError
from ..versioned import read_version
from .base import AttributionModel
from .config import CONFIG_VERSION, TrainConfig

RUN_KIND = "attribution88-run"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LAST_CHECKPOINT = Path("checkpoints") / "last.safetensors"
FINAL_WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class RunInfo:
    """What config.json records."""

    model: str
    config: TrainConfig
    seed: int
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": RUN_KIND, "version": CONFIG_VERSION, "tool_version": __version__,
                "model": self.model, "config": self.config.to_dict(), "seed": self.seed, "data": self.data}


def read_run(run: str | os.PathLike) -> RunInfo:
    """config.json of a run folder, checked; one-line errors otherwise."""
    from . import get_model

    path = Path(run) / CONFIG_FILE
    if not path.is_file():
        raise UsageError(f"{run}: not a training run (no {CONFIG_FILE}); train one with `attribution88 train`")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    read_version(d, where=f"{path} (run config)", kind=RUN_KIND, supported=CONFIG_VERSION,
                 error=CheckpointError)
    cls = get_model(str(d.get("model")))
    return RunInfo(str(d["model"]), cls.Config.from_dict(d.get("config") or {}, str(path)),
                   int(d.get("seed", 0)), dict(d.get("data") or {}))


def write_run_info(run: str | os.PathLike, info: RunInfo) -> None:
    write_json(Path(run) / CONFIG_FILE, info.to_dict())


def write_metrics(run: str | os.PathLike, history: list[dict[str, Any]]) -> None:
    """The metrics log, rewritten whole (atomically) from the checkpoint's history, so that a
    resumed run's log never holds the epochs it redoes."""
    write_text(Path(run) / METRICS_FILE, "".join(json.dumps(h) + "\n" for h in history))


def read_metrics(run: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(run) / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- safetensors files ----------------------------------------------------------------------------
def _save(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={k: json.dumps(v) for k, v in metadata.items()})


def _load(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # truncated or foreign file
        detail = " ".join(str(e).split())[:200]
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(e).__name__}: {detail})") from None
    return tensors, metadata


def _load_model_state(model: AttributionModel, tensors: dict[str, torch.Tensor], path: Path) -> None:
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        detail = " ".join(str(e).split())[:200]
        raise CheckpointError(f"{path}: weights do not fit the run's model ({detail})") from None
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"{path}: weights do not fit the run's model ({len(result.missing_keys)} missing, "
                              f"{len(result.unexpected_keys)} unexpected tensors)")


def save_weights(path: Path, model: AttributionModel, info: RunInfo) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    _save(path, tensors, {"format": "attribution88-weights", "model": info.model, "config": info.config.to_dict()})


def save_checkpoint(path: Path, model: AttributionModel, optimizer: torch.optim.Optimizer,
                    scheduler: Any, loop: dict[str, Any], info: RunInfo) -> None:
    """Weights, optimizer state (tensors per parameter index; hyperparameters as JSON),
    scheduler state and the loop's state (epoch, history, early stopping), in one file."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars: dict[str, Any] = {}
    for pid, state in opt["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    _save(path, tensors, {"format": "attribution88-checkpoint", "model": info.model,
                          "config": info.config.to_dict(), "optimizer_groups": opt["param_groups"],
                          "optimizer_scalars": scalars, "scheduler": scheduler.state_dict(), "loop": loop})


def load_checkpoint(path: Path, model: AttributionModel, optimizer: torch.optim.Optimizer,
                    scheduler: Any) -> dict[str, Any]:
    """Restore what `save_checkpoint` wrote; returns the loop state."""
    tensors, meta = _load(path)
    if meta.get("format") != "attribution88-checkpoint":
        raise CheckpointError(f"{path}: not an attribution88 training checkpoint")
    _load_model_state(model, tensors, path)
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("optimizer."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    for k, v in meta.get("optimizer_scalars", {}).items():
        pid, key = k.split(".", 1)
        state.setdefault(int(pid), {})[key] = v
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer_groups"]})
        scheduler.load_state_dict(meta["scheduler"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: optimizer state does not fit ({e})") from None
    return meta["loop"]


def load_model(run: str | os.PathLike, checkpoint: str = "final", device: str | torch.device = "cpu"
               ) -> tuple[AttributionModel, RunInfo]:
    """The trained model of a run, in eval mode on ``device``: its final weights, or
    ``checkpoint="last"``: the last epoch's checkpoint of an unfinished run."""
    from . import get_model

    info = read_run(run)
    if checkpoint not in ("final", "last"):
        raise UsageError(f"checkpoint must be 'final' or 'last', got {checkpoint!r}")
    path = Path(run) / (FINAL_WEIGHTS if checkpoint == "final" else LAST_CHECKPOINT)
    if not path.is_file():
        if checkpoint == "final":
            done = len(read_metrics(run))
            raise UsageError(f"{run}: training has not finished ({done} of {info.config.epochs} epochs); "
                             f"resume it with `attribution88 train ... --out {run}`, or use --checkpoint last")
        raise UsageError(f"{run}: no checkpoint yet ({path})")
    model = get_model(info.model)(info.config.replace(pretrained=False) if hasattr(info.config, "pretrained")
                                  else info.config)
    tensors, meta = _load(path)
    if meta.get("model") != info.model:
        raise CheckpointError(f"{path}: weights of model {meta.get('model')!r}, but the run is {info.model!r}")
    _load_model_state(model, tensors, path)
    return model.to(device).eval(), info
