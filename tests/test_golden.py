"""The benchmark's identity, pinned: digests of what the spec decides, computed once and kept
here. Every other identity test compares the code with itself (in another process, on
another thread); these compare it with the past. A change of the hash encoding, the Feistel
permutation, a corruption's definition or a stand-in generator would re-split or re-draw the
benchmark with every other test green; here it fails.

If one of these fails on purpose, the benchmark's content changed: bump `version` in
spec.toml and record the new digests under the new version (the old ones stay, so the
history of the benchmark's identity is readable here).
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from attribution88 import perturb
from attribution88.builders.generators import ARCHITECTURES
from attribution88.builders.generators.sampling import load_generator, sample
from attribution88.ids import latent_seed
from attribution88.ids import assign, image_id
from attribution88.spec import FLAVOURS, SPEC

ORACLE_IMAGES = Path(__file__).parent / "data" / "oracle" / "public.npz"

#: spec version -> what is pinned -> sha256 hex digest
GOLDEN = {
    "2.0.0": {
        "assignments/stylegan2-bedroom": "d8d1f2f59fb3169a18e339e359a2bb3dc5ad3dc1477b7d0904eeb7a111c4117e",
        "assignments/real-celeba": "f5a59a1809ca845ca27a571582004fc536b5ab381a75ce017eb723ec52cfe350",
        "assignments/sngan-tvmonitor": "7cad68fbd420d14f0d2f11c7452e6528ac98d4447b12b95fb05824399ed17b49",
        # two stand-in samples of each family (cell ARCH-bedroom, candidates 0 and 1)
        "stand-in/stylegan3": "10ae28755e066f59728217ed784c004eace5dec06db9983c2c96ba2661d13b68",
        "stand-in/stylegan2": "08f09a7c643a5db22b421418c9a8dcf0485dbc101811d2dbac020c16dba486d7",
        "stand-in/stylegan": "1ac8f7f1650e55ffa4fa28248d274e3ccd90411cc37b30804931798137aca3b1",
        "stand-in/progan": "639388a74c7733c2e0c826d93c0c8f03d88884d1d4ac98e1d56e615a0ffd39b0",
        "stand-in/cramergan": "a2cca8010f3fe31cc06ba28a773b344cd59428161025d44cf03ca1114a38048d",
        "stand-in/mmdgan": "ef111bcc1e14232a5a8d90fa372286f649da5faa7fcf08449c76428979ff9c21",
        "stand-in/sngan": "1c85786b2b55f64ed116896d9c0897de6557991ffc22ee4efdba1f9189613706",
        # each flavour's 5 severities of each corruption, oracle image 0, seed 88
        "perturb/repmix/gaussian_noise": "c3ee3d9358ef01bd3585264b16078001049d6af8ff18cbb852dbf4398270c6e5",
        "perturb/repmix/shot_noise": "d15f8f7859fad34c7aab9fd599165c9057c34432b5bc2ea31af30d1080f7eada",
        "perturb/repmix/impulse_noise": "736d44d4787fab0becc54d78dd781346a7bde083f56eeb181766e31ff8949e60",
        "perturb/repmix/defocus_blur": "e4414575eddc465d3c2f2cda7307270303252cd8752a4edea2f91a3406e8e603",
        "perturb/repmix/glass_blur": "f441ec3dbfe777422fd866aff650ecf91b4e82cbb12ba81f1003f1dd2616d625",
        "perturb/repmix/motion_blur": "603320154b13c712b15765f04e90a00275159a169714f76e1e3ca18732692cff",
        "perturb/repmix/zoom_blur": "a5d94fe939d7c91967d31bdff4f0f92a1278b74e6420dc94bda0d5caf5ca8430",
        "perturb/repmix/snow": "3ef9ede1a126c9e5e35c421c50b49e5d620be88336d6b6850c303d5430b2c898",
        "perturb/repmix/frost": "0eff59c9a389589beb1329f72a71cafd7d833673423b3e8b4889f2fd898020cb",
        "perturb/repmix/fog": "19f2ce0d90c46dd7b7634b1e1ef09f62bd86dbd5c2cc08f08415d02fb72f39f6",
        "perturb/repmix/brightness": "50a2b2de8717bb3ea565ec906af4990fe048031d0a7cd44798aadf86eb085e18",
        "perturb/repmix/contrast": "d687b69a3ab90b9af6272e427fa1f258f937285787f8ec52f1da9df74484f179",
        "perturb/repmix/elastic_transform": "6593a768f0b7bd95747c7bfcc87fcded9f5347655766689168390339c78882bb",
        "perturb/repmix/pixelate": "97b86a413b2bda613b00bdbc3953e1bfd524be4affe8be4ef40227f3e6277c59",
        "perturb/repmix/jpeg_compression": "20531b25223887be5aa45773d434f70d9b2cc52543def542654a775ccf0e869a",
        "perturb/repmix/speckle_noise": "712de020c8c8d4b720bba7041f801558ea65c710a49c9cd5bbf510cc69ec02af",
        "perturb/repmix/gaussian_blur": "e341fcce0968197d86d9c1282ff6270f9ccd829285cba705c27f343c536f2d4c",
        "perturb/repmix/spatter": "5011c50c3308d0fcf6b3bbd3002f0a5473833361e9be596e131d55f6420afc25",
        "perturb/repmix/saturate": "6fcd08f5ba785cfb25976515c7ac214ac384eaa6b482b3cc856a1f472d60ab12",
        "perturb/imagecorruptions/gaussian_noise": "a6ecff577e8a6c9350e2fee00e24faf9de3d49d0a74833d81287b11d0454d709",
        "perturb/imagecorruptions/shot_noise": "51891687cdeb2fe5325fc37cf86639c197503cd41c5dc3e264731da3e642154b",
        "perturb/imagecorruptions/impulse_noise": "f093d2b517c5655db739af433bea044b5c871b288fe798c6c828fcc04ec7d26f",
        "perturb/imagecorruptions/defocus_blur": "e4414575eddc465d3c2f2cda7307270303252cd8752a4edea2f91a3406e8e603",
        "perturb/imagecorruptions/glass_blur": "f441ec3dbfe777422fd866aff650ecf91b4e82cbb12ba81f1003f1dd2616d625",
        "perturb/imagecorruptions/motion_blur": "6f0205b30cea0b3d08a5fbc17c8bb35a4cce0daf7d565685672b89836c493202",
        "perturb/imagecorruptions/zoom_blur": "a5d94fe939d7c91967d31bdff4f0f92a1278b74e6420dc94bda0d5caf5ca8430",
        "perturb/imagecorruptions/snow": "6f57ab32dcef47aba26bbe110cb5630c60784941dd659607ea11b85302b6172e",
        "perturb/imagecorruptions/frost": "b3484f8ac01a096da7ddc5bcd5c94adee08f63021d206fecda6a211751f140df",
        "perturb/imagecorruptions/fog": "19f2ce0d90c46dd7b7634b1e1ef09f62bd86dbd5c2cc08f08415d02fb72f39f6",
        "perturb/imagecorruptions/brightness": "2eefdaac26067d80203c5ca216f452063cd58a4dd344bb16595cd8db9486ae55",
        "perturb/imagecorruptions/contrast": "d687b69a3ab90b9af6272e427fa1f258f937285787f8ec52f1da9df74484f179",
        "perturb/imagecorruptions/elastic_transform": "d6ce6c13339763eef0d9d9af4e34d6cf2903f3226e117de3c6930a0d7d03c869",
        "perturb/imagecorruptions/pixelate": "97b86a413b2bda613b00bdbc3953e1bfd524be4affe8be4ef40227f3e6277c59",
        "perturb/imagecorruptions/jpeg_compression": "e3532b4a3805982f0d902732ababb3956202c6a8fbad9a206b5cbee1ebf81e41",
        "perturb/imagecorruptions/speckle_noise": "eda620bce1cf58845e87a283ebe3c6c75980b6ad01cec0c407083fce64fc44e2",
        "perturb/imagecorruptions/gaussian_blur": "e341fcce0968197d86d9c1282ff6270f9ccd829285cba705c27f343c536f2d4c",
        "perturb/imagecorruptions/spatter": "1eda9e1fb0eeee7f94724e3a7420eff9fbe9568e6e14d364b74d8ae5e9d3a35a",
        "perturb/imagecorruptions/saturate": "016a05f85b61822174740b37ac99637597ef2e010650ea14e464ad4e24214a64",
    },
}


def digest(lines) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


def pinned(what: str) -> str:
    assert SPEC.version in GOLDEN, (
        f"spec {SPEC.version} has no golden digests: a new benchmark version records its own")
    return GOLDEN[SPEC.version][what]


def assignment_lines(source: str, semantic: str):
    """Every image of a full-preset cell: id, split, condition, perturbation, severity, seed."""
    preset = SPEC.preset("full")
    cell = SPEC.cell(source, semantic)
    for index in range(preset.cell_size(cell.semantic)):
        a = assign(image_id(cell, index), preset)
        yield f"{a.id} {a.split} {a.condition} {a.perturbation} {a.severity} {a.perturbation_seed}"


def test_full_preset_assignments_of_three_cells_are_pinned():
    # a seen GAN cell, the real class, an unseen semantic (test + reserve only)
    for source, semantic in (("stylegan2", "bedroom"), ("real", "celeba"), ("sngan", "tvmonitor")):
        assert digest(assignment_lines(source, semantic)) == pinned(f"assignments/{source}-{semantic}"), \
            f"the assignment of {source}-{semantic} changed: that is a new benchmark version"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_each_flavours_corruptions_are_pinned(flavour):
    image = np.load(ORACLE_IMAGES)["images"][0]
    changed = []
    for name in SPEC.perturbation_names:
        h = hashlib.sha256()
        for severity in SPEC.severities:
            h.update(perturb.apply(image, name, severity, 88, flavour=flavour).tobytes())
        if h.hexdigest() != pinned(f"perturb/{flavour}/{name}"):
            changed.append(name)
    assert not changed, (f"{flavour}: the output of {changed} changed (or numpy / OpenCV / Pillow "
                         f"computes them differently): for the benchmark's flavour that is a new version")


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_stand_in_samples_are_pinned(arch):
    generator = load_generator(arch, "bedroom", stand_in=True)
    cell = SPEC.cell(arch, "bedroom")
    images = sample(generator, [latent_seed(cell, i) for i in range(2)], batch_size=2)
    assert hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest() == pinned(f"stand-in/{arch}"), \
        f"the {arch} stand-in's images changed: the mini benchmark's content changed"
