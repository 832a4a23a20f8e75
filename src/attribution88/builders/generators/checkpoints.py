"""Native checkpoints: a safetensors state dict plus a JSON config record beside it.

``DIR/stylegan2-bedroom.safetensors`` holds the tensors of this package's StyleGAN2
implementation; ``DIR/stylegan2-bedroom.json`` says what they are::

    {"format": "attribution88.generator", "format_version": 1, "arch": "stylegan2",
     "semantic": "bedroom", "config": {...the family's Config...}, "source": "..."}

Loading never executes code from a file: only safetensors (a JSON header and raw tensor
bytes) and JSON are read. Pickle-based files (``.pkl``, ``.pt``, ``.pth``, ``.ckpt``, or any
file that starts like a pickle or a torch zip archive) are refused before they are opened
as anything else, with the command that converts them: ``attribution88 generators convert
FILE --arch ARCH --semantic SEM`` reads the authors' released formats without running them
(`convert`). The StyleGAN2 and StyleGAN3 implementations use the tensor names and
conventions of NVlabs' PyTorch code (stylegan2-ada-pytorch, stylegan3), so the
``state_dict()`` of a ``G_ema`` loaded there also converts as is with `from_state_dict`
(checked once against NVlabs' generators on CPU: same outputs to 3e-5 for StyleGAN2, 4e-6
for StyleGAN3-T, given the same weights; see the project notes).

The record may carry ``"sampling": {"truncation_psi", "truncation_cutoff", "noise"}``: how the
authors' code samples this network by default (written by `convert`); without it the
manifest's per-model values apply.

Every failure is one line naming the file and the architecture expected: missing file,
missing or inconsistent record, wrong architecture, truncated or corrupt safetensors, a tensor
missing, unexpected or of the wrong shape.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attribution88.digests import file_sha256
from attribution88.errors import CheckpointError
from attribution88.versioned import read_version

from .architectures import ARCHITECTURES
from .base import GeneratorConfig
from .manifest import RECORD_SUFFIX, WEIGHTS_SUFFIX

if TYPE_CHECKING:
    import torch

FORMAT, FORMAT_VERSION = "attribution88.generator", 1
#: Suffixes of pickle-based formats, refused outright.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin", ".tar", ".npz", ".npy")
_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04", b"(dp", b"(lp", b"}q", b"]q", b"\x93NUMPY")
_DTYPES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}
_MAX_HEADER = 100 * 1024 * 1024


def _conversion_hint(arch: str, path: Path | str = "FILE") -> str:
    return (f"convert it first (nothing in it is run): attribution88 generators convert {path} --arch {arch} "
            f"--semantic SEMANTIC --out DIR, then pass --checkpoints DIR")


@dataclass(frozen=True)
class CheckpointInfo:
    """What was loaded: the file, its sha256 and its config record."""

    path: Path
    sha256: str
    arch: str
    semantic: str
    config: GeneratorConfig
    record: dict[str, Any]

    @property
    def sampling(self) -> dict[str, Any]:
        """The record's ``sampling`` (truncation, noise), checked; empty when absent."""
        return sampling_from_record(self.record, self.path)

    @property
    def origin(self) -> str:
        """``checkpoint:<file name>#sha256:<first 12 hex>`` (the dataset's `origin` column)."""
        return f"checkpoint:{self.path.name}#sha256:{self.sha256[:12]}"


def sampling_from_record(record: dict[str, Any], where: Path | str) -> dict[str, Any]:
    """``record["sampling"]``: ``truncation_psi`` (number or null), ``truncation_cutoff`` (int
    or null), ``noise`` (``const``, ``random`` or null); anything else raises `CheckpointError`."""
    sampling = record.get("sampling")
    if sampling is None:
        return {}
    ok = isinstance(sampling, dict) and set(sampling) <= {"truncation_psi", "truncation_cutoff", "noise"}
    psi, cut, noise = (sampling.get(k) if ok else None for k in ("truncation_psi", "truncation_cutoff", "noise"))
    ok = ok and (psi is None or (isinstance(psi, (int, float)) and not isinstance(psi, bool) and 0 <= psi <= 2))
    ok = ok and (cut is None or (isinstance(cut, int) and not isinstance(cut, bool) and cut >= 1))
    ok = ok and noise in (None, "const", "random")
    if not ok:
        raise CheckpointError(f"{where}: its record's sampling {sampling!r} is invalid (expected truncation_psi "
                              f"0..2 or null, truncation_cutoff >= 1 or null, noise const/random/null)")
    return dict(sampling)


def looks_like_pickle(path: Path) -> bool:
    """A pickle-based file by its suffix or first bytes (never unpickled)."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    if len(head) == 9 and head[8:9] == b"{":
        return False  # a safetensors header
    return path.suffix.lower() in PICKLE_SUFFIXES or head.startswith(_PICKLE_MAGIC)


def refuse_pickle(path: Path, arch: str) -> None:
    """Raise `CheckpointError` if ``path`` is (or looks like) a pickle-based file. Reads at
    most the first bytes; never unpickles."""
    what = f"{path}: expected a {arch} generator as safetensors"
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(f"{what}, not a {path.suffix} file: attribution88 never unpickles checkpoints "
                              f"(unpickling runs code from the file); {_conversion_hint(arch, path)}")
    try:
        with open(path, "rb") as f:
            head = f.read(9)
        size = path.stat().st_size
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror}); expected a {arch} generator checkpoint") from None
    if len(head) == 9 and struct.unpack("<Q", head[:8])[0] <= size - 8 and head[8:9] == b"{":
        return  # a safetensors header (a length, then a JSON object), whatever its first byte
    if head.startswith(_PICKLE_MAGIC):
        kind = "a torch zip archive" if head.startswith(b"PK") else "a pickle"
        raise CheckpointError(f"{what}, but the file is {kind}: attribution88 never unpickles checkpoints "
                              f"(unpickling runs code from the file); {_conversion_hint(arch, path)}")


def read_safetensors_header(path: Path, arch: str) -> dict[str, Any]:
    """The JSON header of a safetensors file, after checking that the file is complete (the
    tensors' byte ranges tile the data section exactly)."""
    size = path.stat().st_size
    corrupt = f"{path}: not a valid safetensors file"
    expected = f"expected a {arch} generator checkpoint"
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{corrupt} ({size} bytes: truncated); {expected}")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, _MAX_HEADER):
            raise CheckpointError(f"{corrupt} (header of {n} bytes in a {size}-byte file: truncated or "
                                  f"not safetensors); {expected}")
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CheckpointError(f"{corrupt} (unreadable header); {expected}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{corrupt} (header is not a JSON object); {expected}")
    end = 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, stop = t["data_offsets"]
            dtype, shape = t["dtype"], t["shape"]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{corrupt} (bad entry for tensor {name!r}); {expected}") from None
        if dtype not in _DTYPES:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {dtype}; a generator's tensors are "
                                  f"floating point (F32, F16, BF16 or F64)")
        count = 1
        for d in shape:
            count *= d
        if stop - begin != count * _DTYPES[dtype]:
            raise CheckpointError(f"{corrupt} (tensor {name!r}: byte range does not match its shape); {expected}")
        end = max(end, stop)
    if 8 + n + end != size:
        state = "truncated" if 8 + n + end > size else "has trailing bytes"
        raise CheckpointError(f"{corrupt} ({state}: {size} bytes, its header describes {8 + n + end}); {expected}")
    return header


def read_record(path: Path, arch: str, semantic: str | None) -> tuple[dict[str, Any], GeneratorConfig]:
    """The config record beside ``path`` (same stem, ``.json``), checked against ``arch``."""
    rec_path = path.with_suffix(RECORD_SUFFIX)
    if not rec_path.is_file():
        raise CheckpointError(f"{path}: its config record {rec_path.name} is missing (expected beside it, "
                              f"describing a {arch} generator)")
    try:
        record = json.loads(rec_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{rec_path}: not a readable JSON config record ({type(e).__name__}); "
                              f"expected one for a {arch} generator") from None
    read_version(record, where=f"{rec_path} (generator record)", kind=FORMAT, kind_key="format",
                 key="format_version", supported=FORMAT_VERSION, error=CheckpointError, exact=True,
                 remedy="convert the original checkpoint again with `attribution88 generators convert`")
    rec_arch = record.get("arch")
    if rec_arch != arch:
        raise CheckpointError(f"{path}: its record says it is a {rec_arch!r} generator, expected a {arch} "
                              f"generator (wrong architecture)")
    if semantic is not None and record.get("semantic") not in (None, semantic):
        raise CheckpointError(f"{path}: its record says semantic {record.get('semantic')!r}, expected {semantic!r}")
    config = ARCHITECTURES.get(arch).config_class.from_dict(record.get("config"), where=f"{rec_path} ({arch})")
    return record, config


def _guess_arch(names: set[str]) -> str | None:
    """The architecture whose stand-in's tensor names look most like ``names``."""
    import re

    def shape(n: str) -> str:
        return re.sub(r"\d+", "#", n)

    target = {shape(n) for n in names}
    best, score = None, 0.0
    for arch_name, arch in ARCHITECTURES.items():
        keys = {shape(k) for k in arch.module().Generator(arch.stand_in_config()).state_dict()}
        s = len(keys & target) / max(1, len(keys | target))
        if s > score:
            best, score = arch_name, s
    return best if score >= 0.5 else None


def check_state_dict(path: Path, arch: str, expected: dict[str, tuple[int, ...]],
                     found: dict[str, tuple[int, ...]]) -> None:
    """Compare tensor names and shapes with what the architecture's config builds."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        guess = _guess_arch(set(found))
        hint = f"; its tensors look like a {guess} generator's (wrong architecture?)" if guess and guess != arch else ""
        parts = []
        if missing:
            parts.append(f"missing {missing[0]!r}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
        if unexpected:
            more = f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""
            parts.append(f"unexpected {unexpected[0]!r}{more}")
        raise CheckpointError(f"{path}: not the tensors of a {arch} generator with the recorded config "
                              f"({', '.join(parts)}){hint}")
    for name in sorted(expected):
        if tuple(found[name]) != tuple(expected[name]):
            raise CheckpointError(f"{path}: tensor {name!r} has shape {list(found[name])} where a {arch} generator "
                                  f"with the recorded config expects {list(expected[name])} (shape mismatch)")


#: Buffers of the authors' PyTorch generators that this package derives from the config.
DERIVED_BUFFERS = ("resample_filter", "up_filter", "down_filter")


def from_state_dict(arch: str, state_dict: dict[str, torch.Tensor], config: GeneratorConfig) -> torch.nn.Module:
    """``arch``'s generator with ``config``, loaded from a state dict of the same tensor names
    (e.g. NVlabs' ``G_ema.state_dict()``; derived buffers such as filters are dropped; the
    stored noise maps ``noise_const`` are kept). Names or shapes that do not fit raise `CheckpointError`."""
    import torch

    a = ARCHITECTURES.get(arch)
    if not isinstance(config, a.config_class):
        raise CheckpointError(f"from_state_dict: config must be a {a.config_class.__module__}.Config for {arch}")
    module = a.module().Generator(config)
    state = {k: v for k, v in state_dict.items() if k.rsplit(".", 1)[-1] not in DERIVED_BUFFERS}
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    check_state_dict(Path("<state dict>"), arch, expected, {k: tuple(v.shape) for k, v in state.items()})
    module.load_state_dict({k: v.detach().to("cpu", torch.float32) for k, v in state.items()}, strict=True)
    return module.eval()


def load_checkpoint(path: str | os.PathLike, arch: str, semantic: str | None = None
                    ) -> tuple[torch.nn.Module, CheckpointInfo]:
    """Build ``arch``'s generator from a native checkpoint (safetensors + JSON record).

    ``path`` is the ``.safetensors`` file. Returns the module (CPU, eval mode) and what was
    loaded. Raises `CheckpointError` with one line naming the file for anything wrong.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    ARCHITECTURES.get(arch)
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; pass the {arch}-SEMANTIC{WEIGHTS_SUFFIX} file, or the folder "
                              f"with --checkpoints")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file (expected a {arch} generator checkpoint, "
                              f"{arch}-SEMANTIC{WEIGHTS_SUFFIX} with its .json record)")
    refuse_pickle(path, arch)
    header = read_safetensors_header(path, arch)
    meta = header.get("__metadata__") or {}
    if isinstance(meta, dict) and meta.get("arch") not in (None, arch):
        raise CheckpointError(f"{path}: is a {meta['arch']!r} generator checkpoint, expected a {arch} generator "
                              f"(wrong architecture)")
    record, config = read_record(path, arch, semantic)
    family = ARCHITECTURES.get(arch).module()
    module = family.Generator(config)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
    check_state_dict(path, arch, expected, found)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({' '.join(str(e).split())}); "
                              f"expected a {arch} generator checkpoint") from None
    module.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()}, strict=True)
    module.eval()
    info = CheckpointInfo(path, file_sha256(path), arch, record.get("semantic") or semantic or "", config, record)
    return module, info


def save_checkpoint(module: torch.nn.Module, directory: str | os.PathLike, *, arch: str, semantic: str,
                    source: str = "", sampling: dict[str, Any] | None = None) -> Path:
    """Write ``module`` (one of this package's generators) as ``DIR/<arch>-<semantic>.safetensors``
    plus its ``.json`` config record, each to a temporary name then renamed. ``source`` says
    where the weights come from; ``sampling`` how the authors sample it (truncation, noise;
    both recorded). Returns the safetensors path."""
    from safetensors.torch import save_file

    from attribution88.atomic import atomic_path, write_json

    family = ARCHITECTURES.get(arch).module()
    from attribution88.spec import SPEC
    SPEC.semantic(semantic)
    if not isinstance(module, family.Generator):
        raise CheckpointError(f"save_checkpoint: expected this package's {arch} generator "
                              f"({family.__name__}.Generator), got {type(module).__name__}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{arch}-{semantic}{WEIGHTS_SUFFIX}"
    config = module.config.to_dict()
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT, "arch": arch, "semantic": semantic,
                                             "config": json.dumps(config, sort_keys=True)})
    write_json(path.with_suffix(RECORD_SUFFIX), {
        "format": FORMAT, "format_version": FORMAT_VERSION, "arch": arch, "semantic": semantic,
        "config": config, "source": source, **({"sampling": sampling} if sampling else {})})
    return path
