"""MMDGAN (Binkowski et al., Demystifying MMD GANs, ICLR 2018), as trained with
mbinkowski/MMD-GAN: the g-resnet5 generator (`resnet5`, shared with CramerGAN) against a
critic whose features feed a mixture of rational-quadratic kernels (``-model mmd``): the
generator minimises the squared MMD between real and generated features. What sets it apart
from CramerGAN is training only: a 16-d critic output (``dof_dim``) and a gradient penalty of
weight 1. The generator, its config and its stand-in are those of `resnet5`.
"""

#: The registry entry (`architectures.Architecture`), read from this file's text without importing
#: it: a literal, no names or calls. The rest of the entry is the network's (resnet5.py).
ARCHITECTURE = {
    "network": "resnet5",
    "paper": "Binkowski et al., Demystifying MMD GANs (ICLR 2018)",
    "recipe": {"config": "model mmd, architecture g-resnet5, dof_dim 16, gradient_penalty 1", "iterations": 150_000},
}
