"""Settings that come from the environment: the one place their names are defined and read.

Each function reads its variable when called (not at import), so that a test or a caller that
sets one sees it take effect. An unset or empty variable reads as None. A command-line option
(named beside each) overrides the variable; the caller decides that, not this module.

Variables the package sets for itself to tune a process (``OMP_NUM_THREADS`` in the build's
workers, ``OMP_WAIT_POLICY``, ``CUBLAS_WORKSPACE_CONFIG`` for deterministic training) are not
settings a user gives and are written where they take effect."""
from __future__ import annotations

import os

#: Folder of generator checkpoints, ``<arch>-<semantic>.safetensors`` each with its config
#: record ``<arch>-<semantic>.json`` beside it. The ``--checkpoints DIR`` option overrides it.
CHECKPOINTS_ENV = "ATTRIBUTION88_CHECKPOINTS"

#: Path of the ImageNet weights of the LPIPS backbone (a torchvision state dict, .pth or
#: .safetensors), for machines that cannot download them (see attribution88.builders.lpips_features).
#: The ``--lpips-backbone FILE`` option of `attribution88 build` overrides it.
LPIPS_BACKBONE_ENV = "ATTRIBUTION88_LPIPS_BACKBONE"

#: Size limit of a submission read by `attribution88 score` (bytes, or with a K/M/G suffix).
#: The ``--max-bytes`` option overrides it.
MAX_SUBMISSION_BYTES_ENV = "ATTRIBUTION88_MAX_SUBMISSION_BYTES"

#: ``1``: the command line re-raises its errors with the traceback instead of one line.
DEBUG_ENV = "ATTRIBUTION88_DEBUG"

#: Executables of the headless Chromium and its chromedriver (screenshots, browser tests);
#: without them, the ones on ``PATH``.
CHROMIUM_ENV = "ATTRIBUTION88_CHROMIUM"
CHROMEDRIVER_ENV = "ATTRIBUTION88_CHROMEDRIVER"


def _get(name: str) -> str | None:
    return os.environ.get(name) or None


def checkpoints() -> str | None:
    """`CHECKPOINTS_ENV`: the generator checkpoint folder."""
    return _get(CHECKPOINTS_ENV)


def lpips_backbone() -> str | None:
    """`LPIPS_BACKBONE_ENV`: the LPIPS backbone weights file."""
    return _get(LPIPS_BACKBONE_ENV)


def max_submission_bytes() -> str | None:
    """`MAX_SUBMISSION_BYTES_ENV`, unparsed (`eval.submission.default_max_bytes` parses it)."""
    return _get(MAX_SUBMISSION_BYTES_ENV)


def debug() -> bool:
    """`DEBUG_ENV` is ``1``."""
    return os.environ.get(DEBUG_ENV) == "1"


def chromium() -> str | None:
    """`CHROMIUM_ENV`: the Chromium executable."""
    return _get(CHROMIUM_ENV)


def chromedriver() -> str | None:
    """`CHROMEDRIVER_ENV`: the chromedriver executable."""
    return _get(CHROMEDRIVER_ENV)
