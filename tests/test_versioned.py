"""The one versioned-record check: kind, version, and a one-line error naming file and versions."""
import pytest

from attribution88.errors import DatasetFormatError
from attribution88.versioned import read_version


def _read(d, **kw):
    return read_version(d, where="x.json", supported=2, error=DatasetFormatError, **kw)


def test_versions_up_to_the_supported_one_are_read():
    assert _read({"version": 1}) == 1 and _read({"version": 2}) == 2
    assert _read({}, default=1) == 1
    assert _read({"kind": "k", "version": 2}, kind="k") == 2
    assert _read({"version": 2}, kind="k", kind_required=False) == 2


@pytest.mark.parametrize("d, kw, message", [
    ([1], {}, "x.json: not a JSON object"),
    ({"version": 3}, {}, "x.json: version 3 is newer than this attribution88 reads (2); upgrade attribution88"),
    ({"version": 1}, {"exact": True, "remedy": "rebuild it"},
     "x.json: version 1 is older than this attribution88 reads (2); rebuild it"),
    ({}, {}, "x.json: missing or bad version None (this attribution88 reads 2)"),
    ({"version": "2"}, {}, "missing or bad version '2'"),
    ({"version": True}, {}, "missing or bad version True"),
    ({"version": 2}, {"kind": "k"}, "x.json: kind is None, expected 'k'"),
    ({"kind": "j", "version": 2}, {"kind": "k", "kind_required": False}, "kind is 'j', expected 'k'"),
])
def test_bad_records_are_refused_in_one_line(d, kw, message):
    with pytest.raises(DatasetFormatError) as e:
        _read(d, **kw)
    assert message in str(e.value) and "\n" not in str(e.value)
