"""attribution88.leaderboard: one JSON record per entry, validated, rendered into a page.

The page (`LEADERBOARD.md` beside this file) is a view of the records, never edited by hand:
`attribution88 leaderboard render` writes it, and a test checks that it matches the records.
Each record says what it was evaluated on. Figures published in papers on the official test
set (`kind: "published"`) and figures scored by this tool on a dataset identified by its
fingerprint (`kind: "scored"`) are ranked in separate tables: numbers measured on different
data are never ranked together.
"""

from .records import (
    METRICS,
    PUBLISHED_DATA,
    Record,
    load_records,
    record_from_results,
    render_markdown,
    write_record,
)

__all__ = ["METRICS", "PUBLISHED_DATA", "Record", "load_records", "record_from_results",
           "render_markdown", "write_record"]
