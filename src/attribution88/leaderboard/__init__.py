"""attribution88.leaderboard: one JSON record per entry, validated, rendered into pages.

The pages (`LEADERBOARD.md` beside this file) are a view of the records, never edited by hand:
`attribution88 leaderboard render` writes them, and a test checks that the committed page
matches the records. Each record says what it was evaluated on: figures published in the RepMix
paper on one of its evaluation sets (`kind: "published"`), or figures scored by this tool on a
dataset identified by its fingerprint (`kind: "scored"`). Numbers measured on different data
are never ranked together.

Modules: `records` (the record and the store), `add` (scored results into the store), `board`
(tables and side-by-side configurations), `markdown` and `site` (+ `charts`, `templates/`,
`static/`) the two renderings, `serve` (localhost), `browser` (headless Chromium: screenshots
and the browser tests), `hub` (push and pull the records to a Hugging Face dataset repository).
"""

from .add import add_results, record_from_results
from .board import Table, same_configuration, tables
from .markdown import render_markdown
from .records import PUBLISHED_SETS, RECORD_METRICS, Record, load_records, write_record

__all__ = ["PUBLISHED_SETS", "RECORD_METRICS", "Record", "Table", "add_results", "load_records",
           "record_from_results", "render_markdown", "same_configuration", "tables", "write_record"]
