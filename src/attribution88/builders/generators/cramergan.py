"""CramerGAN (Bellemare et al., The Cramer Distance as a Solution to Biased Wasserstein
Gradients, 2017), as trained with mbinkowski/MMD-GAN (``-model cramer``): the g-resnet5
generator (`resnet5`, shared with MMDGAN) against a critic trained with the energy-distance
(Cramér) loss of the paper. What sets it apart from MMDGAN is training only: a 256-d critic
output (``dof_dim``) and a gradient penalty of weight 10. The generator, its config and its
stand-in are those of `resnet5`.
"""

#: The registry entry (`architectures.Architecture`), read from this file's text without importing
#: it: a literal, no names or calls. The rest of the entry is the network's (resnet5.py).
ARCHITECTURE = {
    "network": "resnet5",
    "paper": "Bellemare et al., The Cramer Distance (2017)",
    "recipe": {"config": "model cramer, architecture g-resnet5, dof_dim 256, gradient_penalty 10",
               "iterations": 150_000},
}
