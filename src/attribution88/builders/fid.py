"""FID of selections of a cell's candidates against its real images, for the cleaning report.

Library: torchmetrics' ``FrechetInceptionDistance`` on the features of torchmetrics'
``NoTrainInceptionV3``, which is torch-fidelity's port of the TensorFlow Inception graph the
original FID used (same resize, same pool3 features), in float64 statistics. Chosen over
pytorch-fid, whose Inception loads its weights only through ``load_state_dict_from_url`` (no
local path) and which has not been released since 2023, and over calling torch-fidelity's
file-oriented API directly: torchmetrics takes tensors and is actively maintained.

Weights are never downloaded: the user gives torch-fidelity's
``weights-inception-2015-12-05-6726825d.pth`` (a plain state dict) by a local path. The file is
first read with ``torch.load(weights_only=True)``, which refuses anything but tensors, before
torch-fidelity reads it again. Inception features are computed once per image; each
selection's FID is then a statistics-only update (``feature`` given as a pass-through module).
FID on a few dozen images (a mini cell) is dominated by the covariance estimate: compare
selections of one cell with each other, not with published FIDs on 50,000 images.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from attribution88.errors import CheckpointError, MissingDependencyError, UsageError

__all__ = ["FID_WEIGHTS_FILE", "InceptionFid"]

#: torch-fidelity's converted TensorFlow Inception weights (what its URL serves).
FID_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
_VALID_DIMS = (64, 192, 768, 2048)


class InceptionFid:
    """FID with Inception weights from a local file. ``dims``: which features, 2048 (pool3,
    the standard FID) or 64, 192, 768 (earlier blocks; cheaper statistics: each FID takes an
    eigen-decomposition of a dims x dims matrix, a cost that grows as dims cubed)."""

    def __init__(self, weights: str | os.PathLike[str], *, dims: int = 2048,
                 batch_size: int = 64) -> None:
        try:
            import torch
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ImportError as e:
            raise MissingDependencyError(
                f"FID needs torchmetrics and torch-fidelity ({e.name} is missing): "
                f"pip install 'attribution88[fid]'") from None
        if dims not in _VALID_DIMS:
            raise UsageError(f"FID features must be one of {_VALID_DIMS}, got {dims}")
        path = Path(weights)
        if not path.is_file():
            raise CheckpointError(f"FID Inception weights not found: {path} (expected "
                                  f"torch-fidelity's {FID_WEIGHTS_FILE})")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # a pickle of anything but tensors, a truncated file...
            raise CheckpointError(f"cannot read FID Inception weights {path}: {type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else ''}") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"FID Inception weights {path} hold a {type(state).__name__}, "
                                  f"not a state dict")
        try:
            self._net = NoTrainInceptionV3(name="inception-v3-compat", features_list=[str(dims)],
                                           feature_extractor_weights_path=str(path))
        except RuntimeError as e:  # load_state_dict: missing or mis-shaped tensors
            raise CheckpointError(f"FID Inception weights {path} do not fit torch-fidelity's "
                                  f"Inception v3 ({str(e).splitlines()[0]}); expected "
                                  f"{FID_WEIGHTS_FILE}") from None
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        self.path = path.resolve()
        self.dims = dims
        self.batch_size = batch_size

    def features(self, images: np.ndarray) -> np.ndarray:
        """Inception features, float64 (N, dims), of uint8 RGB images (N, H, W, 3), any size."""
        import torch

        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise UsageError(f"FID needs uint8 RGB images (N, H, W, 3); got {images.dtype} "
                             f"{images.shape}")
        out = np.empty((len(images), self.dims), np.float64)
        with torch.inference_mode():
            for s in range(0, len(images), self.batch_size):
                x = torch.from_numpy(np.ascontiguousarray(images[s:s + self.batch_size]))
                out[s:s + len(x)] = self._net(x.permute(0, 3, 1, 2)).double().numpy()
        return out

    def compare(self, candidates: np.ndarray, reals: np.ndarray,
                selections: Mapping[str, np.ndarray | None]) -> dict[str, float]:
        """FID against ``reals`` of each selection of ``candidates`` (rows; None: all), all
        uint8 (N, H, W, 3). Each selection needs at least 2 images, and so do the reals."""
        return self.compare_features(self.features(candidates), self.features(reals), selections)

    def compare_features(self, fc: np.ndarray, fr: np.ndarray,
                         selections: Mapping[str, np.ndarray | None]) -> dict[str, float]:
        """`compare` from `features` already computed (each image's features once)."""
        from torchmetrics.image.fid import FrechetInceptionDistance

        if len(fr) < 2:
            raise UsageError(f"FID needs at least 2 real images, got {len(fr)}")
        metric = FrechetInceptionDistance(feature=_passthrough(self.dims), reset_real_features=False)
        metric.update(_tensor(fr), real=True)
        out = {}
        for name, rows in selections.items():
            chosen = fc if rows is None else fc[np.asarray(rows, np.int64)]
            if len(chosen) < 2:
                raise UsageError(f"FID of selection {name!r} needs at least 2 images, got {len(chosen)}")
            metric.update(_tensor(chosen), real=False)
            out[name] = float(metric.compute())
            metric.reset()  # the fake statistics only (reset_real_features=False)
        return out


def _tensor(x: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(x))


def _passthrough(dims: int):
    """The metric's feature extractor for features already extracted: the identity."""
    import torch

    class Passthrough(torch.nn.Module):
        num_features = dims

        def forward(self, x):
            return x

    return Passthrough()
