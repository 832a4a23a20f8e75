"""The leaderboard as one Markdown page (`leaderboard/LEADERBOARD.md`), rendered from the
records."""

from __future__ import annotations

from attribution88.eval.metric_table import METRICS, Estimate

from .board import figures, same_configuration, tables
from .records import ADVERSARIAL_METRIC, RANK_BY, RECORD_METRICS, Record

INTRO = ("Ranked by {rank} (8-way: real + 7 GAN architectures). Tables never mix "
         "data: figures published in the RepMix paper (on the official release's test set, its "
         "\"1 Sem., Clean\" control set and its ablation study's set), and figures scored by "
         "`attribution88 score` on a dataset identified by its fingerprint, are ranked "
         "separately. This page is rendered from `src/attribution88/leaderboard/records/*.json` by "
         "`attribution88 leaderboard render`; do not edit it by hand. Intervals: 95% bootstrap "
         "over images, where the scorer computed them.")


def _cell(m: Estimate | None) -> str:
    f = figures(m)
    if f is None:
        return "-"
    value, low, high = f
    return f"{value} [{low}, {high}]" if low else value


def _text(s: str) -> str:
    """A string from a record as Markdown table text: one line, no pipes, no markup."""
    s = " ".join(str(s).split())
    for ch in "\\|*_`[]<>":
        s = s.replace(ch, "\\" + ch)
    return s


def _reference(r: Record) -> str:
    paper = _text(r.reference.get("paper", ""))
    url = r.reference.get("url", "")
    if url.startswith(("https://", "http://")) and not any(c in url for c in " ()<>"):
        return f"[{paper or 'link'}]({url})"
    return paper


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def render_markdown(records: list[Record]) -> str:
    """The leaderboard page: one table per evaluation data, ranked by attribution accuracy; the
    adversarial errors where published; published rows beside the scored runs of the same
    configuration."""
    parts = ["# Attribution88 leaderboard", INTRO.format(rank=METRICS[RANK_BY].label)]
    adversarial = METRICS[ADVERSARIAL_METRIC]
    for t in tables(records):
        body = _table(["#", "method", *[METRICS[k].short for k in t.metrics], "reference", "date"],
                      [[str(i), _text(r.name), *[_cell(r.metrics.get(k)) for k in t.metrics],
                        _reference(r), r.date] for i, r in enumerate(t.rows, 1)])
        section = [f"## {_text(t.title)}", _text(t.about) + ".", body]
        if t.adversarial_budgets:
            rows = [r for r in t.rows if r.adversarial]
            section += [f"{adversarial.capitalized} under adversarial attack (L-infinity budget eps; "
                        f"{adversarial.direction}):",
                        _table(["method", *[f"eps {e}" for e in t.adversarial_budgets]],
                               [[_text(r.name), *[_cell(r.adversarial.get(e)) for e in t.adversarial_budgets]]
                                for r in rows])]
        section.append("\n".join(f"- {_text(r.name)}: {_text(r.notes)} (source: {_text(r.source)})"
                                 if r.notes else f"- {_text(r.name)}: {_text(r.source)}" for r in t.rows))
        parts.append("\n\n".join(section))
    pairs = same_configuration(records)
    if pairs:
        section = ["## Published figures beside scored runs of the same configuration",
                   "Same model configuration, different data: shown side by side, not ranked."]
        for config, rows in pairs:
            used = [k for k in RECORD_METRICS if any(k in r.metrics for r in rows)]
            section += [f"### `{config}`",
                        _table(["method", "evaluated on", *[METRICS[k].short for k in used]],
                               [[_text(r.name), _text(r.published_set.title if r.published_set else
                                                      f"scored on {str(r.data.get('fingerprint'))[:12]} "
                                                      f"({r.data.get('config')}/{r.data.get('split')})"),
                                 *[_cell(r.metrics.get(k)) for k in used]] for r in rows])]
        parts.append("\n\n".join(section))
    return "\n\n".join(parts) + "\n"
