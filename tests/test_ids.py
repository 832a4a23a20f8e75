"""Image identity and the id-derived assignment: exact, balanced, and independent of process
and order."""

import json
import subprocess
import sys
from collections import Counter

import pytest

from attribution88.errors import UnknownNameError, UsageError
from attribution88.ids import assign, hash64, image_id, parse_id, permute, release_test_rank
from attribution88.spec import SPEC

FULL, MINI = SPEC.preset("full"), SPEC.preset("mini")


@pytest.mark.parametrize("n", [1, 2, 3, 7, 42, 100, 1000, 12_000])
def test_permute_is_a_bijection(n):
    assert sorted(permute(i, n, "k") for i in range(n)) == list(range(n))


def test_permute_depends_on_key():
    a = [permute(i, 1000, "a") for i in range(1000)]
    b = [permute(i, 1000, "b") for i in range(1000)]
    assert a != b and sum(x == y for x, y in zip(a, b)) < 30


def test_id_round_trip():
    cell = SPEC.cell("stylegan2", "bedroom")
    text = image_id(cell, 42)
    assert text == "stylegan2-bedroom-00042"
    parsed = parse_id(text)
    assert parsed.cell == cell and parsed.index == 42 and not parsed.imported
    assert parse_id(image_id(cell, 7, imported=True)).imported


@pytest.mark.parametrize("bad", ["", "stylegan2-bedroom", "stylegan2-bedroom-42", "x-y-00001", 17])
def test_bad_ids_are_refused(bad):
    with pytest.raises((UsageError, UnknownNameError)):
        parse_id(bad)


def test_full_cell_split_sizes_are_exact():
    for sem in ("bedroom", "dog"):
        cell = SPEC.cell("progan", sem)
        sizes = FULL.split_sizes(cell.semantic)
        got = Counter(assign(image_id(cell, i), FULL).split for i in range(sum(sizes.values())))
        assert dict(got) == sizes


def test_test_conditions_are_balanced_and_unseen_perturbations_only_in_test():
    cell = SPEC.cell("real", "celeba")
    out = [assign(image_id(cell, i), FULL) for i in range(FULL.cell_size(cell.semantic))]
    test = [a for a in out if a.split == "test"]
    assert sorted(Counter(a.condition for a in test).values()) == [333, 333, 334]
    unseen = {p.name for p in SPEC.unseen_perturbations()}
    for a in out:
        if a.split != "test":
            assert a.perturbation == "none" and a.severity == 0 and a.perturbation_seed is None
        elif a.condition == "clean":
            assert a.perturbation == "none" and a.severity == 0
        else:
            assert (a.perturbation in unseen) == (a.condition == "unseen_pert")
            assert 1 <= a.severity <= 5 and a.perturbation_seed >= 0
    pairs = Counter((a.perturbation, a.severity) for a in test if a.condition == "seen_pert")
    assert len(pairs) == 75 and max(pairs.values()) - min(pairs.values()) <= 1


def test_every_mini_cell_has_every_condition():
    for cell in SPEC.cells():
        got = Counter(assign(image_id(cell, i), MINI).condition
                      for i in range(MINI.cell_size(cell.semantic)))
        assert got["clean"] == got["seen_pert"] == got["unseen_pert"] == 4


def test_index_outside_the_cell_is_refused():
    with pytest.raises(UsageError, match="outside its cell"):
        assign("real-bedroom-00042", MINI)


def test_assignment_does_not_depend_on_order():
    cell = SPEC.cell("sngan", "cat")
    ids = [image_id(cell, i) for i in range(MINI.cell_size(cell.semantic))]
    forward = {i: assign(i, MINI) for i in ids}
    backward = {i: assign(i, MINI) for i in reversed(ids)}
    assert forward == backward


_CHILD = """
import json, sys
from attribution88.ids import assign, image_id, hash64
from attribution88.spec import SPEC
p = SPEC.preset("full"); cell = SPEC.cell("stylegan3", "bedroom")
ids = [image_id(cell, i) for i in range(0, 12000, 97)]
print(json.dumps([assign(i, p).__dict__ for i in ids] + [hash64("x", 1, "y")]))
"""


def test_assignment_is_the_same_in_another_process():
    # PYTHONHASHSEED differs between processes: nothing may depend on hash()
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout
    cell = SPEC.cell("stylegan3", "bedroom")
    here = [assign(image_id(cell, i), FULL).__dict__ for i in range(0, 12000, 97)] + [hash64("x", 1, "y")]
    assert json.loads(out) == json.loads(json.dumps(here))


def test_release_ranks_are_a_permutation():
    cell = SPEC.cell("real", "dog")
    assert sorted(release_test_rank(i, 50, cell) for i in range(50)) == list(range(50))
