"""The 19 ImageNet-C corruptions (Hendrycks & Dietterich, ICLR 2019), deterministic and fast,
in two flavours.

>>> import numpy as np
>>> from attribution88 import perturb
>>> x = np.full((64, 64, 3), 128, np.uint8)
>>> y = perturb.apply(x, "gaussian_noise", 3, seed=7)
>>> y.shape, y.dtype, bool((y == perturb.apply(x, "gaussian_noise", 3, seed=7)).all())
((64, 64, 3), dtype('uint8'), True)

- `apply(image, name, severity, seed, flavour=None)`: one corruption at the image's own size.
- `apply_protocol(...)`: the benchmark's protocol (resize to 224, corrupt, resize back).
- `apply_assignment(image, assignment)`: a test image as its id assigns it.
- `training_perturbation(image, seed)`: the training-time draw (p = 0.95, seen set).
- `FLAVOURS`: the two sets of definitions; `CORRUPTIONS`: the 19 functions of the spec's.

Flavours (``flavour=``; the default is the spec's protocol, ``SPEC.protocol.flavour``):

- ``repmix`` (the benchmark's): the original ImageNet-C code (``imagenet_c``, imagenet-c 0.0.3
  on the package index) as the official RepMix code applies it — the image in BGR order around
  the corruption. Its elastic_transform is a random affine warp plus a large displacement
  field; frost crops its texture at the texture's resolution; motion_blur and snow use
  ImageMagick's motion blur with an 8-bit PNG round trip, re-implemented here (no ImageMagick
  at run time). Checked cell by cell against statistics of imagenet_c through the official
  wrapper, and against imagenet_c itself fed the same random numbers
  (tests/test_perturb_repmix.py).
- ``imagecorruptions``: imagecorruptions 1.1.2, the repackaging of ImageNet-C (RGB order, its
  own elastic_transform, frost texture rescale and floating-point motion blur); checked
  against that package (tests/test_perturb_fidelity.py).

The random draws of either reference are not reproduced (they use numpy's global generator);
each call here owns a PCG64 generator.
"""

from __future__ import annotations

from .engine import CORRUPTIONS, FLAVOURS, MIN_SIDE, Flavour, apply
from .protocol import apply_assignment, apply_protocol, training_perturbation

__all__ = ["CORRUPTIONS", "FLAVOURS", "MIN_SIDE", "Flavour", "apply", "apply_assignment",
           "apply_protocol", "training_perturbation"]
