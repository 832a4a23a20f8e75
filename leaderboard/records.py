"""Leaderboard records: frozen, versioned, validated; and the page rendered from them."""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from attribution88.errors import ResultsFormatError, UsageError

#: Layout version of a record. Bump when a key changes meaning or moves.
SCHEMA_VERSION = 1
#: Metrics a record may carry, in display order, with their headers; higher is better except
#: for log loss.
METRICS: dict[str, str] = {
    "attribution_accuracy": "Attr. acc",
    "nmi": "Attr. NMI",
    "detection_accuracy": "Det. acc",
    "macro_f1": "Macro-F1",
    "detection_auc": "Det. AUC",
    "log_loss": "Log loss",
}
KINDS = ("published", "scored")
#: What the published figures were measured on.
PUBLISHED_DATA = "Attribution88 test set of the official release, as reported by the papers"
RANK_BY = "attribution_accuracy"
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Metric:
    value: float
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Record:
    """One leaderboard entry."""

    name: str
    kind: str  # "published" or "scored"
    date: str  # ISO date: of the paper (published) or of the scoring (scored)
    metrics: dict[str, Metric]
    reference: dict[str, str] = field(default_factory=dict)  # paper, url, venue
    data: dict[str, Any] = field(default_factory=dict)  # what it was evaluated on
    source: str = ""  # where the numbers come from
    notes: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def slug(self) -> str:
        """File name stem: the name, and what it was measured on."""
        where = ("published" if self.kind == "published" else
                 f"{str(self.data.get('fingerprint'))[:12]}-{self.data.get('config')}-{self.data.get('split')}")
        return _SLUG.sub("-", f"{self.name}-{where}".lower()).strip("-")

    @property
    def data_key(self) -> str:
        """Records with the same key were measured on the same data and can be ranked together."""
        if self.kind == "published":
            return "published"
        return f"{self.data.get('fingerprint')}/{self.data.get('config')}/{self.data.get('split')}"

    def to_dict(self) -> dict:
        return {"schema_version": self.schema_version, "name": self.name, "kind": self.kind,
                "date": self.date, "reference": dict(self.reference), "data": dict(self.data),
                "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
                "source": self.source, "notes": self.notes}

    @classmethod
    def from_dict(cls, d: Any, where: str = "record") -> Record:
        if not isinstance(d, dict):
            raise ResultsFormatError(f"{where}: not a JSON object")
        version = d.get("schema_version")
        if not isinstance(version, int) or version < 1:
            raise ResultsFormatError(f"{where}: missing or bad schema_version")
        if version > SCHEMA_VERSION:
            raise ResultsFormatError(f"{where}: schema_version {version} is newer than this "
                                     f"attribution88 reads ({SCHEMA_VERSION}); upgrade attribution88")
        try:
            metrics = {}
            for k, m in (d.get("metrics") or {}).items():
                if k not in METRICS:
                    raise ResultsFormatError(f"{where}: unknown metric {k!r} (known: {', '.join(METRICS)})")
                m = m if isinstance(m, dict) else {"value": m}
                metrics[k] = Metric(float(m["value"]), _opt(m.get("low")), _opt(m.get("high")))
            record = cls(name=str(d["name"]).strip(), kind=str(d["kind"]), date=str(d["date"]),
                         metrics=metrics, reference={str(k): str(v) for k, v in (d.get("reference") or {}).items()},
                         data=dict(d.get("data") or {}), source=str(d.get("source", "")),
                         notes=str(d.get("notes", "")), schema_version=version)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, ResultsFormatError):
                raise
            raise ResultsFormatError(f"{where}: malformed ({type(e).__name__}: {e})") from None
        record.validate(where)
        return record

    def validate(self, where: str = "record") -> None:
        problems = []
        if not self.name:
            problems.append("empty name")
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        try:
            date.fromisoformat(self.date)
        except ValueError:
            problems.append(f"date {self.date!r} is not an ISO date (YYYY-MM-DD)")
        if RANK_BY not in self.metrics:
            problems.append(f"no {RANK_BY} (the ranking metric)")
        for k, m in self.metrics.items():
            upper = None if k == "log_loss" else 1.0
            for label, v in (("value", m.value), ("low", m.low), ("high", m.high)):
                if v is not None and (v != v or v < 0 or (upper is not None and v > upper)):
                    problems.append(f"{k} {label} {v} out of range")
            if m.low is not None and m.high is not None and not m.low <= m.value <= m.high:
                problems.append(f"{k}: value {m.value} outside its interval [{m.low}, {m.high}]")
        if self.kind == "scored" and not self.data.get("fingerprint"):
            problems.append("a scored record needs the truth dataset's fingerprint")
        if problems:
            raise ResultsFormatError(f"{where}: {'; '.join(problems)}")


def _opt(x: Any) -> float | None:
    return None if x is None else float(x)


def default_records_dir() -> Path:
    """The records shipped with the package (leaderboard/records/)."""
    return Path(str(resources.files("attribution88.leaderboard").joinpath("records")))


def load_records(directory: str | os.PathLike | None = None) -> list[Record]:
    """Every ``*.json`` record of a folder, validated; names must be unique per data."""
    directory = Path(directory) if directory else default_records_dir()
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such records folder")
    records, seen = [], {}
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ResultsFormatError(f"{path}: not valid JSON ({e})") from None
        record = Record.from_dict(raw, str(path))
        key = (record.name.lower(), record.data_key)
        if key in seen:
            raise ResultsFormatError(f"{path}: entry {record.name!r} on the same data is already in {seen[key]}")
        seen[key] = path.name
        records.append(record)
    return records


def record_from_results(results: str | os.PathLike | Any, name: str, *, paper: str = "",
                        url: str = "", notes: str = "") -> Record:
    """A `scored` record from `attribution88 score --json` output (path or ScoreResult)."""
    from attribution88.eval.results import ScoreResult, read_results

    result = read_results(results) if isinstance(results, (str, os.PathLike)) else results
    if not isinstance(result, ScoreResult):
        raise ResultsFormatError(f"{results}: not the results of `attribution88 score`")
    metrics = {k: Metric(e.value, e.low, e.high) for k, e in result.metrics.items()
               if k in METRICS and e.value is not None}
    truth = result.truth
    record = Record(
        name=name.strip(), kind="scored", date=result.scored_at[:10] or date.today().isoformat(),
        metrics=metrics, reference={k: v for k, v in (("paper", paper), ("url", url)) if v},
        data={"location": truth.location, "fingerprint": truth.fingerprint, "config": truth.config,
              "split": truth.split, "spec_version": truth.spec_version, "preset": truth.preset,
              "images": result.overall.n},
        source=(f"attribution88 score {result.tool_version}, submission {result.submission.name} "
                f"(sha256 {str(result.submission.sha256)[:16]})"), notes=notes)
    record.validate(f"record for {name!r}")
    return record


def write_record(directory: str | os.PathLike, record: Record, *, replace: bool = False) -> Path:
    """Write ``record`` as ``SLUG.json`` (atomically); an existing entry is kept unless
    ``replace``."""
    from attribution88.atomic import write_json

    record.validate()
    path = Path(directory) / f"{record.slug}.json"
    if path.exists() and not replace:
        raise UsageError(f"{path} exists; pass --replace to overwrite this entry")
    write_json(path, record.to_dict())
    return path


def _cell(m: Metric | None) -> str:
    if m is None:
        return "-"
    if m.low is None or m.high is None:
        return f"{m.value:.4f}"
    return f"{m.value:.4f} [{m.low:.3f}, {m.high:.3f}]"


def render_markdown(records: list[Record]) -> str:
    """The leaderboard page: one table per evaluation data, ranked by attribution accuracy."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[r.data_key].append(r)
    order = sorted(groups, key=lambda k: (k != "published", k))
    parts = ["# Attribution88 leaderboard",
             "Ranked by attribution accuracy (8-way: real + 7 GAN architectures) on the test split. "
             "Tables never mix data: figures published on the official test set, and figures "
             "scored by `attribution88 score` on a dataset identified by its fingerprint, are "
             "ranked separately. This page is rendered from `leaderboard/records/*.json` by "
             "`attribution88 leaderboard render`; do not edit it by hand. Intervals: 95% "
             "bootstrap over images, where the scorer computed them."]
    used = [k for k in METRICS if any(k in r.metrics for r in records)]
    for key in order:
        rows = sorted(groups[key], key=lambda r: (-r.metrics[RANK_BY].value, r.name))
        if key == "published":
            title, about = "Published results", PUBLISHED_DATA
        else:
            d = rows[0].data
            title = f"Scored on `{str(d.get('fingerprint'))[:12]}` ({d.get('config')}/{d.get('split')})"
            about = (f"{d.get('images', '?')} images, preset {d.get('preset') or '?'}, spec "
                     f"{d.get('spec_version')}, at {d.get('location')}")
            if d.get("preset") == "mini":
                about += " — the mini preset's stand-in generators: a pipeline check, not a benchmark result"
        header = ["#", "method", *[METRICS[k] for k in used], "reference", "date"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for i, r in enumerate(rows, 1):
            ref = r.reference.get("paper", "")
            if r.reference.get("url"):
                ref = f"[{ref or 'link'}]({r.reference['url']})"
            lines.append("| " + " | ".join([str(i), r.name, *[_cell(r.metrics.get(k)) for k in used],
                                             ref, r.date]) + " |")
        notes = [f"- {r.name}: {r.notes} (source: {r.source})" if r.notes else f"- {r.name}: {r.source}"
                 for r in rows]
        parts.append(f"## {title}\n\n{about}.\n\n" + "\n".join(lines) + "\n\n" + "\n".join(notes))
    return "\n\n".join(parts) + "\n"
