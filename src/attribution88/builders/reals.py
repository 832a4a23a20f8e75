"""Real images for each semantic: from a local folder, a Hugging Face dataset, or (the `mini`
preset) crops of the sample photographs scikit-image ships.

Every source lists stable keys (relative paths, dataset row ids, crop numbers); which images a
build uses is decided by ranking keys with the spec's keyed hash, so the choice is the same on
every machine and does not depend on listing order. Images are center-cropped to a square and
resized to 128 px with Pillow's Lanczos filter (antialiased).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from attribution88.errors import BuildError, ImageError, OfflineError, UsageError
from attribution88.ids import derive_seed, hash64
from attribution88.images import center_crop_resize, read_image
from attribution88.spec import SPEC, Semantic

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


class RealSource(Protocol):
    """Where the real images of one semantic come from."""

    description: str

    def keys(self) -> list[str]:
        """Stable keys of every image available, in any order."""

    def load(self, key: str) -> np.ndarray:
        """The image of a key, RGB uint8 (H, W, 3), any size."""

    def origin(self, key: str) -> str:
        """What the dataset's `origin` column records for this image."""


@dataclass(frozen=True)
class RealImage:
    key: str
    origin: str
    pixels: np.ndarray  # uint8 (128, 128, 3)


class FolderReals:
    """Every image file under a folder (recursively); keys are POSIX relative paths."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise BuildError(f"real images: {self.path} is not a folder")
        self.description = f"folder {self.path}"
        self._keys: list[str] | None = None

    def keys(self) -> list[str]:
        if self._keys is None:
            self._keys = sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*")
                                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not self._keys:
                raise BuildError(f"real images: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) "
                                 f"under {self.path}")
        return self._keys

    def load(self, key: str) -> np.ndarray:
        return read_image(self.path / key)

    def origin(self, key: str) -> str:
        return f"file:{key}"


class HubReals:
    """Rows of a Hugging Face dataset (a Hub repository or a local dataset folder) with an
    image column; keys are the id column's values (or row numbers)."""

    def __init__(self, name: str, split: str = "train", column: str = "image", id_column: str | None = None):
        import datasets

        try:
            ds = datasets.load_dataset(name, split=split)
        except (ConnectionError, OSError) as e:
            raise OfflineError(f"real images: cannot load {name} (split {split}) — offline or not found "
                               f"({type(e).__name__}); download it on a connected machine and pass the "
                               f"local folder") from None
        except ValueError as e:
            raise BuildError(f"real images: {name}: {' '.join(str(e).split())[:200]}") from None
        if column not in ds.column_names:
            raise BuildError(f"real images: {name} has no column {column!r} (has {', '.join(ds.column_names)})")
        self._ds = ds.cast_column(column, datasets.Image(decode=False)) if isinstance(
            ds.features[column], datasets.Image) else ds
        self.column, self.id_column, self.name, self.split = column, id_column, name, split
        self.description = f"Hugging Face dataset {name} ({split}, column {column})"
        ids = ds[id_column] if id_column else range(ds.num_rows)
        self._rows = {str(k): i for i, k in enumerate(ids)}
        if len(self._rows) != ds.num_rows:
            raise BuildError(f"real images: {name}: column {id_column!r} has duplicate values")

    def keys(self) -> list[str]:
        return list(self._rows)

    def load(self, key: str) -> np.ndarray:
        from attribution88.images import as_rgb, decode_image

        value = self._ds[self._rows[key]][self.column]
        if isinstance(value, dict):
            if value.get("bytes"):
                return decode_image(value["bytes"], name=f"{self.name}[{key}]")
            return read_image(value["path"])
        return as_rgb(value, name=f"{self.name}[{key}]")

    def origin(self, key: str) -> str:
        return f"hf:{self.name}:{self.split}:{key}"


#: scikit-image's bundled colour photographs (all shipped inside the wheel, none downloaded).
SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
                 "immunohistochemistry", "retina", "stereo_motorcycle", "colorwheel")


class SampleReals:
    """Stand-in real images for the `mini` preset: seeded random square crops (with flips) of
    scikit-image's bundled colour photographs. They do not depict the semantics (CelebA and
    LSUN are not redistributable here); every semantic gets its own crops, from a photograph
    chosen for it and the others."""

    def __init__(self, semantic: Semantic, count: int = 256):
        self.semantic, self.count = semantic, count
        self.description = ("crops of scikit-image's sample photographs (stand-ins for "
                            f"{semantic.dataset} {semantic.name})")

    def keys(self) -> list[str]:
        return [f"crop{i:05d}" for i in range(self.count)]

    @staticmethod
    @functools.lru_cache(maxsize=len(SAMPLE_PHOTOS))
    def _photo(name: str) -> np.ndarray:
        from skimage import data

        img = getattr(data, name)()
        return img[0] if name == "stereo_motorcycle" else img  # (left, right, disparity)

    def load(self, key: str) -> np.ndarray:
        rng = np.random.default_rng(derive_seed("sample-real", self.semantic.name, key))
        # two thirds of the crops from the semantic's own photograph, the rest from the others
        own = self.semantic.index % len(SAMPLE_PHOTOS)
        name = SAMPLE_PHOTOS[own if rng.random() < 2 / 3 else int(rng.integers(len(SAMPLE_PHOTOS)))]
        photo = self._photo(name)[..., :3]
        h, w = photo.shape[:2]
        side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = photo[y:y + side, x:x + side]
        return np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop)

    def origin(self, key: str) -> str:
        return f"skimage-sample:{self.semantic.name}:{key}"


def parse_real_source(text: str, semantic: Semantic) -> RealSource:
    """A real-image source from its command-line form: a folder path, ``hf:NAME[:SPLIT[:COLUMN]]``,
    or ``samples`` (scikit-image crops, the mini preset's stand-ins)."""
    if text == "samples":
        return SampleReals(semantic)
    if text.startswith("hf:"):
        parts = text[3:].split(":")
        if not parts[0]:
            raise UsageError(f"real source {text!r}: expected hf:NAME[:SPLIT[:COLUMN]]")
        return HubReals(parts[0], *(parts[1:3]))
    return FolderReals(text)


def pick_reals(source: RealSource, semantic: Semantic, n: int, size: int = SPEC.image_size,
               purpose: str = "real-pick") -> list[RealImage]:
    """``n`` real images, the keys ranked lowest by the keyed hash of (purpose, semantic, key),
    center-cropped and resized to ``size``. Unreadable files are named in the error."""
    keys = source.keys()
    if len(keys) < n:
        raise BuildError(f"real images for {semantic.name}: {source.description} has {len(keys)} "
                         f"images, {n} are needed")
    ranked = sorted(keys, key=lambda k: (hash64(purpose, semantic.name, k), k))[:n]
    out, bad = [], []
    for key in sorted(ranked):
        try:
            out.append(RealImage(key, source.origin(key), center_crop_resize(source.load(key), size)))
        except ImageError as e:
            bad.append(str(e))
    if bad:
        raise BuildError(f"real images for {semantic.name}: {len(bad)} unreadable: {'; '.join(bad[:3])}")
    return out


def stack(images: Sequence[RealImage]) -> np.ndarray:
    """uint8 (N, H, W, 3)."""
    return np.stack([r.pixels for r in images]) if images else np.zeros((0, SPEC.image_size, SPEC.image_size, 3), np.uint8)
