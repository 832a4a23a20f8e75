"""Image identity and deterministic, id-derived assignment.

Every image has a stable id, ``{source}-{semantic}-{index:05d}`` for a built image (``index``
runs over the cell, 0-based) and ``{source}-{semantic}-r{index:05d}`` for an image imported from
the official release. From the id alone (and the preset) follow its split and, for a test
image, its perturbation condition, perturbation, severity and perturbation seed. Nothing here
reads or writes a global random state, and nothing depends on the order images are processed
in, so any shard can be built alone, on any machine, with the same result.

The primitive is a keyed counter-based hash: ``hash64(purpose, *parts)`` is BLAKE2b keyed with
the spec's ``hash_key`` over (purpose, parts) — a random function of its arguments, computable
for any image independently. Exact split sizes come from a keyed Feistel permutation of the
cell's indices built on that hash (with cycle walking), so a cell of 12,000 images has exactly
10,000 / 1,000 / 1,000 train / validation / test images, and each image's place is still
computed from its own index alone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import UsageError
from .spec import NO_PERTURBATION, SPEC, Cell, Preset, Spec, test_group

_ID = re.compile(r"^([a-z0-9]+)-([a-z0-9]+)-(r?)(\d{5,})$")
_FEISTEL_ROUNDS = 6
_SEED_BITS = 63  # seeds fit in a signed 64-bit column


def hash64(purpose: str, *parts: object, spec: Spec = SPEC) -> int:
    """A 64-bit keyed hash of (purpose, parts): the one source of randomness of the spec."""
    h = hashlib.blake2b(digest_size=8, key=spec.hash_key.encode())
    h.update(purpose.encode())
    for p in parts:
        h.update(b"\x1f")
        h.update(str(p).encode())
    return int.from_bytes(h.digest(), "little")


def derive_seed(purpose: str, *parts: object, spec: Spec = SPEC) -> int:
    """A non-negative 63-bit seed for a local random generator (numpy, torch)."""
    return hash64(purpose, *parts, spec=spec) >> (64 - _SEED_BITS)


def uniform(purpose: str, *parts: object, spec: Spec = SPEC) -> float:
    """A float in [0, 1) derived from (purpose, parts)."""
    return (hash64(purpose, *parts, spec=spec) >> 11) / float(1 << 53)


def permute(index: int, n: int, *key: object, spec: Spec = SPEC) -> int:
    """A keyed pseudo-random permutation of ``range(n)`` evaluated at ``index``.

    Balanced Feistel network over the smallest even number of bits covering ``n``, with cycle
    walking to stay below ``n``. A bijection for every key, O(1) per index.
    """
    if not 0 <= index < n:
        raise ValueError(f"index {index} outside range({n})")
    half = max(1, ((n - 1).bit_length() + 1) // 2)
    mask = (1 << half) - 1
    x = index
    while True:
        left, right = x >> half, x & mask
        for r in range(_FEISTEL_ROUNDS):
            left, right = right, left ^ (hash64("feistel", r, right, n, *key, spec=spec) & mask)
        x = (left << half) | right
        if x < n:
            return x


@dataclass(frozen=True)
class ImageId:
    cell: Cell
    index: int
    imported: bool = False

    def __str__(self) -> str:
        return image_id(self.cell, self.index, imported=self.imported)


def image_id(cell: Cell, index: int, *, imported: bool = False) -> str:
    """The id of image ``index`` of ``cell``, e.g. ``stylegan2-bedroom-00042``."""
    if index < 0:
        raise ValueError("image index must be >= 0")
    return f"{cell.name}-{'r' if imported else ''}{index:05d}"


def parse_id(text: str, spec: Spec = SPEC) -> ImageId:
    """Split an image id into its cell and index; a clear error for anything else."""
    m = _ID.match(text) if isinstance(text, str) else None
    if not m:
        raise UsageError(f"not an attribution88 image id: {text!r} (expected SOURCE-SEMANTIC-NNNNN)")
    cell = spec.cell(m.group(1), m.group(2))
    return ImageId(cell, int(m.group(4)), imported=bool(m.group(3)))


@dataclass(frozen=True)
class Assignment:
    """What the spec decides for one image."""

    id: str
    split: str
    condition: str | None = None  # test images: clean / seen_pert / unseen_pert
    perturbation: str = NO_PERTURBATION
    severity: int = 0  # 0 when not perturbed
    perturbation_seed: int | None = None  # test images only

    @property
    def test_group(self) -> str | None:
        """The test shard folder, e.g. ``seen_sem-unseen_pert``; None outside the test split."""
        if self.condition is None:
            return None
        return test_group(parse_id(self.id).cell.semantic.seen, self.condition)


def assign(text: str, preset: Preset, spec: Spec = SPEC) -> Assignment:
    """The split (and test perturbation) of a built image, from its id and the preset."""
    iid = parse_id(text, spec)
    if iid.imported:
        raise UsageError(f"{text}: imported images keep the release's split; use assign_test")
    sizes = preset.split_sizes(iid.cell.semantic)
    n = sum(sizes.values())
    if iid.index >= n:
        raise UsageError(f"{text}: index {iid.index} is outside its cell "
                         f"({n} images in preset {preset.name!r})")
    rank = permute(iid.index, n, "split", iid.cell.name, spec=spec)
    start = 0
    for split, size in sizes.items():
        if rank < start + size:
            if split == "test":
                return assign_test(text, rank - start, spec=spec)
            return Assignment(text, split)
        start += size
    raise AssertionError("unreachable: the permutation stays inside range(n)")


def assign_test(text: str, test_rank: int, spec: Spec = SPEC) -> Assignment:
    """The perturbation of a test image, given its rank among its cell's test images.

    Rank ``r`` takes condition ``r mod 3`` (clean / seen / unseen perturbation), so the three
    conditions hold equal shares of every cell up to one image. Within a condition,
    consecutive ranks walk through every (perturbation, severity) pair, starting at an offset
    drawn per cell, so pairs are spread evenly over the benchmark. Ranks come from a keyed
    permutation, so which image gets which condition is pseudo-random.
    """
    iid = parse_id(text, spec)
    conditions = spec.conditions
    condition = conditions[test_rank % len(conditions)]
    if condition == "clean":
        return Assignment(text, "test", condition)
    perts = spec.seen_perturbations() if condition == "seen_pert" else spec.unseen_perturbations()
    pairs = _pairs(tuple(p.name for p in perts), spec.severities)
    offset = hash64("test-pair-offset", iid.cell.name, condition, spec=spec) % len(pairs)
    name, severity = pairs[(test_rank // len(conditions) + offset) % len(pairs)]
    return Assignment(text, "test", condition, name, severity,
                      derive_seed("perturbation", text, spec=spec))


@lru_cache(maxsize=8)
def _pairs(names: tuple[str, ...], severities: tuple[int, ...]) -> list[tuple[str, int]]:
    return [(n, s) for n in names for s in severities]


def release_test_rank(position: int, n_test: int, cell: Cell, spec: Spec = SPEC) -> int:
    """Rank of an imported test image (``position`` in its cell's test images, sorted by
    release path) for `assign_test`: a keyed permutation, as for built images."""
    return permute(position, n_test, "release-test", cell.name, spec=spec)


def train_augmentation_seed(text: str, epoch: int, spec: Spec = SPEC) -> int:
    """Seed of the training-time perturbation of one image in one epoch."""
    return derive_seed("train-augmentation", text, epoch, spec=spec)


def latent_seed(cell: Cell, candidate: int, spec: Spec = SPEC) -> int:
    """Seed of the latent of generator candidate ``candidate`` of a fake cell (before
    cleaning keeps some of the candidates)."""
    return derive_seed("latent", cell.name, candidate, spec=spec)
