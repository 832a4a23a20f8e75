"""The contract of a corruption function, and the decorator that collects them.

A corruption is ``fn(x, severity, rng) -> array``: ``x`` RGB uint8 (H, W, 3), never modified;
``severity`` 1..5; ``rng`` the call's own ``numpy.random.Generator``, the only source of
randomness. It returns the corrupted image on the 0..255 scale, (H, W, 3): uint8, or float,
which `attribution88.perturb.apply` clips and truncates to uint8 as ImageNet-C does.

Parameter tables (one entry per severity 1..5) are those of imagecorruptions 1.1.2
(Michaelis et al., 2019, github.com/bethgelab/imagecorruptions, Apache-2.0), itself a
packaging of ImageNet-C (Hendrycks & Dietterich, ICLR 2019, github.com/hendrycks/robustness,
Apache-2.0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CorruptionFn = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

#: Every corruption function defined, by name; `attribution88.perturb.CORRUPTIONS` orders
#: them as the spec does.
DEFINED: dict[str, CorruptionFn] = {}


def corruption(fn: CorruptionFn) -> CorruptionFn:
    """Record ``fn`` under its function name (which must be an ImageNet-C name)."""
    if fn.__name__ in DEFINED:
        raise ValueError(f"corruption {fn.__name__!r} defined twice")
    DEFINED[fn.__name__] = fn
    return fn
