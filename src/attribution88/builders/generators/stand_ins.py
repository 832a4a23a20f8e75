"""Stand-in generators for the ``mini`` preset: every architecture at small width, randomly
initialised from the spec. THEY ARE NOT THE PAPER'S MODELS: nothing here was trained. A
stand-in has its architecture's structure (mapping network, modulation, noise inputs,
upsampling, filters, output structure) and so leaves its architecture's kind of trace, which
is what the mini preset needs to exercise attribution end to end on a laptop CPU; its images
look like coloured textures, not bedrooms or faces.

Initialisation, per (architecture, semantic):

- every tensor is drawn from its own local generator, ``np.random.default_rng(derive_seed(
  "stand-in", arch, semantic, tensor_name))`` for the tensors that make an image's *content*
  (mapping network, constant/Fourier input, the blocks up to 16 px) and
  ``derive_seed("stand-in", arch, tensor_name)`` for the finer layers and the RGB output
  (which carry the architecture's fingerprint). So the stand-ins of one architecture share
  their fingerprint layers across the 11 semantics and differ in content, as trained models
  of one architecture share their structure across datasets. (A per-semantic seed for every
  tensor would make 11 unrelated random networks per architecture; one shared network would
  make the semantic invisible.)
- zero-initialised weights that training would grow (StyleGAN's and StyleGAN2's noise
  strengths) are drawn instead, so that a stand-in's noise inputs show;
- then calibrated on a batch of latents drawn from ``derive_seed("stand-in-calibration",
  arch, semantic)``: the statistics a trained model carries (StyleGAN's average w,
  StyleGAN3's input magnitudes, batch-norm statistics), and the output rescaled per RGB
  channel so that images use the pixel range as a trained generator's do (linear outputs:
  mean at the centre of the range, std a quarter of it; tanh / sigmoid outputs: their input
  at mean 0, std 0.75 / 1.5). The statistics are reduced in float64 by numpy, so a stand-in
  is the same bytes whatever the number of threads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from attribution88.ids import derive_seed
from attribution88.spec import SPEC

from .architectures import ARCHITECTURES
from .latents import MICRO_BATCH, draw_noise, draw_z

if TYPE_CHECKING:
    import torch

#: What the code and every dataset card built with stand-ins say, plainly.
STAND_IN_NOTICE = (
    "The GAN images of this dataset come from STAND-IN generators, not from the paper's models: "
    "small, untrained networks of each of the 7 architectures, randomly initialised from the spec "
    "(attribution88.builders.generators.stand_ins). They leave their architecture's kind of trace "
    "but do not depict their semantic. Use this build to test pipelines, never to report results; "
    "build with real checkpoints (`attribution88 generators` lists them) for the benchmark.")

#: Pre-activation targets of the output calibration: (mean, std) in output units, by the
#: architecture's `output_activation`; linear outputs use their range (centre, quarter of the width).
_ACTIVATION_TARGETS = {"tanh": (0.0, 0.75), "sigmoid": (0.0, 1.5)}


def tensor_seed(arch: str, semantic: str, name: str, content: bool) -> int:
    """Seed of one stand-in tensor (see the module docstring)."""
    return derive_seed("stand-in", arch, semantic, name) if content else derive_seed("stand-in", arch, name)


def calibration_latents(arch: str, semantic: str, z_dim: int, noise_shapes: list[tuple[int, int]],
                        count: int) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    """The calibration batch of a stand-in: z and noise maps from one local generator."""
    import torch

    rng = np.random.default_rng(derive_seed("stand-in-calibration", arch, semantic))
    latent = ARCHITECTURES.get(arch).latent
    z = np.stack([draw_z(rng, z_dim, latent) for _ in range(count)])
    noise = [torch.from_numpy(n) for n in draw_noise(rng, noise_shapes, count)]
    return torch.from_numpy(z), noise or None


def build_stand_in(arch: str, semantic: str, *, calibration: int | None = None) -> torch.nn.Module:
    """The stand-in generator of ``arch`` on ``semantic`` (CPU, eval mode)."""
    import torch

    from .networks.layers import channel_stats, initialize

    a = ARCHITECTURES.get(arch)
    SPEC.semantic(semantic)
    module = a.module().Generator(a.stand_in_config())
    overrides = a.stand_in_inits
    for mod in module.modules():
        rules = getattr(mod, "_init_rules", {})
        rules.update({name: overrides[name] for name in rules if name in overrides})
    initialize(module, lambda name: tensor_seed(arch, semantic, name, a.is_content(name)))
    module.eval()
    z, noise = calibration_latents(arch, semantic, module.z_dim, module.noise_shapes(),
                                   calibration or MICRO_BATCH["cpu"])
    with torch.no_grad():
        module.calibrate(z, noise)
        raw = module(z, noise, raw=True)
        mean, var = channel_stats(raw, [0, 2, 3])
        if a.output_activation == "linear":
            lo, hi = a.output_range
            target_mean, target_std = (lo + hi) / 2, (hi - lo) / 4
        else:
            target_mean, target_std = _ACTIVATION_TARGETS[a.output_activation]
        scale = target_std / var.sqrt().clamp_min(1e-12)
        module.rescale_output(scale, target_mean - mean * scale)
    return module


def _sampling_cell(sampling: dict | None) -> str:
    if not sampling:
        return "-"
    psi, cut, noise = (sampling.get(k) for k in ("truncation_psi", "truncation_cutoff", "noise"))
    parts = [f"psi {psi:g}" + (f" (first {cut} layers)" if cut is not None else "")] if psi is not None else []
    return ", ".join(parts + ([f"{noise} noise"] if noise else [])) or "-"


def card_notes(generators: Iterable) -> dict:
    """What the dataset card should say about the generators of a build: ``{"warnings":
    [...], "sections": [{"title", "markdown"}]}``, to merge into the ``build`` dict given to
    `attribution88.format.dataset.finalize`. ``generators`` are `sampling.Generator`s."""
    gens = list(generators)
    rows = [f"| {g.arch} | {g.semantic} | {g.native_resolution} | "
            f"{'**stand-in**' if g.is_stand_in else 'model'} | {_sampling_cell(getattr(g, 'sampling', None))} | "
            f"`{g.origin}` |" for g in gens]
    table = "\n".join(["| architecture | semantic | native px | kind | truncation, noise | origin |",
                       "|---|---|---|---|---|---|", *rows])
    text = ("Images above 128 px were downscaled to 128 with Pillow's Lanczos filter, the filter "
            "used for the real images, after cropping to the content (e.g. LSUN car's 512x384). "
            "Truncation and noise are the official networks' defaults when sampled (StyleGAN psi 0.7 "
            "on the first 8 layers, StyleGAN2 psi 0.5, StyleGAN3 psi 1; the stored noise maps), or "
            "the values a converted checkpoint's file carries.")
    warnings = [STAND_IN_NOTICE] if any(g.is_stand_in for g in gens) else []
    return {"warnings": warnings, "sections": [{"title": "Generators", "markdown": f"{text}\n\n{table}"}]}
