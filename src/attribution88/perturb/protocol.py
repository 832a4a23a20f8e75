"""The benchmark's protocol around `apply`: work size, test assignments, training draws.

The spec's protocol (``SPEC.protocol``, the official RepMix code's: utils/augment_imagenetc.py
of github.com/TuBui/image_attribution): the image is resized (bilinear) to 224 x 224, put in
BGR order, corrupted with the ``repmix`` flavour (imagenet_c's definitions), put back in RGB
order and resized (bilinear) back to its own size. Test images take the perturbation, severity
and seed their id assigns (`attribution88.ids.assign`); training applies, with probability
0.95, one of the 15 seen perturbations (uniform) at a uniform severity 1..5. Every function
takes ``flavour`` ("repmix" or "imagecorruptions"; default the spec's): the other flavour
runs in its own channel order, at the same size, with the same resizing.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import UsageError
from ..ids import Assignment
from ..images import as_rgb
from ..spec import NO_PERTURBATION, SPEC
from .engine import checked_call, corrupt, generator


def _resize(x: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pillow's bilinear resize (antialiased when shrinking), as the official code."""
    if x.shape[1] == width and x.shape[0] == height:
        return x
    return np.asarray(Image.fromarray(x).resize((width, height), Image.Resampling.BILINEAR))


def apply_protocol(image: np.ndarray | Image.Image, name: str, severity: int, seed: int,
                   flavour: str | None = None) -> np.ndarray:
    """The official protocol: resize to ``SPEC.protocol.work_size`` (224) bilinear, corrupt
    (`attribution88.perturb.apply`: ``flavour``, default the spec's, in its channel order),
    resize back bilinear to the input's size. Any non-empty image; returns RGB uint8 (H, W, 3)
    of the input's size. ``name == "none"`` returns the image unchanged (as RGB uint8)."""
    c = checked_call(image, name, severity, seed, flavour)
    if name == NO_PERTURBATION:
        return c.image.copy()
    h, w = c.image.shape[:2]
    size = SPEC.protocol.work_size
    y = corrupt(_resize(c.image, size, size), name, c.severity, c.rng, c.flavour)
    return np.ascontiguousarray(_resize(y, w, h))


def apply_assignment(image: np.ndarray | Image.Image, assignment: Assignment,
                     flavour: str | None = None) -> np.ndarray:
    """A test image as the spec assigns it: `apply_protocol` with the assignment's
    perturbation, severity and perturbation seed (and ``flavour``, default the spec's);
    unchanged (RGB uint8) when it is "none"."""
    if assignment.perturbation == NO_PERTURBATION:
        return as_rgb(image).copy()
    if assignment.perturbation_seed is None:
        raise UsageError(f"{assignment.id}: perturbation {assignment.perturbation!r} has no seed")
    return apply_protocol(image, assignment.perturbation, assignment.severity,
                          assignment.perturbation_seed, flavour)


def training_perturbation(image: np.ndarray | Image.Image, seed: int, p: float | None = None,
                          flavour: str | None = None) -> tuple[np.ndarray, str, int]:
    """Training-time augmentation: with probability ``p`` (default ``SPEC.protocol.train_probability``,
    0.95; the official validation uses 1.0) a seen perturbation (uniform over the 15) at a
    uniform severity 1..5, by `apply_protocol` (``flavour``: default the spec's).

    Every choice comes from ``PCG64(seed)``; pass ``ids.train_augmentation_seed(id, epoch)``.
    Returns (RGB uint8 (H, W, 3), perturbation name or "none", severity or 0).
    """
    rng = generator(seed)
    if rng.random() >= (SPEC.protocol.train_probability if p is None else p):
        return as_rgb(image).copy(), NO_PERTURBATION, 0
    seen = SPEC.seen_perturbations()
    name = seen[int(rng.integers(len(seen)))].name
    severity = SPEC.severities[int(rng.integers(len(SPEC.severities)))]
    corruption_seed = int(rng.integers(2 ** 63))
    return apply_protocol(image, name, severity, corruption_seed, flavour), name, severity
