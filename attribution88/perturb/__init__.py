"""The 19 ImageNet-C corruptions (Hendrycks & Dietterich, ICLR 2019), deterministic and fast.

>>> import numpy as np
>>> from attribution88 import perturb
>>> x = np.full((64, 64, 3), 128, np.uint8)
>>> y = perturb.apply(x, "gaussian_noise", 3, seed=7)
>>> y.shape, y.dtype, bool((y == perturb.apply(x, "gaussian_noise", 3, seed=7)).all())
((64, 64, 3), dtype('uint8'), True)

- `apply(image, name, severity, seed)`: one corruption at the image's own size.
- `apply_protocol(...)`: the benchmark's protocol (resize to 224, corrupt, resize back).
- `apply_assignment(image, assignment)`: a test image as its id assigns it.
- `training_perturbation(image, seed)`: the training-time draw (p = 0.95, seen set).
- `CORRUPTIONS`: the registry of the 19 functions, in the spec's order.

The definitions (parameter tables per severity, noise models, kernels, the frost textures,
the plasma fractal, glass blur's pixel shuffle, JPEG qualities) are those of imagecorruptions
1.1.2, the packaging of ImageNet-C that the design names; its statistics are checked cell by
cell against that package (tests/test_perturb_fidelity.py). Its random draws are not
reproduced (it uses numpy's global generator); each call here owns a PCG64 generator.
"""

from __future__ import annotations

from .engine import CORRUPTIONS, MIN_SIDE, apply
from .protocol import apply_assignment, apply_protocol, training_perturbation

__all__ = ["CORRUPTIONS", "MIN_SIDE", "apply", "apply_assignment", "apply_protocol",
           "training_perturbation"]
