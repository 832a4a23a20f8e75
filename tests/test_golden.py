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

from attribution88.ids import assign, image_id
from attribution88.spec import SPEC

#: spec version -> what is pinned -> sha256 hex digest
GOLDEN = {
    "2.0.0": {
        "assignments/stylegan2-bedroom": "d8d1f2f59fb3169a18e339e359a2bb3dc5ad3dc1477b7d0904eeb7a111c4117e",
        "assignments/real-celeba": "f5a59a1809ca845ca27a571582004fc536b5ab381a75ce017eb723ec52cfe350",
        "assignments/sngan-tvmonitor": "7cad68fbd420d14f0d2f11c7452e6528ac98d4447b12b95fb05824399ed17b49",
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
