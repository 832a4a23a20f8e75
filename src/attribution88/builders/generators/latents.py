"""A generator's random inputs, shared by `sampling` (one image per seed) and `stand_ins` (the
calibration batch): latents z and noise maps, drawn on the CPU from a numpy generator alone,
and the fixed micro-batch size networks run at. Data flows one way: `sampling` and
`stand_ins` import this module, it imports neither (nor torch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Images per network call, by device type. Fixed, so that each image's arithmetic does
#: not depend on how many images the caller asks for at once (see `sampling`).
MICRO_BATCH = {"cpu": 8, "cuda": 16}
#: dtype of latents and noise maps.
LATENT_DTYPE = np.float32


def draw_z(rng: np.random.Generator, z_dim: int, latent: str) -> np.ndarray:
    """One latent: N(0, 1) or U(-1, 1), float32 ``(z_dim,)``."""
    if latent == "uniform":
        return rng.uniform(-1.0, 1.0, z_dim).astype(LATENT_DTYPE)
    return rng.standard_normal(z_dim, dtype=LATENT_DTYPE)


def draw_noise(rng: np.random.Generator, shapes: Sequence[tuple[int, int]], count: int | None = None
               ) -> list[np.ndarray]:
    """One noise map per shape: ``(1, H, W)``, or ``(count, 1, H, W)``, N(0, 1) float32."""
    lead = (1,) if count is None else (count, 1)
    return [rng.standard_normal((*lead, h, w), dtype=LATENT_DTYPE) for h, w in shapes]


def draw_latents(seed: int, z_dim: int, noise_shapes: Sequence[tuple[int, int]], latent: str
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """z ``(z_dim,)`` then one noise map ``(1, H, W)`` per shape, from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    z = draw_z(rng, z_dim, latent)
    return z, draw_noise(rng, noise_shapes)
