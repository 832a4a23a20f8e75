"""attribution88.builders.generators: the generator zoo of Attribution88.

- `ARCHITECTURES`: the seven GAN architectures (a `Registry` keyed by the spec's source names).
  One torch-free file per architecture, named by its source name (``stylegan3.py``,
  ``stylegan2.py``, ``stylegan.py``, ``progan.py``, ``cramergan.py``, ``mmdgan.py``,
  ``sngan.py``), holds its config, its stand-in settings and its registry entry
  (``ARCHITECTURE``, a `base.Architecture`: paper, code base, recipe, latent, output range and
  activation, sampling defaults, traits); CramerGAN's entry is MMDGAN's g-resnet5 generator with
  its own paper and recipe. Their PyTorch implementations are in ``networks/`` (``stylegan3``,
  ``stylegan2``, ``stylegan``, ``progan``, ``sngan``, ``resnet5``; shared layers in
  ``layers``), imported only to build a generator; see `architectures`.
- `MANIFEST`: the 77 models (7 architectures x 11 semantics, ``models.toml``): native
  resolution, latent size, and where each checkpoint comes from.
- `load_generator` (native safetensors checkpoint, the user's ``module:function`` entry point,
  or a stand-in, `stand_ins`) and `sample` (seeds -> uint8 ``(N, 128, 128, 3)``, deterministic
  per image; `sample_png`: the same as PNG bytes); `draw_latents` (`latents`: the random
  inputs both use).
- `save_checkpoint`: write one of this package's generators as safetensors + JSON record;
  `from_state_dict`: build one from a state dict (NVlabs' StyleGAN2/3 tensor names);
  `convert.convert_file` (``attribution88 generators convert``): the authors' released files
  (NVlabs' PyTorch and TF1 pickles through the restricted unpickler of `safe_pickle`, Chainer
  ``.npz``, MMD-GAN TensorFlow checkpoints through `tf_checkpoint`) to native checkpoints,
  without importing or running anything from them.
- `STAND_IN_NOTICE`, `card_notes`: what a dataset card says about its generators.

Importing this package does not import torch; loading and sampling do.
"""

from .architectures import ARCHITECTURES, architecture
from .base import Architecture, GeneratorConfig, Recipe
from .latents import MICRO_BATCH, draw_latents
from .manifest import MANIFEST, Manifest, ModelEntry, checkpoints_dir, find_checkpoint
from .sampling import Generator, load_generator, sample, sample_png
from .stand_ins import STAND_IN_NOTICE, card_notes


def save_checkpoint(*args, **kwargs):
    """`checkpoints.save_checkpoint` (imports torch)."""
    from .checkpoints import save_checkpoint as _save

    return _save(*args, **kwargs)


def from_state_dict(*args, **kwargs):
    """`checkpoints.from_state_dict` (imports torch)."""
    from .checkpoints import from_state_dict as _from

    return _from(*args, **kwargs)


__all__ = [
    "ARCHITECTURES", "Architecture", "GeneratorConfig", "architecture", "MANIFEST", "Manifest", "ModelEntry",
    "Recipe", "checkpoints_dir", "find_checkpoint", "MICRO_BATCH", "Generator", "draw_latents",
    "load_generator", "sample", "sample_png", "save_checkpoint", "from_state_dict", "STAND_IN_NOTICE", "card_notes",
]
