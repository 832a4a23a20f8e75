"""`attribution88 score` on untrusted submission files: every accepted variant of the format,
and every broken file refused with one clear line and exit code 2."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from attribution88 import cli
from attribution88.eval.submission import MAX_BYTES_ENV, read_submission
from attribution88.spec import SPEC

SOURCES = SPEC.source_names


@pytest.fixture(scope="module")
def ids(truth):
    return truth.ids.to_pylist()


@pytest.fixture(scope="module")
def labels(truth):
    return truth.source.astype(int).tolist()


@pytest.fixture
def run(tiny_dataset, capsys):
    """Run the command line (the score and compare commands) and return (code, out, err)."""

    def go(*argv: str, truth_dir=tiny_dataset):
        code = cli.main(["score", *map(str, argv), "--truth", str(truth_dir), "--resamples", "0"])
        out, err = capsys.readouterr()
        return code, out, err

    return go


def write(path, text: str | bytes, encoding: str = "utf-8"):
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def pred_csv(ids, labels, sep="\n") -> str:
    return "id,pred" + sep + "".join(f"{i},{SOURCES[y]}{sep}" for i, y in zip(ids, labels))


def metric(out: str, name: str) -> float:
    """The value of a metric in the terminal report."""
    m = re.search(rf"^  {re.escape(name)}\s+([-\d.]+)", out, re.M)
    assert m, (name, out)
    return float(m.group(1))


def refused(result, *words: str) -> str:
    """Assert a refusal: exit code 2, one line on stderr naming the problem, no traceback."""
    code, out, err = result
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("attribution88 score: error: "), err
    assert "Traceback" not in err and out == ""
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


# -- accepted variants ------------------------------------------------------------------------
def test_perfect_predictions_score_one(tmp_path, run, ids, labels):
    code, out, err = run(write(tmp_path / "p.csv", pred_csv(ids, labels)))
    assert code == 0, err
    assert metric(out, "attribution accuracy") == 1.0 and metric(out, "NMI") == 1.0


def test_bom_crlf_quotes_and_shuffled_rows(tmp_path, run, ids, labels):
    order = np.random.default_rng(0).permutation(len(ids))
    body = "\ufeff\"id\",\"pred\"\r\n" + "".join(f"\"{ids[i]}\",\"{SOURCES[labels[i]]}\"\r\n" for i in order)
    code, out, err = run(write(tmp_path / "p.csv", body))
    assert code == 0, err
    assert metric(out, "attribution accuracy") == 1.0


def test_gzip_compressed(tmp_path, run, ids, labels):
    path = tmp_path / "p.csv.gz"
    path.write_bytes(gzip.compress(pred_csv(ids, labels).encode()))
    code, out, err = run(path)
    assert code == 0, err
    assert metric(out, "attribution accuracy") == 1.0


def test_indices_display_names_and_letter_case(tmp_path, run, ids, labels):
    for name, values in (("idx", [str(y) for y in labels]),
                         ("display", [SPEC.sources[y].display for y in labels]),
                         ("upper", [f" {SOURCES[y].upper()} " for y in labels])):
        body = "id,pred\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values))
        code, out, err = run(write(tmp_path / f"{name}.csv", body))
        assert code == 0, (name, err)
        assert metric(out, "attribution accuracy") == 1.0


def test_unknown_columns_are_ignored_with_a_warning(tmp_path, run, ids, labels):
    body = "model,id,pred,notes\n" + "".join(f"x,{i},{SOURCES[y]},=HYPERLINK(1)\n" for i, y in zip(ids, labels))
    code, out, err = run(write(tmp_path / "p.csv", body))
    assert code == 0, err
    assert "warning: ignored unknown column(s): model, notes" in out


def test_score_columns_only_use_their_argmax(tmp_path, run, ids, labels):
    rows = []
    for i, y in zip(ids, labels):
        p = [0.02] * 8
        p[y] = 0.86
        rows.append(f"{i}," + ",".join(f"{v:.2f}" for v in p))
    path = write(tmp_path / "p.csv", "id," + ",".join(SOURCES) + "\n" + "\n".join(rows) + "\n")
    code, out, err = run(path)
    assert code == 0, err
    assert metric(out, "attribution accuracy") == 1.0 and "scores (probs, auto-detected)" in out


def test_fake_score_column_gives_a_detection_auc(tmp_path, run, ids, labels):
    body = "id,pred,fake_score\n" + "".join(f"{i},{SOURCES[y]},{1.5 if y else -2}\n" for i, y in zip(ids, labels))
    code, out, err = run(write(tmp_path / "p.csv", body))
    assert code == 0, err
    assert metric(out, "detection AUC") == 1.0


def test_pred_disagreeing_with_scores_is_warned(tmp_path, run, ids, labels):
    rows = [f"{i},{SOURCES[y]}," + ",".join("1" if j == (y + 1) % 8 else "0" for j in range(8))
            for i, y in zip(ids, labels)]
    body = "id,pred," + ",".join(SOURCES) + "\n" + "\n".join(rows) + "\n"
    code, out, err = run(write(tmp_path / "p.csv", body))
    assert code == 0, err
    assert "pred is not an argmax of the scores on 1,056 rows" in out
    assert metric(out, "attribution accuracy") == 1.0


# -- refused files ----------------------------------------------------------------------------
def test_empty_file(tmp_path, run):
    refused(run(write(tmp_path / "e.csv", "")), "e.csv", "empty file")


def test_whitespace_only_file(tmp_path, run):
    refused(run(write(tmp_path / "e.csv", "\ufeff\n\n")), "empty file")


def test_no_header(tmp_path, run, ids, labels):
    body = "".join(f"{i},{SOURCES[y]}\n" for i, y in zip(ids, labels))
    refused(run(write(tmp_path / "h.csv", body)), "no header", "looks like data")


def test_first_line_empty(tmp_path, run, ids, labels):
    refused(run(write(tmp_path / "h.csv", "\n" + pred_csv(ids, labels))), "no header", "empty")


def test_no_id_column(tmp_path, run, ids, labels):
    body = "image,pred\n" + "".join(f"{i},{SOURCES[y]}\n" for i, y in zip(ids, labels))
    refused(run(write(tmp_path / "i.csv", body)), "no 'id' column", "image, pred")


def test_semicolon_separated_file(tmp_path, run, ids, labels):
    body = "id;pred\n" + "".join(f"{i};{SOURCES[y]}\n" for i, y in zip(ids, labels))
    refused(run(write(tmp_path / "s.csv", body)), "comma-separated")


def test_no_prediction_columns(tmp_path, run, ids):
    body = "id,fake_score\n" + "".join(f"{i},0.5\n" for i in ids)
    refused(run(write(tmp_path / "n.csv", body)), "no prediction columns", "pred")


def test_incomplete_score_columns(tmp_path, run, ids):
    body = "id,real,stylegan2\n" + "".join(f"{i},0.5,0.5\n" for i in ids)
    refused(run(write(tmp_path / "n.csv", body)), "all 8 sources", "missing: stylegan3")


def test_duplicate_column(tmp_path, run, ids, labels):
    body = "id,pred,PRED\n" + "".join(f"{i},{SOURCES[y]},real\n" for i, y in zip(ids, labels))
    refused(run(write(tmp_path / "d.csv", body)), "appears twice")


def test_missing_ids_give_count_and_first_few(tmp_path, run, ids, labels):
    line = refused(run(write(tmp_path / "m.csv", pred_csv(ids[5:], labels[5:])))),
    assert "5 of the 1,056 ids" in line[0] and "missing" in line[0] and repr(ids[0]) in line[0]


def test_ids_not_in_the_split(tmp_path, run, ids, labels):
    body = pred_csv(ids, labels) + "stylegan2-cat-99999,real\nnot-an-id,real\n"
    line = refused(run(write(tmp_path / "x.csv", body)), "2 id(s) not in config 'default' split 'test'")
    assert "'stylegan2-cat-99999' (data row 1057)" in line


def test_duplicate_ids(tmp_path, run, ids, labels):
    body = pred_csv(ids, labels) + f"{ids[3]},real\n"
    line = refused(run(write(tmp_path / "d.csv", body)), "1 duplicate id(s)")
    assert f"{ids[3]!r} (data rows 4, 1057)" in line


def test_unknown_source_names(tmp_path, run, ids, labels):
    names = [SOURCES[y] for y in labels]
    names[2], names[7] = "biggan", "=cmd|' /C calc'!A0"  # a formula is only an unknown name
    body = "id,pred\n" + "".join(f"{i},{n}\n" for i, n in zip(ids, names))
    line = refused(run(write(tmp_path / "u.csv", body)), "2 unknown source name(s)", "'biggan' (data row 3")
    assert "valid: real, stylegan3" in line


def test_mixed_names_and_indices(tmp_path, run, ids, labels):
    values = [SOURCES[y] for y in labels]
    values[4] = "3"
    body = "id,pred\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values))
    refused(run(write(tmp_path / "m.csv", body)), "mixes class indices", "data row 5")


@pytest.mark.parametrize("bad", ["8", "-1", "12"])
def test_index_out_of_range(tmp_path, run, ids, labels, bad):
    values = [str(y) for y in labels]
    values[10] = bad
    body = "id,pred\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values))
    refused(run(write(tmp_path / "o.csv", body)), f"pred index '{bad}' out of range 0-7", "data row 11")


def _score_file(tmp_path, ids, labels, bad_value: str, row: int = 6, column: int = 3):
    rows = []
    for r, (i, y) in enumerate(zip(ids, labels)):
        p = ["0.1"] * 8
        p[y] = "0.3"
        if r == row:
            p[column] = bad_value
        rows.append(f"{i}," + ",".join(p))
    return write(tmp_path / "s.csv", "id," + ",".join(SOURCES) + "\n" + "\n".join(rows) + "\n")


@pytest.mark.parametrize("bad,words", [("nan", ["holds nan", "finite"]), ("NaN", ["holds nan"]),
                                       ("inf", ["holds inf"]), ("-inf", ["holds -inf"]),
                                       ("1e999", ["holds inf"]), ("abc", ["'abc' is not a number"]),
                                       ("0x1A", ["is not a number"]), ("", ["is empty"])])
def test_bad_score_values(tmp_path, run, ids, labels, bad, words):
    line = refused(run(_score_file(tmp_path, ids, labels, bad)), "column 'stylegan'", *words)
    assert f"data row 7, id {ids[6]!r}" in line


def test_negative_probability_when_declared(tmp_path, run, ids, labels):
    refused(run(_score_file(tmp_path, ids, labels, "-0.1"), "--scores", "probs"),
            "negative probability -0.1", "column 'stylegan'", "data row 7")


def test_negative_values_are_logits_when_not_declared(tmp_path, run, ids, labels):
    code, out, err = run(_score_file(tmp_path, ids, labels, "-0.1"))
    assert code == 0, err
    assert "scores (logits, auto-detected)" in out


def test_probabilities_not_summing_to_one_when_declared(tmp_path, run, ids, labels):
    refused(run(_score_file(tmp_path, ids, labels, "0.9"), "--scores", "probs"),
            "probabilities sum to 1.8", "data row 7")


def test_row_with_wrong_number_of_fields(tmp_path, run, ids, labels):
    lines = pred_csv(ids, labels).splitlines()
    lines[500] += ",extra"
    refused(run(write(tmp_path / "f.csv", "\n".join(lines) + "\n")), "line 501 has 3 fields, the header 2")


def test_row_with_too_few_fields(tmp_path, run, ids, labels):
    lines = pred_csv(ids, labels).splitlines()
    lines[20] = ids[19]
    refused(run(write(tmp_path / "f.csv", "\n".join(lines) + "\n")), "line 21 has 1 fields")


def test_not_utf8(tmp_path, run, ids, labels):
    body = pred_csv(ids, labels).replace(ids[9], ids[9] + "\u00e9")
    line = refused(run(write(tmp_path / "l.csv", body, encoding="latin-1")), "not UTF-8", "line 11")
    assert "0xe9" in line


def test_utf16_file(tmp_path, run, ids, labels):
    refused(run(write(tmp_path / "w.csv", pred_csv(ids, labels), encoding="utf-16")), "not UTF-8")


def test_excel_workbook(tmp_path, run):
    refused(run(write(tmp_path / "p.xlsx", b"PK\x03\x04" + bytes(100))), "ZIP archive")


def test_larger_than_the_limit(tmp_path, run, ids, labels):
    path = write(tmp_path / "big.csv", pred_csv(ids, labels))
    refused(run(path, "--max-bytes", "10K"), "larger than the limit of 10,240 bytes", "--max-bytes")


def test_limit_from_the_environment(tmp_path, run, ids, labels, monkeypatch):
    monkeypatch.setenv(MAX_BYTES_ENV, "1K")
    refused(run(write(tmp_path / "big.csv", pred_csv(ids, labels))), "limit of 1,024 bytes")


def test_gzip_counts_decompressed_bytes_and_stops_at_the_limit(tmp_path, run, monkeypatch):
    # a small gzip file that inflates to 64 MiB: refused after reading about the limit only
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"id,pred\n" + b"x,real\n" * (64 << 17), compresslevel=9))
    assert path.stat().st_size < 1 << 20
    read = []
    original = gzip.GzipFile.read

    def counting(self, n=-1):
        data = original(self, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(gzip.GzipFile, "read", counting)
    refused(run(path, "--max-bytes", "1M"), "larger than the limit", "decompressed")
    assert sum(read) <= (1 << 20) + (8 << 20)  # the limit plus at most two blocks


def test_corrupt_gzip(tmp_path, run, ids, labels):
    data = gzip.compress(pred_csv(ids, labels).encode())
    refused(run(write(tmp_path / "c.csv.gz", data[: len(data) // 2])), "not a valid gzip file")


def test_path_that_does_not_exist(tmp_path, run):
    refused(run(tmp_path / "nope.csv"), "nope.csv: no such file")


def test_folder_instead_of_file(tmp_path, run):
    refused(run(tmp_path), "not a regular file")


def test_header_only(tmp_path, run):
    refused(run(write(tmp_path / "h.csv", "id,pred\n")), "no rows after the header")


def test_read_submission_library_call_raises_not_exits(tmp_path):
    from attribution88.errors import SubmissionError

    with pytest.raises(SubmissionError, match="empty file"):
        read_submission(write(tmp_path / "e.csv", ""))
    with pytest.raises(ValueError):  # SubmissionError is a ValueError too
        read_submission(write(tmp_path / "e.csv", ""))
