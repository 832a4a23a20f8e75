"""The leaderboard site: rendered from the records through autoescaping templates,
self-contained, safe with hostile entries, sortable, with the breakdowns and a page per entry.

The tests without a browser read the HTML the renderer writes; those marked `browser` drive
the system's headless Chromium (Debian: chromium chromium-driver) through Selenium against
`attribution88 leaderboard serve`.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from attribution88.cli import main
from attribution88.errors import UsageError
from attribution88.eval.metric_table import Estimate
from attribution88.format.reader import read_table
from attribution88.leaderboard import add_results, load_records
from attribution88.leaderboard.records import Record, default_records_dir
from attribution88.leaderboard.site import CSP, MARKER, render_site, write_site

PAYLOAD_NAME = ('<script>window.__pwned=1;alert("name")</script><img src=x '
                'onerror="window.__pwned=2;fetch(\'http://127.0.0.1:9/leak\')">')
PAYLOAD_URL = 'https://example.org/"><script>alert("url")</script>'
PAYLOAD_NOTES = "<b onmouseover=alert(3)>bold</b> ]]> {{ 7*7 }} {% raw %}"
LONG_NAME = "L" * 3000
RTL_NAME = "نموذج الإسناد العربي للصور المركبة ‮evil‬"


def _predictions(path, ids, sources, right):
    """A submission right on the images where ``right(i)`` holds, wrong by one class elsewhere."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "pred"])
        for i, (image_id, src) in enumerate(zip(ids, sources)):
            w.writerow([image_id, src if right(i) else (src + 1) % 8])


@pytest.fixture(scope="module")
def store(tiny_dataset, tmp_path_factory):
    """A records folder: the paper's published records (not the packaged scored runs, which
    sit on other data), and five scored entries on the tiny dataset --
    "Strong" (right on 9 images in 10, configuration repmix), "Weak" (6 in 10), a script
    payload (7 in 10), a very long name and a right-to-left name (5 and 4 in 10)."""
    tmp = tmp_path_factory.mktemp("store")
    records = tmp / "records"
    records.mkdir()
    for path in default_records_dir().glob("*.json"):
        if json.loads(path.read_text()).get("kind") == "published":
            shutil.copy(path, records / path.name)
    t = read_table(tiny_dataset, "default", "test", ["id", "source"]).to_pydict()
    entries = [("Strong", 9, {"configuration": "repmix", "paper": "Strong et al.", "url": "https://example.org/strong"}),
               ("Weak", 6, {}), (PAYLOAD_NAME, 7, {"url": PAYLOAD_URL, "notes": PAYLOAD_NOTES, "paper": PAYLOAD_NAME}),
               (LONG_NAME, 5, {}), (RTL_NAME, 4, {})]
    for k, (name, tenths, about) in enumerate(entries):
        preds, results = tmp / f"p{k}.csv", tmp / f"r{k}.json"
        _predictions(preds, t["id"], t["source"], lambda i, tenths=tenths: i * 7 % 10 < tenths)
        assert main(["score", str(preds), "--truth", str(tiny_dataset), "--json", str(results),
                     "--resamples", "50"]) == 0
        add_results(records, results, name, **about)
    return records


@pytest.fixture(scope="module")
def site(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    assert main(["leaderboard", "render", "--records", str(store), "--out", str(out)]) == 0
    return out


class _Page(HTMLParser):
    """Every tag with its attributes, and the text of each element with an id or class."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.texts, self._open = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.texts.append(data)


def _pages(site):
    return sorted(site.rglob("*.html"))


def test_every_page_is_self_contained_and_forbids_inline_script(site):
    for path in _pages(site):
        text = path.read_text()
        head = text[:text.index("</head>")]
        assert f'<meta http-equiv="Content-Security-Policy" content="{CSP.replace(chr(39), "&#39;")}">' in head
        assert head.index("Content-Security-Policy") < head.index("<script")
        page = _Page(text)
        for tag, attrs in page.tags:
            assert not any(a.lower().startswith("on") for a in attrs), (path, tag, attrs)
            if tag == "script":
                assert attrs["src"].endswith("site.js") and "//" not in attrs["src"], path
            for a in ("src", "href"):
                target = attrs.get(a)
                if target is None or target.startswith("#"):
                    continue
                if tag == "a" and target.startswith(("https://", "http://")):
                    continue  # a link a reader may follow: never loaded by the page itself
                assert "//" not in target and ":" not in target, (path, tag, target)
                assert (path.parent / target.split("#")[0]).is_file(), (path, target)
    assert "script-src 'self'" in CSP and "'unsafe-inline'" not in CSP and "default-src 'none'" in CSP


def test_hostile_strings_are_text_and_bad_links_are_dropped(site, store):
    index = (site / "index.html").read_text()
    pages = {p: p.read_text() for p in _pages(site)}
    for text in pages.values():
        assert "<script>window.__pwned" not in text and "<img src=x" not in text
        assert "<b onmouseover" not in text and 'href="javascript:' not in text.lower()
    assert "&lt;script&gt;window.__pwned=1;alert(&#34;name&#34;)&lt;/script&gt;" in index
    payload = next(r for r in load_records(store) if r.name == PAYLOAD_NAME)
    entry = (site / "entries" / f"{payload.slug}.html").read_text()
    assert 'href="https://example.org/&#34;&gt;&lt;script&gt;alert(&#34;url&#34;)&lt;/script&gt;"' in entry
    assert "&lt;b onmouseover=alert(3)&gt;bold&lt;/b&gt; ]]&gt; {{ 7*7 }} {% raw %}" in entry  # not a template
    # A record that never passed validation (made in code) still gets no javascript: link.
    bad = Record(name="x", kind="published", date="2022-01-01", metrics={"attribution_accuracy": Estimate(0.5)},
                 reference={"paper": "p", "url": "javascript:alert(1)"}, data={"set": "test"})
    out = site.parent / "bad-site"
    render_site([bad], out)
    assert "javascript" not in (out / "index.html").read_text()
    assert 'href="javascript' not in (out / "entries" / "x-test-published.html").read_text()


def test_records_refuse_links_that_are_not_http(store, tmp_path, capsys):
    results = next(Path(store).glob("weak-*.json"))
    doc = json.loads(results.read_text())["results"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    before = sorted(p.name for p in store.iterdir())
    for url in ("javascript:alert(1)", "data:text/html,x", "//evil.example/x", "https://a b"):
        assert main(["leaderboard", "add", str(path), "--records", str(store), "--name", "Linked",
                     "--url", url]) == 1
        err = capsys.readouterr().err
        assert "not an http(s) URL" in err and err.count("\n") == 1
    assert sorted(p.name for p in store.iterdir()) == before


def _rows(index, table_id):
    body = index.split(f'id="{table_id}"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return body.split("<tr>")[1:]


def test_published_rows_are_marked_and_never_ranked_with_scored_ones(site, store):
    index = (site / "index.html").read_text()
    sections = re.findall(r'<section class="board-section (published|scored)".*?</section>', index, re.S)
    assert sections == ["published", "published", "published", "scored"]
    boards = re.findall(r'<section class="board-section (?:published|scored)".*?id="(board-\d+-table)"', index, re.S)
    for table_id, kind in zip(boards, sections):
        rows = _rows(index, table_id)
        if kind == "published":
            assert all("reported in paper" in r and 'class="rank"' not in r for r in rows)
            assert not any(n in "".join(rows) for n in ("Strong", "Weak"))
        else:
            assert [re.search(r'class="rank" data-sort="(\d+)"', r).group(1) for r in rows] == ["1", "2", "3", "4", "5"]
            assert "reported in paper" not in "".join(rows)
            names = [re.search(r'<bdi class="name">(.*?)</bdi>', r, re.S).group(1) for r in rows]
            assert names[:2] == ["Strong", "&lt;script&gt;window.__pwned=1;alert(&#34;name&#34;)&lt;/script&gt;&lt;img src=x onerror=&#34;window.__pwned=2;fetch(&#39;http://127.0.0.1:9/leak&#39;)&#34;&gt;"]


def test_main_table_has_intervals_and_the_breakdowns(site, store):
    index = (site / "index.html").read_text()
    strong = next(r for r in load_records(store) if r.name == "Strong")
    row = next(r for r in _rows(index, "board-4-table") if ">Strong<" in r)
    for key in ("detection_accuracy", "attribution_accuracy", "nmi", "macro_f1"):
        m = strong.metrics[key]
        assert f"{m.value:.4f}" in row and f"{m.low:.3f}–{m.high:.3f}" in row
    groups = {(b, g["name"]): g["metrics"]["attribution_accuracy"]
              for b, v in strong.results["breakdowns"].items() for g in v["groups"]}
    cells = re.findall(r'<td class="num col col-(\w+)" data-sort="([^"]*)"', row)
    by_view = {}
    for view, value in cells:
        by_view.setdefault(view, []).append(value)
    assert [float(v) for v in by_view["semantics"]] == [groups["subset", "test_seen"]["value"],
                                                       groups["subset", "test_unseen_semantics"]["value"]]
    assert [float(v) for v in by_view["perturbations"]] == [
        groups["test_group", g]["value"] for g in ("seen_sem-clean", "seen_sem-seen_pert", "seen_sem-unseen_pert")]
    for label in ("Overview", "Seen / unseen semantics", "Seen / unseen perturbations"):
        assert f">{label}</button>" in index
    published_test = index.split('id="board-1-table"')[1].split("</table>")[0]
    assert published_test.count('col-adversarial" data-sort="0.3572"') == 1  # RepMix, eps 32/255
    assert ">Adversarial attack</button>" in index


def test_entry_page_says_everything_its_results_say(site, store):
    strong = next(r for r in load_records(store) if r.name == "Strong")
    page = (site / "entries" / f"{strong.slug}.html").read_text()
    res = strong.results
    for fact in (res["truth"]["spec_version"], res["truth"]["fingerprint"], res["tool_version"],
                 res["scored_at"], res["submission"]["sha256"], "Strong et al.", "repmix"):
        assert fact in page, fact
    counts = res["confusion_matrix"]["counts"]
    cells = re.findall(r'<rect [^>]*class="cellbox"/><text[^>]*>([\d,]+)</text>', page)
    assert len(cells) >= 64 and [int(c.replace(",", "")) for c in cells[:64]] == [c for row in counts for c in row]
    assert "Attribution accuracy per perturbation and severity" in page and "<polyline" in page
    for title in ("test group", "test subset", "perturbation", "severity", "semantic"):
        assert f"By {title}" in page
    assert "Ablation study (published)" in page and "repmix-test-published.html" in page  # same configuration
    assert json.loads((site / "entries" / f"{strong.slug}.json").read_text())["results"] == res
    assert (site / "LEADERBOARD.md").read_text().startswith("# Attribution88 leaderboard")


def test_markdown_page_escapes_hostile_names(site):
    md = (site / "LEADERBOARD.md").read_text()
    assert re.findall(r"(?<!\\)[<>]", md) == []  # every angle bracket escaped: text, not HTML
    assert "\\<script\\>window.\\_\\_pwned" in md
    assert all(line.count(" | ") >= 2 or not line.startswith("| ") for line in md.splitlines())


@pytest.fixture(scope="module")
def ten_thousand(tmp_path_factory):
    """10,000 scored entries (half with an Arabic word in the name) rendered into a site:
    (site folder, seconds the rendering took)."""
    records = [Record(name=f"entry {i}" + (" نموذج" if i % 2 else ""), kind="scored", date="2026-01-01",
                      metrics={"attribution_accuracy": Estimate((i * 7919 % 10000) / 10000, 0.0, 1.0),
                               "nmi": Estimate((i * 104729 % 10000) / 10000)},
                      data={"fingerprint": "e" * 64, "config": "default", "split": "test"},
                      reference={"url": "https://example.org/" + "x" * (i % 50)})
               for i in range(10_000)]
    out = tmp_path_factory.mktemp("many") / "site"
    start = time.perf_counter()
    n = write_site(records, out)
    assert n == 2 * 10_000 + 6
    return out, time.perf_counter() - start


def test_ten_thousand_entries_render_in_seconds(ten_thousand):
    site, seconds = ten_thousand
    assert seconds < 60
    index = (site / "index.html").read_text()
    assert index.count('<td class="rank"') == 10_000
    assert len(list((site / "entries").glob("*.html"))) == 10_000  # unique file names


def test_write_site_replaces_only_a_rendered_site(tmp_path, store):
    records = load_records(store)
    out = tmp_path / "site"
    write_site(records, out)
    (out / "stale.html").write_text("old")
    write_site(records, out)
    assert not (out / "stale.html").exists() and (out / MARKER).exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a site rendered by attribution88"):
        write_site(records, mine)
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(tmp_path.iterdir())) == 2

    class Boom(Record):
        @property
        def slug(self):
            raise RuntimeError("boom")

    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(RuntimeError):
        write_site([Boom(**{**records[0].__dict__})], out)
    assert sorted(p.name for p in out.rglob("*")) == before and len(list(tmp_path.iterdir())) == 2


def test_serve_answers_on_localhost_with_the_policy_header(site):
    from attribution88.leaderboard.serve import serving

    with serving(site, 0) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url) as r:
            assert r.status == 200 and r.headers["Content-Security-Policy"] == CSP
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert b"Attribution88 leaderboard" in r.read()


def test_serve_refuses_a_folder_without_a_site_and_a_busy_port(tmp_path, site, capsys):
    assert main(["leaderboard", "serve", "--site", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no index.html" in err and err.count("\n") == 1
    from attribution88.leaderboard.serve import serving

    with serving(site, 0) as url:
        port = url.split(":")[2].split("/")[0]
        assert main(["leaderboard", "serve", "--site", str(site), "--port", port]) == 2
        err = capsys.readouterr().err
        assert "cannot listen" in err and err.count("\n") == 1


# --- in a real browser --------------------------------------------------------------------

def _browser_or_skip():
    from attribution88.errors import MissingDependencyError
    from attribution88.leaderboard.browser import find_chromium

    try:
        find_chromium()
    except MissingDependencyError as e:
        if os.environ.get("CI") == "true":  # CI installs Chromium (.ci/run): it must run there
            raise
        pytest.skip(str(e))


#: Runs in every page before its own scripts (DevTools, so the page's policy does not apply):
#: records policy violations, dialogs, and any DOM change once the page is parsed.
_WATCH = """
window.__watch = {violations: [], dialogs: [], mutations: []};
document.addEventListener('securitypolicyviolation', function (e) {
  window.__watch.violations.push(e.violatedDirective + ' ' + e.blockedURI); });
['alert', 'confirm', 'prompt', 'print'].forEach(function (f) {
  window[f] = function () { window.__watch.dialogs.push(f); }; });
document.addEventListener('DOMContentLoaded', function () {
  new MutationObserver(function (list) { list.forEach(function (m) {
    var added = Array.prototype.map.call(m.addedNodes, function (n) { return n.nodeName; });
    window.__watch.mutations.push([m.type, m.target.nodeName, m.attributeName, added.join(',')]);
  }); }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
});
"""
# What the site's own script changes: rows moved by sorting, sort and tab state.
_OWN = {("attributes", "TH", "aria-sort"), ("attributes", "TABLE", "data-view"),
        ("attributes", "BUTTON", "aria-selected"), ("attributes", "BUTTON", "tabindex"),
        ("attributes", "DIV", "hidden")}


@pytest.fixture(scope="module")
def served(store):
    """`attribution88 leaderboard serve --port 0` on the store, as a user runs it."""
    _browser_or_skip()
    proc = subprocess.Popen([sys.executable, "-c", "from attribution88.cli import main; "
                             "raise SystemExit(main())", "leaderboard", "serve", "--records", str(store),
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/index\.html", line)
        assert url, line
        yield url.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(served):
    from attribution88.leaderboard.browser import chromium

    with chromium(1280, 900, log_network=True) as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _WATCH})
        yield driver


def _requests(driver):
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _unexpected_changes(driver):
    return [m for m in driver.execute_script("return window.__watch.mutations")
            if not (m[0] == "childList" and m[1] == "TBODY" and set(m[3].split(",")) <= {"", "TR"})
            and tuple(m[:3]) not in _OWN]


def _column(driver, table, header):
    """The data-sort values of a column of a table, top to bottom."""
    return driver.execute_script("""
        var table = document.getElementById(arguments[0]), index = -1;
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
          if (th.textContent.trim() === arguments[1]) index = i; });
        return Array.prototype.map.call(table.tBodies[0].rows, function (row) {
          return row.cells[index].getAttribute('data-sort'); });""".replace("arguments[1]", json.dumps(header)),
        table)


@pytest.mark.slow
def test_in_a_browser_sorting_by_click_and_keyboard_orders_the_rows(browser, served, store):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(served)
    table = "board-4-table"
    scored = {r.name: r for r in load_records(store) if r.kind == "scored"}
    names = lambda: [e.get_attribute("textContent") for e in  # noqa: E731
                     browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody bdi.name")]
    by = lambda key, reverse: [n for n, _ in sorted(  # noqa: E731
        scored.items(), key=lambda kv: kv[1].metrics[key].value, reverse=reverse)]
    header = browser.find_element(By.XPATH, f"//table[@id='{table}']//th[normalize-space()='Attr. NMI']")
    header.find_element(By.TAG_NAME, "button").click()
    assert names() == by("nmi", True) and header.get_attribute("aria-sort") == "descending"
    values = [float(v) for v in _column(browser, table, "Attr. NMI")]
    assert values == sorted(values, reverse=True)
    header.find_element(By.TAG_NAME, "button").click()
    assert names() == by("nmi", False) and header.get_attribute("aria-sort") == "ascending"
    det = browser.find_element(By.XPATH, f"//table[@id='{table}']//th[normalize-space()='Det. acc']//button")
    det.send_keys(Keys.ENTER)  # from the keyboard: a focused header button
    assert names() == by("detection_accuracy", True)
    method = browser.find_element(By.XPATH, f"//table[@id='{table}']//th[normalize-space()='Method']//button")
    method.send_keys(Keys.SPACE)
    assert names() == sorted(scored, key=str.lower)
    # The tabs switch the visible columns.
    tab = browser.find_element(By.XPATH, "//section[.//table[@id='board-4-table']]//button[@role='tab']"
                                         "[normalize-space()='Seen / unseen semantics']")
    tab.click()
    visible = [th.text for th in browser.find_elements(By.CSS_SELECTOR, f"#{table} thead th") if th.is_displayed()]
    assert visible == ["#", "Method", "Seen sem.", "Unseen sem.", "Date"]
    assert _unexpected_changes(browser) == []


@pytest.mark.slow
def test_in_a_browser_an_entry_page_opens_from_the_table(browser, served):
    from selenium.webdriver.common.by import By

    browser.get(served)
    browser.find_element(By.XPATH, "//table[@id='board-4-table']//a[.//bdi[text()='Strong']]").click()
    assert "/entries/strong-" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == "Strong"
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg rect.cellbox")) >= 64
    assert browser.find_element(By.LINK_TEXT, "Strong et al.").get_attribute("href") == "https://example.org/strong"


@pytest.mark.slow
def test_in_a_browser_a_script_payload_is_text_and_runs_nothing(browser, served, store):
    from selenium.webdriver.common.by import By

    payload = next(r for r in load_records(store) if r.name == PAYLOAD_NAME)
    origin = served.rsplit("/", 1)[0]
    browser.get_log("performance")  # drop what earlier tests requested
    for page in (served, f"{origin}/entries/{payload.slug}.html"):
        browser.get(page)
        time.sleep(0.3)  # an onerror handler or a timer would have fired by now
        watch = browser.execute_script("return window.__watch")
        assert watch["dialogs"] == [] and watch["violations"] == [], watch
        assert browser.execute_script("return window.__pwned") is None
        assert _unexpected_changes(browser) == []
        assert browser.find_elements(By.CSS_SELECTOR, "script:not([src])") == []
        assert [e.get_attribute("src") for e in browser.find_elements(By.TAG_NAME, "script")] == [
            f"{origin}/site.js"]
        assert browser.find_elements(By.CSS_SELECTOR, "img") == []
    shown = browser.find_element(By.CSS_SELECTOR, "h1 bdi.name")
    assert shown.get_attribute("textContent") == PAYLOAD_NAME
    link = browser.find_element(By.CSS_SELECTOR, "dl.facts a[rel~='nofollow']")
    assert link.get_attribute("href") == "https://example.org/%22%3E%3Cscript%3Ealert(%22url%22)%3C/script%3E"
    requested = _requests(browser)
    assert requested and all(u.startswith(origin + "/") for u in requested), requested
    assert {u[len(origin):] for u in requested} <= {
        "/index.html", "/site.css", "/site.js", "/favicon.ico", f"/entries/{payload.slug}.html"}


@pytest.mark.slow
def test_in_a_browser_long_and_right_to_left_names_keep_the_layout(browser, served, store):
    from selenium.webdriver.common.by import By

    for width in (1280, 480):
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        browser.get(served)
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"), width
        long_cell = browser.find_element(By.XPATH, f"//bdi[starts-with(text(), 'LLLL')]/ancestor::td")
        assert long_cell.size["height"] < 150 and long_cell.size["width"] < 700
        rtl = browser.find_element(By.XPATH, "//bdi[contains(text(), 'نموذج')]")
        assert rtl.get_attribute("textContent") == RTL_NAME
        # The override character inside the name is isolated: the date cell after it is intact.
        row = rtl.find_element(By.XPATH, "./ancestor::tr")
        assert row.find_element(By.CSS_SELECTOR, "td.date").text.startswith("20")
        long_entry = next(r for r in load_records(store) if r.name == LONG_NAME)
        browser.get(served.replace("index.html", f"entries/{long_entry.slug}.html"))
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"), width
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.mark.slow
def test_in_a_browser_ten_thousand_entries_load_sort_and_keep_the_layout(ten_thousand, browser):
    from selenium.webdriver.common.by import By

    from attribution88.leaderboard.serve import serving

    with serving(ten_thousand[0], 0) as url:
        browser.get(url)
        assert browser.execute_script("return document.querySelectorAll('#board-1-table tbody tr').length") == 10_000
        start = time.perf_counter()
        browser.find_element(By.XPATH, "//th[normalize-space()='Attr. NMI']//button").click()
        values = [float(v) for v in _column(browser, "board-1-table", "Attr. NMI")]
        assert values == sorted(values, reverse=True) and time.perf_counter() - start < 10
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        assert _unexpected_changes(browser) == []


@pytest.mark.slow
def test_the_screenshot_command_writes_the_main_page(store, tmp_path, capsys):
    _browser_or_skip()
    from PIL import Image

    out = tmp_path / "board.png"
    assert main(["leaderboard", "screenshot", "--records", str(store), "--out", str(out), "--width", "1024"]) == 0
    assert "wrote" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width == 1024 and im.height > 1500
        colours = im.convert("RGB").resize((64, 64)).getcolors(4096)
        assert len(colours) > 20  # a rendered page, not a blank one


def test_screenshot_without_a_browser_says_what_to_install_in_one_line(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ATTRIBUTION88_CHROMIUM", str(tmp_path / "no-chromium"))
    assert main(["leaderboard", "screenshot", "--records", str(store), "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install chromium chromium-driver" in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()
