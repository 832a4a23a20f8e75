"""The flavours of the 19 corruptions and `apply`, one corruption at the image's own size."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import ImageError, SpecError, UsageError
from ..images import as_rgb
from ..registry import Registry
from ..spec import NO_PERTURBATION, SPEC
from . import _ops, blur, digital, noise, weather  # noqa: F401  (they define the corruptions)
from ._base import DEFINED, FLAVOUR_NAMES, CorruptionFn

#: Smallest side `apply` accepts, as imagecorruptions (`apply_protocol` works at 224 px and
#: takes any non-empty image).
MIN_SIDE = 32


@dataclass(frozen=True)
class Flavour:
    """One set of definitions of the 19 corruptions.

    ``channel_order``: the order the code it reproduces sees an image's channels in ("BGR":
    the official RepMix wrapper reverses RGB before calling imagenet_c, and back after);
    `apply` puts the image in that order around the corruption. ``reference``: what it
    reproduces. ``corruptions``: the functions, by name, in the spec's order.
    """

    name: str
    channel_order: str
    reference: str
    corruptions: Registry[CorruptionFn]


_REFERENCES = {
    "repmix": "imagenet_c 0.0.3 (hendrycks/robustness) through the official RepMix wrapper "
              "(TuBui/image_attribution, utils/augment_imagenetc.py): BGR order",
    "imagecorruptions": "imagecorruptions 1.1.2 (bethgelab/imagecorruptions): RGB order",
}
_CHANNEL_ORDERS = {"repmix": "BGR", "imagecorruptions": "RGB"}


def _build_flavours() -> Registry[Flavour]:
    flavours: Registry[Flavour] = Registry("perturbation flavour")
    for flavour in FLAVOUR_NAMES:
        defined = DEFINED[flavour]
        missing = [n for n in SPEC.perturbation_names if n not in defined]
        extra = sorted(set(defined) - set(SPEC.perturbation_names))
        if missing or extra:
            raise SpecError(f"the spec's perturbations and the {flavour} corruptions differ: "
                            f"not implemented {missing}, not in the spec {extra}")
        table: Registry[CorruptionFn] = Registry("perturbation")
        for name in SPEC.perturbation_names:
            table.add(name, defined[name])
        flavours.add(flavour, Flavour(flavour, _CHANNEL_ORDERS[flavour], _REFERENCES[flavour], table))
    spec_flavour = flavours.get(SPEC.protocol.flavour)
    if spec_flavour.channel_order != SPEC.protocol.channel_order:
        raise SpecError(f"the spec's protocol puts flavour {spec_flavour.name!r} in "
                        f"{SPEC.protocol.channel_order} order; its definitions see {spec_flavour.channel_order}")
    return flavours


#: The two flavours, by name ("repmix", "imagecorruptions").
FLAVOURS: Registry[Flavour] = _build_flavours()

#: The 19 corruption functions of the spec's flavour (``SPEC.protocol.flavour``), by name, in
#: the spec's (official ImageNet-C) order; every flavour has the same names.
CORRUPTIONS: Registry[CorruptionFn] = FLAVOURS.get(SPEC.protocol.flavour).corruptions


def flavour_of(flavour: str | None) -> Flavour:
    """The `Flavour` named ``flavour`` (None: the spec's, ``SPEC.protocol.flavour``)."""
    return FLAVOURS.get(SPEC.protocol.flavour if flavour is None else flavour)


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


def corrupt(x: np.ndarray, name: str, severity: int, rng: np.random.Generator,
            flavour: Flavour) -> np.ndarray:
    """The core of `apply`: corruption ``name`` of ``flavour`` on RGB uint8 ``x`` (H, W, 3),
    in the flavour's channel order, with every draw from ``rng`` (any object with the
    `numpy.random.Generator` methods the corruption calls). Returns RGB uint8."""
    fn = flavour.corruptions.get(name)
    bgr = flavour.channel_order == "BGR"
    src = np.ascontiguousarray(x[:, :, ::-1]) if bgr else x.view()
    src.flags.writeable = False
    y = fn(src, severity, rng)
    if y.shape != x.shape:
        raise AssertionError(f"{name} returned shape {y.shape} for an image of shape {x.shape}")
    if y.dtype != np.uint8:
        y = _ops.to_uint8(y)
    return np.ascontiguousarray(y[:, :, ::-1] if bgr else y)


@dataclass(frozen=True)
class Call:
    """The checked inputs of one corruption (`apply`, `apply_protocol`)."""

    image: np.ndarray  # RGB uint8 (H, W, 3)
    name: str
    severity: int
    rng: np.random.Generator
    flavour: Flavour


def checked_call(image: np.ndarray | Image.Image, name: str, severity: int, seed: int,
                 flavour: str | None) -> Call:
    """Check the arguments of a corruption (a `UsageError` or `UnknownNameError` in one line)
    and convert the image to RGB uint8 (`attribution88.images.as_rgb`)."""
    fl = flavour_of(flavour)
    if name != NO_PERTURBATION:
        fl.corruptions.get(name)
    severity = check_severity(severity)
    rng = generator(seed)
    return Call(as_rgb(image), name, severity, rng, fl)


def apply(image: np.ndarray | Image.Image, name: str, severity: int, seed: int,
          flavour: str | None = None) -> np.ndarray:
    """Corrupt ``image`` with ImageNet-C corruption ``name`` at ``severity`` (1..5).

    ``image``: RGB uint8 (H, W, 3), or anything `attribution88.images.as_rgb` converts (grey
    is repeated to three channels, an alpha channel dropped, a PIL image converted), each side
    at least `MIN_SIDE` pixels. ``flavour``: "repmix" (imagenet_c as the official RepMix code
    applies it, BGR order) or "imagecorruptions"; default the spec's (``SPEC.protocol.flavour``).
    Returns a new RGB uint8 (H, W, 3) array; the input is never modified. The corruption is
    computed at the image's own size (ImageNet-C's parameters assume 224 px; where imagenet_c
    hard-codes 224 the image's size is used; `apply_protocol` resizes as the benchmark does).

    Deterministic: every random draw comes from ``PCG64(seed)``, created for this call, so
    the same (image, name, severity, seed, flavour) give the same bytes in any process, thread
    or order (for a given numpy / OpenCV / Pillow build). ``name == "none"`` returns a copy.
    """
    c = checked_call(image, name, severity, seed, flavour)
    if name == NO_PERTURBATION:
        return c.image.copy()
    h, w = c.image.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ImageError(f"image is {w}x{h}; corruptions need at least {MIN_SIDE}x{MIN_SIDE} "
                         f"pixels (apply_protocol works at {SPEC.protocol.work_size} px and takes any size)")
    return corrupt(c.image, name, c.severity, c.rng, c.flavour)
