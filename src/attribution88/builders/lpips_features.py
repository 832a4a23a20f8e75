"""LPIPS as a squared Euclidean distance between feature vectors computed once per image.

LPIPS v0.1 (Zhang et al., CVPR 2018; ``lpips.LPIPS.forward`` with ``spatial=False``) is

    d(x, y) = sum_l 1/(H_l W_l) sum_{h,w} sum_c w_{l,c} (u_{l,c,h,w}(x) - u_{l,c,h,w}(y))^2

where ``f_l`` is the output of layer ``l`` of the backbone (alexnet: 5 ReLU outputs) on the
input scaled to [-1, 1] and shifted/scaled per channel (the ``ScalingLayer``: shift
(-.030, -.088, -.188), scale (.458, .448, .450)), ``u_l = f_l / (||f_l||_c + 1e-10)`` is ``f_l``
normalised to unit length over channels at each position, and ``w_l`` are the learned weights of
the 1x1 "linear" layers (no bias; their dropout is off in eval mode). The learned weights are
non-negative (the package's training clamps them at 0; `LpipsFeatures` checks it), so with
``s_{l,c} = sqrt(w_{l,c} / (H_l W_l))`` and ``phi_l(x) = s_l * u_l(x)`` flattened over
(c, h, w), and ``phi(x)`` the concatenation over layers,

    d(x, y) = sum_l sum_{c,h,w} (s_{l,c} u(x) - s_{l,c} u(y))^2 = ||phi(x) - phi(y)||^2.

What that allows (used by `attribution88.builders.clean`):
- one backbone forward per image instead of one per pair;
- nearest neighbours under LPIPS are exact L2 nearest neighbours (faiss ``IndexFlatL2``), and
  any projection that preserves L2 (PCA, random projection) gives an LPIPS shortlist;
- k-means in phi space minimises the within-cluster LPIPS;
- the mean pairwise LPIPS of a set of n vectors is ``2/(n-1) (sum_i ||phi_i||^2 - n ||mean||^2)``,
  in O(n D) instead of O(n^2 D).

Resolution: features are computed at the images' own size (128 px in the benchmark), without
resampling: LPIPS is fully convolutional and averages over positions, and resampling would blur
the high-frequency artifacts that cleaning is meant to catch. At 128 px the alexnet vector has
64*31*31 + 192*15*15 + 384*7*7 + 256*7*7 + 256*7*7 = 148,608 values (594 KB in float32).

Weights: the linear weights ship with the ``lpips`` package (``lpips/weights/v0.1/NET.pth``,
plain state dicts, loaded with ``weights_only=True``). The backbone's ImageNet weights are never
downloaded: they come from ``weights=PATH``, else the environment variable
``ATTRIBUTION88_LPIPS_BACKBONE``, else torchvision's cache (``$TORCH_HOME/hub/checkpoints``);
with none of these, ``allow_untrained=True`` gives a randomly initialised backbone seeded from
the spec (a valid distance, but not the published LPIPS: `description` says so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from attribution88 import settings
from attribution88.settings import LPIPS_BACKBONE_ENV
from attribution88.digests import file_sha256
from attribution88.errors import CheckpointError, ImageError, OfflineError
from attribution88.ids import derive_seed
from attribution88.registry import Registry

if TYPE_CHECKING:
    import torch

__all__ = ["BACKBONES", "Backbone", "LpipsFeatures", "LPIPS_VERSION"]

LPIPS_VERSION = "0.1"
# Constants of lpips v0.1 (lpips/lpips.py: ScalingLayer, and normalize_tensor's eps).
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10


@dataclass(frozen=True)
class Backbone:
    """A torchvision network as LPIPS uses it: the layers of ``model.features`` after which
    LPIPS reads an activation (``taps``, indices into ``features``), and the file name of
    torchvision's ImageNet weights (as found in its cache)."""

    constructor: str
    taps: tuple[int, ...]
    channels: tuple[int, ...]
    weights_file: str


#: The backbones of the lpips package (lpips/pretrained_networks.py slices them the same way).
BACKBONES: Registry[Backbone] = Registry("LPIPS backbone")
BACKBONES.add("alex", Backbone("alexnet", (1, 4, 7, 9, 11), (64, 192, 384, 256, 256),
                               "alexnet-owt-7be5be79.pth"))
BACKBONES.add("vgg", Backbone("vgg16", (3, 8, 15, 22, 29), (64, 128, 256, 512, 512),
                              "vgg16-397923af.pth"))
BACKBONES.add("squeeze", Backbone("squeezenet1_1", (1, 4, 7, 9, 10, 11, 12),
                                  (64, 128, 256, 384, 384, 512, 512), "squeezenet1_1-b8a52dc0.pth"))


class LpipsFeatures:
    """Maps images to vectors whose squared Euclidean distance is their LPIPS distance.

    Build it with `LpipsFeatures.create`. ``features(a)`` and ``features(b)`` give rows
    ``phi(a_i)``, ``phi(b_j)`` with ``((phi(a_i) - phi(b_j)) ** 2).sum() == LPIPS(a_i, b_j)``
    (float32 rounding aside).
    """

    def __init__(self, net: str, trunk: torch.nn.Module, lin_weights: list[torch.Tensor],
                 *, weights_path: Path | None, weights_sha256: str | None) -> None:
        self.net = net
        self.backbone = BACKBONES.get(net)
        self._trunk = trunk
        self._lin = lin_weights  # per layer, (C,) float32, non-negative
        self.weights_path = weights_path
        self.weights_sha256 = weights_sha256
        self._shapes: dict[tuple[int, int], tuple[tuple[int, int, int], ...]] = {}

    # -- construction -------------------------------------------------------------------
    @classmethod
    def create(cls, net: str = "alex", weights: str | os.PathLike[str] | None = None, *,
               allow_untrained: bool = False) -> LpipsFeatures:
        """LPIPS v0.1 features with backbone ``net`` (alex, vgg, squeeze).

        ``weights``: a local file with the backbone's ImageNet weights in torchvision's format
        (``features.N.weight`` ...; a ``.safetensors`` file, or a ``.pth`` state dict read with
        ``weights_only=True``). When None: ``$ATTRIBUTION88_LPIPS_BACKBONE``, then torchvision's
        cache. With no weights anywhere, ``allow_untrained=True`` uses a random backbone seeded
        from the spec; otherwise `OfflineError`. Nothing is ever downloaded.
        """
        spec = BACKBONES.get(net)
        path = _resolve_weights(net, spec, weights)
        if path is None and not allow_untrained:
            raise OfflineError(
                f"LPIPS needs the ImageNet weights of its {net} backbone and this tool never "
                f"downloads them: set {LPIPS_BACKBONE_ENV}=PATH (or --lpips-backbone PATH) to a "
                f"copy of torchvision's {spec.weights_file} (.pth or .safetensors); only the "
                f"mini preset may run with an untrained backbone")
        trunk = _build_trunk(spec)
        sha = None
        if path is None:
            _init_untrained(trunk, derive_seed("lpips-untrained-backbone", net))
        else:
            sha = _load_trunk(trunk, path)
        trunk.eval()
        for p in trunk.parameters():
            p.requires_grad_(False)
        return cls(net, trunk, _load_lin(net, spec), weights_path=path, weights_sha256=sha)

    # -- description --------------------------------------------------------------------
    @property
    def is_pretrained(self) -> bool:
        """True when the backbone has ImageNet weights (the published LPIPS)."""
        return self.weights_path is not None

    @property
    def description(self) -> str:
        """One line for logs and dataset cards."""
        if self.is_pretrained:
            return (f"LPIPS v{LPIPS_VERSION} {self.net}, backbone weights from {self.weights_path} "
                    f"(sha256 {self.weights_sha256[:12]})")
        return (f"LPIPS v{LPIPS_VERSION} {self.net} with an UNTRAINED backbone (random, seeded; no "
                f"ImageNet weights: set {LPIPS_BACKBONE_ENV}): a valid distance, not the published LPIPS")

    def backbone_state_dict(self) -> dict[str, torch.Tensor]:
        """The backbone's tensors under torchvision's names (``features.N.weight`` ...): the
        format `create` reads, e.g. to save the untrained backbone or compare with lpips."""
        return {f"features.{k}": v.detach().clone() for k, v in self._trunk.state_dict().items()}

    def layer_shapes(self, height: int, width: int) -> tuple[tuple[int, int, int], ...]:
        """(C, H, W) of each LPIPS layer for images of ``height`` x ``width`` pixels."""
        key = (int(height), int(width))
        if key not in self._shapes:
            import torch

            x = torch.empty(1, 3, *key, device="meta")
            meta = _build_trunk(self.backbone, "meta")  # shapes only: no memory, no compute
            try:
                shapes = tuple(tuple(t.shape[1:]) for t in _taps(meta, self.backbone.taps, x))
            except RuntimeError as e:
                raise ImageError(f"images of {key[0]}x{key[1]} px are too small for the LPIPS "
                                 f"{self.net} backbone ({str(e).splitlines()[0]})") from None
            self._shapes[key] = shapes  # type: ignore[assignment]
        return self._shapes[key]

    def dim(self, height: int, width: int) -> int:
        """Length of a feature vector for images of ``height`` x ``width`` pixels."""
        return int(sum(c * h * w for c, h, w in self.layer_shapes(height, width)))

    # -- features -----------------------------------------------------------------------
    def features(self, images: np.ndarray, *, batch_size: int = 32,
                 out: np.ndarray | None = None) -> np.ndarray:
        """phi of each image: ``images`` uint8 (N, H, W, 3) RGB -> float32 (N, D), D = `dim`.

        ``out``: an (N, D) array to fill instead (float16 or a ``np.memmap`` for large sets);
        it is returned. Runs in ``batch_size`` chunks under ``torch.inference_mode``.
        """
        import torch

        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 \
                or images.shape[-1] != 3:
            got = (f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray)
                   else type(images).__name__)
            raise ImageError(f"LPIPS features need uint8 RGB images shaped (N, H, W, 3); got {got}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n, h, w = images.shape[:3]
        d = self.dim(h, w)
        if out is None:
            out = np.empty((n, d), np.float32)
        elif out.shape != (n, d):
            raise ValueError(f"out has shape {out.shape}; expected {(n, d)}")
        shapes = self.layer_shapes(h, w)
        scales = [torch.sqrt(lw / (sh * sw)).view(1, -1, 1, 1)
                  for lw, (_, sh, sw) in zip(self._lin, shapes)]
        shift = torch.tensor(_SHIFT).view(1, 3, 1, 1)
        scale = torch.tensor(_SCALE).view(1, 3, 1, 1)
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
                x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
                x = (x - shift) / scale
                parts = []
                for f, s in zip(_taps(self._trunk, self.backbone.taps, x), scales):
                    u = f / (torch.sqrt(torch.sum(f * f, dim=1, keepdim=True)) + _EPS)
                    parts.append((u * s).flatten(1))
                out[start:start + len(x)] = torch.cat(parts, dim=1).numpy()
        return out


def _taps(trunk: torch.nn.Module, taps: tuple[int, ...], x: torch.Tensor) -> list[torch.Tensor]:
    """The activations after modules ``taps`` of a Sequential."""
    outs = []
    for i, module in enumerate(trunk):
        x = module(x)
        if i in taps:
            outs.append(x)
    return outs


def _build_trunk(spec: Backbone, device: str = "cpu") -> torch.nn.Sequential:
    """``model.features`` up to the last tap, parameters uninitialised. Built on the meta
    device so that torchvision's initialisation touches neither memory nor the global RNG,
    and never with torchvision weights (so it never downloads)."""
    import torch
    import torchvision.models as tvm

    with torch.device("meta"):
        model = getattr(tvm, spec.constructor)(weights=None)
    trunk = torch.nn.Sequential(*list(model.features)[: spec.taps[-1] + 1])
    return trunk if device == "meta" else trunk.to_empty(device=device)


def _init_untrained(trunk: torch.nn.Module, seed: int) -> None:
    """He-normal weights and zero biases from a local generator (numpy's, stable across
    versions and platforms)."""
    import torch

    rng = np.random.default_rng(seed)
    for name, p in sorted(trunk.named_parameters()):
        if name.endswith("bias"):
            p.data.zero_()
        else:
            fan_in = int(np.prod(p.shape[1:]))
            w = rng.standard_normal(tuple(p.shape)) * np.sqrt(2.0 / fan_in)
            p.data.copy_(torch.from_numpy(w.astype(np.float32)))


def _resolve_weights(net: str, spec: Backbone, weights: str | os.PathLike[str] | None) -> Path | None:
    if weights is not None:
        where = "weights"
        path = Path(weights)
    elif settings.lpips_backbone():
        where = LPIPS_BACKBONE_ENV
        path = Path(settings.lpips_backbone())
    else:
        import torch.hub

        cached = Path(torch.hub.get_dir()) / "checkpoints" / spec.weights_file
        return cached if cached.is_file() else None
    if not path.is_file():
        raise CheckpointError(f"LPIPS {net} backbone weights not found: {path} (from {where}); "
                              f"expected torchvision's {spec.weights_file} or a .safetensors copy")
    return path.resolve()


def _read_state_dict(path: Path) -> dict[str, Any]:
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable or unsafe file: one clear line
        raise CheckpointError(f"cannot read LPIPS backbone weights {path}: "
                              f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"LPIPS backbone weights {path} hold a {type(state).__name__}, "
                              f"not a state dict")
    return state


def _load_trunk(trunk: torch.nn.Module, path: Path) -> str:
    """Copy ``features.*`` tensors from a torchvision state dict file; returns its sha256."""
    import torch

    state = _read_state_dict(path)
    wanted = {f"features.{k}": v for k, v in trunk.state_dict().items()}
    for key, ref in wanted.items():
        t = state.get(key)
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"LPIPS backbone weights {path} lack {key!r}: not a torchvision "
                                  f"{type(trunk).__name__} state dict for this backbone")
        if tuple(t.shape) != tuple(ref.shape):
            raise CheckpointError(f"LPIPS backbone weights {path}: {key} has shape "
                                  f"{tuple(t.shape)}, expected {tuple(ref.shape)} (wrong backbone?)")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"LPIPS backbone weights {path}: {key} has non-finite values")
    trunk.load_state_dict({k[len("features."):]: state[k].float() for k in wanted})
    return file_sha256(path)


def _load_lin(net: str, spec: Backbone) -> list[torch.Tensor]:
    """The learned linear weights shipped inside the lpips package, one (C,) tensor a layer."""
    import lpips
    import torch

    path = Path(lpips.__file__).parent / "weights" / f"v{LPIPS_VERSION}" / f"{net}.pth"
    if not path.is_file():
        raise CheckpointError(f"the lpips package lacks its linear weights {path}; reinstall lpips")
    state = torch.load(path, map_location="cpu", weights_only=True)
    lins = []
    for i, c in enumerate(spec.channels):
        w = state.get(f"lin{i}.model.1.weight")
        if w is None or tuple(w.shape) != (1, c, 1, 1):
            raise CheckpointError(f"unexpected LPIPS linear weights in {path} (lin{i})")
        w = w.float().flatten()
        if (w < 0).any():
            raise CheckpointError(f"LPIPS linear weights {path} (lin{i}) are negative: LPIPS is "
                                  f"then not a squared Euclidean distance of features")
        lins.append(w)
    return lins
