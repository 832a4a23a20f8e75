"""Reading a versioned record: the one check of a JSON document's kind and layout version.

Every file attribution88 writes and reads back (dataset manifest, cleaning stats, generator
record, training-run config, results document, leaderboard record) carries a layout version.
`read_version` checks it the same way everywhere and answers with one line naming the file, the
version found, the version supported and what to do; the caller then reads the fields."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UPGRADE = "upgrade attribution88"


def read_version(d: Any, *, where: str, supported: int, error: type[Exception],
                 key: str = "version", kind: str | None = None, kind_key: str = "kind",
                 kind_required: bool = True, default: int | None = None, exact: bool = False,
                 remedy: str = UPGRADE) -> int:
    """The layout version of the record ``d`` read from ``where``, or ``error`` (one line).

    ``kind``: the value ``d[kind_key]`` must hold (absent is accepted when not
    ``kind_required``). ``default``: the version of a record without ``key``. A version newer
    than ``supported`` is refused; an older one too when ``exact``, with ``remedy`` (what to do
    with the record) at the end of the message."""
    if not isinstance(d, Mapping):
        raise error(f"{where}: not a JSON object")
    if kind is not None:
        found = d.get(kind_key, None if kind_required else kind)
        if found != kind:
            raise error(f"{where}: {kind_key} is {found!r}, expected {kind!r} "
                        f"(not the attribution88 record this reads)")
    version = d.get(key, default)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise error(f"{where}: missing or bad {key} {version!r} (this attribution88 reads {supported})")
    if version > supported:
        raise error(f"{where}: {key} {version} is newer than this attribution88 reads "
                    f"({supported}); {UPGRADE}")
    if exact and version != supported:
        raise error(f"{where}: {key} {version} is older than this attribution88 reads "
                    f"({supported}); {remedy}")
    return version
