"""Sampling: image seeds -> 128 px RGB uint8, deterministic per image.

The seed of an image comes from `attribution88.ids.latent_seed(cell, candidate)`. Its latent z
(and, for StyleGAN and StyleGAN2, its noise maps, in `noise_shapes()` order) are drawn from
``np.random.default_rng(seed)`` alone, on the CPU, so they do not depend on the batch, the
order, the device or the process.

Same seed, same bytes whatever ``batch_size``. GEMM and convolution libraries choose their
kernels by the shapes they are given, batch size included, and oneDNN's convolutions do change
their last bits with the batch size (tests/test_generators_sampling.py found it for 32-channel
layers at 12-16 px). So the network never sees the caller's batch: it always runs on
micro-batches of a fixed size (`MICRO_BATCH`, per device type; the last one padded by
repeating a latent). Within a fixed shape, each image's result depends on nothing else in the
micro-batch (checked by permuting images across micro-batches), and the layers whose results
change with the thread count (1x1 convolutions, dense layers) run per image (`networks.layers`). On
CUDA the same holds up to the libraries: cuDNN is put in deterministic mode with TF32 off for
the duration of a call, and the fixed micro-batch keeps its algorithm choice fixed; across GPU
models or library versions the last bits may differ.

Output: floats in the architecture's range are mapped to [0, 255] as the authors' code does
(``x * 127.5 + 128``, floored, for [-1, 1]), cropped to the content box of the model (LSUN
car: 512x384), and, above 128 px, downscaled with Pillow's Lanczos filter through
`attribution88.images.center_crop_resize` — the filter used for the real images. Using one
filter for every source means the resize leaves the same trace on real and generated images,
so it cannot become a cue for attribution; Lanczos (a windowed sinc, support widened with the
scale factor) low-passes before subsampling, so the downscale does not alias high-frequency
GAN artifacts into new patterns, and Pillow's fixed-point implementation gives the same bytes
on every machine.

Mixed precision (``precision="bf16"`` or ``"fp16"``, autocast) is off by default: see
`precision_report` for how it is checked before use.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attribution88.devices import resolve_device
from attribution88.errors import CheckpointError, UsageError
from attribution88.spec import SPEC

from . import manifest as _manifest
from .architectures import ARCHITECTURES
from .latents import MICRO_BATCH, draw_latents
from .manifest import MANIFEST, ModelEntry

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: Side of the images `sample` returns by default (the benchmark's).
OUT_SIZE = SPEC.image_size
PRECISIONS = ("fp32", "bf16", "fp16")


# -- the generator handle -----------------------------------------------------------------------
class Generator:
    """A loaded generator of one (architecture, semantic): a native module (checkpoint or
    stand-in) or a user's entry point. Use `sample` to make images."""

    def __init__(self, *, model: ModelEntry, origin: str, native_resolution: int, is_stand_in: bool,
                 module: Any = None, entry: Any = None, device: str = "cpu",
                 sampling: dict[str, Any] | None = None) -> None:
        self.model = model
        self.arch, self.semantic = model.arch, model.semantic
        self.native_resolution = native_resolution
        self.is_stand_in = is_stand_in
        self.module, self.entry = module, entry
        self.architecture = ARCHITECTURES.get(model.arch)
        self.device = str(device)
        z_dim = getattr(module if module is not None else getattr(entry, "obj", None), "z_dim", None)
        self.z_dim = int(z_dim) if z_dim else model.latent_dim
        # Truncation and noise are part of the cell: the checkpoint's record (read from the
        # authors' file by `convert`) or else the manifest's per-architecture defaults.
        sampling = sampling or {}
        self.truncation = sampling.get("truncation_psi", model.truncation)
        self.truncation_cutoff = sampling.get("truncation_cutoff", model.truncation_cutoff)
        self.noise = sampling.get("noise", model.noise)
        if self.noise == "const" and module is not None and not hasattr(module, "const_noise"):
            self.noise = None
        self.origin = origin + self.sampling_note

    @property
    def sampling_note(self) -> str:
        """``;psi=0.5;noise=const`` (what the `origin` of each image records), or empty."""
        note = f";psi={self.truncation:g}" if self.truncation is not None else ""
        if self.truncation is not None and self.truncation_cutoff is not None:
            note += f";cutoff={self.truncation_cutoff}"
        return note + (f";noise={self.noise}" if self.noise else "")

    @property
    def sampling(self) -> dict[str, Any]:
        return {"truncation_psi": self.truncation, "truncation_cutoff": self.truncation_cutoff, "noise": self.noise}

    @property
    def kind(self) -> str:
        """``stand-in``, ``checkpoint`` or ``entry-point``."""
        return "entry-point" if self.entry is not None else ("stand-in" if self.is_stand_in else "checkpoint")

    def noise_shapes(self) -> list[tuple[int, int]]:
        return self.module.noise_shapes() if self.module is not None else []

    def to(self, device: str | torch.device) -> Generator:
        dev = resolve_device(device)
        if self.module is not None:
            self.module.to(dev)
        elif self.entry is not None and self.entry.kind == "module":
            self.entry.obj.to(dev)
        self.device = str(dev)
        return self

    def sample(self, seeds: Sequence[int], **kwargs: Any) -> np.ndarray:
        """`sample` (this generator, ``seeds``, ...)."""
        return sample(self, seeds, **kwargs)

    def __repr__(self) -> str:
        return (f"Generator({self.arch}-{self.semantic}, {self.kind}, {self.native_resolution} px, "
                f"origin={self.origin!r}, device={self.device})")


def load_generator(arch: str, semantic: str, *, checkpoint: str | Path | None = None,
                   entry_point: str | None = None, stand_in: bool = False, device: str = "cpu",
                   checkpoints_dir: str | Path | None = None) -> Generator:
    """The generator of ``arch`` on ``semantic``.

    - ``stand_in=True``: the mini preset's stand-in (`stand_ins`), not the paper's model;
    - ``entry_point="module:function"``: the user's code loads the model (optionally from
      ``checkpoint``, handed to it as is) — see `entry_point`;
    - ``checkpoint=FILE`` (or a folder holding ``<arch>-<semantic>.safetensors``): a native
      safetensors checkpoint with its JSON record — see `checkpoints`;
    - nothing: ``<arch>-<semantic>.safetensors`` in ``checkpoints_dir`` or in the folder named
      by ``$ATTRIBUTION88_CHECKPOINTS``.
    """
    from . import checkpoints as ckpt
    from attribution88.digests import file_sha256

    model = MANIFEST.model(arch, semantic)
    dev = resolve_device(device)
    if stand_in:
        if checkpoint is not None or entry_point is not None:
            raise UsageError("stand-ins take no checkpoint or entry point")
        from .stand_ins import build_stand_in

        module = build_stand_in(arch, semantic)
        return Generator(model=model, origin=f"stand-in:{model.name}", native_resolution=module.resolution,
                         is_stand_in=True, module=module.to(dev), device=str(dev))
    if entry_point is not None:
        from .entry_point import load_entry_point

        origin = f"entry-point:{entry_point}"
        if checkpoint is not None:
            path = Path(checkpoint)
            if path.is_file():
                origin += f"+checkpoint:{path.name}#sha256:{file_sha256(path)[:12]}"
            elif "://" in str(checkpoint):  # a URL the user's code opens (NVlabs' code does)
                origin += f"+checkpoint:{checkpoint}"
            else:
                raise CheckpointError(f"{path}: no such file (the {arch} checkpoint for --entry-point {entry_point})")
        entry = load_entry_point(entry_point, arch=arch, checkpoint=str(checkpoint) if checkpoint else None,
                                 device=str(dev))
        return Generator(model=model, origin=origin, native_resolution=model.resolution, is_stand_in=False,
                         entry=entry, device=str(dev))
    if checkpoint is not None:
        path = Path(checkpoint)
        if path.is_dir():
            path = path / model.checkpoint_file
    else:
        directory = _manifest.checkpoints_dir(checkpoints_dir)
        path = _manifest.find_checkpoint(model, directory)
        if path is None:
            where = f"{directory}/{model.checkpoint_file}" if directory else \
                f"{model.checkpoint_file} in --checkpoints DIR or ${_env()}"
            raise CheckpointError(f"no checkpoint for {model.name}: expected {where} (with its .json record); "
                                  f"source: {model.source()}; or build the mini preset with stand-ins")
    module, info = ckpt.load_checkpoint(path, arch, semantic)
    return Generator(model=model, origin=info.origin, native_resolution=module.resolution, is_stand_in=False,
                     module=module.to(dev), device=str(dev), sampling=info.sampling)


def _env() -> str:
    from attribution88.settings import CHECKPOINTS_ENV

    return CHECKPOINTS_ENV


# -- sampling -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """cuDNN deterministic, no autotuning, no TF32 — restored on exit. No-op on CPU."""
    import torch

    if device.type != "cuda":
        yield
        return
    b = torch.backends
    saved = (b.cudnn.deterministic, b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32)
    b.cudnn.deterministic, b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32 = True, False, False, False
    try:
        yield
    finally:
        b.cudnn.deterministic, b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32 = saved


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise UsageError("--precision fp16 needs --device cuda (use bf16 on CPU)")
    return torch.autocast(device.type, dtype=torch.float16 if precision == "fp16" else torch.bfloat16)


def quantize(images: torch.Tensor, output_range: tuple[float, float]) -> torch.Tensor:
    """Float images ``(N, 3, H, W)`` in ``output_range`` -> uint8 ``(N, H, W, 3)``:
    ``floor(x * 255 / (hi - lo) + 0.5 - lo * 255 / (hi - lo))`` clamped, i.e. the authors'
    ``x * 127.5 + 128`` for [-1, 1]."""
    import torch

    lo, hi = output_range
    k = 255.0 / (hi - lo)
    x = (images.float() * k + (0.5 - lo * k)).clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous()


def _native(gen: Generator, seeds: Sequence[int], device: torch.device, precision: str) -> np.ndarray:
    import torch

    mb = MICRO_BATCH[device.type]
    const = gen.noise == "const"
    shapes = [] if const else gen.noise_shapes()  # z comes first from the rng either way
    lat = [draw_latents(s, gen.z_dim, shapes, gen.architecture.latent) for s in seeds]
    out = []
    psi = gen.truncation if gen.truncation is not None else 1.0
    stored = [n.to(device).expand(mb, -1, -1, -1) for n in gen.module.const_noise()] if const else []
    for i in range(0, len(lat), mb):
        part = lat[i:i + mb]
        part = part + [part[-1]] * (mb - len(part))  # pad: the network always sees mb images
        z = torch.from_numpy(np.stack([p[0] for p in part])).to(device)
        noise = stored or [torch.from_numpy(np.stack([p[1][j] for p in part])).to(device) for j in range(len(shapes))]
        with _autocast(device, precision):
            images = gen.module(z, noise or None, truncation_psi=psi)
        out.append(quantize(images, gen.architecture.output_range)[:len(lat) - i].cpu().numpy())
    return np.concatenate(out)


def _entry(gen: Generator, seeds: Sequence[int], device: torch.device, precision: str) -> np.ndarray:
    import torch

    entry = gen.entry
    if entry.kind == "seeds":
        try:
            result = entry.obj([int(s) for s in seeds])
        except Exception as e:
            raise CheckpointError(f"--entry-point {entry.spec} failed sampling: {type(e).__name__}: "
                                  f"{' '.join(str(e).split())}") from None
        return _as_uint8(result, gen, len(seeds))
    out = []
    devices = [device.index or 0] if device.type == "cuda" else []
    for s in seeds:
        z, _ = draw_latents(s, gen.z_dim, [], gen.architecture.latent)
        args: list[Any] = [torch.from_numpy(z[None]).to(device)]
        if entry.has_c:
            args.append(torch.zeros(1, int(entry.obj.c_dim), device=device))
        kwargs = {"truncation_psi": gen.truncation} if entry.accepts_psi and gen.truncation is not None else {}
        if entry.accepts_noise_mode and gen.noise:
            kwargs["noise_mode"] = gen.noise  # NVlabs' PyTorch generators: 'const' or 'random'
        if entry.accepts_cutoff and gen.truncation_cutoff is not None:
            kwargs["truncation_cutoff"] = gen.truncation_cutoff
        with torch.random.fork_rng(devices=devices), _autocast(device, precision):
            torch.manual_seed(int(s))  # the module's own noise draws, per image, restored after
            try:
                result = entry.obj(*args, **kwargs)
            except Exception as e:
                raise CheckpointError(f"--entry-point {entry.spec} failed sampling: {type(e).__name__}: "
                                      f"{' '.join(str(e).split())}") from None
        out.append(_as_uint8(result, gen, 1))
    return np.concatenate(out)


def _as_uint8(result: Any, gen: Generator, n: int) -> np.ndarray:
    """An entry point's images as uint8 ``(n, H, W, 3)``."""
    import torch

    spec = gen.entry.spec
    if isinstance(result, np.ndarray) and result.dtype != np.uint8:
        result = torch.from_numpy(result)
    if isinstance(result, torch.Tensor) and result.is_floating_point():
        if result.ndim != 4 or result.shape[1] != 3 or result.shape[0] != n:
            raise CheckpointError(f"--entry-point {spec} returned float images of shape {tuple(result.shape)}; "
                                  f"expected ({n}, 3, H, W)")
        return quantize(result.detach(), gen.architecture.output_range).cpu().numpy()
    arr = result.detach().cpu().numpy() if isinstance(result, torch.Tensor) else np.asarray(result)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[0] != n or arr.shape[3] != 3:
        raise CheckpointError(f"--entry-point {spec} returned {arr.dtype} images of shape {arr.shape}; expected "
                              f"uint8 ({n}, H, W, 3) or floats ({n}, 3, H, W)")
    return np.ascontiguousarray(arr)


def finish(images: np.ndarray, model: ModelEntry, out_size: int) -> np.ndarray:
    """Crop to the model's content box (when the output has the model's resolution) and
    downscale to ``out_size`` with Lanczos: uint8 ``(N, out_size, out_size, 3)``."""
    from attribution88.images import center_crop_resize

    n, h, w, _ = images.shape
    if model.crop is not None and (h, w) == (model.resolution, model.resolution):
        ch, cw = model.crop
        top, left = (h - ch) // 2, (w - cw) // 2
        images = images[:, top:top + ch, left:left + cw]
        h, w = ch, cw
    if min(h, w) < out_size:
        raise CheckpointError(f"{model.name}: the generator makes {w}x{h} images, smaller than {out_size} px; "
                              f"attribution88 downscales but never upsamples (it would add its own trace)")
    if (h, w) == (out_size, out_size):
        return np.ascontiguousarray(images)
    return np.stack([center_crop_resize(im, out_size) for im in images])


def sample_png(generator: Generator, seeds: Sequence[int], **kwargs: Any) -> list[bytes]:
    """`sample`, each image encoded as lossless PNG (`attribution88.images.encode_png`)."""
    from attribution88.images import encode_png

    return [encode_png(im) for im in sample(generator, seeds, **kwargs)]


def sample(generator: Generator, seeds: Sequence[int], *, batch_size: int = 64, device: str | None = None,
           out_size: int = OUT_SIZE, precision: str = "fp32", progress: bool = False) -> np.ndarray:
    """Images for ``seeds``: uint8 ``(len(seeds), out_size, out_size, 3)``.

    Image ``i`` depends only on the generator and ``seeds[i]`` (not on ``batch_size``, the
    order of ``seeds`` or the process). ``batch_size`` is how many images are handled per step
    (latents, network calls in micro-batches of `MICRO_BATCH`, downscaling): a memory and
    progress knob. ``device``: where to run (default: where the generator was loaded; moves
    it). ``precision``: ``fp32`` (default), ``bf16`` or ``fp16`` (CUDA) autocast.
    """
    import torch

    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, not {batch_size}")
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if out_size < 1:
        raise UsageError(f"out_size must be >= 1, not {out_size}")
    seeds = [int(s) for s in seeds]
    if any(not 0 <= s < 2**64 for s in seeds):
        raise UsageError("seeds must be integers in [0, 2**64)")
    dev = resolve_device(device or generator.device)
    if str(dev) != generator.device:
        generator.to(dev)
    result = np.empty((len(seeds), out_size, out_size, 3), dtype=np.uint8)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(seeds), unit="img", desc=f"{generator.arch}-{generator.semantic}")
    run = _native if generator.module is not None else _entry
    with torch.no_grad(), _deterministic(dev):
        for i in range(0, len(seeds), batch_size):
            chunk = seeds[i:i + batch_size]
            result[i:i + len(chunk)] = finish(run(generator, chunk, dev, precision), generator.model, out_size)
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return result
