"""`attribution88 perturb`: a file, a folder, --list, --contact-sheet; every bad input is one
clear line and a non-zero exit, never a traceback, and an input is never overwritten."""

import hashlib

import numpy as np
import pytest
from PIL import Image

from attribution88 import perturb
from attribution88.cli import main
from attribution88.ids import derive_seed
from attribution88.images import read_image
from attribution88.perturb.contact import GAP, HEADER_HEIGHT, LABEL_WIDTH
from attribution88.spec import SPEC


def _pixels(h=40, w=56, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def _one_error_line(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_list_prints_the_19_with_index_and_split(capsys):
    assert main(["perturb", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 19
    for line, p in zip(lines, SPEC.perturbations):
        assert line.split() == [str(p.index), p.name, "seen" if p.seen else "unseen"]


def test_a_file_is_perturbed_with_the_protocol_and_its_seed(tmp_path, capsys):
    src = _save(tmp_path / "in.jpg", _pixels())
    out = tmp_path / "out" / "fogged.png"
    assert main(["perturb", str(src), str(out), "--name", "fog", "--severity", "3", "--seed", "7"]) == 0
    expected = perturb.apply_protocol(read_image(src), "fog", 3, 7)
    assert np.array_equal(read_image(out), expected)
    assert str(out) in capsys.readouterr().out


def test_native_size_corrupts_without_resizing(tmp_path):
    src = _save(tmp_path / "in.png", _pixels(64, 64))
    out = tmp_path / "out.png"
    assert main(["perturb", str(src), str(out), "--name", "pixelate", "--severity", "5", "--native-size"]) == 0
    assert np.array_equal(read_image(out), perturb.apply(read_image(src), "pixelate", 5, 0))


def test_an_existing_folder_as_output_receives_stem_png(tmp_path):
    src = _save(tmp_path / "photo.bmp", _pixels())
    (tmp_path / "o").mkdir()
    assert main(["perturb", str(src), str(tmp_path / "o"), "--name", "snow", "--severity", "1"]) == 0
    assert (tmp_path / "o" / "photo.png").is_file()


@pytest.mark.parametrize("mode,channels", [("L", None), ("RGBA", 4)])
def test_grey_and_rgba_files_become_rgb(tmp_path, mode, channels):
    array = _pixels()[:, :, 0] if channels is None else np.dstack([_pixels(), _pixels(seed=1)[:, :, :1]])
    src = _save(tmp_path / f"in_{mode}.png", array, mode)
    out = tmp_path / "out.png"
    assert main(["perturb", str(src), str(out), "--name", "contrast", "--severity", "2"]) == 0
    with Image.open(out) as im:
        assert im.mode == "RGB"
    rgb = np.repeat(array[:, :, None], 3, 2) if channels is None else array[:, :, :3]
    assert np.array_equal(read_image(out), perturb.apply_protocol(rgb, "contrast", 2, 0))


def test_a_1x1_image_goes_through_the_protocol(tmp_path):
    src = _save(tmp_path / "dot.png", _pixels(1, 1))
    out = tmp_path / "dot-out.png"
    assert main(["perturb", str(src), str(out), "--name", "glass_blur", "--severity", "5"]) == 0
    assert read_image(out).shape == (1, 1, 3)


def test_a_1x1_image_at_native_size_is_refused(tmp_path, capsys):
    src = _save(tmp_path / "dot.png", _pixels(1, 1))
    assert main(["perturb", str(src), str(tmp_path / "o.png"), "--name", "fog", "--severity", "1",
                 "--native-size"]) == 1
    _one_error_line(capsys, "1x1", "at least 32x32")


@pytest.mark.parametrize("name,hint", [("gausian_noise", "did you mean gaussian_noise"),
                                       ("Fog", "did you mean fog"), ("none", "unknown perturbation")])
def test_an_unknown_name_suggests_the_closest(tmp_path, capsys, name, hint):
    src = _save(tmp_path / "in.png", _pixels())
    assert main(["perturb", str(src), str(tmp_path / "o.png"), "--name", name, "--severity", "1"]) == 2
    _one_error_line(capsys, hint)
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("severity", ["0", "6", "-2"])
def test_severity_outside_1_to_5_is_refused(tmp_path, capsys, severity):
    src = _save(tmp_path / "in.png", _pixels())
    assert main(["perturb", str(src), str(tmp_path / "o.png"), "--name", "fog", "--severity", severity]) == 2
    _one_error_line(capsys, "severity must be an integer from 1 to 5")


def test_a_non_integer_severity_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["perturb", "a.png", "b.png", "--name", "fog", "--severity", "high"])
    assert e.value.code == 2
    _one_error_line(capsys, "--severity")


def test_a_negative_seed_is_refused(tmp_path, capsys):
    src = _save(tmp_path / "in.png", _pixels())
    assert main(["perturb", str(src), str(tmp_path / "o.png"), "--name", "fog", "--severity", "1",
                 "--seed", "-3"]) == 2
    _one_error_line(capsys, "seed must be a non-negative integer")


def test_missing_arguments_are_named(capsys):
    assert main(["perturb", "x.png"]) == 2
    _one_error_line(capsys, "missing OUT, --name, --severity")


@pytest.mark.parametrize("content", [b"", b"not an image at all\n", b"\x89PNG\r\n\x1a\n broken"])
def test_a_non_image_file_is_a_clear_error(tmp_path, capsys, content):
    src = tmp_path / "photo.png"
    src.write_bytes(content)
    assert main(["perturb", str(src), str(tmp_path / "o.png"), "--name", "fog", "--severity", "1"]) == 1
    _one_error_line(capsys, "photo.png", "not a readable image")


def test_a_missing_input_is_a_clear_error(tmp_path, capsys):
    assert main(["perturb", str(tmp_path / "nope.png"), str(tmp_path / "o.png"), "--name", "fog",
                 "--severity", "1"]) == 2
    _one_error_line(capsys, "nope.png", "no such file")


def test_output_must_be_png(tmp_path, capsys):
    src = _save(tmp_path / "in.png", _pixels())
    assert main(["perturb", str(src), str(tmp_path / "o.jpg"), "--name", "fog", "--severity", "1"]) == 2
    _one_error_line(capsys, "must be a .png")


def test_the_input_file_is_never_overwritten(tmp_path, capsys):
    src = _save(tmp_path / "in.png", _pixels())
    before = src.read_bytes()
    assert main(["perturb", str(src), str(src), "--name", "fog", "--severity", "1"]) == 2
    _one_error_line(capsys, "is the input file")
    assert src.read_bytes() == before


def _digest_tree(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_folder_is_mirrored_and_bad_files_are_reported_by_name(tmp_path, capsys):
    src = tmp_path / "in"
    _save(src / "a.png", _pixels(seed=1))
    _save(src / "sub" / "b.jpg", _pixels(seed=2))
    _save(src / "sub" / "deeper" / "c.bmp", _pixels(seed=3), None)
    (src / "notes.txt").write_text("not an image")
    (src / "sub" / "broken.png").write_bytes(b"garbage")
    _save(src / ".hidden" / "d.png", _pixels(seed=4))
    before = _digest_tree(src)
    out = tmp_path / "out"
    code = main(["perturb", str(src), str(out), "--name", "jpeg_compression", "--severity", "4",
                 "--seed", "5", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    assert "sub/broken.png" in captured.err and captured.err.count("\n") == 1
    assert "wrote 3 images" in captured.out and "1 unreadable" in captured.out and "1 non-image" in captured.out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        ["a.png", "sub/b.png", "sub/deeper/c.png"]
    for rel in ("a.png", "sub/b.jpg", "sub/deeper/c.bmp"):
        got = read_image((out / rel).with_suffix(".png"))
        expected = perturb.apply_protocol(read_image(src / rel), "jpeg_compression", 4, derive_seed("perturb-file", 5, rel))
        assert np.array_equal(got, expected)
    assert _digest_tree(src) == before


def test_each_image_of_a_folder_gets_its_own_noise(tmp_path):
    src = tmp_path / "in"
    flat = np.full((48, 48, 3), 128, np.uint8)
    _save(src / "one.png", flat)
    _save(src / "two.png", flat)
    assert main(["perturb", str(src), str(tmp_path / "out"), "--name", "gaussian_noise", "--severity", "3",
                 "--no-progress"]) == 0
    assert not np.array_equal(read_image(tmp_path / "out" / "one.png"), read_image(tmp_path / "out" / "two.png"))


def test_a_folder_into_itself_is_refused(tmp_path, capsys):
    src = tmp_path / "in"
    _save(src / "a.png", _pixels())
    before = _digest_tree(src)
    assert main(["perturb", str(src), str(src), "--name", "fog", "--severity", "1"]) == 2
    _one_error_line(capsys, "is the input folder")
    assert _digest_tree(src) == before


def test_an_output_folder_inside_the_input_is_not_read_back(tmp_path):
    src = tmp_path / "in"
    _save(src / "a.png", _pixels())
    for _ in range(2):
        assert main(["perturb", str(src), str(src / "out"), "--name", "fog", "--severity", "1",
                     "--no-progress"]) == 0
    assert sorted(p.relative_to(src).as_posix() for p in src.rglob("*.png")) == ["a.png", "out/a.png"]


def test_colliding_output_names_are_refused_before_writing(tmp_path, capsys):
    src = tmp_path / "in"
    _save(src / "a.png", _pixels())
    _save(src / "a.jpg", _pixels())
    assert main(["perturb", str(src), str(tmp_path / "out"), "--name", "fog", "--severity", "1"]) == 2
    _one_error_line(capsys, "a.jpg", "a.png", "rename")
    assert not (tmp_path / "out").exists()


def test_a_folder_without_images_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "readme.txt").write_text("x")
    assert main(["perturb", str(tmp_path / "in"), str(tmp_path / "out"), "--name", "fog", "--severity", "1"]) == 2
    _one_error_line(capsys, "no image files")


def test_contact_sheet_of_the_oracle_image_shows_both_flavours(tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert main(["perturb", "--contact-sheet", str(out)]) == 0
    sheet = read_image(out)
    size = SPEC.protocol.work_size
    block = GAP + 5 * size
    assert sheet.shape == (2 * HEADER_HEIGHT + 19 * size, LABEL_WIDTH + size + 2 * block, 3)
    oracle = np.load(__import__("pathlib").Path(__file__).parent / "data" / "oracle" / "public.npz")["images"][0]
    top = 2 * HEADER_HEIGHT + 12 * size  # elastic_transform's row
    assert np.array_equal(sheet[top:top + size, LABEL_WIDTH:LABEL_WIDTH + size], oracle)
    for k, flavour in enumerate(("repmix", "imagecorruptions")):
        left = LABEL_WIDTH + size + GAP + k * block + 2 * size  # severity 3
        assert np.array_equal(sheet[top:top + size, left:left + size],
                              perturb.apply(oracle, "elastic_transform", 3, 0, flavour))


def test_contact_sheet_of_one_flavour(tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["perturb", "--contact-sheet", str(out), "--flavour", "imagecorruptions"]) == 0
    sheet = read_image(out)
    size = SPEC.protocol.work_size
    assert sheet.shape == (HEADER_HEIGHT + 19 * size, LABEL_WIDTH + size + GAP + 5 * size, 3)
    oracle = np.load(__import__("pathlib").Path(__file__).parent / "data" / "oracle" / "public.npz")["images"][0]
    top, left = HEADER_HEIGHT + 4 * size, LABEL_WIDTH + size + GAP + 2 * size  # glass_blur/3
    assert np.array_equal(sheet[top:top + size, left:left + size],
                          perturb.apply(oracle, "glass_blur", 3, 0, "imagecorruptions"))


def test_contact_sheet_of_a_given_image(tmp_path):
    src = _save(tmp_path / "in.png", _pixels(100, 60))
    assert main(["perturb", str(src), "--contact-sheet", str(tmp_path / "s.png"), "--seed", "3",
                 "--flavour", "repmix"]) == 0
    assert read_image(tmp_path / "s.png").shape[0] == HEADER_HEIGHT + 19 * SPEC.protocol.work_size


def test_flavour_of_a_file(tmp_path, capsys):
    src = _save(tmp_path / "in.png", _pixels(90, 70))
    for flavour in ("repmix", "imagecorruptions"):
        out = tmp_path / f"{flavour}.png"
        assert main(["perturb", str(src), str(out), "--name", "frost", "--severity", "2", "--seed", "4",
                     "--flavour", flavour]) == 0
        assert np.array_equal(read_image(out), perturb.apply_protocol(read_image(src), "frost", 2, 4, flavour))
    assert not np.array_equal(read_image(tmp_path / "repmix.png"), read_image(tmp_path / "imagecorruptions.png"))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:  # argparse's one-line choice error
        main(["perturb", str(src), str(tmp_path / "x.png"), "--name", "frost", "--severity", "2",
              "--flavour", "imagenet"])
    assert exit_.value.code == 2 and "invalid choice: 'imagenet'" in capsys.readouterr().err


def test_contact_sheet_must_be_png(tmp_path, capsys):
    assert main(["perturb", "--contact-sheet", str(tmp_path / "s.jpg")]) == 2
    _one_error_line(capsys, "must be a .png")
