"""imagenet_c 0.0.3 itself (the original ImageNet-C code of hendrycks/robustness, as the
official RepMix code imports it), run on the current stack: the reference of the ``repmix``
flavour for the fidelity tests and the benchmark. The engine never imports this module.

Needs ``pip install Wand`` and ``pip install --no-deps imagenet-c==0.0.3`` (its metadata pins
opencv-python~=3.4, which contradicts our opencv-python>=4.5; it runs on OpenCV 5), and
ImageMagick's MagickWand library (Debian: ``apt-get install libmagickwand-dev``), which
motion_blur and snow call through Wand.

The fewest shims that make it run, none of which changes what a corruption computes, and no
global state touched (as `attribution88.perturb.reference` does for imagecorruptions):

- during its import only, a stand-in ``pkg_resources`` when setuptools no longer has it;
- its module's ``np`` is a proxy of numpy whose ``random`` is a ``RandomState`` seeded per
  call, with ``float_`` (removed in numpy 2, used by fog) and ``fromstring`` on bytes (binary
  mode removed in numpy 2.3, used to decode Wand's PNG) mapped to their successors;
  its ``sk`` a proxy whose ``util.random_noise`` (impulse_noise; scikit-image >= 0.19 draws it
  from its own generator) takes a generator seeded per call;
- its ``gaussian`` maps ``multichannel=True`` to ``channel_axis=-1``;
- its ``resource_filename`` reads the frost textures from the imagecorruptions package: the
  imagenet-c wheel on the package index ships without its ``frost/`` folder, and the six files
  of imagecorruptions 1.1.2 have the same git blob hashes as those of hendrycks/robustness
  @ 8190fe32 (`FROST_BLOBS`).

`repmix` applies the official wrapper (TuBui/image_attribution, utils/augment_imagenetc.py,
``RandomImagenetC.transform_with_fixed_severity``): RGB, bilinear resize to 224, RGB -> BGR,
``corrupt``, BGR -> RGB, bilinear resize back. Calls are serialised by a lock.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import warnings

import numpy as np

from ..errors import MissingDependencyError
from .reference import _import_shims, seeded_draws, shim_module

#: git blob hashes of frost1.png ... frost6.jpg in hendrycks/robustness @ 8190fe32
#: (ImageNet-C/imagenet_c/imagenet_c/frost/); the files of imagecorruptions 1.1.2 match them.
FROST_BLOBS = ("c7b78a17938df51894497b4782decbd82532dd5f", "48f7a861ffa41b6d7496b701fef96d5edf739282",
               "d47f9d25f41251ee9a66b294c0bbfad6053017c9", "f8b0c413176d70150b593e029d84b4a88c21dd4b",
               "95dc9056926d8201df760535f9bb9112f012e862", "14e5d58e762a5d0808df9fa6494fd6d78ee4409b")


def _fromstring(string, dtype=float, count=-1, *, sep="", **kwargs):
    if sep == "" and isinstance(string, (bytes, bytearray, memoryview)):
        return np.frombuffer(string, dtype=dtype, count=count).copy()
    return np.fromstring(string, dtype=dtype, count=count, sep=sep, **kwargs)


def available() -> bool:
    """Whether imagenet_c and Wand (with ImageMagick's library) can be imported."""
    try:
        _load()
    except MissingDependencyError:
        return False
    return True


@functools.cache
def _load():
    if importlib.util.find_spec("imagenet_c") is None:
        raise MissingDependencyError("the repmix reference needs imagenet_c: pip install --no-deps imagenet-c==0.0.3")
    try:
        import wand.image  # noqa: F401  (loads ImageMagick's MagickWand library)
    except ImportError as e:
        raise MissingDependencyError(f"the repmix reference needs Wand and ImageMagick's MagickWand library "
                                     f"(pip install Wand; apt-get install libmagickwand-dev): {e}") from None
    with _import_shims(), warnings.catch_warnings():  # it sets a global warnings filter on import
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy.ndimage.interpolation
        package = importlib.import_module("imagenet_c")
        module = importlib.import_module("imagenet_c.corruptions")
    from . import textures

    def resource_filename(package_name: str, resource: str) -> str:
        return os.fspath(textures._texture_dir() / os.path.basename(resource))

    shim_module(module, fromstring=_fromstring)
    module.resource_filename = resource_filename
    return package, module


def corrupt(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """``imagenet_c.corrupt(image, severity, corruption_name=name)`` on a 224 x 224 uint8 array
    in whatever channel order it is given, every random draw from ``RandomState(seed)``
    (impulse noise: ``default_rng(seed)``). Returns uint8 (224, 224, 3)."""
    package, module = _load()
    with seeded_draws(module, seed):
        return np.asarray(package.corrupt(np.ascontiguousarray(image), severity, corruption_name=name))


def repmix(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """The official RepMix wrapper around `corrupt`: RGB uint8 (H, W, 3) of any size in, RGB
    uint8 of the same size out (bilinear to 224, BGR, corrupt, RGB, bilinear back)."""
    from PIL import Image

    x = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
    size = x.size
    a = np.asarray(x.resize((224, 224), Image.Resampling.BILINEAR))[:, :, ::-1]
    y = Image.fromarray(np.ascontiguousarray(corrupt(a, name, severity, seed)[:, :, ::-1]))
    if y.size != size:
        y = y.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(y)
