"""The contract of a corruption function, and the decorator that collects them per flavour.

A corruption is ``fn(x, severity, rng) -> array``: ``x`` uint8 (H, W, 3) in the channel order
of its flavour (`attribution88.perturb.engine` flips RGB to BGR for ``repmix``), never
modified; ``severity`` 1..5; ``rng`` the call's own ``numpy.random.Generator``, the only source
of randomness. It returns the corrupted image on the 0..255 scale, (H, W, 3): uint8, or float,
which the engine clips and truncates to uint8 as ImageNet-C does.

Two flavours of the 19 corruptions (`FLAVOUR_NAMES`, the spec's):

- ``repmix``: the original ImageNet-C code (Hendrycks & Dietterich, ICLR 2019,
  github.com/hendrycks/robustness, ``imagenet_c``, Apache-2.0; on the package index as
  imagenet-c 0.0.3), which the official RepMix code imports;
- ``imagecorruptions``: its repackaging imagecorruptions 1.1.2 (Michaelis et al., 2019,
  github.com/bethgelab/imagecorruptions, Apache-2.0), which rewrote elastic_transform, frost's
  texture crop and the motion blur of motion_blur and snow.

Parameter tables (one entry per severity 1..5) come from those sources; where the two agree
(every table but elastic_transform's) they are written once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..spec import FLAVOURS

CorruptionFn = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

#: The flavours, as the spec lists them (``attribution88.spec.FLAVOURS``).
FLAVOUR_NAMES = FLAVOURS

#: Every corruption function defined, by flavour then name; `attribution88.perturb.FLAVOURS`
#: orders them as the spec does.
DEFINED: dict[str, dict[str, CorruptionFn]] = {f: {} for f in FLAVOUR_NAMES}


def corruption(fn: CorruptionFn | None = None, *, name: str | None = None,
               flavours: tuple[str, ...] = FLAVOUR_NAMES):
    """Record ``fn`` under ``name`` (default: its function name, an ImageNet-C name) for each
    of ``flavours`` (default: both, a definition they share)."""

    def record(fn: CorruptionFn) -> CorruptionFn:
        key = name or fn.__name__
        for flavour in flavours:
            if key in DEFINED[flavour]:
                raise ValueError(f"corruption {key!r} defined twice for flavour {flavour!r}")
            DEFINED[flavour][key] = fn
        return fn

    return record(fn) if fn is not None else record
