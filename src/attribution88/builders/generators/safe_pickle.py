"""Reading the authors' network pickles without running them.

A pickle is a small program: its ``GLOBAL``/``STACK_GLOBAL`` opcodes name a module attribute
that the unpickler imports and then calls. NVlabs' pickles use that to rebuild their networks
from Python source embedded in the file (``torch_utils.persistence`` in the PyTorch code
bases, ``build_module_src`` in the TensorFlow ones), so loading one with `pickle.load` runs
whatever the file says. `read_pickle` unpickles with `find_class` answered from a fixed table
(`ALLOWED`): the few names a network pickle needs map to inert stand-ins that only collect
state (arrays, dicts, numbers, strings), and every other name is refused with the name, before
anything is imported. Embedded source is kept as a string and never compiled; the architecture
comes from this package's implementation.

What the table holds, and why each is harmless:

- containers: ``collections.OrderedDict`` (a dict), ``builtins.set`` / ``frozenset`` /
  ``slice``, ``_codecs.encode`` restricted to latin-1 (protocol-2 pickles write bytes so);
- NVlabs' classes: ``torch_utils.persistence._reconstruct_persistent_obj`` (StyleGAN2-ADA and
  StyleGAN3 modules: becomes a `PersistentObject` holding the class name and the state dict),
  ``dnnlib.tflib.network.Network`` (StyleGAN, StyleGAN2) and ``tfutil.Network`` (ProGAN):
  a `NetworkState` holding ``__getstate__``'s dict (name, static kwargs, variables as arrays);
  ``dnnlib(.util).EasyDict``: a dict;
- PyTorch tensors: ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` build NumPy
  arrays; ``torch.storage._load_from_bytes`` parses the legacy ``torch.save`` stream of one
  storage (magic, protocol, system info, a pickle whose persistent ids name the storage, its
  raw little-endian bytes) with the same restricted unpickler; ``torch.XStorage`` name dtypes;
  plain ``torch.nn.modules.*`` classes become `InertObject`s holding their state;
- NumPy arrays: ``numpy(._)core.multiarray._reconstruct`` / ``scalar`` and ``numpy.dtype``
  for numeric dtypes only (an object array's items would be more pickled objects).

Every failure is a `CheckpointError` of one line naming the file.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attribution88.errors import CheckpointError

#: The legacy ``torch.save`` stream starts with this number, then protocol version 1001.
_TORCH_LEGACY_MAGIC, _TORCH_LEGACY_PROTOCOL = 0x1950A86A20F9469CFC6C, 1001
#: Storage classes of the legacy stream -> NumPy dtypes (little endian).
_STORAGES = {"FloatStorage": "<f4", "HalfStorage": "<f2", "DoubleStorage": "<f8", "BFloat16Storage": "bf16",
             "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
             "ByteStorage": "u1", "BoolStorage": "?"}
_NUMERIC_KINDS = "biufc?"


class Refused(Exception):
    """Raised inside the unpickler; `read_pickle` turns it into a `CheckpointError`."""


# -- inert stand-ins ----------------------------------------------------------------------------
@dataclass
class PersistentObject:
    """An object of NVlabs' ``persistence`` (a ``torch.nn.Module`` of StyleGAN2-ADA or
    StyleGAN3): its class name and its ``__dict__``; the embedded module source is dropped."""

    class_name: str
    state: dict = field(default_factory=dict)

    def state_dict(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Parameters and buffers by their ``torch.nn.Module.state_dict`` names."""
        out: dict[str, np.ndarray] = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if isinstance(value, np.ndarray):
                    out[prefix + name] = value
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, (PersistentObject, InertObject)):
                out.update(child.state_dict(f"{prefix}{name}."))
        return out

    def child(self, name: str) -> PersistentObject | None:
        value = (self.state.get("_modules") or {}).get(name)
        return value if isinstance(value, PersistentObject) else None


class InertObject:
    """Any allowed class rebuilt without its code: the state it is given, kept as data."""

    class_name = "object"

    def __init__(self, *args: Any) -> None:
        self.state: dict = {}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = state if isinstance(state, dict) else {"state": state}

    state_dict = PersistentObject.state_dict


class NetworkState(InertObject):
    """A TensorFlow network of dnnlib.tflib (StyleGAN, StyleGAN2) or tfutil (ProGAN): the dict
    its ``__getstate__`` wrote. ``variables``: name -> array; ``components``: sub-networks."""

    class_name = "Network"

    @property
    def variables(self) -> dict[str, np.ndarray]:
        return {str(k): v for k, v in (self.state.get("variables") or []) if isinstance(v, np.ndarray)}

    @property
    def components(self) -> dict[str, NetworkState]:
        comps = self.state.get("components") or {}
        return {k: v for k, v in comps.items() if isinstance(v, NetworkState)}

    @property
    def static_kwargs(self) -> dict:
        kw = self.state.get("static_kwargs") or {}
        return dict(kw) if isinstance(kw, dict) else {}


class EasyDict(dict):
    """dnnlib's ``EasyDict``: a plain dict here."""

    def __setstate__(self, state: Any) -> None:
        pass


def _inert_class(qualified: str) -> type:
    return type(qualified.rsplit(".", 1)[-1], (InertObject,), {"class_name": qualified})


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise Refused("a persistent object without the class metadata of NVlabs' persistence")
    state = meta.get("state")
    return PersistentObject(meta["class_name"], state if isinstance(state, dict) else {})


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    """``copyreg._reconstructor`` (protocol 0/1 objects), for the stand-in classes only."""
    if not (isinstance(cls, type) and issubclass(cls, (InertObject, EasyDict))) or base not in (object, dict):
        raise Refused(f"copyreg._reconstructor of {getattr(cls, '__name__', cls)!r}")
    return cls.__new__(cls)


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise Refused("_codecs.encode other than a latin-1 string")
    return text.encode("latin-1")


class _Dtype:
    """``numpy.dtype(name, align, copy)`` for numeric dtypes; BUILD sets the byte order."""

    def __init__(self, name: Any, align: Any = False, copy: Any = True) -> None:
        try:
            self.dtype = np.dtype(name) if isinstance(name, str) else None
        except TypeError:
            self.dtype = None
        if self.dtype is None or self.dtype.kind not in _NUMERIC_KINDS:
            raise Refused(f"a numpy array of dtype {name!r} (only numeric arrays are read)")

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.dtype = self.dtype.newbyteorder(state[1]) if state[1] in "<>" else self.dtype


class _Array:
    """``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')`` + BUILD
    ``(version, shape, dtype, fortran, raw bytes)``."""

    def __init__(self, *args: Any) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5):
            raise Refused("a numpy array with an unexpected state")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _Dtype) or not isinstance(raw, (bytes, bytearray)):
            raise Refused("a numpy array whose data is not raw numeric bytes")
        shape = tuple(int(s) for s in shape)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * dtype.dtype.itemsize != len(raw):
            raise Refused(f"a numpy array of shape {list(shape)} with {len(raw)} bytes of data")
        a = np.frombuffer(bytes(raw), dtype=dtype.dtype, count=count)
        self.array = a.reshape(shape, order="F" if fortran else "C").astype(dtype.dtype.newbyteorder("="))


def _scalar(dtype: Any, raw: Any = None) -> Any:
    if not isinstance(dtype, _Dtype) or not isinstance(raw, (bytes, bytearray)) or len(raw) != dtype.dtype.itemsize:
        raise Refused("a numpy scalar that is not numeric")
    return np.frombuffer(bytes(raw), dtype=dtype.dtype)[0].item()


def _frombuffer(raw: Any, dtype: Any, shape: Any, order: Any = "C") -> _Array:
    """``numpy.core.numeric._frombuffer`` (arrays pickled with protocol 5)."""
    a = _Array()
    a.__setstate__((1, tuple(shape), dtype, order == "F", bytes(raw) if isinstance(raw, (bytes, bytearray)) else None))
    return a


def _ndarray_marker(*args: Any) -> None:
    raise Refused("numpy.ndarray called directly")


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name, self.dtype = name, _STORAGES[name]


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> np.ndarray:
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise Refused("a tensor whose storage is not raw data")
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(offset)
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise Refused("a tensor with an invalid size or stride")
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise Refused(f"a tensor reaching element {last} of a storage of {storage.size} (truncated?)")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride), writeable=False)
    return np.array(view)


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None, *rest: Any) -> Any:
    if not isinstance(data, np.ndarray):
        raise Refused("a parameter that is not a tensor")
    return data


def _load_from_bytes(data: Any) -> np.ndarray:
    """One storage, as written by ``torch.save(storage, _use_new_zipfile_serialization=False)``."""
    if not isinstance(data, (bytes, bytearray)):
        raise Refused("torch.storage._load_from_bytes without bytes")
    if bytes(data[:4]) == b"PK\x03\x04":
        raise Refused("a storage in torch's zip format inside a pickle")
    f = io.BytesIO(bytes(data))
    if _unpickle(f, {}) != _TORCH_LEGACY_MAGIC or _unpickle(f, {}) != _TORCH_LEGACY_PROTOCOL:
        raise Refused("a storage that is not a legacy torch.save stream")
    info = _unpickle(f, {})
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise Refused("a big-endian torch storage")
    refs: dict[str, tuple[str, int]] = {}

    def storage_ref(pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise Refused(f"a persistent id {str(pid)[:60]!r} that is not a torch storage")
        key, numel = str(pid[2]), int(pid[4])
        refs[key] = (pid[1].dtype, numel)
        return ("storage", key)

    root = _unpickle(f, {}, storage_ref)
    keys = _unpickle(f, {})
    if not isinstance(keys, list):
        raise Refused("a torch storage stream without its key list")
    arrays = {}
    for key in keys:
        head = f.read(8)
        if len(head) < 8 or str(key) not in refs:
            raise Refused("a truncated torch storage")
        (numel,) = struct.unpack("<q", head)
        dtype, expected = refs[str(key)]
        itemsize = 2 if dtype == "bf16" else np.dtype(dtype).itemsize
        raw = f.read(numel * itemsize)
        if numel != expected or len(raw) != numel * itemsize:
            raise Refused("a truncated torch storage")
        if dtype == "bf16":  # bfloat16: the high half of a float32
            arrays[str(key)] = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arrays[str(key)] = np.frombuffer(raw, dtype).astype(np.dtype(dtype).newbyteorder("="))
    if not (isinstance(root, tuple) and root[:1] == ("storage",) and root[1] in arrays):
        raise Refused("a torch storage stream without a storage")
    return arrays[root[1]]


def _as_tuple(*args: Any) -> tuple:
    return tuple(args[0]) if args else ()


#: ``module.name`` -> what the unpickler gets instead. Everything else is refused.
ALLOWED: dict[str, Any] = {
    "collections.OrderedDict": OrderedDict,
    "builtins.set": set, "builtins.frozenset": frozenset, "builtins.slice": slice,
    "builtins.object": object, "builtins.dict": dict,
    "__builtin__.set": set, "__builtin__.object": object,
    "copyreg._reconstructor": _reconstructor, "copy_reg._reconstructor": _reconstructor,
    "_codecs.encode": _codecs_encode,
    "torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
    "dnnlib.tflib.network.Network": NetworkState, "tfutil.Network": NetworkState,
    "dnnlib.EasyDict": EasyDict, "dnnlib.util.EasyDict": EasyDict,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor, "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch.storage._load_from_bytes": _load_from_bytes,
    "torch.Size": _as_tuple,
    **{f"torch.{name}": _StorageType(name) for name in _STORAGES},
    **{f"{np_core}.multiarray.{name}": fn for np_core in ("numpy.core", "numpy._core")
       for name, fn in (("_reconstruct", _Array), ("scalar", _scalar))},
    **{f"{np_core}.numeric._frombuffer": _frombuffer for np_core in ("numpy.core", "numpy._core")},
    "numpy.ndarray": _ndarray_marker, "numpy.dtype": _Dtype,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: Any, inert: dict[str, type], persistent: Any = None) -> None:
        super().__init__(f)
        self._inert, self._persistent = inert, persistent

    def find_class(self, module: str, name: str) -> Any:
        key = f"{module}.{name}"
        if key in ALLOWED:
            return ALLOWED[key]
        if module.startswith("torch.nn.modules.") and name.isidentifier():  # plain torch layers: data only
            return self._inert.setdefault(key, _inert_class(key))
        raise Refused(f"the file asks for {key}, which a network pickle does not need")

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise Refused("a persistent id outside a torch storage stream")
        return self._persistent(pid)


def _unpickle(f: Any, inert: dict[str, type], persistent: Any = None) -> Any:
    obj = _Unpickler(f, inert, persistent).load()
    return _finish(obj)


def _finish(obj: Any, depth: int = 0) -> Any:
    """Replace array stand-ins by their arrays, everywhere in the loaded structure."""
    if depth > 200:
        raise Refused("a structure nested too deeply")
    if isinstance(obj, _Array):
        if obj.array is None:
            raise Refused("a numpy array without data")
        return obj.array
    if isinstance(obj, _Dtype):
        return str(obj.dtype)
    if isinstance(obj, dict):
        for k in list(obj):
            obj[k] = _finish(obj[k], depth + 1)
        return obj
    if isinstance(obj, list):
        obj[:] = [_finish(v, depth + 1) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return tuple(_finish(v, depth + 1) for v in obj)
    if isinstance(obj, PersistentObject):
        obj.state = _finish(obj.state, depth + 1)
        return obj
    if isinstance(obj, InertObject):
        obj.state = _finish(obj.state, depth + 1)
        return obj
    return obj


def read_pickle(path: Path, what: str, data: bytes | None = None) -> Any:
    """Unpickle ``path`` (or ``data`` read from it) with the restricted table: inert objects,
    NumPy arrays and plain containers. Raises `CheckpointError` naming ``path`` and ``what``
    the file should be (e.g. "a stylegan3 network pickle")."""
    if data is None:
        data = path.read_bytes()
    if not data.startswith(b"\x80") and not data[:1] in (b"(", b"}", b"]", b"c"):
        raise CheckpointError(f"{path}: not a pickle; expected {what}")
    try:
        return _unpickle(io.BytesIO(data), {})
    except Refused as e:
        raise CheckpointError(f"{path}: refused, nothing was run: {e}; expected {what}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            struct.error, OverflowError, MemoryError, RecursionError, UnicodeDecodeError) as e:
        detail = "truncated" if isinstance(e, EOFError) or "truncated" in str(e) else f"{type(e).__name__}: {e}"
        raise CheckpointError(f"{path}: not a readable pickle ({' '.join(str(detail).split())[:120]}); "
                              f"expected {what}") from None
