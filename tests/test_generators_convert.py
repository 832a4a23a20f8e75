"""`generators convert` and the build: the authors' release formats, written here in their official layout
(same key names, shapes, dtypes, nesting: NVlabs' persistence pickles, dnnlib/tfutil TF1
pickles, Chainer npz) from a known model, converted without running anything from the file,
and compared tensor for tensor and image for image with the model they were written from.
Malicious and wrong files are refused in one line, nothing run and nothing written. The build
samples the generators the user gives (--checkpoints), records their origin, truncation and
noise, and takes the stand-in path only when no generator was given."""

import contextlib
import json
import math
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict

import datasets
import numpy as np
import pytest
import torch

from attribution88.builders.generators import load_generator, sample
from attribution88.builders.generators.convert import convert_file, read_official
from attribution88.builders.generators.stand_ins import build_stand_in
from attribution88.cli import main
from attribution88.errors import CheckpointError
from attribution88.format.manifest import read_manifest


# -- writing the official layouts ------------------------------------------------------------------
@contextlib.contextmanager
def nvlabs_modules(marker):
    """Modules named in NVlabs' pickles, present only while a test *writes* a file (pickle
    stores references by name); each function raises or touches ``marker`` if ever run."""
    def ran(*args, **kwargs):
        marker.write_text("ran")
        raise AssertionError("code from the file ran")

    def _reconstruct_persistent_obj(meta):
        ran()

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    torch_utils = types.ModuleType("torch_utils")
    torch_utils.persistence = persistence
    dnnlib = types.ModuleType("dnnlib")
    network = types.ModuleType("dnnlib.tflib.network")
    tflib = types.ModuleType("dnnlib.tflib")
    tfutil = types.ModuleType("tfutil")

    class EasyDict(dict):
        __module__ = "dnnlib"

    class Network:  # dnnlib.tflib.network.Network: pickled as its __getstate__ dict
        __module__ = "dnnlib.tflib.network"

        def __init__(self, state):
            self._state = state

        def __getstate__(self):
            return self._state

        def __setstate__(self, state):
            ran()

    class ProNetwork(Network):
        __module__ = "tfutil"
        __qualname__ = "Network"

    EasyDict.__qualname__ = "EasyDict"
    Network.__qualname__ = "Network"
    dnnlib.EasyDict, network.Network, tfutil.Network = EasyDict, Network, ProNetwork
    dnnlib.tflib, tflib.network = tflib, network
    mods = {"torch_utils": torch_utils, "torch_utils.persistence": persistence, "dnnlib": dnnlib,
            "dnnlib.tflib": tflib, "dnnlib.tflib.network": network, "tfutil": tfutil}
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        yield types.SimpleNamespace(ran=_reconstruct_persistent_obj, EasyDict=EasyDict, Network=Network,
                                    ProNetwork=ProNetwork)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def _source(marker):
    return f"open({str(marker)!r}, 'w').write('embedded source ran')\n"


class _Persistent:
    """What NVlabs' persistence pickles for a module: _reconstruct_persistent_obj(meta)."""

    def __init__(self, fn, class_name, state, src):
        self.fn, self.class_name, self.state, self.src = fn, class_name, state, src

    def __reduce__(self):
        meta = dict(type="class", version=4, module_src=self.src, class_name=self.class_name, state=self.state)
        return (self.fn, (meta,))


def nvlabs_pytorch_pickle(module, init_kwargs, marker, protocol=4):
    """``{'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'}`` as NVlabs' training
    loop pickles it, ``G_ema`` the module's tree of persistent objects."""
    with nvlabs_modules(marker) as m:
        def walk(mod, name, kwargs):
            state = {"training": False, "_parameters": OrderedDict(mod._parameters),
                     "_buffers": OrderedDict(mod._buffers),
                     "_non_persistent_buffers_set": set(mod._non_persistent_buffers_set),
                     "_modules": OrderedDict((k, walk(c, type(c).__name__, {})) for k, c in mod._modules.items()),
                     "_init_args": (), "_init_kwargs": kwargs}
            return _Persistent(m.ran, name, state, _source(marker))

        g = walk(module, "Generator", init_kwargs)
        d = _Persistent(m.ran, "Discriminator", {"_parameters": OrderedDict(w=torch.nn.Parameter(torch.ones(3))),
                                                 "_modules": OrderedDict()}, _source(marker))
        data = {"G": g, "D": d, "G_ema": g, "augment_pipe": None,
                "training_set_kwargs": m.EasyDict(path="~/datasets/lsun-bedroom.zip", resolution=256)}
        return pickle.dumps(data, protocol=protocol)


def tf_network(cls, name, func, variables, marker, components=None, static=None):
    return cls({"version": 4, "name": name, "static_kwargs": static or {}, "components": components or {},
                "build_module_src": _source(marker), "build_func_name": func,
                "variables": [(k, np.asarray(v, dtype=np.float32)) for k, v in variables.items()]})


def _np(module):
    return {k: v.detach().numpy().astype(np.float32) for k, v in module.state_dict().items()}


def _tf(w):
    """PyTorch [out, in, kh, kw] -> TF [kh, kw, in, out]."""
    return w.transpose(2, 3, 1, 0)


def tf_stylegan2_pickle(module, marker, static=None):
    """NVlabs/stylegan2's (G, D, Gs): Gs = G_main with mapping and synthesis components."""
    sd, cfg = _np(module), module.config
    mapping = {f"Dense{i}/{p}": (sd[f"mapping.fc{i}.weight"].T if p == "weight" else sd[f"mapping.fc{i}.bias"])
               for i in range(cfg.mapping_layers) for p in ("weight", "bias")}
    syn, noise = {"lod": np.float32(0)}, 0
    for res in module.synthesis.resolutions:
        b = f"synthesis.b{res}"
        if res == 4:
            syn["4x4/Const/const"] = sd[f"{b}.const"][None]
        for tf_name, name in ([("Conv", "conv1")] if res == 4 else [("Conv0_up", "conv0"), ("Conv1", "conv1")]):
            w = sd[f"{b}.{name}.weight"]
            syn[f"{res}x{res}/{tf_name}/weight"] = _tf(w[:, :, ::-1, ::-1] if name == "conv0" else w)
            syn[f"{res}x{res}/{tf_name}/mod_weight"] = sd[f"{b}.{name}.affine.weight"].T
            syn[f"{res}x{res}/{tf_name}/mod_bias"] = sd[f"{b}.{name}.affine.bias"] - 1
            syn[f"{res}x{res}/{tf_name}/noise_strength"] = sd[f"{b}.{name}.noise_strength"]
            syn[f"{res}x{res}/{tf_name}/bias"] = sd[f"{b}.{name}.bias"]
            syn[f"noise{noise}"] = sd[f"{b}.{name}.noise_const"][None, None]
            noise += 1
        syn[f"{res}x{res}/ToRGB/weight"] = _tf(sd[f"{b}.torgb.weight"])
        syn[f"{res}x{res}/ToRGB/mod_weight"] = sd[f"{b}.torgb.affine.weight"].T
        syn[f"{res}x{res}/ToRGB/mod_bias"] = sd[f"{b}.torgb.affine.bias"] - 1
        syn[f"{res}x{res}/ToRGB/bias"] = sd[f"{b}.torgb.bias"]
    with nvlabs_modules(marker) as m:
        comps = {"mapping": tf_network(m.Network, "G_mapping", "G_mapping", mapping, marker),
                 "synthesis": tf_network(m.Network, "G_synthesis", "G_synthesis_stylegan2", syn, marker,
                                         static={"resolution": cfg.resolution})}
        gs = tf_network(m.Network, "Gs", "G_main", {"lod": 0, "dlatent_avg": sd["mapping.w_avg"]}, marker, comps,
                        static=static)
        d = tf_network(m.Network, "D", "D_stylegan2", {"Output/weight": np.ones((4, 1))}, marker)
        return pickle.dumps((gs, d, gs), protocol=3)


def tf_stylegan_pickle(module, marker):
    """NVlabs/stylegan's (G, D, Gs): G_style, G_mapping (gain sqrt 2 in the dense weights),
    G_synthesis (AdaIN epilogues, ToRGB_lodN for every lod)."""
    sd, cfg = _np(module), module.config
    mapping = {}
    for i in range(cfg.mapping_layers):
        mapping[f"Dense{i}/weight"] = sd[f"mapping.fc{i}.weight"].T
        mapping[f"Dense{i}/bias"] = sd[f"mapping.fc{i}.bias"] * math.sqrt(2)
    syn, noise = {"lod": np.float32(0)}, 0
    res_list = module.synthesis.resolutions
    for res in res_list:
        b, s = f"synthesis.b{res}", f"{res}x{res}"
        layers = [("Const", None, "epi0"), ("Conv", "conv1", "epi1")] if res == 4 else \
            [("Conv0_up", "conv0_up", "epi0"), ("Conv1", "conv1", "epi1")]
        for tf_name, conv, epi in layers:
            if conv is None:
                syn[f"{s}/Const/const"] = sd[f"{b}.const"][None]
            else:
                w = sd[f"{b}.{conv}.weight"]
                fused = conv == "conv0_up" and res >= cfg.fused_upsample_from
                syn[f"{s}/{tf_name}/weight"] = _tf(w[:, :, ::-1, ::-1] if fused else w)
            syn[f"{s}/{tf_name}/Noise/weight"] = sd[f"{b}.{epi}.noise_weight"]
            syn[f"{s}/{tf_name}/bias"] = sd[f"{b}.{epi}.bias"]
            syn[f"{s}/{tf_name}/StyleMod/weight"] = sd[f"{b}.{epi}.style.weight"].T
            syn[f"{s}/{tf_name}/StyleMod/bias"] = sd[f"{b}.{epi}.style.bias"]
            syn[f"noise{noise}"] = sd[f"{b}.{epi}.noise_const"][None, None]
            noise += 1
    for lod in range(len(res_list)):  # progressive growing: a ToRGB per lod, lod 0 used
        c = sd["synthesis.torgb.weight"].shape[1] if lod == 0 else 4
        syn[f"ToRGB_lod{lod}/weight"] = _tf(sd["synthesis.torgb.weight"]) if lod == 0 else np.ones((1, 1, c, 3))
        syn[f"ToRGB_lod{lod}/bias"] = sd["synthesis.torgb.bias"] if lod == 0 else np.ones(3)
    with nvlabs_modules(marker) as m:
        comps = {"mapping": tf_network(m.Network, "G_mapping", "G_mapping", mapping, marker),
                 "synthesis": tf_network(m.Network, "G_synthesis", "G_synthesis", syn, marker)}
        gs = tf_network(m.Network, "Gs", "G_style", {"lod": 0, "dlatent_avg": sd["mapping.w_avg"]}, marker, comps)
        return pickle.dumps((gs, gs, gs), protocol=2)


def tf_progan_pickle(module, marker, fused=True):
    """tkarras/progressive_growing_of_gans' (G, D, Gs) of tfutil.Network, G_paper variables."""
    sd = _np(module)
    v = {"lod": np.float32(0), "4x4/Dense/weight": sd["b4.dense.weight"].T, "4x4/Dense/bias": sd["b4.bias"],
         "4x4/Conv/weight": _tf(sd["b4.conv1.weight"]), "4x4/Conv/bias": sd["b4.conv1.bias"]}
    for res in module.resolutions[1:]:
        w = sd[f"b{res}.conv0.weight"]
        if fused:  # [k, k, out, in], applied by conv2d_transpose
            v[f"{res}x{res}/Conv0_up/weight"] = w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)
            v[f"{res}x{res}/Conv0_up/bias"] = sd[f"b{res}.conv0.bias"]
        else:
            v[f"{res}x{res}/Conv0/weight"] = _tf(w)
            v[f"{res}x{res}/Conv0/bias"] = sd[f"b{res}.conv0.bias"]
        v[f"{res}x{res}/Conv1/weight"] = _tf(sd[f"b{res}.conv1.weight"])
        v[f"{res}x{res}/Conv1/bias"] = sd[f"b{res}.conv1.bias"]
    v["ToRGB_lod0/weight"], v["ToRGB_lod0/bias"] = _tf(sd["torgb.weight"]), sd["torgb.bias"]
    with nvlabs_modules(marker) as m:
        g = tf_network(m.ProNetwork, "G", "networks.G_paper", v, marker, static={"num_channels": 3})
        g._state["version"] = 2
        del g._state["components"]
        return pickle.dumps((g, g, g), protocol=2)


def chainer_sngan_npz(module, path, prefix=""):
    """sngan_projection's ResNetGenerator as Chainer's save_npz writes it."""
    sd, arrays = _np(module), {}
    names = {"weight": "W", "bias": "b"}
    bn = {"weight": "gamma", "bias": "beta", "running_mean": "avg_mean", "running_var": "avg_var"}
    for k, v in sd.items():
        parts = k.split(".")
        layer, p = parts[:-1], parts[-1]
        is_bn = any(x.startswith("b") and x[1:].isdigit() for x in layer[-1:])
        key = "/".join(layer) + "/" + (bn[p] if is_bn else names[p])
        arrays[prefix + key] = v
        if is_bn and p == "weight":
            arrays[prefix + "/".join(layer) + "/N"] = np.asarray(100)
    np.savez(path, **arrays)


def _varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _pb(number, value):
    """One protobuf field: an int (varint) or bytes (length-delimited)."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _sstable_block(entries):
    out, prev = bytearray(), b""
    for key, value in entries:
        shared = next((i for i, (a, b) in enumerate(zip(prev, key)) if a != b), min(len(prev), len(key)))
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value)) + key[shared:] + value
        prev = key
    return bytes(out) + struct.pack("<II", 0, 1)  # one restart point, at 0


def write_tf_checkpoint(prefix, tensors):
    """tf.train.Saver's V2 bundle: PREFIX.index (a LevelDB table of BundleEntryProto, the empty
    key a BundleHeaderProto) and PREFIX.data-00000-of-00001 (the raw little-endian tensors)."""
    data, entries = bytearray(), []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        shape = b"".join(_pb(2, _pb(1, int(d))) for d in a.shape)
        entry = _pb(1, 1) + _pb(2, shape) + _pb(4, len(data)) + _pb(5, a.nbytes) + _varint(6 << 3 | 5) + bytes(4)
        entries.append((name.encode(), entry))
        data += a.tobytes()
    entries.insert(0, (b"", _pb(1, 1) + _pb(3, _pb(1, 1))))  # num_shards 1, version
    trailer = bytes(5)  # no compression, crc (not checked)
    block = _sstable_block(entries)
    index_block = _sstable_block([(entries[-1][0], _varint(0) + _varint(len(block)))])
    meta_block = _sstable_block([])
    table = block + trailer
    index_at, meta_at = len(table), len(table) + len(index_block) + 5
    table += index_block + trailer + meta_block + trailer
    footer = _varint(meta_at) + _varint(len(meta_block)) + _varint(index_at) + _varint(len(index_block))
    table += footer + bytes(40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57)
    prefix.with_name(prefix.name + ".index").write_bytes(table)
    prefix.with_name(prefix.name + ".data-00000-of-00001").write_bytes(bytes(data))


def mmd_gan_checkpoint(module, prefix):
    """mbinkowski/MMD-GAN's g-resnet5 generator as its Saver writes it (with Adam slots and a
    critic), tflib's residual blocks under extra name scopes."""
    sd, v = _np(module), {}
    g = "generator/"
    v[g + "g_h0_lin/Matrix"], v[g + "g_h0_lin/bias"] = sd["lin.weight"].T, sd["lin.bias"]
    v[g + "g_h0_lin/Matrix/Adam"] = np.zeros_like(sd["lin.weight"].T)
    for k in range(1, module.num_blocks + 1):
        b = f"g_res{k}"
        for src, dst in (("BN1", "bn1"), ("BN2", "bn2")):
            v[f"{g}{b}.{src}.offset"], v[f"{g}{b}.{src}.scale"] = sd[f"res{k}.{dst}.bias"], sd[f"res{k}.{dst}.weight"]
            v[f"{g}{b}.{src}.moving_mean"] = np.zeros_like(sd[f"res{k}.{dst}.bias"])  # never updated
            v[f"{g}{b}.{src}.moving_variance"] = np.ones_like(sd[f"res{k}.{dst}.bias"])
        for src, dst in (("Conv1", "conv1"), ("Conv2", "conv2"), ("Shortcut", "shortcut")):
            v[f"{g}{b}.{src}/{b}.{src}.Filters"] = _tf(sd[f"res{k}.{dst}.weight"])
            if src != "Conv1":
                v[f"{g}{b}.{src}/{b}.{src}.Biases"] = sd[f"res{k}.{dst}.bias"]
    v[g + "g_h4.offset"], v[g + "g_h4.scale"] = sd["bn.bias"], sd["bn.weight"]
    v[g + "g_h5/w"], v[g + "g_h5/biases"] = sd["out_weight"].transpose(2, 3, 1, 0), sd["out_bias"]
    v["discriminator/d_h0_conv/w"] = np.ones((5, 5, 3, 4))
    write_tf_checkpoint(prefix, v)


# -- conversions -----------------------------------------------------------------------------------
def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0, msg=k)


def _convert(tmp_path, data, name, arch, semantic="bedroom"):
    src = tmp_path / name
    if isinstance(data, bytes):
        src.write_bytes(data)
    out = tmp_path / "ckpt"
    saved, converted = convert_file(src, arch, semantic, out)
    return saved, converted, load_generator(arch, semantic, checkpoint=saved)


def test_stylegan2_tf_pickle(tmp_path):
    marker = tmp_path / "ran"
    original = build_stand_in("stylegan2", "bedroom")
    data = tf_stylegan2_pickle(original, marker)
    saved, converted, gen = _convert(tmp_path, data, "stylegan2-bedroom-config-f.pkl", "stylegan2")
    _same_state(original, gen.module)
    assert converted.sampling == {"truncation_psi": 0.5, "truncation_cutoff": None, "noise": "const"}
    record = json.loads(saved.with_suffix(".json").read_text())
    assert record["sampling"]["truncation_psi"] == 0.5 and "stylegan2 TF pickle" in record["source"]
    assert gen.origin.endswith(";psi=0.5;noise=const")
    stand_in = load_generator("stylegan2", "bedroom", stand_in=True)
    assert (sample(gen, [5, 6]) == sample(stand_in, [5, 6])).all()
    assert not marker.exists()


def test_stylegan2_tf_pickle_keeps_the_networks_own_truncation(tmp_path):
    original = build_stand_in("stylegan2", "cat")
    data = tf_stylegan2_pickle(original, tmp_path / "ran", static={"truncation_psi": 0.7})
    _, converted, gen = _convert(tmp_path, data, "net.pkl", "stylegan2", "cat")
    assert converted.sampling["truncation_psi"] == 0.7 and gen.truncation == 0.7


def test_const_noise_is_the_stored_maps_and_the_default(tmp_path):
    original = build_stand_in("stylegan2", "bedroom")
    _, _, gen = _convert(tmp_path, tf_stylegan2_pickle(original, tmp_path / "ran"), "n.pkl", "stylegan2")
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((2, original.z_dim), dtype=np.float32))
    stored = [n.expand(2, -1, -1, -1) for n in original.const_noise()]
    with torch.no_grad():
        expected = original(z, stored, truncation_psi=0.5)
        other = original(z, [torch.randn_like(n) for n in stored], truncation_psi=0.5)
    assert not torch.equal(expected, other)
    from attribution88.builders.generators.latents import draw_latents
    from attribution88.builders.generators.sampling import quantize
    z0, _ = draw_latents(7, gen.z_dim, [], "normal")
    with torch.no_grad():
        img = original(torch.from_numpy(z0[None]), [n[:1] for n in stored], truncation_psi=0.5)
    assert (sample(gen, [7]) == quantize(img, (-1, 1)).numpy()).all()  # 128 px: no resize


@pytest.mark.parametrize("arch,protocol", [("stylegan3", 4), ("stylegan2", 2)])
def test_nvlabs_pytorch_pickle(tmp_path, arch, protocol):
    marker = tmp_path / "ran"
    original = build_stand_in(arch, "bedroom")
    cfg = original.config
    kwargs = {"z_dim": cfg.z_dim, "c_dim": 0, "w_dim": cfg.w_dim, "img_resolution": cfg.resolution,
              "img_channels": 3, "mapping_kwargs": {"num_layers": cfg.mapping_layers}}
    if arch == "stylegan3":
        kwargs.update(channel_base=cfg.channel_base, channel_max=cfg.channel_max, magnitude_ema_beta=0.999,
                      num_layers=cfg.num_layers)
    else:
        kwargs["synthesis_kwargs"] = {"channel_base": cfg.channel_base, "channel_max": cfg.channel_max,
                                      "num_fp16_res": 4, "conv_clamp": None}
    data = nvlabs_pytorch_pickle(original, kwargs, marker, protocol)
    saved, converted, gen = _convert(tmp_path, data, "network-snapshot-000100.pkl", arch)
    _same_state(original, gen.module)
    assert converted.sampling["truncation_psi"] == 1.0  # the PyTorch forward's default
    z = torch.randn(2, cfg.z_dim)
    noise = [n.expand(2, -1, -1, -1) for n in original.const_noise()] if arch == "stylegan2" else None
    with torch.no_grad():
        torch.testing.assert_close(gen.module(z, noise, truncation_psi=0.8), original(z, noise, truncation_psi=0.8),
                                   rtol=0, atol=0)
    assert not marker.exists() and sorted(p.name for p in saved.parent.iterdir()) == \
        [f"{arch}-bedroom.json", f"{arch}-bedroom.safetensors"]


def test_stylegan_tf_pickle(tmp_path):
    marker = tmp_path / "ran"
    original = build_stand_in("stylegan", "dog")
    _, converted, gen = _convert(tmp_path, tf_stylegan_pickle(original, marker), "karras2019stylegan-dogs.pkl",
                                 "stylegan", "dog")
    for k, v in original.state_dict().items():  # the sqrt(2) round trip of the mapping biases
        torch.testing.assert_close(gen.module.state_dict()[k], v, rtol=1e-6, atol=1e-7, msg=k)
    assert converted.sampling == {"truncation_psi": 0.7, "truncation_cutoff": 8, "noise": "const"}
    assert gen.origin.endswith(";psi=0.7;cutoff=8;noise=const") and not marker.exists()


def test_progan_tf_pickle_fused_and_not(tmp_path):
    original = build_stand_in("progan", "car")
    for fused in (True, False):
        _, _, gen = _convert(tmp_path, tf_progan_pickle(original, tmp_path / "ran", fused), f"p{fused}.pkl",
                             "progan", "car")
        _same_state(original, gen.module)
        assert gen.truncation is None and gen.noise is None and not (tmp_path / "ran").exists()
        (tmp_path / "ckpt" / "progan-car.safetensors").unlink()


@pytest.mark.parametrize("prefix", ["", "updater/model:gen/"])
def test_chainer_sngan_npz(tmp_path, prefix):
    original = build_stand_in("sngan", "cat")
    path = tmp_path / "ResNetGenerator_100000.npz"
    chainer_sngan_npz(original, path, prefix)
    _, converted, gen = _convert(tmp_path, None, path.name, "sngan", "cat")
    _same_state(original, gen.module)
    assert converted.config == original.config


def _tf_conv2d_transpose_summed(x, w_kkoi):
    """TF's fused upscale2d_conv2d (ProGAN, StyleGAN): the 3x3 kernel padded and summed at
    four offsets, scattered by conv2d_transpose (stride 2, 'SAME': one pixel cropped per side)."""
    w = np.pad(w_kkoi, ((1, 1), (1, 1), (0, 0), (0, 0)))
    s = w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]  # [4, 4, out, in]
    n, _, h, wd = x.shape
    full = np.zeros((n, s.shape[2], 2 * h + 2, 2 * wd + 2))
    for i in range(h):
        for j in range(wd):
            full[:, :, 2 * i:2 * i + 4, 2 * j:2 * j + 4] += np.einsum("nc,aboc->noab", x[:, :, i, j], s)
    return full[:, :, 1:-1, 1:-1]


def test_fused_upsampling_matches_tensorflows_transposed_convolution(tmp_path):
    """The convention behind the kernel flips, checked against TF's op written out in NumPy."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 5))
    w_tf = rng.standard_normal((3, 3, 4, 3))  # ProGAN's fused kernel: [k, k, out, in]
    from attribution88.builders.generators.networks.stylegan import UpConv

    conv = UpConv(3, 4, fused=True)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w_tf.transpose(2, 3, 0, 1)[:, :, ::-1, ::-1].copy()))
        ours = conv(torch.from_numpy(x).float()).double().numpy() / conv.weight_gain
    np.testing.assert_allclose(ours, _tf_conv2d_transpose_summed(x, w_tf), rtol=1e-4, atol=1e-4)


# -- refusals --------------------------------------------------------------------------------------
def _refused(tmp_path, data, arch, *parts, name="network.pkl"):
    src = tmp_path / name
    if data is not None:
        src.write_bytes(data)
    out = tmp_path / "out"
    with pytest.raises(CheckpointError) as info:
        convert_file(src, arch, "bedroom", out)
    message = str(info.value)
    assert "\n" not in message and str(src) in message
    for p in parts:
        assert p in message, (p, message)
    assert not out.exists() or not any(out.iterdir())
    return message


class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_a_pickle_that_calls_os_system_is_refused_unrun(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"G_ema": _System(f"touch {marker}")})
    _refused(tmp_path, data, "stylegan3", "refused", "nothing was run", "system")
    assert not marker.exists()


def test_a_pickle_importing_an_unknown_module_is_refused(tmp_path):
    data = b"\x80\x02cevil_module\nrun\nq\x00)R."
    _refused(tmp_path, data, "stylegan2", "evil_module.run")
    assert "evil_module" not in sys.modules


def test_a_payload_inside_a_torch_storage_stream_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    inner = pickle.dumps(_System(f"touch {marker}"))
    data = (b"\x80\x04\x8c\rtorch.storage\x94\x8c\x10_load_from_bytes\x94\x93\x94C" + bytes([len(inner)]) + inner
            + b"\x94\x85\x94R\x94.") if len(inner) < 256 else pytest.skip("payload too long for SHORT_BINBYTES")
    _refused(tmp_path, data, "stylegan3", "system")
    assert not marker.exists()


def test_a_persistent_object_with_a_payload_in_its_state_is_refused(tmp_path):
    marker = tmp_path / "ran"
    with nvlabs_modules(marker) as m:
        data = pickle.dumps({"G_ema": _Persistent(m.ran, "Generator", {"x": _System("true")}, "")})
    _refused(tmp_path, data, "stylegan3", "system")


def test_a_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (16777216,), }"
    header = header + b" " * (127 - len(header)) + b"\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("l1/W.npy", "w", force_zip64=True) as f:
            f.write(header)
            block = bytes(1 << 20)
            for _ in range(64):
                f.write(block)
    _refused(tmp_path, None, "sngan", "zip bomb", name="bomb.npz")


def test_truncated_files_are_refused(tmp_path):
    original = build_stand_in("progan", "bedroom")
    data = tf_progan_pickle(original, tmp_path / "ran")
    for cut in (len(data) // 2, len(data) - 3, 10):
        _refused(tmp_path, data[:cut], "progan", "progan")
    npz = tmp_path / "g.npz"
    chainer_sngan_npz(build_stand_in("sngan", "bedroom"), npz)
    whole = npz.read_bytes()
    _refused(tmp_path, whole[: len(whole) // 2], "sngan", "sngan", name="g.npz")


def test_a_file_of_one_family_given_as_another(tmp_path):
    data = tf_stylegan2_pickle(build_stand_in("stylegan2", "bedroom"), tmp_path / "ran")
    _refused(tmp_path, data, "progan", "is a stylegan2 network, not progan", "--arch stylegan2")
    _refused(tmp_path, data, "sngan", "wrong architecture")
    npz = tmp_path / "g.npz"
    chainer_sngan_npz(build_stand_in("sngan", "bedroom"), npz)
    _refused(tmp_path, None, "stylegan2", "use --arch sngan", name="g.npz")


def test_object_arrays_and_torch_archives_are_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", **{"l1/W": np.array([{"a": 1}], dtype=object)})
    _refused(tmp_path, None, "sngan", "nothing was run", name="obj.npz")
    torch.save({"w": torch.zeros(2)}, tmp_path / "sd.pt")
    _refused(tmp_path, None, "stylegan3", "torch.save zip archive", name="sd.pt")


def test_mmd_gan_tf_checkpoint(tmp_path):
    from attribution88.builders.generators.convert import BATCHNORM_CALIBRATION
    from attribution88.builders.generators.latents import draw_z
    from attribution88.builders.generators.tf_checkpoint import checkpoint_prefix
    from attribution88.ids import derive_seed

    original = build_stand_in("mmdgan", "bedroom")
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    prefix = folder / "MMDGAN.model-150000"
    mmd_gan_checkpoint(original, prefix)
    (folder / "checkpoint").write_text('model_checkpoint_path: "MMDGAN.model-150000"\n')
    for given in (folder, prefix, prefix.with_name(prefix.name + ".index"),
                  prefix.with_name(prefix.name + ".data-00000-of-00001")):
        assert checkpoint_prefix(given) == prefix
    saved, converted = convert_file(folder, "mmdgan", "bedroom", tmp_path / "ckpt")
    gen = load_generator("mmdgan", "bedroom", checkpoint=saved)
    assert converted.config == original.config
    # the authors' generator normalises with the batch's statistics: the converted model holds
    # those of its calibration batch, i.e. equals their graph evaluated on that batch
    rng = np.random.default_rng(derive_seed("convert-batchnorm", "mmdgan", "bedroom"))
    z = torch.from_numpy(np.stack([draw_z(rng, original.z_dim, "uniform") for _ in range(BATCHNORM_CALIBRATION)]))
    original.calibrate(z)
    _same_state(original, gen.module)
    record = json.loads(saved.with_suffix(".json").read_text())
    assert "batch norm: statistics of 64 latents" in record["source"] and "sha256:------" not in record["source"]


def test_a_truncated_tf_checkpoint_is_refused(tmp_path):
    prefix = tmp_path / "model-1"
    mmd_gan_checkpoint(build_stand_in("mmdgan", "bedroom"), prefix)
    data = prefix.with_name("model-1.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:-4])
    _refused(tmp_path, None, "mmdgan", "does not fit its data shard", name="model-1.index")
    index = prefix.with_name("model-1.index")
    index.write_bytes(index.read_bytes()[:30])
    _refused(tmp_path, None, "mmdgan", "truncated", name="model-1.index")
    _refused(tmp_path, None, "stylegan2", "use --arch mmdgan or cramergan", name="model-1.index")


def _tf_hub_module(folder, tensors):
    """A module folder in the TF1 hub layout: tfhub_module.pb, saved_model.pb, variables/."""
    (folder / "variables").mkdir(parents=True)
    (folder / "tfhub_module.pb").write_bytes(b"\x08\x03")  # ModuleAttachment-like bytes; never parsed
    (folder / "saved_model.pb").write_bytes(b"\x08\x01")
    write_tf_checkpoint(folder / "variables" / "variables", tensors)


def test_a_tf_hub_module_is_refused_naming_its_variables(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {f"block_{i}/conv/kernel": rng.standard_normal((3, 3, 4, 4)) for i in range(6)}
    _tf_hub_module(tmp_path / "progan-128", tensors)
    message = _refused(tmp_path, None, "progan", "a TF-Hub module (6 variables: block_0/conv/kernel [3, 3, 4, 4]",
                       "block_3/conv/kernel [3, 3, 4, 4], ...", "tensorflow/hub#7", "--entry-point",
                       name="progan-128")
    assert "block_4" not in message
    index = tmp_path / "progan-128" / "variables" / "variables.index"
    index.write_bytes(index.read_bytes()[:20])  # truncated
    _refused(tmp_path, None, "progan", "no readable variables/variables.index", "tensorflow/hub#7", name="progan-128")
    index.unlink()
    _refused(tmp_path, None, "stylegan2", "no readable variables/variables.index", name="progan-128")


def test_a_tf_hub_module_archive_is_refused_unpacked(tmp_path):
    """tfhub.dev's ?tf-hub-format=compressed: a .tar.gz, here with a member escaping the folder."""
    import io
    import tarfile

    archive = tmp_path / "progan-128_1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("tfhub_module.pb", "../escaped.pb"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"\x08\x03"))
    _refused(tmp_path, None, "progan", "a gzip archive", "tensorflow/hub#7", name=archive.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]


# -- the command line ------------------------------------------------------------------------------
def test_convert_command_writes_the_checkpoint_and_says_how_to_build(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ATTRIBUTION88_CHECKPOINTS", raising=False)
    src = tmp_path / "stylegan2-bedroom-config-f.pkl"
    src.write_bytes(tf_stylegan2_pickle(build_stand_in("stylegan2", "bedroom"), tmp_path / "ran"))
    out = tmp_path / "ckpt"
    argv = ["generators", "convert", str(src), "--arch", "stylegan2", "--semantic", "bedroom", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "psi 0.5" in text and "noise const" in text and f"--checkpoints {out}" in text
    assert (out / "stylegan2-bedroom.safetensors").is_file() and (out / "stylegan2-bedroom.json").is_file()
    assert main(argv) == 2 and "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps(_System("true")))
    assert main(["generators", "convert", str(bad), "--arch", "stylegan2", "--semantic", "cat", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "posix.system" in err or "os.system" in err
    assert not (out / "stylegan2-cat.safetensors").exists()


def test_read_official_names_what_it_found(tmp_path):
    data = tf_stylegan2_pickle(build_stand_in("stylegan2", "bedroom"), tmp_path / "ran")
    (tmp_path / "n.pkl").write_bytes(data)
    assert read_official(tmp_path / "n.pkl", "stylegan2").source_format == "stylegan2 TF pickle"


# -- the build -------------------------------------------------------------------------------------
CELL = ["--arch", "stylegan2", "--semantic", "bedroom", "--preset", "mini", "--no-progress"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A small StyleGAN2 written as NVlabs' TF pickle and converted: its stored noise maps are
    not the stand-in's (so the build's images tell which generator ran)."""
    import torch

    root = tmp_path_factory.mktemp("official")
    module = build_stand_in("stylegan2", "bedroom")
    with torch.no_grad():
        for name, buf in module.named_buffers():
            if name.endswith("noise_const"):
                buf.mul_(-1)
    src = root / "stylegan2-bedroom-config-f.pkl"
    src.write_bytes(tf_stylegan2_pickle(module, root / "ran"))
    convert_file(src, "stylegan2", "bedroom", root / "checkpoints")
    return src, root / "checkpoints"


@pytest.mark.slow
def test_build_samples_the_given_checkpoint_and_records_it(converted, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ATTRIBUTION88_CHECKPOINTS", raising=False)
    _, ckpt = converted
    out = tmp_path / "a88"
    assert main(["build", "--out", str(out), "--checkpoints", str(ckpt), *CELL]) == 0
    m = read_manifest(out)
    notes = m.build["cells"]["stylegan2-bedroom"]
    assert not notes["stand_in"] and notes["generator"].startswith("checkpoint:stylegan2-bedroom.safetensors#sha256:")
    assert notes["generator"].endswith(";psi=0.5;noise=const")
    assert notes["sampling"] == {"truncation_psi": 0.5, "truncation_cutoff": None, "noise": "const"}
    card = (out / "README.md").read_text()
    assert "STAND-IN" not in card and "psi 0.5, const noise" in card
    rows = datasets.load_dataset(str(out), split="train")
    assert set(rows["origin"]) == {notes["generator"]}


def test_stand_ins_only_where_no_generator_was_given(converted, tmp_path):
    from attribution88.builders.pipeline import BuildConfig, uses_stand_in
    from attribution88.spec import SPEC, Cell

    _, ckpt = converted
    bedroom, dog = (Cell(SPEC.source("stylegan2"), SPEC.semantic(s)) for s in ("bedroom", "dog"))
    assert uses_stand_in(BuildConfig("mini", "x", stand_ins=True), bedroom)
    assert not uses_stand_in(BuildConfig("mini", "x", stand_ins=False), bedroom)
    with_ckpt = BuildConfig("mini", "x", checkpoints=str(ckpt), stand_ins=True)  # --stand-ins for the rest
    assert not uses_stand_in(with_ckpt, bedroom) and uses_stand_in(with_ckpt, dog)
    assert not uses_stand_in(BuildConfig("mini", "x", stand_ins=True, entry_points={"stylegan2": "m:f"}), dog)


def _fails(argv, capsys, code, *parts):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    for p in parts:
        assert p in err, (p, err)
    return err


def test_a_wrong_checkpoints_argument_is_one_line_and_writes_nothing(converted, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ATTRIBUTION88_CHECKPOINTS", raising=False)
    src, ckpt = converted
    out = tmp_path / "a88"
    base = ["build", "--out", str(out), *CELL]
    _fails([*base, "--checkpoints", str(tmp_path / "nope")], capsys, 2, "no such folder")
    _fails([*base, "--checkpoints", str(src)], capsys, 2, "is a pickle",
           f"attribution88 generators convert {src} --arch ARCH --semantic SEMANTIC --out DIR")
    (tmp_path / "notes.txt").write_text("x")
    _fails([*base, "--checkpoints", str(tmp_path / "notes.txt")], capsys, 2, "is a file", "expected a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "stylegan2-bedroom.pkl").write_bytes(pickle.dumps({"G_ema": None}))
    _fails([*base, "--checkpoints", str(empty)], capsys, 1, "has no checkpoint for stylegan2-bedroom",
           "holds stylegan2-bedroom.pkl", "attribution88 generators convert FILE --arch stylegan2 --semantic bedroom")
    _fails(["build", "--out", str(out), "--checkpoints", str(ckpt), "--arch", "stylegan2", "--semantic", "bedroom",
            "--semantic", "dog", "--preset", "mini", "--no-progress"], capsys, 1, "no checkpoint for stylegan2-dog")
    assert not out.exists()


def test_a_pickle_named_as_a_checkpoint_is_refused_with_the_convert_command(converted, tmp_path, capsys):
    src, _ = converted
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "stylegan2-bedroom.safetensors").write_bytes(src.read_bytes())
    (folder / "stylegan2-bedroom.json").write_text("{}")
    _fails(["build", "--out", str(tmp_path / "a88"), "--checkpoints", str(folder), *CELL], capsys, 1,
           "never unpickles", "attribution88 generators convert")
