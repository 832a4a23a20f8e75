"""Users' own generator code: ``--entry-point MODULE:FUNCTION``.

A model published as a pickle (NVlabs' StyleGAN2/3 snapshots, ProGAN's TF pickles, ...) is
used through its authors' code, without conversion: the user writes (or installs) a function

    def load(checkpoint: str | None, device: str):
        ...
        return generator

and passes ``--entry-point mypackage.mymodule:load`` (with ``--checkpoint FILE`` or a URL, handed
to the function as is). The function runs the user's code, which is the user's choice;
attribution88 itself only hashes a checkpoint file for the `origin` record, never parses it. It
returns either

- a ``torch.nn.Module`` called as ``G(z)`` — or ``G(z, c)`` with ``c`` zeros when it has a
  ``c_dim`` attribute, and with ``truncation_psi=`` when its ``forward`` takes one (NVlabs'
  generators) — on a z drawn from the image's seed (the architecture's distribution, size
  ``G.z_dim`` or the manifest's latent size), returning float images ``(N, 3, H, W)`` in the
  architecture's output range, or uint8 ``(N, H, W, 3)``. Each image runs alone with torch's
  random generators seeded from its seed (and restored afterwards), so that noise the module
  draws itself (NVlabs' ``noise_mode='random'``) is the same for an image in every run; the
  cell's truncation (``truncation_psi``, ``truncation_cutoff``) and noise mode (``noise_mode``,
  ``'const'`` by default for StyleGAN2, as the authors' generate.py) are passed when
  ``forward`` takes them; or
- any other callable, ``fn(seeds: list[int]) -> images`` (uint8 ``(N, H, W, 3)`` or a float
  tensor as above), which owns its determinism.

A StyleGAN2 snapshot with NVlabs' code on ``sys.path``::

    def load(checkpoint, device):
        import dnnlib, legacy  # from NVlabs/stylegan2-ada-pytorch or stylegan3
        with dnnlib.util.open_url(checkpoint) as f:
            return legacy.load_network_pkl(f)["G_ema"].to(device)
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from attribution88.errors import CheckpointError, UsageError

_SPEC = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)$")


@dataclass(frozen=True)
class EntryPoint:
    """A resolved ``MODULE:FUNCTION`` and what it returned."""

    spec: str
    kind: str  # "module" or "seeds"
    obj: Any
    accepts_psi: bool = False
    has_c: bool = False
    accepts_noise_mode: bool = False
    accepts_cutoff: bool = False


def resolve(spec: str) -> Callable[..., Any]:
    """The function named by ``MODULE:FUNCTION`` (``FUNCTION`` may be dotted)."""
    m = _SPEC.match(spec or "")
    if not m:
        raise UsageError(f"--entry-point {spec!r}: expected MODULE:FUNCTION, e.g. mypackage.gen:load")
    module_name, attr = m.groups()
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:  # the user's module may fail in any way: report it in one line
        raise CheckpointError(f"--entry-point {spec}: cannot import {module_name} "
                              f"({type(e).__name__}: {' '.join(str(e).split())})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CheckpointError(f"--entry-point {spec}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise CheckpointError(f"--entry-point {spec}: {attr} is not callable")
    return obj


def load_entry_point(spec: str, *, arch: str, checkpoint: str | None, device: str) -> EntryPoint:
    """Call the entry point and classify what it returns."""
    import torch

    fn = resolve(spec)
    try:
        obj = fn(checkpoint, device)
    except Exception as e:
        raise CheckpointError(f"--entry-point {spec} failed loading a {arch} generator"
                              f"{f' from {checkpoint}' if checkpoint else ''}: "
                              f"{type(e).__name__}: {' '.join(str(e).split())}") from None
    if isinstance(obj, torch.nn.Module):
        obj.eval()
        try:
            params = inspect.signature(obj.forward).parameters
        except (TypeError, ValueError):
            params = {}
        var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        return EntryPoint(spec, "module", obj, accepts_psi="truncation_psi" in params or var_kw,
                          has_c=hasattr(obj, "c_dim"), accepts_noise_mode="noise_mode" in params,
                          accepts_cutoff="truncation_cutoff" in params)
    if callable(obj):
        return EntryPoint(spec, "seeds", obj)
    raise CheckpointError(f"--entry-point {spec} returned {type(obj).__name__}; expected a torch module "
                          f"or a callable from seeds to images")
