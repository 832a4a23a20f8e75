"""The table of metrics (`attribution88.eval.metric_table`) is the one place their facts live:
the leaderboard (Markdown page, site, charts, record validation, ranking) takes labels,
direction and bounds from it, and its records hold the scorer's `Estimate`. (The scorer, the
report and the plots: test_eval_scoring.py.)"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import pytest

from attribution88.errors import ResultsFormatError
from attribution88.eval import metric_table as mt
from attribution88.leaderboard import load_records, render_markdown, tables
from attribution88.leaderboard.records import (
    ADVERSARIAL_METRIC,
    RANK_BY,
    RECORD_METRICS,
    Record,
    default_records_dir,
)
from attribution88.leaderboard.site import render_site


def test_the_board_metrics_are_in_the_table():
    group = {m.key for m in mt.of_scope("group")}
    assert set(RECORD_METRICS) <= group and RANK_BY in group
    assert mt.METRICS[ADVERSARIAL_METRIC].scope == "adversarial"
    with pytest.raises(ValueError, match="unknown metric scope"):
        mt.of_scope("nope")


def test_the_markdown_page_takes_labels_and_direction_from_the_table(relabel_metrics):
    records = load_records()
    relabel_metrics("attribution_accuracy", "nmi", "detection_accuracy", ADVERSARIAL_METRIC)
    page = render_markdown(records)
    assert "| Sh-attribution_accuracy | Sh-nmi | Sh-detection_accuracy |" in page
    assert "Ranked by lbl-attribution_accuracy" in page
    assert "Lbl-attribution_error under adversarial attack (L-infinity budget eps; lower is better)" in page
    assert "Attr. acc" not in page and "Attr. NMI" not in page


def test_the_site_takes_its_labels_from_the_table(relabel_metrics, tmp_path):
    records = load_records()
    relabel_metrics("attribution_accuracy", "nmi", "macro_f1", "recall", ADVERSARIAL_METRIC)
    render_site(records, tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert ">Sh-attribution_accuracy</button>" in index and ">Sh-nmi</button>" in index
    assert "ranked by lbl-attribution_accuracy" in index and "Attr. acc" not in index
    assert "lbl-attribution_accuracy on the 6 seen semantics" in index  # breakdown column tooltips
    assert "lbl-attribution_error under adversarial attack" in index
    scored = next(r for r in records if r.results and r.adversarial)
    entry = (tmp_path / "site" / "entries" / f"{scored.slug}.html").read_text()
    assert "lbl-macro_f1" in entry and "lbl-recall" in entry  # breakdown and per-source tables
    assert "Lbl-attribution_accuracy per perturbation and severity" in entry  # charts
    assert "Lbl-attribution_error under adversarial attack against the budget eps" in entry
    assert "<td>Lbl-attribution_error</td>" in entry
    assert "attribution accuracy" not in entry.lower().replace("lbl-attribution_accuracy", "")


def test_ranking_follows_the_direction_of_the_table(monkeypatch):
    records = load_records()
    best_first = [r.name for r in tables(records)[0].rows]
    monkeypatch.setitem(mt.METRICS, RANK_BY, dataclasses.replace(mt.METRICS[RANK_BY], higher_is_better=False))
    worst_first = [r.name for r in tables(records)[0].rows]
    values = [r.metrics[RANK_BY].value for r in tables(records)[0].rows]
    assert values == sorted(values) and len(set(values)) > 1
    assert best_first != worst_first


def test_records_are_checked_against_the_bounds_of_the_table(monkeypatch):
    raw = json.loads((default_records_dir() / "repmix-test-published.json").read_text())
    raw["metrics"]["log_loss"] = {"value": 2.5, "low": 2.0, "high": 3.0}  # unbounded above
    Record.from_dict(raw)
    monkeypatch.setitem(mt.METRICS, "log_loss", dataclasses.replace(mt.METRICS["log_loss"], hi=2.0))
    with pytest.raises(ResultsFormatError, match=r"log_loss value 2.5 out of range \[0, 2\]"):
        Record.from_dict(raw)
    raw["metrics"]["log_loss"] = {"low": 0.1}
    with pytest.raises(ResultsFormatError, match="log_loss: no value"):
        Record.from_dict(raw)


def test_records_keep_their_json_through_the_one_estimate_class():
    """Record figures are `Estimate`s: every packaged record (schema 2) reads and writes back
    its metrics and adversarial figures unchanged; bare numbers read as values."""
    for path in sorted(default_records_dir().glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        record = Record.from_dict(raw, str(path))
        assert all(type(m) is mt.Estimate for m in [*record.metrics.values(), *record.adversarial.values()])
        back = record.to_dict()
        assert back["metrics"] == raw["metrics"], path.name
        assert back.get("adversarial") == raw.get("adversarial"), path.name
    assert mt.Estimate.from_dict(0.5) == mt.Estimate(0.5)
    assert mt.Estimate.from_dict({"value": math.nan, "low": None}).to_dict() == {"value": None, "low": None, "high": None}


def test_the_table_is_light():
    code = ("import sys, attribution88.eval.metric_table, attribution88.leaderboard.markdown; "
            "print(sorted(m for m in ('numpy', 'torch', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
