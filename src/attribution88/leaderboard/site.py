"""The leaderboard as a static site: rendered from the records through Jinja2 templates with
autoescaping, self-contained (no network at view time), safe with untrusted entries.

Safety, in layers: every string from a record reaches the page through Jinja2's autoescaping
(never concatenated into HTML); links are kept only when they are http(s) (`safe_url`); each
page carries a Content-Security-Policy (`CSP`) that allows scripts only from the site's own
files, so markup that slipped through could still run nothing; names are isolated (`<bdi>`) and
wrapped or clamped by the style sheet, so long or right-to-left names cannot break the layout.

``SITE/index.html`` has one table per evaluation data (`board.tables`), sortable (site.js),
with views for the breakdowns; ``SITE/entries/SLUG.html`` one page per entry (and
``SLUG.json``, its record); ``SITE/submit.html`` how to submit; ``SITE/LEADERBOARD.md`` the
Markdown page.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from attribution88.errors import UsageError
from attribution88.eval.metric_table import METRICS, of_scope, short

from .board import Table, figures, same_configuration, tables
from .charts import Chart, adversarial_chart, confusion_chart, robustness_charts
from .markdown import render_markdown
from .records import ADVERSARIAL_METRIC, PUBLISHED_SETS, RANK_BY, RECORD_METRICS, Record, safe_url

#: The policy of every page: nothing but the site's own style sheet and script; no inline
#: script, no inline style, no requests (fetch, images, fonts, frames) anywhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'none'")
#: Written into a rendered site: a folder holding it may be replaced by a new rendering.
MARKER = ".attribution88-site"
STATIC = ("site.css", "site.js")
#: The views of the main table: key -> tab label.
VIEWS = {"overview": "Overview", "semantics": "Seen / unseen semantics",
         "perturbations": "Seen / unseen perturbations", "adversarial": "Adversarial attack"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    view: str
    title: str  # what the column holds (a tooltip and the table's notes)
    lower_is_better: bool = False


@dataclass(frozen=True)
class Cell:
    value: str  # "0.7500" or "–"
    interval: str  # "0.722–0.788" or ""
    sort: str  # the number, or "" (missing: sorted last)


def _cell(m: Any) -> Cell:
    f = figures(m)
    if f is None:
        return Cell("–", "", "")
    value, low, high = f
    return Cell(value, f"{low}–{high}" if low else "", repr(float(m.value)))


def _results(record: Record):
    """The entry's `ScoreResult` (None for published entries)."""
    if not record.results:
        return None
    from attribution88.eval.results import ScoreResult

    return ScoreResult.from_dict(record.results)


def _group(result, breakdown: str, name: str, metric: str = RANK_BY):
    if result is None:
        return None
    for g in result.breakdowns.get(breakdown, ()):
        if g.name == name:
            return g.metrics.get(metric)
    return None


#: Breakdown columns, each the `RANK_BY` metric on a group: (key, label, view, the images, breakdown, group).
_BREAKDOWN_COLUMNS = (
    ("seen_semantics", "Seen sem.", "semantics", "the 6 seen semantics, clean or seen perturbations (test_seen)",
     "subset", "test_seen"),
    ("unseen_semantics", "Unseen sem.", "semantics",
     "the 5 semantics absent from training, clean or seen perturbations (test_unseen_semantics)",
     "subset", "test_unseen_semantics"),
    ("clean", "Clean", "perturbations", "clean images of the seen semantics", "test_group", "seen_sem-clean"),
    ("seen_pert", "Seen pert.", "perturbations", "the seen semantics under the 15 seen perturbations",
     "test_group", "seen_sem-seen_pert"),
    ("unseen_pert", "Unseen pert.", "perturbations",
     "the seen semantics under the 4 perturbations absent from training", "test_group", "seen_sem-unseen_pert"),
)
_MAIN_METRICS = ("detection_accuracy", "attribution_accuracy", "nmi", "macro_f1")


@dataclass
class Row:
    record: Record
    slug: str
    rank: int | None
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Board:
    table: Table
    anchor: str
    columns: list[Column]
    views: list[tuple[str, str]]
    rows: list[Row]


def _board(t: Table, anchor: str, slugs: dict[int, str]) -> Board:
    results = {id(r): _results(r) for r in t.rows}
    main = [k for k in _MAIN_METRICS if k in t.metrics or not t.published]  # the paper's: what it has
    columns = [Column(k, METRICS[k].short, "overview", f"{METRICS[k].short}, with its 95% interval where computed",
                      lower_is_better=not METRICS[k].higher_is_better) for k in main]
    getters = [lambda r, k=k: r.metrics.get(k) for k in main]
    for key, label, view, images, bd, group in _BREAKDOWN_COLUMNS:
        if any(_group(results[id(r)], bd, group) is not None for r in t.rows):
            columns.append(Column(key, label, view, f"{METRICS[RANK_BY].label} on {images}"))
            getters.append(lambda r, bd=bd, group=group: _group(results[id(r)], bd, group))
    adversarial = METRICS[ADVERSARIAL_METRIC]
    for eps in t.adversarial_budgets:
        columns.append(Column(f"adv-{eps}", f"ε {eps}", "adversarial",
                              f"{adversarial.label} under adversarial attack, L-infinity budget {eps} "
                              f"({adversarial.direction})", lower_is_better=not adversarial.higher_is_better))
        getters.append(lambda r, eps=eps: r.adversarial.get(eps))
    rows = [Row(r, slugs[id(r)], None if t.published else i,
                [_cell(g(r)) for g in getters]) for i, r in enumerate(t.rows, 1)]
    views = [(v, label) for v, label in VIEWS.items() if any(c.view == v for c in columns)]
    return Board(t, anchor, columns, views, rows)


@functools.cache
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("attribution88.leaderboard", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(csp=CSP, safe_url=safe_url, cell=_cell, METRICS=METRICS, MAIN_METRICS=_MAIN_METRICS,
                       RANK_BY=RANK_BY, ADVERSARIAL_METRIC=ADVERSARIAL_METRIC, PUBLISHED_SETS=PUBLISHED_SETS)
    return env


def _slugs(records: list[Record]) -> dict[int, str]:
    """A file name per record, unique in the site."""
    out, used = {}, set()
    for r in records:
        slug, n = r.slug, 2
        while slug in used:
            slug, n = f"{r.slug}-{n}", n + 1
        used.add(slug)
        out[id(r)] = slug
    return out


def _facts(r: Record, result) -> list[tuple[str, str, str | None]]:
    """(label, text, link) lines of an entry's page: what it is and where its figures come from."""
    facts = [("Kind", "reported in paper" if r.kind == "published" else "scored by attribution88", None)]
    if r.published_set:
        facts.append(("Evaluated on", r.published_set.about, None))
    if r.reference.get("paper") or r.reference.get("url"):
        url = safe_url(r.reference.get("url"))
        facts.append(("Reference", r.reference.get("paper") or r.reference.get("url", ""), url))
        if r.reference.get("url") and not url:
            facts.append(("Link", f"not shown: only http(s) links are ({r.reference['url']})", None))
    for label, value in (("Configuration", r.configuration), ("Notes", r.notes), ("Source", r.source),
                         ("Date", r.date)):
        if value:
            facts.append((label, value, None))
    d = r.data
    if r.kind == "scored":
        facts += [(label, str(d.get(k)), None) for label, k in (
            ("Benchmark spec version", "spec_version"), ("Dataset fingerprint", "fingerprint"),
            ("Config / split", "config"), ("Preset", "preset"), ("Images scored", "images"),
            ("Dataset location", "location")) if d.get(k) is not None]
        facts = [(lbl, f"{t} / {d.get('split')}" if lbl == "Config / split" else t, u) for lbl, t, u in facts]
    if result is not None:
        b, s = result.bootstrap, result.submission
        facts += [("Tool version", f"attribution88 {result.tool_version}", None),
                  ("Scored at (UTC)", result.scored_at, None),
                  ("Submission", f"{s.name}, {s.rows:,} rows, sha256 {s.sha256}", None),
                  ("Predictions", s.predictions + (f" (scores: {s.score_kind})" if s.score_kind else ""), None),
                  ("Intervals", f"{b.level:.0%}, {b.resamples:,} resamples, seed {b.seed}: {b.method}", None)]
        facts += [("Warning", w, None) for w in result.warnings]
    return facts


def _entry_context(r: Record, slug: str, by_configuration: dict[str, list[Record]],
                   slugs: dict[int, str]) -> dict:
    result = _results(r)
    charts: list[Chart] = []
    confusion = None
    per_source, breakdowns = [], []
    if result is not None:
        if result.confusion.counts:
            confusion = confusion_chart(list(result.confusion.labels), [list(c) for c in result.confusion.counts])
        groups = {g.name: (g.n, g.metrics[RANK_BY].value if RANK_BY in g.metrics else None)
                  for g in result.breakdowns.get("perturbation_severity", ())}
        charts = robustness_charts(groups, METRICS[RANK_BY])
        src_keys = [m.key for m in of_scope("source") if any(m.key in s for s in result.overall.per_source.values())]
        per_source = ([METRICS[k].label for k in src_keys],
                      [(s, [m.get(k) for k in src_keys]) for s, m in result.overall.per_source.items()])
        for name, groups_ in result.breakdowns.items():
            keys = [m.key for m in of_scope("group") if any(m.key in g.metrics for g in groups_)]
            breakdowns.append((result.breakdown_titles.get(name, name), [METRICS[k].label for k in keys],
                               [(g.name, g.n, [g.metrics.get(k) for k in keys]) for g in groups_]))
    adversarial = r.adversarial_by_eps()
    if adversarial:
        charts.append(adversarial_chart([(e, m.value) for e, m in adversarial], METRICS[ADVERSARIAL_METRIC]))
    same = [(o, slugs[id(o)]) for o in by_configuration.get(r.configuration, ()) if o is not r]
    metrics = [(METRICS[k].short, r.metrics[k]) for k in RECORD_METRICS if k in r.metrics]
    if result is not None:
        metrics = [(short(k), m) for k, m in result.metrics.items() if m.value is not None]
    return dict(r=r, slug=slug, facts=_facts(r, result), metrics=metrics, adversarial=adversarial,
                confusion=confusion, charts=charts, per_source=per_source, breakdowns=breakdowns,
                same=same, root="../")


def render_site(records: list[Record], out: str | os.PathLike) -> int:
    """Write the site into the folder ``out`` (created; it must not exist or be empty). Returns
    the number of files written."""
    env = _environment()
    out = Path(out)
    (out / "entries").mkdir(parents=True, exist_ok=True)
    slugs = _slugs(records)
    boards = [_board(t, f"board-{i}", slugs) for i, t in enumerate(tables(records), 1)]
    pairs = [(config, [(r, slugs[id(r)]) for r in rows]) for config, rows in same_configuration(records)]
    n_scored = sum(r.kind == "scored" for r in records)
    files = {
        "index.html": env.get_template("index.html").render(
            boards=boards, pairs=pairs, views=VIEWS, n_records=len(records), n_scored=n_scored, root=""),
        "submit.html": env.get_template("submit.html").render(root=""),
        "LEADERBOARD.md": render_markdown(records),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    static = resources.files("attribution88.leaderboard").joinpath("static")
    for name in STATIC:
        (out / name).write_bytes(static.joinpath(name).read_bytes())
    entry = env.get_template("entry.html")
    import json

    by_configuration: dict[str, list[Record]] = {}
    for r in records:
        if r.configuration:
            by_configuration.setdefault(r.configuration, []).append(r)
    for r in records:
        slug = slugs[id(r)]
        (out / "entries" / f"{slug}.html").write_text(
            entry.render(**_entry_context(r, slug, by_configuration, slugs)), encoding="utf-8")
        (out / "entries" / f"{slug}.json").write_text(json.dumps(r.to_dict(), indent=1) + "\n", encoding="utf-8")
    (out / MARKER).write_text("rendered by attribution88 leaderboard render\n")
    return len(files) + len(STATIC) + 2 * len(records) + 1


def write_site(records: list[Record], out: str | os.PathLike) -> int:
    """Render the site into a temporary folder beside ``out``, then put it in place: a folder
    holding an earlier rendering is replaced; any other non-empty folder is refused, and a
    failed rendering leaves ``out`` as it was."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise UsageError(f"{out}: exists and is not a site rendered by attribution88; give an empty "
                         "or new folder")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        n = render_site(records, tmp)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return n
