// Attribution88 leaderboard: sortable tables and view tabs. The only script of the site: no
// network, no eval, no HTML from strings (rows are moved, never rebuilt).
"use strict";
(function () {
  function key(cell, type) {
    var raw = cell ? cell.getAttribute("data-sort") : null;
    if (raw === null) raw = cell ? cell.textContent : "";
    if (type === "num") {
      var n = parseFloat(raw);
      return raw === "" || isNaN(n) ? null : n;
    }
    return raw.toLocaleLowerCase();
  }

  function sortBy(table, th, direction) {
    var column = th.cellIndex, type = th.querySelector("button.sort").getAttribute("data-type");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, i: i, k: key(row.cells[column], type) };
    });
    var sign = direction === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      if (a.k === null || b.k === null) return a.k === b.k ? a.i - b.i : (a.k === null ? 1 : -1);
      var c = type === "num" ? a.k - b.k : a.k.localeCompare(b.k);
      return c ? sign * c : a.i - b.i;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (r) { fragment.appendChild(r.row); });
    body.appendChild(fragment);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction);
  }

  function setUpSorting(table) {
    Array.prototype.forEach.call(table.querySelectorAll("thead button.sort"), function (button) {
      button.addEventListener("click", function () {
        var th = button.closest("th"), now = th.getAttribute("aria-sort");
        var first = button.getAttribute("data-first") || "descending";
        var next = now ? (now === "ascending" ? "descending" : "ascending") : first;
        sortBy(table, th, next);
      });
    });
  }

  function setUpTabs(tablist) {
    var table = document.getElementById(tablist.getAttribute("data-table"));
    var tabs = Array.prototype.slice.call(tablist.querySelectorAll("[role=tab]"));
    function select(tab) {
      tabs.forEach(function (t) {
        t.setAttribute("aria-selected", t === tab ? "true" : "false");
        t.tabIndex = t === tab ? 0 : -1;
      });
      table.setAttribute("data-view", tab.getAttribute("data-view"));
    }
    tabs.forEach(function (tab, i) {
      tab.addEventListener("click", function () { select(tab); });
      tab.addEventListener("keydown", function (e) {
        var step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (!step) return;
        var next = tabs[(i + step + tabs.length) % tabs.length];
        next.focus();
        select(next);
        e.preventDefault();
      });
    });
    tablist.hidden = false;
    select(tabs[0]);
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), setUpSorting);
  Array.prototype.forEach.call(document.querySelectorAll(".tabs[data-table]"), setUpTabs);
})();
