"""The build pipeline: one cell at a time, the same stages for `mini` and `full`.

    reals (per semantic)                       generator (per fake cell)
        |                                          |  sample ceil(n x oversample) candidates,
        |                                          |  latent seeds from the candidate index
        +------------> LPIPS features <------------+
                             |
      clean: faiss shortlist, exact LPIPS, k-means, one per cluster, outliers rejected
                             |
         split + perturb (id-derived)  ->  shards (atomic)  ->  manifest + card

A cell is the unit of work: it depends on nothing but the spec, the preset and its inputs, so
cells can run in any order, in several processes or on a Ray cluster, and give the same bytes.
A cell whose shards are all on disk is skipped, so a killed build resumes where it stopped.
"""

from __future__ import annotations

import errno
import functools
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attribution88.errors import BuildError, UsageError
from attribution88.format.dataset import plan_cell, write_records
from attribution88.format.schema import Record
from attribution88.format.shards import read_shard_metadata
from attribution88.ids import assign, derive_seed, image_id, latent_seed, parse_id
from attribution88.images import encode_png
from attribution88.spec import SPEC, Cell, Preset, Semantic, Spec

from . import reals as reals_mod
from .clean import DEFAULT_REJECT_FRACTION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    """Everything a cell's build depends on (picklable: it travels to workers and Ray tasks)."""

    preset: str
    out: str
    real_sources: Mapping[str, str] = field(default_factory=dict)  # semantic -> source text
    checkpoints: str | None = None
    entry_points: Mapping[str, str] = field(default_factory=dict)  # arch or arch-semantic -> module:function
    stand_ins: bool = False
    lpips_backbone: str | None = None
    allow_untrained_lpips: bool = False
    shortlist_k: int = 10
    reject_fraction: float = DEFAULT_REJECT_FRACTION  # never keep this share farthest from a real
    fid_weights: str | None = None  # Inception weights (torch-fidelity's .pth): FID in the cleaning report
    device: str = "cpu"
    batch_size: int = 32
    threads: int | None = None

    @property
    def spec_preset(self) -> Preset:
        return SPEC.preset(self.preset)

    def real_source(self, semantic: Semantic) -> str:
        src = self.real_sources.get(semantic.name) or self.real_sources.get("*")
        if not src:
            raise BuildError(f"no real images for semantic {semantic.name}: pass --reals DIR "
                             f"(one sub-folder per semantic) or --reals {semantic.name}=SOURCE")
        return src


@dataclass(frozen=True)
class CellResult:
    cell: str
    skipped: bool
    shards: int
    images: int
    seconds: float
    notes: dict


def _configure_threads(config: BuildConfig) -> None:
    """One pool of threads per process: torch and faiss (OpenMP) would otherwise each start a
    thread per core and oversubscribe the CPU (see benchmarks/bench_clean.py)."""
    import torch

    threads = config.threads or max(1, (os.cpu_count() or 1))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
    except ImportError:  # faiss is only needed by the cleaning stage
        pass


def cell_is_complete(config: BuildConfig, cell: Cell) -> bool:
    """Every shard the cell's plan names exists (shards are renamed into place only when
    complete, so existence means complete) and was written for this preset."""
    root = Path(config.out)
    for key in plan_cell(cell, config.spec_preset):
        path = root / key.path
        if not path.is_file():
            return False
        meta = read_shard_metadata(path)
        if meta.get("preset") != config.preset or meta.get("spec_version") != SPEC.version:
            raise BuildError(f"{path} was written by another build (preset {meta.get('preset')}, "
                             f"spec {meta.get('spec_version')}); use another --out")
    return True


@functools.lru_cache(maxsize=4)
def _reals(source_text: str, semantic_name: str, n: int) -> tuple[list[reals_mod.RealImage], str]:
    semantic = SPEC.semantic(semantic_name)
    source = reals_mod.parse_real_source(source_text, semantic)
    return reals_mod.pick_reals(source, semantic, n), source.description


@functools.lru_cache(maxsize=2)
def _lpips(backbone: str | None, allow_untrained: bool):
    from .lpips_features import LpipsFeatures

    return LpipsFeatures.create(weights=backbone, allow_untrained=allow_untrained)


@functools.lru_cache(maxsize=4)
def _real_features(source_text: str, semantic_name: str, n: int, backbone: str | None,
                   allow_untrained: bool) -> np.ndarray:
    """LPIPS features of a semantic's real images, computed once per process."""
    reals, _ = _reals(source_text, semantic_name, n)
    return _lpips(backbone, allow_untrained).features(reals_mod.stack(reals))


def _entry_point(config: BuildConfig, cell: Cell) -> str | None:
    return config.entry_points.get(cell.name) or config.entry_points.get(cell.source.name)


def uses_stand_in(config: BuildConfig, cell: Cell) -> bool:
    """Whether a fake cell samples its stand-in: only when stand-ins are on and the user gave
    no generator for it (an entry point, or a checkpoint in ``--checkpoints``)."""
    from .generators.manifest import MANIFEST

    if not config.stand_ins or _entry_point(config, cell):
        return False
    if config.checkpoints is None:
        return True
    path = Path(config.checkpoints) / MANIFEST.model(cell.source.name, cell.semantic.name).checkpoint_file
    return not path.is_file()


def _fake_images(config: BuildConfig, cell: Cell, n_keep: int) -> tuple[np.ndarray, list[int], list[str], dict]:
    """Sample, then clean: the kept images, their latent seeds and origins, and notes."""
    from .clean import clean
    from .generators import load_generator, sample

    preset = config.spec_preset
    n_candidates = max(n_keep, math.ceil(n_keep * preset.oversample))
    generator = load_generator(cell.source.name, cell.semantic.name, checkpoints_dir=config.checkpoints,
                               entry_point=_entry_point(config, cell), stand_in=uses_stand_in(config, cell),
                               device=config.device)
    seeds = [latent_seed(cell, k) for k in range(n_candidates)]
    t = time.perf_counter()
    candidates = sample(generator, seeds, batch_size=config.batch_size, device=config.device,
                        out_size=SPEC.image_size)
    t_sample = time.perf_counter() - t
    lpips = _lpips(config.lpips_backbone, config.allow_untrained_lpips)
    t = time.perf_counter()
    real_features = _real_features(config.real_source(cell.semantic), cell.semantic.name,
                                   preset.cell_size(cell.semantic), config.lpips_backbone,
                                   config.allow_untrained_lpips)
    result = clean(lpips.features(candidates), real_features, n_keep, k=config.shortlist_k,
                   seed=derive_seed("cleaning", cell.name), reject_fraction=config.reject_fraction,
                   threads=config.threads)
    t_clean = time.perf_counter() - t
    stats = result.stats
    if config.fid_weights:
        stats = _with_fid(config, cell, candidates, result)
    kept = list(result.kept)
    notes = {"generator": generator.origin, "stand_in": bool(generator.is_stand_in), "sampling": generator.sampling,
             "native_resolution": int(generator.native_resolution), "candidates": n_candidates,
             "lpips": lpips.description, "lpips_pretrained": bool(lpips.is_pretrained),
             "cleaning": stats.to_dict()}  # only what the inputs decide: no timings
    log.info("%s: sampled %d in %.1f s, cleaned in %.1f s", cell.name, n_candidates, t_sample, t_clean)
    return candidates[kept], [seeds[i] for i in kept], [generator.origin] * len(kept), notes


@functools.lru_cache(maxsize=1)
def _fid(weights: str):
    from .fid import InceptionFid

    return InceptionFid(weights)


def _with_fid(config: BuildConfig, cell: Cell, candidates: np.ndarray, result):
    """The cell's cleaning stats with FID of every selection against the semantic's reals."""
    reals, _ = _reals(config.real_source(cell.semantic), cell.semantic.name,
                      config.spec_preset.cell_size(cell.semantic))
    fid = _fid(config.fid_weights)
    fids = fid.compare(candidates, reals_mod.stack(reals),
                       {"candidates": None, **result.selections()})
    return result.stats.with_fid(fids, f"torchmetrics FID (2048-d), Inception weights "
                                       f"{fid.path.name}, against the cell's reals")


def build_cell(config: BuildConfig, cell_name: str) -> CellResult:
    """Build one cell into ``config.out`` (skipped when all its shards exist)."""
    from attribution88.perturb import apply_assignment

    t0 = time.perf_counter()
    cell = parse_id(f"{cell_name}-00000").cell
    preset = config.spec_preset
    if cell_is_complete(config, cell):
        return CellResult(cell.name, True, 0, 0, 0.0, {})
    _configure_threads(config)
    n = preset.cell_size(cell.semantic)
    if cell.source.is_fake:
        pixels, gen_seeds, origins, notes = _fake_images(config, cell, n)
    else:
        reals, description = _reals(config.real_source(cell.semantic), cell.semantic.name, n)
        pixels = reals_mod.stack(reals)
        gen_seeds, origins = [None] * n, [r.origin for r in reals]
        notes = {"reals": description}
    records = []
    for index in range(n):
        a = assign(image_id(cell, index), preset)
        img = apply_assignment(pixels[index], a) if a.severity else pixels[index]
        records.append(Record(a.id, encode_png(img), cell.source.index, cell.semantic.index, a.split,
                              a.perturbation, a.severity, a.perturbation_seed, gen_seeds[index], origins[index]))
    try:
        written = write_records(config.out, records, preset, notes=notes, skip_existing=True)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise BuildError(f"disk full while writing cell {cell.name} to {config.out}: completed "
                             f"shards are intact; free space and run the same command to resume") from None
        raise BuildError(f"cannot write cell {cell.name} to {config.out}: {e.strerror or e}") from None
    return CellResult(cell.name, False, len(written), n, time.perf_counter() - t0, notes)


def select_cells(archs: list[str] | None, semantics: list[str] | None, spec: Spec = SPEC) -> list[Cell]:
    """The cells of the chosen sources x semantics (all when a list is empty), source-major."""
    sources = [spec.source(a) for a in archs] if archs else list(spec.sources)
    sems = [spec.semantic(s) for s in semantics] if semantics else list(spec.semantics)
    return [Cell(src, sem) for src in sources for sem in sems]


def shard_slice(cells: list[Cell], index: int, count: int) -> list[Cell]:
    """Slice ``index`` of ``count`` (1-based, as on the command line): every count-th cell."""
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {index}/{count}: expected I/N with 1 <= I <= N")
    return cells[index - 1::count]
