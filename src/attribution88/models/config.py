"""Configurations of the reference models: frozen dataclasses, one per model, all extending
`TrainConfig` (the training hyperparameters every gradient-trained model shares).

The defaults are the official RepMix code's (models/RepMix.py `default_hparams` and
utils/augment_imagenetc.py `get_transforms` of github.com/TuBui/image_attribution).
No torch here: configs are read and checked before anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from ..errors import UsageError

#: Layout version of a run's config.json. Bump when a key changes meaning.
CONFIG_VERSION = 1

C = TypeVar("C", bound="TrainConfig")


@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters shared by the gradient-trained reference models.

    ``batch_size`` counts training samples: a RepMix sample is a pair of images mixed into one
    representation, so a batch of 32 feeds 64 images through the backbone (as the official
    data set class, which returns each image with a random partner)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 5e-4  # Adam's L2 term (not AdamW's decoupled decay)
    lr_gamma: float = 0.85  # StepLR, step 1 epoch
    resize: int = 256  # training: resize, random flip, random crop
    crop: int = 224
    test_size: int = 224  # inference: resize only
    perturbation: bool = True  # the seen ImageNet-C perturbation augmentation
    perturbation_p: float = 0.95
    val_every: int = 2  # validate every N epochs
    early_stop_patience: int = 3  # validations without a lower validation loss; 0 = off

    def check(self) -> None:
        """Raise `UsageError` naming the first value out of range."""
        positive = ("epochs", "batch_size", "resize", "crop", "test_size", "val_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise UsageError(f"config {name} must be >= 1, got {getattr(self, name)}")
        if self.crop > self.resize:
            raise UsageError(f"config crop {self.crop} must not exceed resize {self.resize}")
        if not self.lr > 0 or self.weight_decay < 0:
            raise UsageError(f"config lr must be > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")
        if not 0 < self.lr_gamma <= 1:
            raise UsageError(f"config lr_gamma must be in (0, 1], got {self.lr_gamma}")
        if not all(0 <= b < 1 for b in self.betas) or len(self.betas) != 2:
            raise UsageError(f"config betas must be two numbers in [0, 1), got {self.betas}")
        if not 0 <= self.perturbation_p <= 1:
            raise UsageError(f"config perturbation_p must be in [0, 1], got {self.perturbation_p}")
        if self.early_stop_patience < 0:
            raise UsageError(f"config early_stop_patience must be >= 0, got {self.early_stop_patience}")

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in fields(self)}

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any], where: str = "config") -> C:
        """Build from a mapping of field -> value; unknown fields and wrong types are refused."""
        known = {f.name: f for f in fields(cls)}
        unknown = [k for k in d if k not in known]
        if unknown:
            raise UsageError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(known)})")
        defaults = cls()
        values = {k: _coerce(k, v, getattr(defaults, k), where) for k, v in d.items()}
        config = cls(**values)
        config.check()
        return config

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed (checked)."""
        return type(self).from_dict({**self.to_dict(), **changes})

    def differences(self, other: TrainConfig) -> list[str]:
        """Names of the fields whose values differ."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a.keys() | b.keys() if a.get(k) != b.get(k)]


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    """``value`` as the type of ``default`` (bool, int, float, str, tuple, or None-able)."""
    kind = "value" if default is None else type(default).__name__
    bad = UsageError(f"{where}: setting {name}={value!r} is not a valid {kind}")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise bad
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise bad
        return tuple(_coerce(name, v, d, where) for v, d in zip(value, default))
    if default is None or isinstance(default, str):
        if value is None or isinstance(value, (str, int)) and not isinstance(value, bool):
            return value
        raise bad
    return value


def parse_setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line: the value is read as JSON when it parses
    (numbers, true/false, null, [a, b]), else kept as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set {text!r}: expected KEY=VALUE")
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def field_table(config_class: type[TrainConfig]) -> list[tuple[str, Any]]:
    """(name, default) of every field, in declaration order."""
    defaults = config_class()
    return [(f.name, getattr(defaults, f.name)) for f in dataclasses.fields(config_class)]
