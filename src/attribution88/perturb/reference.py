"""imagecorruptions 1.1.2 itself, run on the current stack: the reference that the fidelity
tests and the benchmark compare the engine with. `apply` never uses this module.

imagecorruptions 1.1.2 no longer imports or runs as released: it imports ``pkg_resources``
(removed from setuptools 81), uses ``np.float_`` (removed in numpy 2) and passes
``multichannel=`` to ``skimage.filters.gaussian`` (removed in scikit-image 0.19 +). It also
draws from numpy's global generator, and its impulse noise from a fresh, unseeded one. Three
shims, and no global state touched:

- during its import only, a stand-in ``pkg_resources`` (``resource_filename``) when the real
  one is missing (and ``scipy.ndimage.interpolation`` when a future scipy drops it);
- its module's ``np`` is a proxy of numpy whose ``random`` is a ``RandomState`` seeded per
  call (and ``float_`` is ``float64``); its ``sk`` a proxy whose ``util.random_noise`` takes
  a generator seeded per call;
- its ``gaussian`` maps ``multichannel=True`` to ``channel_axis=-1``.

Calls are serialised by a lock (the per-call generator lives in the module's globals).
`LegacyDraws` serves the engine the same random numbers (tests and benchmarks of both
flavours use it; `attribution88.perturb.reference_imagenet_c` is the ``repmix`` flavour's
reference).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
import sys
import threading
import types
import warnings
from typing import Any

import numpy as np

from ..errors import MissingDependencyError

_LOCK = threading.Lock()


class _Proxy:
    """Attribute lookups go to ``target`` unless overridden on the proxy."""

    def __init__(self, target: Any, **overrides: Any) -> None:
        self.__dict__.update(overrides)
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


@contextlib.contextmanager
def _import_shims():
    added = []
    if importlib.util.find_spec("pkg_resources") is None:
        shim = types.ModuleType("pkg_resources")

        def resource_filename(package: str, resource: str) -> str:
            spec = importlib.util.find_spec(package.split(".")[0])
            root = list(spec.submodule_search_locations)[0]
            return os.path.normpath(os.path.join(root, resource))

        shim.resource_filename = resource_filename
        sys.modules["pkg_resources"] = shim
        added.append("pkg_resources")
    try:
        importlib.import_module("scipy.ndimage.interpolation")
    except ImportError:
        import scipy.ndimage

        shim = types.ModuleType("scipy.ndimage.interpolation")
        shim.map_coordinates = scipy.ndimage.map_coordinates
        sys.modules["scipy.ndimage.interpolation"] = shim
        added.append("scipy.ndimage.interpolation")
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


@functools.cache
def _load() -> tuple[types.ModuleType, types.ModuleType]:
    if importlib.util.find_spec("imagecorruptions") is None:
        raise MissingDependencyError("the reference needs imagecorruptions: pip install imagecorruptions==1.1.2")
    with _import_shims(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        package = importlib.import_module("imagecorruptions")
        module = importlib.import_module("imagecorruptions.corruptions")
    shim_module(module)
    return package, module


def shim_module(module: types.ModuleType, **numpy_overrides: Any) -> None:
    """The shims both references need, on their corruptions ``module``: its ``gaussian`` maps
    ``multichannel=True`` to ``channel_axis=-1``; its ``np`` is a numpy proxy (``float_`` is
    ``float64``, ``random`` set per call by `seeded_draws`, plus ``numpy_overrides``); its
    ``sk`` a scikit-image proxy (``util.random_noise`` set per call by `seeded_draws`)."""
    import skimage

    original_gaussian = module.gaussian

    def gaussian(image, sigma=1, multichannel=None, **kwargs):
        if multichannel:
            kwargs["channel_axis"] = -1
        return original_gaussian(image, sigma=sigma, **kwargs)

    module.gaussian = gaussian
    module.np = _Proxy(np, random=None, float_=np.float64, **numpy_overrides)
    module.sk = _Proxy(skimage, util=_Proxy(skimage.util, random_noise=None))


@contextlib.contextmanager
def seeded_draws(module: types.ModuleType, seed: int):
    """While in the block, a shimmed reference ``module`` (its ``np`` and ``sk`` proxies) draws
    from ``RandomState(seed)``, and its ``random_noise`` from ``default_rng(seed)``; calls are
    serialised by a lock, since the generators live in the module's globals."""
    import skimage.util

    noise_rng = np.random.default_rng(seed)

    def random_noise(image, mode="gaussian", rng=None, clip=True, **kwargs):
        return skimage.util.random_noise(image, mode=mode, rng=noise_rng, clip=clip, **kwargs)

    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module.np.random = np.random.RandomState(seed)
        module.sk.util.random_noise = random_noise
        try:
            yield
        finally:
            module.np.random = None
            module.sk.util.random_noise = None


def corrupt(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """imagecorruptions' ``corrupt(image, severity, corruption_name=name)`` with every random
    draw from ``RandomState(seed)`` (impulse noise: ``default_rng(seed)``). ``image``: uint8
    (H, W, 3), sides >= 32. Returns uint8 (H, W, 3)."""
    package, module = _load()
    with seeded_draws(module, seed):
        return np.uint8(np.clip(package.corrupt(image, severity=severity, corruption_name=name), 0, 255))


def available() -> bool:
    """Whether imagecorruptions is installed (the reference can run)."""
    return importlib.util.find_spec("imagecorruptions") is not None


class LegacyDraws:
    """The engine's generator interface (the `numpy.random.Generator` methods the corruptions
    call), served from numpy's legacy ``RandomState(seed)`` — the generator imagecorruptions
    and imagenet_c draw from — so that the engine and a reference see the same numbers."""

    def __init__(self, seed):
        self.rs = np.random.RandomState(seed)

    def integers(self, low, high=None, size=None, dtype=np.int64):
        value = self.rs.randint(low, high, size=size)
        return value if size is None else value.astype(dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self.rs.uniform(low, high, size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self.rs.normal(loc, scale, size)

    def standard_normal(self, size=None, dtype=np.float64):
        return self.rs.standard_normal(size).astype(dtype)

    def poisson(self, lam=1.0, size=None):
        return self.rs.poisson(lam, size)

    def random(self, size=None, dtype=np.float64):
        return self.rs.random_sample(size).astype(dtype)
