"""The registry of the seven GAN architectures, keyed by the spec's source names.

Layout: one file per architecture, named by its source name (``stylegan3.py``,
``stylegan2.py``, ``stylegan.py``, ``progan.py``, ``cramergan.py``, ``mmdgan.py``,
``sngan.py``), imports no torch and holds:

- ``Config``: a frozen dataclass of its network's hyperparameters (a `base.GeneratorConfig`;
  the StyleGAN families' a `base.StyleConfig`), the config record saved beside a checkpoint;
- ``full_config(resolution)``: the paper's model at a native resolution;
- ``stand_in_config()``: the small stand-in of the `mini` preset;
- ``is_content(name)``: which tensors make a stand-in's content (drawn per semantic) rather
  than its fingerprint (shared across the semantics of the architecture);
- ``ARCHITECTURE``: its registry entry, a `base.Architecture`: paper, code base, where official
  releases are published, the paper's training `base.Recipe`, latent distribution, output
  range and final activation (``output_activation``), the truncation and noise its official
  networks are sampled with, the structure that leaves its fingerprint (``traits``), the four
  above, stand-in initialisation rules (``stand_in_inits``: tensors that start at zero and that
  training would grow), and ``network``: the module of `networks` holding its PyTorch
  implementation (`Architecture.module` imports it, and with it torch).

MMDGAN and CramerGAN share the g-resnet5 generator of mbinkowski/MMD-GAN and differ only in
how they were trained: ``mmdgan.py`` holds the generator's config and stand-in settings, and
``cramergan.py``'s entry is MMDGAN's with its own paper and recipe; both name
``networks/resnet5.py``. Adding an architecture is adding its file and its network (and its
source to the spec), and importing it here.

A network module (``networks/<network>.py``) provides ``Generator(config)``: the
``torch.nn.Module``, with ``forward(z, noise=None, truncation_psi=1.0, raw=False) -> (N, 3, R,
R)`` in the architecture's output range (``raw``: before the final activation),
``noise_shapes() -> list[(H, W)]`` (per-image noise inputs, in draw order), ``calibrate(z,
noise)`` (statistics a trained model would have: ``w_avg``, batch-norm statistics, StyleGAN3's
input magnitudes) and ``rescale_output(scale, shift)`` (fold a per-channel affine map of the
raw output into the last layer). Layers they share are in ``networks/layers.py``.

Truncation and noise are part of a cell's definition: the supplement says the StyleGAN
family's "internal truncation mechanism" was on, i.e. the defaults the official networks carry
(each entry cites where). A model row of ``models.toml`` may override them, and a converted
checkpoint's record (read from the authors' file) takes precedence.
"""

from __future__ import annotations

from collections.abc import Iterable

from attribution88.errors import SpecError
from attribution88.registry import Registry
from attribution88.spec import SPEC

from . import cramergan, mmdgan, progan, sngan, stylegan, stylegan2, stylegan3
from .base import Architecture


def registry(entries: Iterable[Architecture]) -> Registry[Architecture]:
    """The entries, one per GAN source of the spec, in the spec's source order (class indices
    1..7); a missing, extra or repeated one is a `SpecError`."""
    entries = list(entries)
    by_name = {a.name: a for a in entries}
    expected = SPEC.source_names[1:]
    if len(by_name) != len(entries) or set(by_name) != set(expected):
        names = [a.name for a in entries]
        raise SpecError(f"generator architectures {names} are not the spec's GAN sources {list(expected)}")
    table: Registry[Architecture] = Registry("generator architecture")
    for name in expected:
        table.add(name, by_name[name])
    return table


#: The architectures, in the spec's source order.
ARCHITECTURES: Registry[Architecture] = registry(
    m.ARCHITECTURE for m in (stylegan3, stylegan2, stylegan, progan, cramergan, mmdgan, sngan))


def architecture(name: str) -> Architecture:
    """The architecture called ``name``; an unknown name suggests the closest ones."""
    return ARCHITECTURES.get(name)
