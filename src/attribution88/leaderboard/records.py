"""Leaderboard records: frozen, versioned, validated; the store they live in.

A record is one entry: a method's figures on one evaluation set. Published records quote a
paper (`kind: "published"`) on one of the `PUBLISHED_SETS`; scored records were computed by
`attribution88 score` on a dataset identified by its fingerprint (`kind: "scored"`). Records
measured on different data are never ranked together (`Record.data_key`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from attribution88.errors import ResultsFormatError, UsageError
from attribution88.eval.metric_table import METRICS, Estimate
from attribution88.versioned import read_version

#: Layout version of a record. Bump when a key changes meaning or moves.
#: 2: `configuration`, `adversarial`, `results` (a scored entry's whole results document), and
#: `data.set` for published records (1 had one published set, the Attribution88 test set, which
#: version-1 records are read as).
SCHEMA_VERSION = 2
#: Metrics a record may carry, in the board's column order (labels, direction and range:
#: `attribution88.eval.metric_table`).
RECORD_METRICS = ("attribution_accuracy", "nmi", "detection_accuracy", "macro_f1", "detection_auc", "log_loss")
#: The metric of a record's ``adversarial`` figures, by budget.
ADVERSARIAL_METRIC = "attribution_error"
KINDS = ("published", "scored")


@dataclass(frozen=True)
class PublishedSet:
    """An evaluation set figures were published on."""

    key: str
    title: str
    about: str


#: The sets of the RepMix paper (ECCV 2022): Table 1 has the control set and the test set,
#: the ablation study its own set. Figures on different sets are never ranked together.
PUBLISHED_SETS: dict[str, PublishedSet] = {s.key: s for s in (
    PublishedSet("test", "Attribution88 test set (published)",
                 "The test set of the official Attribution88 release (11 semantics, 6 seen and 5 "
                 "unseen; clean images and 19 ImageNet-C perturbations, 4 of them unseen), as "
                 "reported in the RepMix paper, Table 1"),
    PublishedSet("control", "\"1 Sem., Clean\" control set (published)",
                 "The paper's control set: one semantic, no perturbation (Table 1, left block). It "
                 "shows what each method does without the benchmark's difficulties; it is not the "
                 "Attribution88 test set and is never ranked with it"),
    PublishedSet("ablation", "Ablation study (published)",
                 "The set of the RepMix paper's ablation study (RepMix with one component removed, "
                 "or another backbone than ResNet-50); compare rows within this table only"),
)}
RANK_BY = "attribution_accuracy"
_SLUG = re.compile(r"[^a-z0-9]+")
#: A configuration: the model's registry name, then its ablation switches, "/"-separated
#: (``repmix``, ``repmix/no-compound-loss``, ``repmix/vgg16``).
_CONFIGURATION = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._=-]*)*$")
#: An adversarial budget: L-infinity eps in pixel units of 1/255 (``8/255``).
_EPS = re.compile(r"^(\d+(\.\d+)?)/255$")


def eps_value(label: str) -> float:
    """The budget of an adversarial key (``"8/255"`` -> 8/255)."""
    m = _EPS.match(label)
    if not m:
        raise ValueError(f"adversarial budget {label!r} is not of the form N/255")
    return float(m.group(1)) / 255


@dataclass(frozen=True)
class Record:
    """One leaderboard entry: a method's figures on one evaluation set."""

    name: str
    kind: str  # "published" or "scored"
    date: str  # ISO date: of the paper (published) or of the scoring (scored)
    metrics: dict[str, Estimate]
    reference: dict[str, str] = field(default_factory=dict)  # paper, url
    data: dict[str, Any] = field(default_factory=dict)  # what it was evaluated on
    source: str = ""  # where the numbers come from
    notes: str = ""
    #: the model configuration (see `_CONFIGURATION`): published rows and scored runs of the
    #: same configuration are shown side by side (never ranked together)
    configuration: str = ""
    #: `ADVERSARIAL_METRIC` under adversarial attack, by L-infinity budget ("8/255")
    adversarial: dict[str, Estimate] = field(default_factory=dict)
    #: a scored entry's results document, as `attribution88 score --json` wrote it (breakdowns,
    #: confusion matrix, per-source metrics: what its page shows)
    results: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def published_set(self) -> PublishedSet | None:
        return PUBLISHED_SETS.get(self.data.get("set", "")) if self.kind == "published" else None

    @property
    def slug(self) -> str:
        """File name stem: the name, and what it was measured on; a name that is not all
        ASCII (e.g. in Arabic script), or too long for a file name, adds a hash of itself, so that
        such names stay apart."""
        where = (f"{self.data.get('set')}-published" if self.kind == "published" else
                 f"{str(self.data.get('fingerprint'))[:12]}-{self.data.get('config')}-{self.data.get('split')}")
        name = _SLUG.sub("-", self.name.lower()).strip("-")
        if not self.name.isascii() or not name or len(name) > 60:  # long names: a short file name
            name = f"{name[:60]}-{hashlib.sha256(self.name.encode()).hexdigest()[:8]}".strip("-")
        return _SLUG.sub("-", f"{name}-{where}".lower()).strip("-")

    @property
    def data_key(self) -> str:
        """Records with the same key were measured on the same data and can be ranked together."""
        if self.kind == "published":
            return f"published/{self.data.get('set')}"
        return f"{self.data.get('fingerprint')}/{self.data.get('config')}/{self.data.get('split')}"

    def adversarial_by_eps(self) -> list[tuple[str, Estimate]]:
        return sorted(self.adversarial.items(), key=lambda kv: eps_value(kv[0]))

    def to_dict(self) -> dict:
        d = {"schema_version": self.schema_version, "name": self.name, "kind": self.kind,
             "date": self.date, "configuration": self.configuration,
             "reference": dict(self.reference), "data": dict(self.data),
             "metrics": {k: m.to_dict() for k, m in self.metrics.items()}}
        if self.adversarial:
            d["adversarial"] = {ADVERSARIAL_METRIC: {k: m.to_dict() for k, m in self.adversarial_by_eps()}}
        d.update(source=self.source, notes=self.notes)
        if self.results:
            d["results"] = self.results
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "record") -> Record:
        version = read_version(d, where=where, key="schema_version", supported=SCHEMA_VERSION,
                               error=ResultsFormatError)
        try:
            metrics = {str(k): Estimate.from_dict(m) for k, m in (d.get("metrics") or {}).items()}
            data = dict(d.get("data") or {})
            if version == 1 and d.get("kind") == "published":
                data.setdefault("set", "test")  # version 1 knew one published set
            adversarial = {str(k): Estimate.from_dict(m) for k, m in
                           ((d.get("adversarial") or {}).get(ADVERSARIAL_METRIC) or {}).items()}
            results = d.get("results") or {}
            if not isinstance(results, dict) or results and results.get("kind") != "attribution88.score":
                raise ResultsFormatError(f"{where}: 'results' is not the document of `attribution88 score`")
            record = cls(name=str(d["name"]).strip(), kind=str(d["kind"]), date=str(d["date"]),
                         metrics=metrics, reference={str(k): str(v) for k, v in (d.get("reference") or {}).items()},
                         data=data, source=str(d.get("source", "")), notes=str(d.get("notes", "")),
                         configuration=str(d.get("configuration") or ""), adversarial=adversarial,
                         results=results, schema_version=SCHEMA_VERSION)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
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
        unknown = [k for k in self.metrics if k not in RECORD_METRICS]
        if unknown:
            problems.append(f"unknown metric {', '.join(map(repr, unknown))} (known: {', '.join(RECORD_METRICS)})")
        figures = [*((k, METRICS[k], m) for k, m in self.metrics.items() if k in RECORD_METRICS),
                   *((f"adversarial {e}", METRICS[ADVERSARIAL_METRIC], m) for e, m in self.adversarial.items())]
        for k, info, m in figures:
            if m.value is None:
                problems.append(f"{k}: no value")
            for label, v in (("value", m.value), ("low", m.low), ("high", m.high)):
                if v is not None and not info.in_bounds(v):  # NaN is in no range
                    problems.append(f"{k} {label} {v} out of range [{info.lo:g}, {info.hi:g}]")
            # A bias-corrected bootstrap interval may leave out the estimate itself (NMI near 0,
            # whose plug-in estimate every resample exceeds), so only its order is checked.
            if m.low is not None and m.high is not None and not m.low <= m.high:
                problems.append(f"{k}: interval [{m.low}, {m.high}] has its low end above its high end")
        for e in self.adversarial:
            if not _EPS.match(e):
                problems.append(f"adversarial budget {e!r} is not of the form N/255")
        if self.configuration and not _CONFIGURATION.match(self.configuration):
            problems.append(f"configuration {self.configuration!r} is not lower-case words separated by '/' "
                            "(e.g. repmix/no-compound-loss)")
        if self.reference.get("url") and not safe_url(self.reference["url"]):
            problems.append(f"link {self.reference['url'][:80]!r} is not an http(s) URL")
        if self.kind == "scored" and not self.data.get("fingerprint"):
            problems.append("a scored record needs the truth dataset's fingerprint")
        if self.kind == "published" and self.data.get("set") not in PUBLISHED_SETS:
            problems.append(f"a published record needs data.set, one of {', '.join(PUBLISHED_SETS)} "
                            f"(not {self.data.get('set')!r})")
        if problems:
            raise ResultsFormatError(f"{where}: {'; '.join(problems)}")


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL without spaces or control characters, else
    None (``javascript:``, ``data:``, relative and protocol-relative links are refused)."""
    if not url:
        return None
    url = str(url).strip()
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def default_records_dir() -> Path:
    """The records shipped with the package (its records/ folder: the public board)."""
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
