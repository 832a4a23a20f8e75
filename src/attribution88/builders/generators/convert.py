"""`attribution88 generators convert`: the authors' released checkpoints -> native checkpoints,
without importing or running anything from the file.

Formats read (the architecture comes from this package; the file gives tensors and config):

=============  ===============================================  ===================================
architecture   official format                                  read by
=============  ===============================================  ===================================
stylegan3      NVlabs/stylegan3 network pickle (PyTorch)        `safe_pickle` (restricted unpickler)
stylegan2      NVlabs/stylegan2 TF1 pickle ``(G, D, Gs)``, or   `safe_pickle`
               a stylegan2-ada-pytorch / stylegan3 pickle
stylegan       NVlabs/stylegan TF1 pickle ``(G, D, Gs)``        `safe_pickle`
progan         tkarras/progressive_growing_of_gans TF1 pickle   `safe_pickle`
sngan          pfnet-research/sngan_projection Chainer ``.npz``  ``numpy.load(allow_pickle=False)``
mmdgan,        mbinkowski/MMD-GAN TensorFlow checkpoint         `tf_checkpoint` (no TensorFlow)
cramergan      (``PREFIX.index`` + ``PREFIX.data-*``)
=============  ===============================================  ===================================

The ProGAN CelebA TF-Hub module (google/progan-128/1) is recognised and refused: the code that
built it is unpublished, so its variables have no known mapping (see `tfhub`).

Tensor names and conventions of each format are the authors' (TF ``[k, k, in, out]`` kernels,
``[in, out]`` dense weights, modulation biases stored minus one, flipped kernels of TF's
transposed convolutions); each mapping below says which. Truncation and noise are part of a
cell's definition: the values the official networks apply by default when sampled are read
from the file (a TF network's ``static_kwargs``) or taken from the authors' code defaults
(`SAMPLING_DEFAULTS`) and written into the record, so sampling reproduces the authors'
scripts.

Parity, checked once on CPU (not a test: NVlabs' code is not a dependency): generators of
NVlabs/stylegan3's own ``networks_stylegan3`` (StyleGAN3-T) and ``networks_stylegan2``
(StyleGAN2-ADA, conv_clamp 256), randomly initialised, pickled by their ``persistence`` (module
source embedded), converted here and run on the same latents with ``noise_mode='const'``:
max abs difference 8e-7 (StyleGAN3, output std 0.07) and 1.4e-5 (StyleGAN2, output std 1.9),
at psi 1 and 0.5. The TF1 and Chainer mappings are tested on files the tests write in the
official layout from a known model (tests/test_generators_convert.py), and the kernel flip of
TF's fused upsampling against TF's ``conv2d_transpose`` written out in NumPy.

Every refusal is one line naming the file; nothing is written unless the whole conversion
succeeded (the record and the weights are each written to a temporary name, then renamed).
"""

from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attribution88.errors import CheckpointError

from . import mmdgan, progan, sngan, stylegan, stylegan2, stylegan3, tfhub
from .architectures import ARCHITECTURES
from .base import GeneratorConfig
from .safe_pickle import NetworkState, PersistentObject, read_pickle

#: Truncation and noise the authors' code applies by default when sampling, by pickle family:
#: each architecture's (its entry in `ARCHITECTURES` cites the authors' code: StyleGAN psi 0.7 on
#: 8 layers, StyleGAN2 psi 0.5, StyleGAN3 psi 1; the stored noise maps; none for ProGAN, SNGAN,
#: MMDGAN, CramerGAN), and for stylegan2-ada-pytorch pickles ``Generator.forward``'s
#: ``truncation_psi=1`` with generate.py's ``--noise-mode const``.
SAMPLING_DEFAULTS: dict[str, dict[str, Any]] = {
    a.name: {"truncation_psi": a.truncation, "truncation_cutoff": a.truncation_cutoff, "noise": a.noise}
    for a in (ARCHITECTURES.get(name) for name in ARCHITECTURES)}
SAMPLING_DEFAULTS["stylegan2-ada-pytorch"] = {**SAMPLING_DEFAULTS["stylegan2"], "truncation_psi": 1.0}
#: Largest declared uncompressed size of a ``.npz`` (a zip) before it is refused as a bomb.
MAX_UNCOMPRESSED = 8 << 30
#: Largest compression ratio accepted in a ``.npz`` (float weights barely compress).
MAX_RATIO = 200

_FORMATS = {
    "stylegan3": "a NVlabs/stylegan3 network pickle (network-snapshot-*.pkl)",
    "stylegan2": "a NVlabs/stylegan2 TensorFlow pickle (stylegan2-*-config-f.pkl) or a stylegan2-ada-pytorch pickle",
    "stylegan": "a NVlabs/stylegan TensorFlow pickle (karras2019stylegan-*.pkl)",
    "progan": "a tkarras/progressive_growing_of_gans TensorFlow pickle (karras2018iclr-*.pkl)",
    "sngan": "a pfnet-research/sngan_projection Chainer generator (ResNetGenerator_*.npz)",
    "mmdgan": "a mbinkowski/MMD-GAN TensorFlow checkpoint (PREFIX.index + PREFIX.data-*, or its folder)",
    "cramergan": "a mbinkowski/MMD-GAN TensorFlow checkpoint (PREFIX.index + PREFIX.data-*, or its folder)",
}


@dataclass
class Converted:
    """What a file holds, in this package's terms."""

    arch: str
    config: GeneratorConfig
    state: dict[str, np.ndarray]
    sampling: dict[str, Any]
    source_format: str
    ignored: list[str] = field(default_factory=list)  # tensors of the file not used (D, training state)
    calibrate: bool = False  # batch-norm statistics measured on a calibration batch (MMD-GAN)
    hashed: Path | None = None  # the file whose sha256 identifies the source (default: the one given)


def expected_format(arch: str) -> str:
    """What a file given as ``arch`` should be, for error messages."""
    ARCHITECTURES.get(arch)
    return f"a {arch} generator as {_FORMATS[arch][2:] if _FORMATS[arch].startswith('a ') else _FORMATS[arch]}"


# -- entry point ---------------------------------------------------------------------------------
def read_official(path: str | Path, arch: str) -> Converted:
    """Read ``path`` as ``arch``'s official format. Raises `CheckpointError` (one line)."""
    path = Path(path)
    what = expected_format(arch)
    from .tf_checkpoint import checkpoint_prefix, read_checkpoint

    prefix = checkpoint_prefix(path)
    if not path.exists() and prefix is None:
        raise CheckpointError(f"{path}: no such file; expected {what}")
    if tfhub.is_module(path):
        raise tfhub.refusal(path, what)
    if prefix is not None:
        if arch not in ("mmdgan", "cramergan"):
            raise CheckpointError(f"{path}: a TensorFlow checkpoint (the MMD-GAN code base's format), not {arch} "
                                  f"(wrong architecture: use --arch mmdgan or cramergan); expected {what}")
        converted = _tf_resnet5(path, read_checkpoint(prefix, what), arch, what)
        converted.hashed = prefix.with_name(prefix.name + ".index")
        return converted
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder without a TensorFlow checkpoint; expected {what}")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror}); expected {what}") from None
    if head.startswith(b"PK\x03\x04"):
        return _read_zip(path, arch, what)
    if not head:
        raise CheckpointError(f"{path}: empty file; expected {what}")
    if head.startswith(b"\x1f\x8b"):
        raise tfhub.archive_refusal(path, what)
    obj = read_pickle(path, what)
    family = _pickle_family(path, obj, what)
    if family == "stylegan2-ada-pytorch" and arch == "stylegan2" or family == arch:
        reader = {"stylegan3": _nvlabs_pytorch, "stylegan2-ada-pytorch": _nvlabs_pytorch,
                  "stylegan2": _tf_stylegan2, "stylegan": _tf_stylegan, "progan": _tf_progan}[family]
        return reader(path, obj, family)
    shown = "stylegan2" if family == "stylegan2-ada-pytorch" else family
    raise CheckpointError(f"{path}: is a {shown} network, not {arch} (wrong architecture: use --arch {shown}); "
                          f"expected {what}")


def convert_file(path: str | Path, arch: str, semantic: str, out: str | Path) -> tuple[Path, Converted]:
    """Convert ``path`` to ``out/<arch>-<semantic>.safetensors`` + ``.json``. Returns the
    safetensors path and what was read."""
    import torch

    from attribution88.digests import file_sha256
    from attribution88.spec import SPEC

    from .checkpoints import check_state_dict, save_checkpoint

    SPEC.semantic(semantic)
    path = Path(path)
    converted = read_official(path, arch)
    family = ARCHITECTURES.get(arch).module()
    module = family.Generator(converted.config)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    state = {k: v for k, v in converted.state.items() if k in expected or not _derived(k)}
    check_state_dict(path, arch, expected, {k: tuple(v.shape) for k, v in state.items()})
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()},
                           strict=True)
    source_note = ""
    if converted.calibrate:  # batch-norm statistics the file does not hold (see _tf_resnet5)
        from attribution88.ids import derive_seed

        from .latents import draw_z

        seed = derive_seed("convert-batchnorm", arch, semantic)
        rng = np.random.default_rng(seed)
        z = np.stack([draw_z(rng, converted.config.z_dim, ARCHITECTURES.get(arch).latent)
                      for _ in range(BATCHNORM_CALIBRATION)])
        with torch.no_grad():
            module.calibrate(torch.from_numpy(z))
        source_note = f"; batch norm: statistics of {BATCHNORM_CALIBRATION} latents of seed {seed}"
    for name, tensor in module.state_dict().items():
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values; not a usable {arch} "
                                  f"generator")
    hashed = converted.hashed or path
    source = f"{hashed.name}#sha256:{file_sha256(hashed)[:12]} ({converted.source_format}{source_note})"
    saved = save_checkpoint(module.eval(), out, arch=arch, semantic=semantic, source=source,
                            sampling=converted.sampling)
    return saved, converted


def _derived(name: str) -> bool:
    from .checkpoints import DERIVED_BUFFERS

    return name.rsplit(".", 1)[-1] in DERIVED_BUFFERS


def _pickle_family(path: Path, obj: Any, what: str) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("G_ema"), PersistentObject):
        names = obj["G_ema"].state_dict()
        if "synthesis.input.freqs" in names:
            return "stylegan3"
        if "synthesis.b4.const" in names:
            return "stylegan2-ada-pytorch"
        raise CheckpointError(f"{path}: a PyTorch network pickle whose G_ema is neither StyleGAN2 nor StyleGAN3; "
                              f"expected {what}")
    if isinstance(obj, (tuple, list)) and len(obj) == 3 and all(isinstance(n, NetworkState) for n in obj):
        gs = obj[2]
        comps = gs.components
        if "synthesis" in comps:
            names = comps["synthesis"].variables
            if any(n.endswith("/mod_weight") for n in names):
                return "stylegan2"
            if any(n.endswith("/StyleMod/weight") for n in names):
                return "stylegan"
        elif "4x4/Dense/weight" in gs.variables:
            return "progan"
        raise CheckpointError(f"{path}: a TensorFlow network pickle of an unknown generator; expected {what}")
    kind = type(obj).__name__
    raise CheckpointError(f"{path}: a pickle of a {kind}, not a network pickle (a dict with G_ema, or a tuple "
                          f"(G, D, Gs)); expected {what}")


# -- helpers -------------------------------------------------------------------------------------
def _need(path: Path, variables: dict[str, np.ndarray], name: str, what: str) -> np.ndarray:
    if name not in variables:
        raise CheckpointError(f"{path}: variable {name!r} is missing; expected {what}")
    return np.asarray(variables[name], dtype=np.float32)


def _int(kwargs: dict, name: str, default: Any) -> Any:
    v = kwargs.get(name, default)
    return v if v is None else type(default)(v) if default is not None else v


def _fit_channels(chans: dict[int, int], per_res: int) -> tuple[int, int]:
    """(base, max) of ``min(base * per_res // res... )``: channels(res) = min(base / (res / per_res), max),
    from the channel count of every resolution (StyleGAN2: per_res 1, ProGAN/StyleGAN: 2)."""
    cmax = max(chans.values())
    below = [r for r in sorted(chans) if chans[r] < cmax]
    base = chans[below[0]] * below[0] // per_res if below else cmax * max(chans) // per_res
    return base, cmax


def _resolutions(names) -> list[int]:
    out = set()
    for n in names:
        head = n.split("/", 1)[0]
        a, _, b = head.partition("x")
        if a.isdigit() and a == b:
            out.add(int(a))
    return sorted(out)


def _sampling(family: str, static: dict) -> dict[str, Any]:
    s = dict(SAMPLING_DEFAULTS[family])
    if "truncation_psi" in static:  # the network's own default, as pickled
        psi = static["truncation_psi"]
        s["truncation_psi"] = 1.0 if psi is None else float(psi)
    if "truncation_cutoff" in static:
        cut = static["truncation_cutoff"]
        s["truncation_cutoff"] = None if cut is None else int(cut)
    return s


def _conv(w: np.ndarray) -> np.ndarray:
    """TF ``[kh, kw, in, out]`` -> PyTorch ``[out, in, kh, kw]``."""
    return w.transpose(3, 2, 0, 1)


# -- NVlabs PyTorch pickles (stylegan2-ada-pytorch, stylegan3) -------------------------------------
def _kw(obj: PersistentObject | None) -> dict:
    if obj is None:
        return {}
    kw = obj.state.get("_init_kwargs") or {}
    return dict(kw) if isinstance(kw, dict) else {}


def _nvlabs_pytorch(path: Path, obj: dict, family: str) -> Converted:
    arch = "stylegan3" if family == "stylegan3" else "stylegan2"
    what = expected_format(arch)
    g = obj["G_ema"]
    gk, mk, sk = _kw(g), _kw(g.child("mapping")), _kw(g.child("synthesis"))
    state = g.state_dict()
    if int(gk.get("c_dim", 0) or 0) or any(k.startswith("mapping.embed.") for k in state):
        raise CheckpointError(f"{path}: a class-conditional generator (c_dim > 0); the benchmark's generators "
                              f"are unconditional; expected {what}")
    if int(gk.get("img_channels", 3)) != 3:
        raise CheckpointError(f"{path}: a generator of {gk.get('img_channels')} channels; expected RGB, {what}")
    syn = {**(gk.get("synthesis_kwargs") or {}), **sk}
    if family == "stylegan3":
        syn = {**{k: v for k, v in gk.items() if k not in ("mapping_kwargs", "synthesis_kwargs")}, **syn}
    mapping_layers = sum(1 for k in state if k.startswith("mapping.fc") and k.endswith(".weight"))
    resolution = int(gk.get("img_resolution", syn.get("img_resolution", 0)) or 0)
    common = dict(resolution=resolution, z_dim=int(gk.get("z_dim", 512)), w_dim=int(gk.get("w_dim", 512)),
                  mapping_layers=mapping_layers, mapping_lr_mul=float(mk.get("lr_multiplier", 0.01)))
    if family == "stylegan3":
        if syn.get("use_radial_filters"):
            raise CheckpointError(f"{path}: a StyleGAN3-R generator (radial filters); this package implements "
                                  f"StyleGAN3-T (the paper's config); expected {what}")
        clamp = syn.get("conv_clamp", 256)
        config = stylegan3.Config(
            **common, channel_base=int(syn.get("channel_base", 32768)), channel_max=int(syn.get("channel_max", 512)),
            num_layers=int(syn.get("num_layers", 14)), num_critical=int(syn.get("num_critical", 2)),
            first_cutoff=float(syn.get("first_cutoff", 2)), first_stopband=float(syn.get("first_stopband", 2**2.1)),
            last_stopband_rel=float(syn.get("last_stopband_rel", 2**0.3)),
            margin_size=int(syn.get("margin_size", 10)), output_scale=float(syn.get("output_scale", 0.25)),
            conv_kernel=int(syn.get("conv_kernel", 3)), filter_size=int(syn.get("filter_size", 6)),
            lrelu_upsampling=int(syn.get("lrelu_upsampling", 2)),
            conv_clamp=None if clamp is None else float(clamp))
    else:
        if syn.get("architecture", "skip") != "skip":
            raise CheckpointError(f"{path}: a StyleGAN2 generator of architecture {syn.get('architecture')!r}; "
                                  f"config-f (the paper's) is 'skip'; expected {what}")
        clamp = syn.get("conv_clamp")
        config = stylegan2.Config(
            **common, channel_base=int(syn.get("channel_base", 32768)), channel_max=int(syn.get("channel_max", 512)),
            resample_filter=tuple(float(v) for v in syn.get("resample_filter", (1, 3, 3, 1))),
            conv_clamp=None if clamp is None else float(clamp))
    _check_config(path, config, what)
    ignored = [k for k in obj if k != "G_ema"]
    return Converted(arch, config, state, _sampling(family, {}), f"{family} pickle", ignored)


def _check_config(path: Path, config: GeneratorConfig, what: str) -> None:
    try:
        config.check()
    except ValueError as e:
        raise CheckpointError(f"{path}: its config cannot be built ({e}); expected {what}") from None


# -- NVlabs TF1 pickles ---------------------------------------------------------------------------
def _gs(path: Path, obj: tuple, what: str) -> tuple[NetworkState, NetworkState, NetworkState, dict]:
    """A StyleGAN / StyleGAN2 pickle's ``Gs``, its mapping and synthesis networks, and the static
    kwargs of the three (Gs's taking precedence)."""
    gs = obj[2]
    mapping, synthesis = gs.components.get("mapping"), gs.components["synthesis"]
    if mapping is None:
        raise CheckpointError(f"{path}: its Gs has no mapping network; expected {what}")
    return gs, mapping, synthesis, {**mapping.static_kwargs, **synthesis.static_kwargs, **gs.static_kwargs}


def _blocks(path: Path, variables: dict, what: str, network: str = "synthesis network") -> list[int]:
    """The resolutions of a TF generator's blocks (``4x4/...``), the first 4 px."""
    res_list = _resolutions(variables)
    if not res_list or res_list[0] != 4:
        raise CheckpointError(f"{path}: no 4x4 block in its {network}; expected {what}")
    return res_list


def _mapping(path: Path, gs: NetworkState, mapping: NetworkState, what: str, bias_scale: float = 1.0
             ) -> tuple[dict, int, int, int]:
    """The mapping network's tensors and ``w_avg`` (Gs's ``dlatent_avg``); layers, z_dim, w_dim."""
    v = mapping.variables
    if any(n.startswith("LabelConcat/") for n in v):
        raise CheckpointError(f"{path}: a class-conditional generator (LabelConcat); expected {what}")
    layers = sum(1 for n in v if n.startswith("Dense") and n.endswith("/weight"))
    if layers < 1:
        raise CheckpointError(f"{path}: its mapping network has no Dense layers; expected {what}")
    state = {}
    for i in range(layers):
        state[f"mapping.fc{i}.weight"] = _need(path, v, f"Dense{i}/weight", what).T
        state[f"mapping.fc{i}.bias"] = _need(path, v, f"Dense{i}/bias", what) * bias_scale
    state["mapping.w_avg"] = _need(path, gs.variables, "dlatent_avg", what)
    z_dim = state["mapping.fc0.weight"].shape[1]
    w_dim = state[f"mapping.fc{layers - 1}.weight"].shape[0]
    return state, layers, int(z_dim), int(w_dim)


def _tf_stylegan2(path: Path, obj: tuple, family: str) -> Converted:
    """NVlabs/stylegan2 ``G_main`` / ``G_mapping`` / ``G_synthesis_stylegan2`` variables, mapped
    as stylegan2-ada-pytorch's legacy.py does: dense ``[in, out]`` transposed, kernels
    ``[k, k, in, out]`` -> ``[out, in, k, k]`` (the upsampling ``Conv0_up`` kernel also
    flipped, TF's ``upsample_conv_2d`` flips it), ``mod_bias + 1`` (TF adds the one at run
    time), ``noiseN`` -> the layer's ``noise_const``."""
    what = expected_format("stylegan2")
    gs, mapping, synthesis, static = _gs(path, obj, what)
    if static.get("architecture", "skip") != "skip":
        raise CheckpointError(f"{path}: a StyleGAN2 generator of architecture {static['architecture']!r}; "
                              f"config-f (the paper's) is 'skip'; expected {what}")
    state, layers, z_dim, w_dim = _mapping(path, gs, mapping, what)
    v = synthesis.variables
    res_list = _blocks(path, v, what)
    chans = {}
    noise_index = 0
    for res in res_list:
        scope, block = f"{res}x{res}", f"synthesis.b{res}"
        convs = [("Conv", "conv1")] if res == 4 else [("Conv0_up", "conv0"), ("Conv1", "conv1")]
        if res == 4:
            state[f"{block}.const"] = _need(path, v, f"{scope}/Const/const", what)[0]
        for tf_name, name in convs:
            p, q = f"{scope}/{tf_name}", f"{block}.{name}"
            w = _conv(_need(path, v, f"{p}/weight", what))
            state[f"{q}.weight"] = w[:, :, ::-1, ::-1] if tf_name == "Conv0_up" else w
            state[f"{q}.affine.weight"] = _need(path, v, f"{p}/mod_weight", what).T
            state[f"{q}.affine.bias"] = _need(path, v, f"{p}/mod_bias", what) + 1
            state[f"{q}.noise_strength"] = _need(path, v, f"{p}/noise_strength", what).reshape([])
            state[f"{q}.bias"] = _need(path, v, f"{p}/bias", what)
            state[f"{q}.noise_const"] = _need(path, v, f"noise{noise_index}", what)[0, 0]
            noise_index += 1
        p, q = f"{scope}/ToRGB", f"{block}.torgb"
        state[f"{q}.weight"] = _conv(_need(path, v, f"{p}/weight", what))
        state[f"{q}.affine.weight"] = _need(path, v, f"{p}/mod_weight", what).T
        state[f"{q}.affine.bias"] = _need(path, v, f"{p}/mod_bias", what) + 1
        state[f"{q}.bias"] = _need(path, v, f"{p}/bias", what)
        chans[res] = state[f"{block}.conv1.weight"].shape[0]
    base, cmax = _fit_channels(chans, 1)
    config = stylegan2.Config(
        resolution=res_list[-1], z_dim=z_dim, w_dim=w_dim, mapping_layers=layers,
        mapping_lr_mul=float(static.get("mapping_lrmul", 0.01)), channel_base=base, channel_max=cmax,
        resample_filter=tuple(float(x) for x in static.get("resample_kernel", (1, 3, 3, 1))),
        truncation_cutoff=None, conv_clamp=None)
    _check_config(path, config, what)
    sampling = _sampling("stylegan2", gs.static_kwargs)
    return Converted("stylegan2", config, state, sampling, "stylegan2 TF pickle", ["G", "D"])


def _tf_stylegan(path: Path, obj: tuple, family: str) -> Converted:
    """NVlabs/stylegan ``G_style`` / ``G_mapping`` / ``G_synthesis`` variables. The mapping's
    dense layers carry their gain sqrt(2) in the weight scale and none in the activation; this
    package's mapping applies it after the leaky ReLU (as StyleGAN2 does), the same function
    once the bias is divided by sqrt(2). The fused upsampling ``Conv0_up`` (from 128 px,
    ``fused_scale='auto'``) is TF's ``conv2d_transpose`` of the summed kernel, which equals
    nearest upsampling + a convolution with the kernel flipped: stored here flipped."""
    what = expected_format("stylegan")
    gs, mapping, synthesis, static = _gs(path, obj, what)
    for key, want in (("use_noise", True), ("use_instance_norm", True), ("use_styles", True),
                      ("const_input_layer", True), ("use_pixel_norm", False)):
        if static.get(key, want) != want:
            raise CheckpointError(f"{path}: a StyleGAN generator with {key}={static[key]!r}; the paper's "
                                  f"(config-a) has {want}; expected {what}")
    state, layers, z_dim, w_dim = _mapping(path, gs, mapping, what, bias_scale=1 / math.sqrt(2))
    v = synthesis.variables
    res_list = _blocks(path, v, what)
    fused = static.get("fused_scale", "auto")
    fused_from = 128 if fused == "auto" else (8 if fused else 2 * res_list[-1])
    chans, noise_index = {}, 0
    for res in res_list:
        scope, block = f"{res}x{res}", f"synthesis.b{res}"
        layers_ = [("Const", None, "epi0"), ("Conv", "conv1", "epi1")] if res == 4 else \
            [("Conv0_up", "conv0_up", "epi0"), ("Conv1", "conv1", "epi1")]
        for tf_name, conv, epi in layers_:
            p = f"{scope}/{tf_name}"
            if conv is None:
                state[f"{block}.const"] = _need(path, v, f"{p}/const", what)[0]
            else:
                w = _conv(_need(path, v, f"{p}/weight", what))
                state[f"{block}.{conv}.weight"] = w[:, :, ::-1, ::-1] if conv == "conv0_up" and res >= fused_from else w
            e = f"{block}.{epi}"
            state[f"{e}.noise_weight"] = _need(path, v, f"{p}/Noise/weight", what)
            state[f"{e}.bias"] = _need(path, v, f"{p}/bias", what)
            state[f"{e}.style.weight"] = _need(path, v, f"{p}/StyleMod/weight", what).T
            state[f"{e}.style.bias"] = _need(path, v, f"{p}/StyleMod/bias", what)
            state[f"{e}.noise_const"] = _need(path, v, f"noise{noise_index}", what)[0, 0]
            noise_index += 1
        chans[res] = state[f"{block}.epi1.bias"].shape[0]
    state["synthesis.torgb.weight"] = _conv(_need(path, v, "ToRGB_lod0/weight", what))
    state["synthesis.torgb.bias"] = _need(path, v, "ToRGB_lod0/bias", what)
    base, cmax = _fit_channels(chans, 2)
    sampling = _sampling("stylegan", gs.static_kwargs)
    config = stylegan.Config(
        resolution=res_list[-1], z_dim=z_dim, w_dim=w_dim, mapping_layers=layers,
        mapping_lr_mul=float(static.get("mapping_lrmul", 0.01)), fmap_base=base, fmap_max=cmax,
        blur_filter=tuple(float(x) for x in static.get("blur_filter", (1, 2, 1))), fused_upsample_from=fused_from,
        truncation_cutoff=sampling["truncation_cutoff"])
    _check_config(path, config, what)
    return Converted("stylegan", config, state, sampling, "stylegan TF pickle", ["G", "D"])


def _tf_progan(path: Path, obj: tuple, family: str) -> Converted:
    """tkarras/progressive_growing_of_gans ``G_paper`` variables (``tfutil.Network``). The
    fused ``Conv0_up`` kernel is stored ``[k, k, out, in]`` and applied by ``conv2d_transpose``
    (= nearest upsampling + convolution with the kernel flipped); a non-fused ``Conv0`` is a
    plain ``[k, k, in, out]`` convolution after nearest upsampling."""
    what = expected_format("progan")
    gs = obj[2]
    v = gs.variables
    static = gs.static_kwargs
    if int(static.get("label_size", 0) or 0):
        raise CheckpointError(f"{path}: a class-conditional ProGAN (label_size > 0); expected {what}")
    if static.get("use_pixelnorm", True) is not True or static.get("use_wscale", True) is not True:
        raise CheckpointError(f"{path}: a ProGAN generator without pixel norm or equalized learning rate; "
                              f"expected {what}")
    res_list = _blocks(path, v, what, "generator")
    state: dict[str, np.ndarray] = {}
    state["b4.dense.weight"] = _need(path, v, "4x4/Dense/weight", what).T
    state["b4.bias"] = _need(path, v, "4x4/Dense/bias", what)
    state["b4.conv1.weight"] = _conv(_need(path, v, "4x4/Conv/weight", what))
    state["b4.conv1.bias"] = _need(path, v, "4x4/Conv/bias", what)
    chans = {4: state["b4.bias"].shape[0]}
    for res in res_list[1:]:
        scope = f"{res}x{res}"
        if f"{scope}/Conv0_up/weight" in v:
            w = _need(path, v, f"{scope}/Conv0_up/weight", what).transpose(2, 3, 0, 1)[:, :, ::-1, ::-1]
            state[f"b{res}.conv0.bias"] = _need(path, v, f"{scope}/Conv0_up/bias", what)
        else:
            w = _conv(_need(path, v, f"{scope}/Conv0/weight", what))
            state[f"b{res}.conv0.bias"] = _need(path, v, f"{scope}/Conv0/bias", what)
        state[f"b{res}.conv0.weight"] = w
        state[f"b{res}.conv1.weight"] = _conv(_need(path, v, f"{scope}/Conv1/weight", what))
        state[f"b{res}.conv1.bias"] = _need(path, v, f"{scope}/Conv1/bias", what)
        chans[res] = state[f"b{res}.conv1.bias"].shape[0]
    state["torgb.weight"] = _conv(_need(path, v, "ToRGB_lod0/weight", what))
    state["torgb.bias"] = _need(path, v, "ToRGB_lod0/bias", what)
    base, cmax = _fit_channels(chans, 2)
    config = progan.Config(resolution=res_list[-1], z_dim=int(state["b4.dense.weight"].shape[1]),
                           fmap_base=base, fmap_max=cmax)
    _check_config(path, config, what)
    return Converted("progan", config, state, _sampling("progan", {}), "progan TF pickle", ["G", "D"])


# -- Chainer .npz (SNGAN) -------------------------------------------------------------------------
def _read_zip(path: Path, arch: str, what: str) -> Converted:
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if any(i.filename.endswith("data.pkl") for i in infos):
                raise CheckpointError(f"{path}: a torch.save zip archive, not an official release format; "
                                      f"expected {what}")
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos)
            if total > MAX_UNCOMPRESSED or (total > (1 << 20) and total > MAX_RATIO * max(packed, 1)):
                raise CheckpointError(f"{path}: refused: its entries claim {total:,} bytes from {packed:,} "
                                      f"compressed (a zip bomb?); expected {what}")
            if not all(i.filename.endswith(".npy") for i in infos):
                raise CheckpointError(f"{path}: a zip archive that is not a NumPy .npz; expected {what}")
    except zipfile.BadZipFile as e:
        raise CheckpointError(f"{path}: not a readable zip archive ({e}: truncated?); expected {what}") from None
    if arch != "sngan":
        raise CheckpointError(f"{path}: a NumPy .npz (the Chainer format of SNGAN), not {arch} (wrong "
                              f"architecture: use --arch sngan); expected {what}")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                arrays[key] = npz[key]
    except ValueError as e:  # object arrays: allow_pickle=False refuses them
        detail = " ".join(str(e).split())
        raise CheckpointError(f"{path}: refused, nothing was run: {detail}; expected {what}") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise CheckpointError(f"{path}: not a readable .npz ({type(e).__name__}: truncated?); "
                              f"expected {what}") from None
    return _chainer_sngan(path, arrays, what)


def _chainer_sngan(path: Path, arrays: dict[str, np.ndarray], what: str) -> Converted:
    """pfnet-research/sngan_projection ``ResNetGenerator`` saved by Chainer's ``save_npz``:
    ``l1/W`` ``[out, in]``, ``blockN/{c1,c2,c_sc}/{W,b}`` ``[out, in, k, k]`` (the layouts of
    PyTorch), ``blockN/{b1,b2}/{gamma,beta,avg_mean,avg_var}``, ``b7``, ``l7``. A trainer
    snapshot's prefix (``updater/model:gen/``) is stripped."""
    lw = [k for k in arrays if k == "l1/W" or k.endswith("/l1/W")]
    if len(lw) != 1:
        raise CheckpointError(f"{path}: no l1/W array (a sngan_projection ResNetGenerator's dense input layer); "
                              f"expected {what}")
    prefix = lw[0][:-len("l1/W")]
    v = {k[len(prefix):]: a for k, a in arrays.items() if k.startswith(prefix)}
    if any("/gammas/" in k or "/betas/" in k for k in v):
        raise CheckpointError(f"{path}: a class-conditional SNGAN (categorical batch norm); expected {what}")
    blocks = sorted(int(k.split("/")[0][5:]) for k in v if k.startswith("block") and k.endswith("/c1/W"))
    if not blocks or blocks != list(range(2, 2 + len(blocks))):
        raise CheckpointError(f"{path}: no residual blocks block2, block3, ...; expected {what}")
    state: dict[str, np.ndarray] = {"l1.weight": _need(path, v, "l1/W", what), "l1.bias": _need(path, v, "l1/b", what)}

    def bn(src: str, dst: str) -> None:
        for a, b in (("gamma", "weight"), ("beta", "bias"), ("avg_mean", "running_mean"), ("avg_var", "running_var")):
            state[f"{dst}.{b}"] = _need(path, v, f"{src}/{a}", what)

    for i in blocks:
        for c in ("c1", "c2", "c_sc"):
            state[f"block{i}.{c}.weight"] = _need(path, v, f"block{i}/{c}/W", what)
            state[f"block{i}.{c}.bias"] = _need(path, v, f"block{i}/{c}/b", what)
        bn(f"block{i}/b1", f"block{i}.b1")
        bn(f"block{i}/b2", f"block{i}.b2")
    bn("b7", "b7")
    state["l7.weight"], state["l7.bias"] = _need(path, v, "l7/W", what), _need(path, v, "l7/b", what)
    ch = int(state["l7.weight"].shape[1])
    chans = [int(state[f"block{blocks[0]}.c1.weight"].shape[1])] + \
        [int(state[f"block{i}.c2.weight"].shape[0]) for i in blocks]
    if ch < 1 or any(c % ch for c in chans):
        raise CheckpointError(f"{path}: channel counts {chans} are not multiples of the last ({ch}); expected {what}")
    bottom = math.isqrt(max(1, state["l1.weight"].shape[0] // chans[0]))
    config = sngan.Config(resolution=bottom * 2 ** len(blocks), z_dim=int(state["l1.weight"].shape[1]), ch=ch,
                          multipliers=tuple(c // ch for c in chans), bottom_width=bottom)
    _check_config(path, config, what)
    return Converted("sngan", config, state, _sampling("sngan", {}), "sngan_projection Chainer npz")


# -- MMD-GAN / CramerGAN TensorFlow checkpoints (g-resnet5) -----------------------------------------
#: Latents of the calibration batch of a converted g-resnet5 (see `_tf_resnet5`): the code
#: base's default batch size (``--batch_size 64``).
BATCHNORM_CALIBRATION = 64


def _tf_resnet5(path: Path, tensors: dict[str, np.ndarray], arch: str, what: str) -> Converted:
    """mbinkowski/MMD-GAN's ``ResNetGenerator`` (``-architecture g-resnet5``), variables under
    ``generator/``: ``g_h0_lin/Matrix`` ``[z, out]`` and ``bias``; residual blocks of Gulrajani's
    tflib, ``g_resK.{Shortcut,Conv1,Conv2}.Filters`` ``[k, k, in, out]`` (+ ``.Biases`` but for
    Conv1), ``g_resK.{BN1,BN2}.{offset,scale}``; the last batch norm ``g_h4``; the output
    ``g_h5/w`` ``[5, 5, 3, in]`` (a ``conv2d_transpose`` kernel, used as stored by PyTorch's
    transposed convolution) and ``g_h5/biases``. Names are matched by their last component
    (tflib's variables may sit under extra name scopes).

    The code base's generator normalises with the statistics of the batch being sampled, also
    when sampling (tflib's ``Batchnorm`` with ``is_training=None``), and never updates its moving
    averages, so the checkpoint holds no usable statistics and an image depends on its batch.
    The converted model uses fixed statistics instead: those of one calibration batch of
    `BATCHNORM_CALIBRATION` latents drawn from a seed derived from the architecture and file
    (recorded), i.e. it equals the authors' graph evaluated on that batch, and every image then
    depends on its own latent only."""
    gen: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        parts = name.split("/")
        if parts[0] == "generator":
            two = len(parts) >= 2 and parts[-2] in ("g_h0_lin", "g_h5")
            gen["/".join(parts[-2:]) if two else parts[-1]] = value
    if "g_h0_lin/Matrix" not in gen:
        raise CheckpointError(f"{path}: no generator/g_h0_lin/Matrix (the g-resnet5 generator's input layer); "
                              f"expected {what}")
    blocks = sorted(int(m.group(1)) for k in gen if (m := re.match(r"^g_res(\d+)\.Conv1\.Filters$", k)))
    if not blocks or blocks != list(range(1, len(blocks) + 1)):
        raise CheckpointError(f"{path}: no residual blocks g_res1, g_res2, ... in its generator; expected {what}")
    state: dict[str, np.ndarray] = {"lin.weight": _need(path, gen, "g_h0_lin/Matrix", what).T,
                                    "lin.bias": _need(path, gen, "g_h0_lin/bias", what)}

    def bn(src: str, dst: str) -> None:
        state[f"{dst}.weight"] = _need(path, gen, f"{src}.scale", what)
        state[f"{dst}.bias"] = _need(path, gen, f"{src}.offset", what)
        state[f"{dst}.running_mean"] = np.zeros_like(state[f"{dst}.weight"])  # calibrated below
        state[f"{dst}.running_var"] = np.ones_like(state[f"{dst}.weight"])

    for k in blocks:
        b = f"g_res{k}"
        bn(f"{b}.BN1", f"res{k}.bn1")
        bn(f"{b}.BN2", f"res{k}.bn2")
        state[f"res{k}.conv1.weight"] = _conv(_need(path, gen, f"{b}.Conv1.Filters", what))
        state[f"res{k}.conv2.weight"] = _conv(_need(path, gen, f"{b}.Conv2.Filters", what))
        state[f"res{k}.conv2.bias"] = _need(path, gen, f"{b}.Conv2.Biases", what)
        state[f"res{k}.shortcut.weight"] = _conv(_need(path, gen, f"{b}.Shortcut.Filters", what))
        state[f"res{k}.shortcut.bias"] = _need(path, gen, f"{b}.Shortcut.Biases", what)
    bn("g_h4", "bn")
    state["out_weight"] = _need(path, gen, "g_h5/w", what).transpose(3, 2, 0, 1)
    state["out_bias"] = _need(path, gen, "g_h5/biases", what)
    gf = int(state["bn.weight"].shape[0])
    chans = [int(state["res1.conv1.weight"].shape[1])] + [int(state[f"res{k}.conv2.weight"].shape[0]) for k in blocks]
    if gf < 1 or any(c % gf for c in chans):
        raise CheckpointError(f"{path}: channel counts {chans} are not multiples of the last ({gf}); expected {what}")
    base = math.isqrt(max(1, state["lin.weight"].shape[0] // chans[0]))
    config = mmdgan.Config(resolution=base * 2 ** (len(blocks) + 1), z_dim=int(state["lin.weight"].shape[1]),
                           gf_dim=gf, multipliers=tuple(c // gf for c in chans),
                           final_kernel=int(state["out_weight"].shape[-1]))
    _check_config(path, config, what)
    return Converted(arch, config, state, _sampling(arch, {}), "MMD-GAN TF checkpoint", calibrate=True)
