"""The leaderboard's structure, shared by the Markdown page and the site: records grouped into
tables by the data they were measured on, ranked within a table, and the published rows set
beside the scored runs of the same configuration."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from attribution88.eval.metric_table import METRICS, Estimate

from .records import PUBLISHED_SETS, RANK_BY, RECORD_METRICS, Record


@dataclass(frozen=True)
class Table:
    """Records measured on the same data, ranked by `RANK_BY` (best first)."""

    key: str  # Record.data_key
    title: str
    about: str
    rows: tuple[Record, ...]
    metrics: tuple[str, ...]  # the metrics any row has, in `RECORD_METRICS` order

    @property
    def published(self) -> bool:
        return self.key.startswith("published/")

    @property
    def adversarial_budgets(self) -> tuple[str, ...]:
        from .records import eps_value

        return tuple(sorted({e for r in self.rows for e in r.adversarial}, key=eps_value))


def _describe(key: str, first: Record) -> tuple[str, str]:
    if first.kind == "published":
        s = PUBLISHED_SETS[first.data["set"]]
        return s.title, s.about
    d = first.data
    title = f"Scored on {str(d.get('fingerprint'))[:12]} ({d.get('config')}/{d.get('split')})"
    about = (f"Scored by attribution88 on {d.get('images', '?')} images, preset "
             f"{d.get('preset') or '?'}, spec {d.get('spec_version')}, dataset at {d.get('location')}")
    if d.get("preset") == "mini":
        about += " (the mini preset's stand-in generators: a pipeline check, not a benchmark result)"
    return title, about


def tables(records: list[Record]) -> list[Table]:
    """One table per evaluation data: the published sets first (in `PUBLISHED_SETS` order), then
    the scored data, each ranked by `RANK_BY`, best first (ties by name)."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[r.data_key].append(r)
    published = [f"published/{k}" for k in PUBLISHED_SETS]
    order = [k for k in published if k in groups] + sorted(k for k in groups if k not in published)
    rank = METRICS[RANK_BY]
    out = []
    for key in order:
        rows = tuple(sorted(groups[key], key=lambda r: (rank.rank_key(r.metrics[RANK_BY].value), r.name)))
        title, about = _describe(key, rows[0])
        used = tuple(k for k in RECORD_METRICS if any(k in r.metrics for r in rows))
        out.append(Table(key, title, about, rows, used))
    return out


def same_configuration(records: list[Record]) -> list[tuple[str, tuple[Record, ...]]]:
    """Configurations with both published figures and scored runs: (configuration, records),
    published first (by set), then scored (by date). These are shown side by side, never
    ranked: the data differ."""
    by_config: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.configuration:
            by_config[r.configuration].append(r)
    sets = list(PUBLISHED_SETS)
    out = []
    for config in sorted(by_config):
        rows = by_config[config]
        if {r.kind for r in rows} == {"published", "scored"}:
            rows = sorted(rows, key=lambda r: (r.kind != "published",
                                               sets.index(r.data["set"]) if r.kind == "published" else 0,
                                               r.date, r.name))
            out.append((config, tuple(rows)))
    return out


def figures(m: Estimate | None) -> tuple[str, str, str] | None:
    """How the board writes a figure: (value, low, high), the value to 4 decimals, the interval's
    ends to 3 (empty when it has none); None when there is no value."""
    if m is None or m.value is None:
        return None
    if m.low is None or m.high is None:
        return f"{m.value:.4f}", "", ""
    return f"{m.value:.4f}", f"{m.low:.3f}", f"{m.high:.3f}"
