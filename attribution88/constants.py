"""Settings that come from the environment: the one place their names are defined.

They are read when used (not at import), so that a test or a caller that sets one sees it
take effect.
"""

from __future__ import annotations

#: Folder of generator checkpoints, ``<arch>-<semantic>.safetensors`` each with its config
#: record ``<arch>-<semantic>.json`` beside it. The ``--checkpoints DIR`` option overrides it.
CHECKPOINTS_ENV = "ATTRIBUTION88_CHECKPOINTS"
