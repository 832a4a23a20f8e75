"""CramerGAN (Bellemare et al., The Cramer Distance as a Solution to Biased Wasserstein
Gradients, 2017), as trained with mbinkowski/MMD-GAN (``-model cramer``): the g-resnet5
generator, shared with MMDGAN, against a critic trained with the energy-distance (Cramér) loss
of the paper. What sets it apart from MMDGAN is training only: a 256-d critic output
(``dof_dim``) and a gradient penalty of weight 10. So its entry is MMDGAN's (mmdgan.py: the
g-resnet5 config, stand-in settings, latent, output range and sigmoid output; PyTorch
implementation `networks.resnet5`) with its own paper and recipe.
"""

from __future__ import annotations

from dataclasses import replace

from . import mmdgan
from .base import Recipe

ARCHITECTURE = replace(
    mmdgan.ARCHITECTURE,
    name="cramergan",
    paper="Bellemare et al., The Cramer Distance (2017)",
    recipe=Recipe("model cramer, architecture g-resnet5, dof_dim 256, gradient_penalty 10", iterations=150_000),
)
