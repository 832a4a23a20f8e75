"""Reference models of Attribution88: a registry, training, prediction.

>>> from attribution88 import models                                  # doctest: +SKIP
>>> models.list_models()
['repmix']
>>> config = models.get_model("repmix").config_from_preset("cpu", epochs=2)
>>> run = models.train("repmix", "attribution88", "runs/repmix-cpu", config=config)
>>> models.predict(run, "attribution88", out="preds.csv")

Adding a model is adding one file: a subclass of `AttributionModel` (its ``Config`` dataclass,
``PRESETS``, ``forward`` and ``loss``) decorated with ``@register_model("name")``, imported at
the bottom of this module. Importing this package imports torch; the command line imports it
only inside `train` and `predict`.
"""

from __future__ import annotations

from ..registry import Registry
from .base import AttributionModel

#: name -> model class.
MODELS: Registry[type[AttributionModel]] = Registry("model")


def register_model(name: str):
    """Class decorator: register a model class under ``name``."""

    def decorate(cls: type[AttributionModel]) -> type[AttributionModel]:
        cls.name = name
        return MODELS.add(name, cls)

    return decorate


def get_model(name: str) -> type[AttributionModel]:
    """The model class registered as ``name`` (one-line error with suggestions otherwise)."""
    return MODELS.get(name)


def list_models(pattern: str = "*") -> list[str]:
    return MODELS.names(pattern)


# Registered models (each file registers itself).
from . import repmix  # noqa: E402,F401
from . import yu  # noqa: E402,F401
from . import dct_cnn  # noqa: E402,F401
from . import eigenface  # noqa: E402,F401
from . import prnu  # noqa: E402,F401
from . import reverse_engineering  # noqa: E402,F401
from . import semantic_blind  # noqa: E402,F401

from .predict import predict  # noqa: E402
from .training import train  # noqa: E402

__all__ = ["MODELS", "AttributionModel", "get_model", "list_models", "predict", "register_model", "train"]
