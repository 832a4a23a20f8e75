"""Training a reference model: the loop, its epoch plans, checkpoints and metrics log.

Randomness: everything random in a run follows from (seed, epoch): the order of the samples,
each sample's partner images and mixing ratios (`epoch_plan`), each image's augmentation (the
loader's, keyed by image id and epoch) and torch's generator (initialisation, dropout), seeded
for the block that uses it and restored afterwards, so the caller's random state is untouched.
A run killed at any point and started again resumes from its last finished epoch and ends with
the same weights as an uninterrupted run (on the same device and thread count).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..devices import resolve_device
from ..errors import UsageError
from ..ids import derive_seed
from .base import AttributionModel
from .config import TrainConfig
from .runs import (
    FINAL_WEIGHTS,
    LAST_CHECKPOINT,
    RunInfo,
    load_checkpoint,
    read_run,
    save_checkpoint,
    save_weights,
    write_metrics,
    write_run_info,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochPlan:
    """The batches of one epoch: image indices (each sample's ``k`` images consecutive) and
    the samples' ratios."""

    batches: list[list[int]]  # per batch: S * k dataset indices
    ratios: list[np.ndarray]  # per batch: float32 (S, k)

    def __len__(self) -> int:
        return len(self.batches)


def epoch_plan(model: AttributionModel, n: int, batch_size: int, seed: int, epoch: int,
               shuffle: bool) -> EpochPlan:
    """Samples of an epoch, as the official data set builds them: sample i is image i (in a
    seeded shuffled order for training) followed by ``k - 1`` partners drawn uniformly from
    the whole split; ratios from ``model.draw_ratios``. The last batch may be smaller."""
    k = model.group_size
    rng = np.random.default_rng(derive_seed("train-plan", seed, epoch))
    anchors = rng.permutation(n) if shuffle else np.arange(n)
    partners = rng.integers(0, n, size=(n, k - 1))
    ratios = model.draw_ratios(rng, n)
    groups = np.concatenate([anchors[:, None], partners], 1)
    batches, batch_ratios = [], []
    for start in range(0, n, batch_size):
        batches.append(groups[start:start + batch_size].reshape(-1).tolist())
        batch_ratios.append(np.ascontiguousarray(ratios[start:start + batch_size], np.float32))
    return EpochPlan(batches, batch_ratios)


def run_epoch(model: AttributionModel, loader: Any, plan: EpochPlan, device: torch.device,
              optimizer: torch.optim.Optimizer | None = None, progress: str | None = None) -> dict[str, float]:
    """One pass over ``loader`` (whose batches follow ``plan``): training when an optimizer is
    given, else validation (eval mode, no gradients). Both mix: ratios come with each batch.
    Returns the mean of each loss term and the official mixed accuracy (the softmax
    probability of each image's source, weighted by its ratio)."""
    from tqdm.auto import tqdm

    training = optimizer is not None
    model.train(training)
    k = model.group_size
    sums: dict[str, float] = {}
    samples = 0
    bar = tqdm(total=len(plan), desc=progress, unit="batch", leave=False, disable=progress is None)
    with torch.set_grad_enabled(training):
        for (images, sources, *extra), ratios in zip(loader, plan.ratios):
            images = images.to(device, non_blocking=True)
            sources = sources.to(device).view(-1, k)
            targets = {name: t.to(device).view(-1, k) for name, t in zip(model.EXTRA_TARGETS, extra)}
            ratios = torch.from_numpy(ratios).to(device)
            out = model(images, ratios)
            terms = model.loss(out, sources, ratios, **targets)
            if training:
                optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                optimizer.step()
            with torch.no_grad():
                probs = out["attribution"].softmax(1)
                accuracy = (probs.gather(1, sources) * ratios).sum(1).mean()
            s = sources.shape[0]
            samples += s
            for name, value in [*terms.items(), ("accuracy", accuracy)]:
                sums[name] = sums.get(name, 0.0) + float(value.detach()) * s
            bar.update(1)
            bar.set_postfix(loss=f"{sums['total'] / samples:.4f}")
    bar.close()
    return {name: v / max(samples, 1) for name, v in sums.items()}


def _loader(dataset: Any, plan: EpochPlan, workers: int, device: torch.device) -> Any:
    """Batches in the plan's order. The loader's own generator (it only seeds the workers'
    torch generators, which the transforms do not use) keeps it off torch's global one."""
    return torch.utils.data.DataLoader(dataset, batch_sampler=plan.batches, num_workers=workers,
                                       pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(0))


def _data_info(data: str | os.PathLike, config_name: str) -> dict[str, Any]:
    """Where the training data came from, and its manifest fingerprint when it is a folder."""
    info: dict[str, Any] = {"location": os.fspath(data), "config": config_name}
    if Path(data).is_dir():
        from ..format.manifest import read_manifest
        from ..format.reader import resolve

        manifest = read_manifest(resolve(data))
        info.update(fingerprint=manifest.fingerprint, preset=manifest.preset)
    return info


def train(model_name: str, data: str | os.PathLike, out: str | os.PathLike, *, config: TrainConfig | None = None,
          seed: int = 0, device: str = "auto", workers: int | None = None, weights_path: str | None = None,
          data_config: str = "default", progress: bool = True,
          on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None) -> Path:
    """Train ``model_name`` on the train split of ``data`` into the run folder ``out``
    (resuming it when it holds an unfinished run of the same model, config and seed).
    Returns the run folder. ``on_epoch_end(epoch, metrics)`` is called after each epoch's
    checkpoint is written."""
    from ..loader import Attribution88Dataset
    from . import get_model

    cls = get_model(model_name)
    config = config or cls.config_from_preset("paper")
    if not isinstance(config, cls.Config):
        raise UsageError(f"config for {model_name} must be a {cls.Config.__name__}")
    out = Path(out)
    info = RunInfo(model_name, config, int(seed), _data_info(data, data_config))
    resuming = _check_existing_run(out, info)
    dev = resolve_device(device)
    if dev.type == "cuda":  # deterministic kernels (slower) so that a seed fixes the run
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    workers = min(4, os.cpu_count() or 1) if workers is None else workers

    returns = ("source", *cls.EXTRA_TARGETS)
    train_set = Attribution88Dataset(data, "train", config=data_config, returns=returns)
    if len(train_set) == 0:
        raise UsageError(f"{data}: the train split is empty")
    try:
        val_set = Attribution88Dataset(data, "validation", config=data_config, returns=returns)
    except UsageError:
        val_set = None
    if val_set is not None and len(val_set) == 0:
        val_set = None

    with _seeded(derive_seed("train-init", seed), dev):  # initialisation of the new layers
        model = cls(config, weights_path) if not resuming else cls(_without_pretrained(config))
    model.to(dev)
    train_set.transform = model.train_transform("train")
    if val_set is not None:
        val_set.transform = model.train_transform("validation")
    optimizer, scheduler = model.make_optimizer()

    loop: dict[str, Any] = {"epoch": 0, "history": [], "best_val": None, "stale": 0, "stopped": False}
    if resuming:
        loop = load_checkpoint(out / LAST_CHECKPOINT, model, optimizer, scheduler)
        print(f"resuming {out} after epoch {loop['epoch']} of {config.epochs}")
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_run_info(out, info)

    for epoch in range(loop["epoch"], config.epochs):
        if loop["stopped"]:
            break
        started = time.perf_counter()
        plan = epoch_plan(model, len(train_set), config.batch_size, seed, epoch, shuffle=True)
        train_set.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        label = f"epoch {epoch + 1}/{config.epochs}" if progress else None
        with _seeded(derive_seed("train-torch", seed, epoch), dev):  # dropout (VGG, AlexNet)
            trained = run_epoch(model, _loader(train_set, plan, workers, dev), plan, dev, optimizer, label)
        metrics = {"epoch": epoch + 1, "lr": lr, **{f"train_{k}": v for k, v in trained.items()}}
        scheduler.step()
        images = sum(len(b) for b in plan.batches)
        metrics["train_images_per_s"] = images / (time.perf_counter() - started)
        if val_set is not None and (epoch + 1) % config.val_every == 0:
            vplan = epoch_plan(model, len(val_set), config.batch_size, seed, -1, shuffle=False)
            val = run_epoch(model, _loader(val_set, vplan, workers, dev), vplan, dev, None,
                            "validation" if progress else None)
            metrics.update({f"val_{k}": v for k, v in val.items()})
            if loop["best_val"] is None or val["total"] < loop["best_val"]:
                loop["best_val"], loop["stale"] = val["total"], 0
            else:
                loop["stale"] += 1
                if config.early_stop_patience and loop["stale"] >= config.early_stop_patience:
                    loop["stopped"] = True
                    metrics["early_stop"] = True
        metrics["seconds"] = time.perf_counter() - started
        loop["epoch"] = epoch + 1
        loop["history"].append(metrics)
        save_checkpoint(out / LAST_CHECKPOINT, model, optimizer, scheduler, loop, info)
        write_metrics(out, loop["history"])
        if progress:
            print(_epoch_line(metrics, config.epochs), flush=True)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, metrics)
    save_weights(out / FINAL_WEIGHTS, model, info)
    return out


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """torch's global generators seeded for the block (initialisation and dropout draw from
    them), and given back to the caller as they were."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def _without_pretrained(config: TrainConfig) -> TrainConfig:
    """A resumed run takes its weights from the checkpoint, not from ImageNet files."""
    return config.replace(pretrained=False) if hasattr(config, "pretrained") else config


def _check_existing_run(out: Path, info: RunInfo) -> bool:
    """True when ``out`` holds a resumable run of the same model, config, seed and data; an
    error when it holds anything else; False when it is new or empty."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if not (out / "config.json").exists():
        if any(out.iterdir()):
            raise UsageError(f"--out {out}: a folder with other files in it; give a new or empty folder")
        return False
    old = read_run(out)
    if old.model != info.model or old.seed != info.seed or old.config.differences(info.config):
        what = ([] if old.model == info.model else ["model"]) + ([] if old.seed == info.seed else ["seed"])
        if old.model == info.model:
            what += sorted(old.config.differences(info.config))
        raise UsageError(f"--out {out}: holds a run with another {', '.join(what)}; give a new folder to train "
                         f"with these settings")
    if old.data.get("fingerprint") != info.data.get("fingerprint"):
        raise UsageError(f"--out {out}: was trained on other data (fingerprint {old.data.get('fingerprint')}); "
                         f"give a new folder")
    if (out / FINAL_WEIGHTS).exists():
        raise UsageError(f"--out {out}: training already finished ({FINAL_WEIGHTS}); predict with "
                         f"`attribution88 predict --run {out}`, or give a new folder")
    return (out / LAST_CHECKPOINT).exists()


def _epoch_line(m: dict[str, Any], epochs: int) -> str:
    parts = [f"epoch {m['epoch']}/{epochs}", f"lr {m['lr']:.3g}", f"loss {m['train_total']:.4f}",
             f"acc {m['train_accuracy']:.4f}"]
    if "val_total" in m:
        parts += [f"val loss {m['val_total']:.4f}", f"val acc {m['val_accuracy']:.4f}"]
    parts.append(f"{m['train_images_per_s']:.1f} img/s")
    if m.get("early_stop"):
        parts.append("early stop: validation loss has not improved")
    return "  ".join(parts)
