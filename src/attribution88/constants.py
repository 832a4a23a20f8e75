"""Settings that come from the environment: the one place their names are defined.

They are read when used (not at import), so that a test or a caller that sets one sees it
take effect.
"""

from __future__ import annotations

#: Folder of generator checkpoints, ``<arch>-<semantic>.safetensors`` each with its config
#: record ``<arch>-<semantic>.json`` beside it. The ``--checkpoints DIR`` option overrides it.
CHECKPOINTS_ENV = "ATTRIBUTION88_CHECKPOINTS"

#: Path of the ImageNet weights of the LPIPS backbone (a torchvision state dict, .pth or
#: .safetensors), for machines that cannot download them (see attribution88.builders.lpips_features).
#: The ``--lpips-backbone FILE`` option of `attribution88 build` overrides it.
LPIPS_BACKBONE_ENV = "ATTRIBUTION88_LPIPS_BACKBONE"

#: Size limit of a submission read by `attribution88 score` (bytes, or with a K/M/G suffix).
MAX_SUBMISSION_BYTES_ENV = "ATTRIBUTION88_MAX_SUBMISSION_BYTES"
