"""The registry of architectures and the manifest of the 77 models."""

import subprocess
import sys

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
        family = architecture(m.arch).module()
        assert family.full_config(m.resolution).z_dim == m.latent_dim, m.name


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
def test_every_family_module_has_the_interface(arch):
    family = architecture(arch).module()
    for name in ("Config", "Generator", "full_config", "stand_in_config", "is_content"):
        assert hasattr(family, name), name
    g = family.Generator(family.stand_in_config())
    for name in ("noise_shapes", "calibrate", "rescale_output", "forward"):
        assert callable(getattr(g, name)), name
    config = family.stand_in_config()
    assert family.Config.from_dict(config.to_dict()) == config


def test_mmdgan_and_cramergan_share_the_g_resnet5_generator():
    a, b = architecture("mmdgan"), architecture("cramergan")
    assert a.module() is b.module() and a.module().__name__.endswith("resnet5")
    assert a.module().full_config(128) == b.module().full_config(128)
    assert a.latent == b.latent == "uniform"


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
        family = architecture(arch).module()
        for resolution in sorted({m.resolution for m in MANIFEST.select(arch)}):
            g = family.Generator(family.full_config(resolution))
            assert g.resolution == resolution and g.z_dim == MANIFEST.select(arch)[0].latent_dim
