"""Every error attribution88 raises on purpose.

Each is a subclass of `Attribution88Error` and of the built-in exception a caller would expect
(`ValueError`, `FileNotFoundError`, ...), so `except ValueError` keeps working. The message is
one line that says what was wrong, where, and what to do; the command line prints exactly that
line and exits with `exit_code`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class Attribution88Error(Exception):
    """Base class. `exit_code` is what the command line exits with."""

    exit_code = 1

    def __str__(self) -> str:  # always one line
        return " ".join(super().__str__().split())


class UsageError(Attribution88Error, ValueError):
    """A command was called with arguments that cannot work (exit code 2)."""

    exit_code = 2


class UnknownNameError(Attribution88Error, KeyError):
    """A name (source, semantic, perturbation, architecture, ...) that is not registered."""

    exit_code = 2

    def __init__(self, kind: str, name: object, valid: Iterable[str]) -> None:
        valid = list(valid)
        self.kind, self.name, self.valid = kind, name, valid
        close = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(valid)}"
        super().__init__(f"unknown {kind} {name!r}; {hint}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SpecError(Attribution88Error, ValueError):
    """The benchmark spec file is inconsistent, or a dataset was built with another spec."""


class DatasetFormatError(Attribution88Error, ValueError):
    """A dataset folder or shard is not in the attribution88 format."""


class DatasetNotFoundError(Attribution88Error, FileNotFoundError):
    """No dataset where one was expected."""


class ReleaseImportError(Attribution88Error, ValueError):
    """The official release tree cannot be imported (missing files, unknown labels, ...)."""


class VerifyError(Attribution88Error, ValueError):
    """A dataset does not match its manifest or the spec."""


class PublishError(Attribution88Error, RuntimeError):
    """Publishing to the Hugging Face Hub failed or cannot start."""


class OfflineError(Attribution88Error, ConnectionError):
    """Something needs the network (weights, the Hub) and this machine has none."""


class ImageError(Attribution88Error, ValueError):
    """An input image cannot be used (not an image, empty, unsupported)."""


class MissingDependencyError(Attribution88Error, ImportError):
    """A package (or the data files it ships) that this operation needs is not installed."""


class CheckpointError(Attribution88Error, ValueError):
    """A generator checkpoint is missing, unsafe, truncated or of the wrong architecture."""


class SubmissionError(Attribution88Error, ValueError):
    """A submission file for `attribution88 score` is malformed (exit code 2)."""

    exit_code = 2


class BuildError(Attribution88Error, RuntimeError):
    """A benchmark build cannot go on."""


class ResultsFormatError(Attribution88Error, ValueError):
    """A results document (`attribution88 score --json`) is malformed or of a newer schema."""
