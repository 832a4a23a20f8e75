"""The table of the 19 corruptions and `apply`, one corruption at the image's own size."""

from __future__ import annotations

import numbers

import numpy as np
from PIL import Image

from ..errors import ImageError, SpecError, UsageError
from ..images import as_rgb
from ..registry import Registry
from ..spec import NO_PERTURBATION, SPEC
from . import _ops, blur, digital, noise, weather  # noqa: F401  (they define the corruptions)
from ._base import DEFINED, CorruptionFn

#: Smallest side `apply` accepts, as imagecorruptions (`apply_protocol` works at 224 px and
#: takes any non-empty image).
MIN_SIDE = 32


def _build_registry() -> Registry[CorruptionFn]:
    table: Registry[CorruptionFn] = Registry("perturbation")
    missing = [n for n in SPEC.perturbation_names if n not in DEFINED]
    extra = sorted(set(DEFINED) - set(SPEC.perturbation_names))
    if missing or extra:
        raise SpecError(f"the spec's perturbations and the implemented corruptions differ: "
                        f"not implemented {missing}, not in the spec {extra}")
    for name in SPEC.perturbation_names:
        table.add(name, DEFINED[name])
    return table


#: The 19 corruption functions, by name, in the spec's (official ImageNet-C) order.
CORRUPTIONS: Registry[CorruptionFn] = _build_registry()


def check_severity(severity: object) -> int:
    """``severity`` as an int in the spec's range (1..5); `UsageError` otherwise."""
    if isinstance(severity, bool) or not isinstance(severity, numbers.Integral) \
            or int(severity) not in SPEC.severities:
        lo, hi = min(SPEC.severities), max(SPEC.severities)
        raise UsageError(f"severity must be an integer from {lo} to {hi}, not {severity!r}")
    return int(severity)


def check_seed(seed: object) -> int:
    """``seed`` as a non-negative int; `UsageError` otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise UsageError(f"seed must be a non-negative integer, not {seed!r}")
    return int(seed)


def generator(seed: int) -> np.random.Generator:
    """The call's own random generator: PCG64 seeded with ``seed`` (no global state)."""
    return np.random.Generator(np.random.PCG64(check_seed(seed)))


def apply(image: np.ndarray | Image.Image, name: str, severity: int, seed: int) -> np.ndarray:
    """Corrupt ``image`` with ImageNet-C corruption ``name`` at ``severity`` (1..5).

    ``image``: RGB uint8 (H, W, 3), or anything `attribution88.images.as_rgb` converts (grey
    is repeated to three channels, an alpha channel dropped, a PIL image converted), each side
    at least `MIN_SIDE` pixels. Returns a new RGB uint8 (H, W, 3) array; the input is never
    modified. The corruption is computed at the image's own size (ImageNet-C's parameters
    assume about 224 px; `apply_protocol` resizes as the benchmark does).

    Deterministic: every random draw comes from ``PCG64(seed)``, created for this call, so
    the same (image, name, severity, seed) give the same bytes in any process, thread or
    order (for a given numpy / OpenCV / Pillow build). ``name == "none"`` returns a copy.
    """
    fn = None if name == NO_PERTURBATION else CORRUPTIONS.get(name)
    severity = check_severity(severity)
    rng = generator(seed)
    x = as_rgb(image)
    if fn is None:
        return x.copy()
    h, w = x.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ImageError(f"image is {w}x{h}; corruptions need at least {MIN_SIDE}x{MIN_SIDE} "
                         f"pixels (apply_protocol works at {SPEC.protocol.work_size} px and takes any size)")
    x = x.view()
    x.flags.writeable = False
    y = fn(x, severity, rng)
    if y.shape != x.shape:
        raise AssertionError(f"{name} returned shape {y.shape} for an image of shape {x.shape}")
    if y.dtype != np.uint8:
        y = _ops.to_uint8(y)
    return np.ascontiguousarray(y)
