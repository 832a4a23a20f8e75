"""The registry of architectures and the manifest of the 77 models."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from attribution88.builders.generators import ARCHITECTURES, MANIFEST, architecture
from attribution88.builders.generators.manifest import ORIGINS, parse_manifest
from attribution88.errors import SpecError, UnknownNameError
from attribution88.spec import SPEC


def test_registry_holds_the_spec_sources_in_order():
    assert ARCHITECTURES.names() == SPEC.source_names[1:]


def test_unknown_architecture_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean.*stylegan3"):
        architecture("stylegan4")


def test_unknown_semantic_in_a_model_lookup_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean bedroom"):
        MANIFEST.model("stylegan2", "bedrom")


def test_manifest_has_every_architecture_on_every_semantic_once():
    pairs = [(m.arch, m.semantic) for m in MANIFEST.models]
    assert len(pairs) == 77 == len(set(pairs))
    assert set(pairs) == {(a, s) for a in ARCHITECTURES for s in SPEC.semantic_names}


def test_manifest_latent_sizes_are_those_the_implementations_build():
    for m in MANIFEST.models:
        assert architecture(m.arch).full_config(m.resolution).z_dim == m.latent_dim, m.name


def test_every_model_says_where_its_checkpoint_comes_from():
    for m in MANIFEST.models:
        assert m.origin in ORIGINS and m.source()
        assert (m.release is not None) == (m.origin == "official"), m.name
        assert m.code_base and m.recipe is not None, m.name


def test_official_releases_are_those_the_authors_published():
    official = {m.name for m in MANIFEST.models if m.origin == "official"}
    lsun = [s.name for s in SPEC.semantics if s.dataset == "LSUN"]
    assert {f"progan-{s}" for s in lsun} <= official  # ProGAN: all 10 LSUN categories
    assert {"stylegan-bedroom", "stylegan-car", "stylegan-cat", "stylegan2-car", "stylegan2-cat",
            "stylegan2-churchoutdoor", "stylegan2-horse"} <= official
    assert not any(n.startswith(("stylegan3", "sngan", "mmdgan", "cramergan")) for n in official)
    assert MANIFEST.model("stylegan2", "car").crop == (384, 512)
    assert MANIFEST.model("progan", "celeba").origin == "byo"


def test_recipes_carry_the_supplement_figures():
    assert MANIFEST.model("stylegan3", "dog").recipe.describe() == "stylegan3-t, batch 32, 20M images"
    assert "dof_dim 256" in MANIFEST.model("cramergan", "cat").recipe.config
    assert "dof_dim 16" in MANIFEST.model("mmdgan", "cat").recipe.config
    assert MANIFEST.model("sngan", "cat").recipe.iterations == 100_000


def _manifest_text(drop=None, extra="", origin_of=None):
    lines = ["format_version = 1", "models = ["]
    for a in ARCHITECTURES:
        for s in SPEC.semantic_names:
            if (a, s) == drop:
                continue
            origin = (origin_of or {}).get((a, s), "recipe")
            row = f'arch = "{a}", semantic = "{s}", resolution = 128, latent_dim = 8, origin = "{origin}"'
            lines.append(f"  {{ {row} }},")
    lines.append(extra)
    lines.append("]")
    return "\n".join(lines).encode()


def test_a_well_formed_manifest_parses():
    assert len(parse_manifest(_manifest_text()).models) == 77


@pytest.mark.parametrize("header, message", [
    ("format_version = 2", "format_version 2 is newer than this attribution88 reads"),
    ("format_version = 0", "missing or bad format_version 0"),
    ("", "missing or bad format_version None"),
])
def test_manifest_of_another_layout_version_is_refused(header, message):
    text = _manifest_text().replace(b"format_version = 1", header.encode())
    with pytest.raises(SpecError, match=message):
        parse_manifest(text)


def test_manifest_missing_a_model_is_refused():
    with pytest.raises(SpecError, match="exactly once.*sngan"):
        parse_manifest(_manifest_text(drop=("sngan", "dog")))


def test_manifest_with_a_duplicate_is_refused():
    dup = '  { arch = "sngan", semantic = "dog", resolution = 128, latent_dim = 8, origin = "recipe" },'
    with pytest.raises(SpecError, match="duplicated"):
        parse_manifest(_manifest_text(extra=dup))


def test_manifest_with_an_unknown_origin_is_refused():
    with pytest.raises(SpecError, match="origin"):
        parse_manifest(_manifest_text(origin_of={("progan", "cat"): "downloaded"}))


def test_manifest_with_an_unknown_architecture_is_refused():
    bad = '  { arch = "biggan", semantic = "dog", resolution = 128, latent_dim = 8, origin = "recipe" },'
    with pytest.raises(SpecError, match="biggan"):
        parse_manifest(_manifest_text(extra=bad))


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_every_architecture_has_the_interface(arch):
    a = architecture(arch)
    config = a.stand_in_config()
    assert type(config) is a.config_class is type(a.full_config(128))
    assert a.config_class.from_dict(config.to_dict()) == config
    g = a.module().Generator(config)
    for name in ("noise_shapes", "calibrate", "rescale_output", "forward"):
        assert callable(getattr(g, name)), name
    assert a.module().__name__ == f"attribution88.builders.generators.networks.{a.network}"


def test_mmdgan_and_cramergan_share_the_g_resnet5_generator():
    a, b = architecture("mmdgan"), architecture("cramergan")
    assert a.module() is b.module() and a.module().__name__.endswith("networks.resnet5")
    assert a.config_class is b.config_class and a.full_config(128) == b.full_config(128)
    assert a.latent == b.latent == "uniform" and a.output_activation == b.output_activation == "sigmoid"
    assert a.recipe != b.recipe and a.paper != b.paper


_ARCHITECTURE_FILES = ("stylegan3", "stylegan2", "stylegan", "progan", "cramergan", "mmdgan", "sngan")


def test_each_architecture_is_one_file_that_imports_without_torch():
    # A finder that refuses torch: the architecture files, the registry and the configs must not need it.
    code = ("import importlib, sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'torch' or name.startswith('torch.'):\n"
            "            raise ModuleNotFoundError(f'torch is blocked: {name}')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            f"for name in {_ARCHITECTURE_FILES!r}:\n"
            "    m = importlib.import_module('attribution88.builders.generators.' + name)\n"
            "    a = m.ARCHITECTURE\n"
            "    assert a.name == name, (a.name, name)\n"
            "    c = a.stand_in_config()\n"
            "    assert a.config_class.from_dict(c.to_dict()) == c and a.full_config(256).resolution == 256\n"
            "    names = ('mapping.fc0.weight', 'b4.conv1.weight', 'l1.weight', 'lin.weight')\n"
            "    assert any(a.is_content(n) for n in names)\n"
            "from attribution88.builders.generators import ARCHITECTURES\n"
            "print(','.join(ARCHITECTURES), 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [",".join(SPEC.source_names[1:]), "False"]


def test_an_architecture_is_found_by_name_in_its_own_file():
    import attribution88.builders.generators as package
    from attribution88.builders.generators import cramergan

    folder = Path(package.__file__).parent
    texts = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in folder.rglob("*.py")}
    assert "cramergan.py" in [f for f, text in texts.items() if "cramer" in text.lower()]  # `grep -ril cramer`
    assert [f for f, text in texts.items() if 'name="cramergan"' in text] == ["cramergan.py"]  # its entry
    assert architecture("cramergan") is cramergan.ARCHITECTURE
    assert {f"{name}.py" for name in _ARCHITECTURE_FILES} <= set(texts)


def _entry(**changes):
    from attribution88.builders.generators import sngan

    return dataclasses.replace(sngan.ARCHITECTURE, **changes)


@pytest.mark.parametrize("changes,message", [
    ({"latent": "gaussian"}, r"sngan: ARCHITECTURE: latent must be one of \('normal', 'uniform'\), not 'gaussian'"),
    ({"output_activation": "relu"}, "output_activation must be one of"),
    ({"noise": "fixed"}, "noise must be one of"),
    ({"output_range": (1.0, -1.0)}, "output_range must be"),
    ({"config_class": dict}, "config_class must be a GeneratorConfig subclass"),
    ({"stand_in_inits": {"noise_strength": 0.1}}, r"stand_in_inits values must be Init rules \(\['noise_strength'\]\)"),
])
def test_a_malformed_architecture_entry_is_a_one_line_error(changes, message):
    with pytest.raises(SpecError, match=message) as e:
        _entry(**changes)
    assert "\n" not in str(e.value)


def test_an_unknown_field_of_an_entry_is_a_one_line_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'") as e:
        _entry(colour="red")
    assert "\n" not in str(e.value)


def test_the_registry_must_hold_the_spec_sources_once_each():
    from attribution88.builders.generators.architectures import registry

    entries = [architecture(n) for n in ARCHITECTURES]
    assert registry(reversed(entries)).names() == SPEC.source_names[1:]  # registered in the spec's order
    for bad in (entries[1:], entries + [entries[0]], entries[1:] + [_entry(name="biggan")]):
        with pytest.raises(SpecError, match="are not the spec's GAN sources") as e:
            registry(bad)
        assert "\n" not in str(e.value)


def test_importing_the_zoo_does_not_import_torch():
    code = ("import sys; import attribution88.builders.generators as g; g.MANIFEST.model('sngan', 'dog'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_checkpoint_folder_comes_from_the_option_or_the_environment(tmp_path, monkeypatch):
    from attribution88.builders.generators import checkpoints_dir, find_checkpoint
    from attribution88.errors import UsageError

    monkeypatch.setenv("ATTRIBUTION88_CHECKPOINTS", str(tmp_path))
    assert checkpoints_dir() == tmp_path
    other = tmp_path / "other"
    other.mkdir()
    assert checkpoints_dir(other) == other
    (tmp_path / "sngan-dog.safetensors").write_bytes(b"x")
    assert find_checkpoint(MANIFEST.model("sngan", "dog"), tmp_path) == tmp_path / "sngan-dog.safetensors"
    assert find_checkpoint(MANIFEST.model("sngan", "cat"), tmp_path) is None
    monkeypatch.setenv("ATTRIBUTION88_CHECKPOINTS", str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="ATTRIBUTION88_CHECKPOINTS .*no such folder"):
        checkpoints_dir()
    monkeypatch.delenv("ATTRIBUTION88_CHECKPOINTS")
    assert checkpoints_dir() is None


def test_every_model_of_the_manifest_builds_at_its_native_resolution():
    for arch in ARCHITECTURES:
        a = architecture(arch)
        for resolution in sorted({m.resolution for m in MANIFEST.select(arch)}):
            g = a.module().Generator(a.full_config(resolution))
            assert g.resolution == resolution and g.z_dim == MANIFEST.select(arch)[0].latent_dim
