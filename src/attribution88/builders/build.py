"""`attribution88 build`: run the pipeline over the chosen cells, then write the manifest and
the dataset card.

Slices (`--shard I/N`) and executors only change where cells run, never what they contain:
the dataset folder is finalized (manifest, card) by whichever run finds every cell of the
selection complete, so N slices writing into one shared folder make one dataset identical to a
single-process build.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from attribution88.format.dataset import cell_notes, finalize, prepare_output_dir
from attribution88.format.manifest import Manifest
from attribution88.spec import SPEC, Cell

from .clean import log_summary
from .executors import executor
from .pipeline import BuildConfig, CellResult, cell_is_complete

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildSummary:
    built: list[CellResult]
    skipped: list[str]
    manifest: Manifest | None  # None when other slices are still missing
    seconds: float


def build_notes(preset: str, notes_by_cell: dict[str, dict]) -> dict:
    """The manifest's `build` record and the card's notes, from what every cell recorded."""
    from types import SimpleNamespace

    from .clean import METHOD, cleaning_table
    from .generators import card_notes

    generators = [SimpleNamespace(arch=c.split("-")[0], semantic=c.split("-")[1],
                                  native_resolution=n["native_resolution"], is_stand_in=n["stand_in"],
                                  origin=n["generator"], sampling=n.get("sampling"))
                  for c, n in notes_by_cell.items() if "generator" in n]
    gen_notes = card_notes(generators) if generators else {"warnings": [], "sections": []}
    warnings = list(gen_notes["warnings"])
    if any(n.get("lpips") and not n.get("lpips_pretrained") for n in notes_by_cell.values()):
        warnings.append("Cleaning used LPIPS with an UNTRAINED backbone (no local ImageNet weights "
                        "were given): the nearest-real distances are not perceptual.")
    if any("scikit-image" in n.get("reals", "") for n in notes_by_cell.values()):
        warnings.append("Real images are crops of scikit-image's sample photographs standing in for "
                        "CelebA and LSUN; they do not depict the semantics they are filed under.")
    sections = list(gen_notes["sections"])
    cleaning = {c: n["cleaning"] for c, n in notes_by_cell.items() if "cleaning" in n}
    if cleaning:
        sections.append({"title": "Cleaning (LPIPS nearest real + k-means diversity)",
                         "markdown": cleaning_table(cleaning, METHOD)})
    reals = sorted({n["reals"] for n in notes_by_cell.values() if "reals" in n})
    if reals:
        sections.append({"title": "Real images", "markdown": "\n".join(f"- {r}" for r in reals)})
    return {"kind": "build", "preset": preset, "warnings": warnings, "sections": sections,
            "cells": notes_by_cell}


def run_build(config: BuildConfig, cells: list[Cell], *, selection: list[Cell] | None = None,
              executor_name: str = "local", workers: int | None = None, ray_address: str | None = None,
              ray_cpus: int | None = None, progress: bool = True) -> BuildSummary:
    """Build ``cells`` (a slice of ``selection``, all of it by default) into ``config.out``;
    finalize when every cell of the selection is complete."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    check_generators(config, cells)  # before anything is written
    prepare_output_dir(config.out, config.preset)
    selection = selection or cells
    todo = [c for c in cells if not cell_is_complete(config, c)]
    skipped = [c.name for c in cells if c not in todo]
    if skipped:
        log.info("%d cell(s) already complete, skipped", len(skipped))
    run = executor(executor_name, workers=workers, ray_address=ray_address, ray_cpus=ray_cpus)
    built = []
    with tqdm(total=len(todo), desc=f"build {config.preset}", unit="cell", disable=not progress) as bar:
        for result in run(config, todo):
            built.append(result)
            if result.notes.get("cleaning"):  # here, not in the worker: workers' logs stay there
                log.info("%s", log_summary(result.cell, result.notes["cleaning"]))
            bar.set_postfix_str(result.cell)
            bar.update(1)
    manifest = None
    if all(cell_is_complete(config, c) for c in selection):
        notes = cell_notes(config.out)
        manifest = finalize(config.out, config.preset, build_notes(config.preset, notes), SPEC)
    return BuildSummary(built, skipped, manifest, time.perf_counter() - t0)


def check_generators(config: BuildConfig, cells: list[Cell]) -> None:
    """Every fake cell has a generator: the user's (an entry point, or ``ARCH-SEMANTIC.safetensors``
    in ``--checkpoints``) or, only when stand-ins are on, its stand-in. One line otherwise,
    naming what is missing and the command that makes it."""
    from attribution88.errors import CheckpointError

    from .generators.manifest import MANIFEST, checkpoints_dir
    from .pipeline import _entry_point, uses_stand_in

    directory = checkpoints_dir(config.checkpoints) if config.checkpoints is not None else None
    missing = [c for c in cells if c.source.is_fake and not _entry_point(config, c) and not uses_stand_in(config, c)
               and not (directory and (directory / MANIFEST.model(c.source.name, c.semantic.name).checkpoint_file)
                        .is_file())]
    if not missing:
        return
    first = MANIFEST.model(missing[0].source.name, missing[0].semantic.name)
    names = ", ".join(c.name for c in missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
    if directory is None:
        raise CheckpointError(f"no generator for {names}: pass --checkpoints DIR (ARCH-SEMANTIC.safetensors + "
                              f".json), --entry-point, or --stand-ins for untrained stand-ins")
    stray = sorted(p.name for p in directory.glob(f"{first.name}.*") if p.suffix not in (".safetensors", ".json"))
    found = f"; {directory} holds {stray[0]}, which is not converted" if stray else ""
    raise CheckpointError(f"--checkpoints {directory} has no checkpoint for {names} (expected "
                          f"{directory / first.checkpoint_file} + .json){found}; convert the official file with: "
                          f"attribution88 generators convert FILE --arch {first.arch} --semantic {first.semantic} "
                          f"--out {directory}")


def default_real_sources(preset: str, reals: list[str] | None) -> dict[str, str]:
    """``--reals`` values as semantic -> source. ``DIR`` alone means one sub-folder per
    semantic (DIR/bedroom, ...); ``SEMANTIC=SOURCE`` sets one; the mini preset defaults to
    scikit-image's sample photographs."""
    out: dict[str, str] = {}
    for item in reals or []:
        if "=" in item:
            sem, src = item.split("=", 1)
            out[SPEC.semantic(sem).name] = src
        else:
            for sem in SPEC.semantics:
                out.setdefault(sem.name, str(Path(item) / sem.name))
    if preset == "mini":
        for sem in SPEC.semantics:
            out.setdefault(sem.name, "samples")
    return out
