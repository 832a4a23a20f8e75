"""PyTorch loading: a split of Attribution88 as a `torch.utils.data.Dataset` / `DataLoader`,
with the RepMix transforms, PNG decoding in the loader's workers.

>>> from attribution88.loader import make_loader
>>> loader = make_loader("attribution88", "train", batch_size=32, num_workers=2)  # doctest: +SKIP
>>> for epoch in range(30):
...     loader.dataset.set_epoch(epoch)          # new, reproducible augmentations per epoch
...     for images, labels in loader: ...        # float32 (B, 3, 224, 224), int64 (B,)

Randomness: every augmentation of an image (flip, crop offsets, the seen perturbation and its
severity and seed) is drawn from a local generator seeded with
``ids.train_augmentation_seed(image_id, epoch)``, so a given epoch is the same whatever the
worker count, batch size or order. Validation uses the same pipeline with probability 1 and
epoch 0: a fixed, perturbed validation set, as in the official code. The test transform only
resizes (test images already carry their perturbation).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .errors import OfflineError, UsageError
from .ids import train_augmentation_seed
from .spec import SPEC

if TYPE_CHECKING:
    import datasets
    import torch

#: RepMix input normalisation (official code: mean = std = 0.5 per channel).
MEAN = STD = (0.5, 0.5, 0.5)
#: The fields a sample can return, beside the image.
FIELDS = ("source", "semantic", "is_fake", "id", "perturbation", "severity")


def decode_png(data: bytes) -> Image.Image:
    """PNG bytes -> RGB PIL image."""
    im = Image.open(io.BytesIO(data))
    return im.convert("RGB") if im.mode != "RGB" else im


def _chw(image: Image.Image | np.ndarray) -> torch.Tensor:
    """HWC uint8 -> a contiguous CHW uint8 tensor. numpy's transposing copy is faster than
    torch's for uint8, and contiguous samples make the batch collation a plain copy
    (benchmarks/bench_loader.py measures both)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)))


def _to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    t = _chw(image).float().div_(255.0)
    return t.sub_(MEAN[0]).div_(STD[0])  # mean = std = 0.5 on every channel


class RepMixTrain:
    """Training transform of RepMix: resize 256, random horizontal flip, random crop 224, a
    seen ImageNet-C perturbation with probability ``p`` (official 0.95; 1.0 for validation)
    by the spec's protocol (``SPEC.protocol``: the repmix flavour, BGR, at 224 px; ``flavour``
    picks the other one), to tensor, normalise with mean = std = 0.5. Deterministic per
    (image id, epoch)."""

    def __init__(self, resize: int = 256, crop: int = 224, p: float | None = None, perturb: bool = True,
                 flavour: str | None = None):
        if not 0 < crop <= resize:
            raise UsageError(f"crop {crop} must be in (0, resize={resize}]")
        self.resize, self.crop, self.perturb = resize, crop, perturb
        self.p = SPEC.protocol.train_probability if p is None else float(p)
        if flavour is not None:
            from .perturb import FLAVOURS

            FLAVOURS.get(flavour)
        self.flavour = SPEC.protocol.flavour if flavour is None else flavour

    def __call__(self, image: Image.Image, image_id: str, epoch: int) -> torch.Tensor:
        rng = np.random.default_rng(train_augmentation_seed(image_id, epoch))
        image = image.resize((self.resize, self.resize), Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        top, left = (int(v) for v in rng.integers(0, self.resize - self.crop + 1, size=2))
        image = image.crop((left, top, left + self.crop, top + self.crop))
        arr = np.asarray(image)
        if self.perturb:
            from .perturb import training_perturbation

            arr, _, _ = training_perturbation(arr, int(rng.integers(0, 2**63 - 1)), p=self.p, flavour=self.flavour)
        return _to_tensor(arr)

    def __repr__(self) -> str:
        return (f"RepMixTrain(resize={self.resize}, crop={self.crop}, p={self.p}, perturb={self.perturb}, "
                f"flavour={self.flavour!r})")


class RepMixEval:
    """Test transform of RepMix: resize to 224 (bilinear), to tensor, normalise."""

    def __init__(self, size: int = 224):
        self.size = size

    def __call__(self, image: Image.Image, image_id: str, epoch: int) -> torch.Tensor:
        if image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
        return _to_tensor(image)

    def __repr__(self) -> str:
        return f"RepMixEval(size={self.size})"


class Decode:
    """No transform: the decoded image as a uint8 tensor (3, H, W)."""

    def __call__(self, image: Image.Image, image_id: str, epoch: int) -> torch.Tensor:
        return _chw(image)


def repmix_transform(split: str) -> Callable[[Image.Image, str, int], torch.Tensor]:
    """The RepMix transform for a split: train (augmented, p = 0.95), validation (fixed seen
    perturbations, p = 1), anything else (test, subsets): resize only."""
    if split == "train":
        return RepMixTrain()
    if split == "validation":
        return RepMixTrain(p=1.0)
    return RepMixEval()


def open_split(data: str | os.PathLike | datasets.Dataset, split: str = "train",
               config: str = "default") -> datasets.Dataset:
    """A split as a `datasets.Dataset`: from a local dataset folder, a Hub repository id, or
    an already loaded `Dataset`."""
    import datasets as ds

    if isinstance(data, ds.Dataset):
        return data
    if isinstance(data, ds.DatasetDict):
        if split not in data:
            raise UsageError(f"no split {split!r} in this DatasetDict (has {', '.join(data)})")
        return data[split]
    text = os.fspath(data)
    if Path(text).is_dir():
        from .format.reader import resolve

        resolve(text)  # clear errors for a source folder or a non-dataset folder
    try:
        return ds.load_dataset(text, config, split=split)
    except (ConnectionError, OSError) as e:
        if ds.config.HF_HUB_OFFLINE or "offline" in str(e).lower():
            raise OfflineError(f"{text}: not a local dataset folder and the Hub cannot be reached "
                               f"(offline); pass a local folder") from None
        raise
    except ValueError as e:  # unknown split / config
        raise UsageError(f"{text}: {' '.join(str(e).split())[:300]}") from None


class Attribution88Dataset:
    """A split of Attribution88 as a map-style torch dataset.

    Each item is ``(image, source)`` by default, or a tuple with the fields named in
    ``returns`` (any of "source", "semantic", "is_fake", "id", "perturbation", "severity").
    Images stay PNG bytes in the memory-mapped arrow table until a worker decodes them;
    batches are fetched with one arrow read (`__getitems__`).
    """

    def __init__(self, data: str | os.PathLike | datasets.Dataset, split: str = "train", *,
                 config: str = "default", transform: Callable | str | None = "repmix",
                 returns: Sequence[str] = ("source",), epoch: int = 0):
        import datasets as ds

        bad = [f for f in returns if f not in FIELDS]
        if bad:
            from .errors import UnknownNameError
            raise UnknownNameError("sample field", bad[0], FIELDS)
        split_ds = open_split(data, split, config)
        if "image" not in split_ds.column_names:
            raise UsageError("this dataset has no 'image' column")
        columns = ["image", "id", *[f for f in returns if f != "id"]]
        self._ds = split_ds.select_columns(columns).cast_column("image", ds.Image(decode=False))
        self.returns = tuple(returns)
        self.split = split
        self.transform = repmix_transform(split) if transform == "repmix" else (transform or Decode())
        self.epoch = epoch

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of epoch ``epoch`` (call before iterating; with
        ``persistent_workers=False``, the default, workers see the new value)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._ds.num_rows

    def _sample(self, image: dict[str, Any], image_id: str, extra: Sequence[Any]) -> tuple:
        x = self.transform(decode_png(image["bytes"]), image_id, self.epoch)
        return (x, *extra)

    def __getitem__(self, index: int) -> tuple:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple]:
        """A batch with one arrow read; PNGs are decoded here, in the loader's worker."""
        batch = self._ds[list(indices)]
        fields = [batch[f] for f in self.returns]
        return [self._sample(image, image_id, [col[i] for col in fields])
                for i, (image, image_id) in enumerate(zip(batch["image"], batch["id"]))]


def make_loader(data: str | os.PathLike | datasets.Dataset, split: str = "train", *,
                config: str = "default", batch_size: int = 32, shuffle: bool | None = None,
                num_workers: int | None = None, seed: int = 0, transform: Callable | str | None = "repmix",
                returns: Sequence[str] = ("source",), **loader_kwargs) -> torch.utils.data.DataLoader:
    """A `DataLoader` over one split: shuffled (with a seeded generator) for train, in order
    otherwise; ``num_workers`` defaults to the CPU count (capped at 8)."""
    import torch

    dataset = Attribution88Dataset(data, split, config=config, transform=transform, returns=returns)
    shuffle = (split == "train") if shuffle is None else shuffle
    workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                                       num_workers=workers, generator=generator, **loader_kwargs)
