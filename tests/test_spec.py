"""The benchmark spec: its invariants, and that changing it is deliberate."""

import hashlib
from importlib import resources

import pytest

from attribution88.errors import SpecError, UnknownNameError
from attribution88.spec import SPEC, SPLITS, parse_spec

# Update together with `version` in spec.toml when the benchmark changes on purpose.
SPEC_FILE_SHA256 = "f41d34559d43c294b369e9c24dcbe308e43be3eea2486a705af2c33f4bec8a68"


def test_spec_file_changes_are_deliberate():
    data = resources.files("attribution88").joinpath("spec.toml").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SPEC_FILE_SHA256 == SPEC.content_hash


def test_eight_sources_with_real_at_zero():
    assert SPEC.source_names == ["real", "stylegan3", "stylegan2", "stylegan", "progan",
                                 "cramergan", "mmdgan", "sngan"]
    assert [s.index for s in SPEC.sources] == list(range(8))
    assert not SPEC.source("real").is_fake and all(s.is_fake for s in SPEC.sources[1:])


def test_eleven_semantics_six_seen_five_unseen():
    assert len(SPEC.semantics) == 11
    assert SPEC.semantics[0].name == "celeba" and SPEC.semantics[0].dataset == "CelebA"
    assert all(s.dataset == "LSUN" for s in SPEC.semantics[1:])
    assert sum(s.seen for s in SPEC.semantics) == 6
    assert sum(not s.seen for s in SPEC.semantics) == 5


def test_eighty_eight_cells():
    cells = SPEC.cells()
    assert len(cells) == 88 == len({c.name for c in cells})


def test_nineteen_perturbations_in_official_order():
    names = SPEC.perturbation_names
    assert len(names) == 19
    assert names[0] == "gaussian_noise" and names[4] == "glass_blur" and names[18] == "saturate"
    assert [p.index for p in SPEC.perturbations] == list(range(19))


def test_fifteen_seen_four_unseen_perturbations():
    assert [p.index for p in SPEC.unseen_perturbations()] == [4, 5, 6, 7]
    assert len(SPEC.seen_perturbations()) == 15
    assert SPEC.severities == (1, 2, 3, 4, 5)


def test_full_preset_has_twelve_thousand_per_cell():
    full = SPEC.preset("full")
    assert all(full.cell_size(s) == 12_000 for s in SPEC.semantics)
    assert sum(full.cell_size(c.semantic) for c in SPEC.cells()) == 1_056_000


def test_unseen_semantics_never_in_train_or_validation():
    for preset in SPEC.presets:
        for sem in SPEC.semantics:
            sizes = preset.split_sizes(sem)
            assert set(sizes) <= set(SPLITS)
            if not sem.seen:
                assert "train" not in sizes and "validation" not in sizes


def test_mini_preset_covers_every_cell_with_a_few_dozen_images():
    mini = SPEC.preset("mini")
    sizes = [mini.cell_size(c.semantic) for c in SPEC.cells()]
    assert len(sizes) == 88 and all(10 <= n <= 60 for n in sizes)


def test_test_subsets_are_derived_from_groups():
    assert SPEC.subset("test_unseen_perturbations").groups() == ("seen_sem-unseen_pert",)
    assert set(SPEC.subset("test_clean").groups()) == {"seen_sem-clean", "unseen_sem-clean"}
    all_groups = {g for s in SPEC.subsets for g in s.groups()}
    assert all_groups == set(SPEC.test_groups())


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean stylegan2"):
        SPEC.source("stylegn2")
    with pytest.raises(UnknownNameError, match="bedroom"):
        SPEC.semantic("bedrom")
    with pytest.raises(UnknownNameError):
        SPEC.source(8)


def test_inconsistent_spec_is_refused():
    data = resources.files("attribution88").joinpath("spec.toml").read_text()
    with pytest.raises(SpecError, match="unseen"):
        parse_spec(data.replace('unseen = { test = 12, reserve = 0 }',
                                'unseen = { train = 3, test = 12, reserve = 0 }').encode())
    with pytest.raises(SpecError, match="duplicate"):
        parse_spec(data.replace('name = "horse"', 'name = "cat"').encode())
    with pytest.raises(SpecError, match="TOML"):
        parse_spec(b"version = ")


def test_the_protocol_is_the_official_repmix_one():
    p = SPEC.protocol
    assert (p.flavour, p.channel_order, p.work_size, p.resize, p.train_probability) == \
        ("repmix", "BGR", 224, "bilinear", 0.95)
    assert SPEC.version.split(".")[0] == "2"  # the protocol changed the benchmark's images
    assert SPEC.to_dict()["protocol"] == p.to_dict()


@pytest.mark.parametrize("field,value,message", [
    ("flavour", '"imagenet-c"', "flavour must be one of"),
    ("channel_order", '"GBR"', "channel_order must be one of"),
    ("resize", '"nearest"', "resize must be one of"),
])
def test_unknown_protocol_values_are_refused(field, value, message):
    data = resources.files("attribution88").joinpath("spec.toml").read_text()
    line = next(l for l in data.splitlines() if l.startswith(f"{field} = "))
    with pytest.raises(SpecError, match=message):
        parse_spec(data.replace(line, f"{field} = {value}").encode())
