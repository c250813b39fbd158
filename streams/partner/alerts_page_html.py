"""The live alerts page itself: one HTML document, its style and script inline, nothing fetched
from elsewhere (it works offline, and its Content-Security-Policy forbids any other source).

The script opens ``events`` (Server-Sent Events): a snapshot of the window first, then one
update per batch of records read (the rows kept, newest first, and the histogram and counts).
Every value from a record reaches the page as text (``textContent``), never as markup.
"""

from __future__ import annotations

import base64
import hashlib
import html

__all__ = ["BAR_COLOUR", "CONTENT_SECURITY_POLICY", "page_html"]

#: The histogram bars' colour (the page test looks for it in a screenshot).
BAR_COLOUR = "#1f77b4"

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
.status { color: #666; margin: 0; } .status.live { color: #1a7f37; }
.counts span { margin-right: 1.5em; } .counts b { font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 2px 8px; text-align: right; border-bottom: 1px solid #eee; white-space: nowrap; }
th { background: #f4f4f4; } tr.alert td { background: #fde8e8; color: #8b1a1a; }
#histogram { width: 440px; height: 190px; display: block; }
.bar { fill: BAR_COLOUR; } .axis { stroke: #888; stroke-width: 1; }
.threshold { stroke: #d62728; stroke-width: 2; stroke-dasharray: 4 3; }
.label { font-size: 10px; fill: #555; } .threshold-label { font-size: 10px; fill: #d62728; }
""".replace("BAR_COLOUR", BAR_COLOUR)

_SCRIPT = """
"use strict";
const SVG = "http://www.w3.org/2000/svg";
const SHOWN_SCORES = 50;
const state = {alerts: [], scores: [], limits: {alert: 200, score: 500}};
const byId = (id) => document.getElementById(id);

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}
function header(table, columns) {
  const row = document.createElement("tr");
  row.append(...columns.map((title) => cell("th", title)));
  table.tHead.replaceChildren(row);
}
function fill(table, rows, limit) {
  table.tBodies[0].replaceChildren(...rows.slice(0, limit).map((record) => {
    const row = document.createElement("tr");
    if (record.alert) row.className = "alert";
    row.append(...record.cells.map((text) => cell("td", text)));
    return row;
  }));
}
function merge(list, records, limit) {
  // Newest first; the sort is stable, so a new record follows a kept one of the same time.
  const merged = list.concat(records).sort((a, b) => b.scored_at_ms - a.scored_at_ms);
  return merged.slice(0, limit);
}
function shape(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}
function drawHistogram(histogram) {
  const left = 30, top = 20, width = 400, height = 140, counts = histogram.counts;
  const most = Math.max(1, ...counts), step = width / counts.length;
  const shapes = [shape("line", {class: "axis", x1: left, y1: top + height,
                                 x2: left + width, y2: top + height})];
  counts.forEach((n, i) => {
    const tall = Math.round(height * n / most);
    const bar = shape("rect", {class: "bar", x: left + i * step + 1, y: top + height - tall,
                               width: step - 2, height: tall});
    const low = (i / counts.length).toFixed(2), high = ((i + 1) / counts.length).toFixed(2);
    bar.append(shape("title", {}, `${low}-${high}: ${n}`));
    shapes.push(bar);
  });
  for (const tick of [0, 0.5, 1]) {
    shapes.push(shape("text", {class: "label", x: left + tick * width - 6,
                               y: top + height + 14}, String(tick)));
  }
  shapes.push(shape("text", {class: "label", x: 0, y: top - 6}, `max ${most}`));
  if (histogram.threshold !== null) {
    const x = left + histogram.threshold * width;
    shapes.push(shape("line", {class: "threshold", x1: x, y1: top - 4, x2: x,
                               y2: top + height}));
    shapes.push(shape("text", {class: "threshold-label", x: x + 4, y: top + 6},
                      `threshold ${histogram.threshold.toFixed(3)}`));
  }
  byId("histogram").replaceChildren(...shapes);
}
function summary(update) {
  drawHistogram(update.histogram);
  for (const key of ["scores", "alerts", "skipped"]) {
    byId(`n-${key}`).textContent = update.counts[key];
  }
  byId("updated").textContent = new Date().toISOString().slice(0, 19).replace("T", " ");
}
function snapshot(update) {
  state.alerts = update.alerts;
  state.scores = update.scores;
  state.limits = {alert: update.limits.alert, score: update.limits.score};
  header(byId("alerts"), update.columns);
  header(byId("scores"), update.columns);
  fill(byId("alerts"), state.alerts, state.limits.alert);
  fill(byId("scores"), state.scores, SHOWN_SCORES);
}
function apply(update) {
  if (update.type === "snapshot") snapshot(update);
  if (update.type === "records" && update.alerts.length > 0) {
    state.alerts = merge(state.alerts, update.alerts, state.limits.alert);
    fill(byId("alerts"), state.alerts, state.limits.alert);
  }
  if (update.type === "records" && update.scores.length > 0) {
    state.scores = merge(state.scores, update.scores, state.limits.score);
    fill(byId("scores"), state.scores, SHOWN_SCORES);
  }
  summary(update);
}
function status(text, live) {
  byId("status").textContent = text;
  byId("status").className = live ? "status live" : "status";
  document.body.dataset.state = live ? "live" : "waiting";
}
const source = new EventSource("events");
source.onopen = () => status("live: new records appear as they are read", true);
source.onerror = () => status("disconnected: reconnecting...", false);
source.onmessage = (message) => apply(JSON.parse(message.data));
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


#: Only this document's own script and style run; it may connect to its own origin only.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_hash(_SCRIPT)}; style-src {_hash(_STYLE)}; "
    "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fraudstream: alerts of {partner}</title>
<style>{style}</style>
</head>
<body data-state="waiting">
<h1>Alerts of partner {partner}</h1>
<p id="status" class="status">connecting...</p>
<p class="counts"><span>scores read <b id="n-scores">0</b></span>
<span>alerts read <b id="n-alerts">0</b></span>
<span>records skipped (not a score) <b id="n-skipped">0</b></span>
<span>updated <b id="updated">-</b> UTC</span></p>
<h2>Scores of the latest {scores}, by score</h2>
<svg id="histogram" viewBox="0 0 440 190" role="img" aria-label="score histogram"></svg>
<h2>Latest alerts (newest first, up to {alerts})</h2>
<table id="alerts"><thead></thead><tbody></tbody></table>
<h2>Latest scores (newest first, 50 shown)</h2>
<table id="scores"><thead></thead><tbody></tbody></table>
<script>{script}</script>
</body>
</html>
"""


def page_html(partner: str, max_scores: int, max_alerts: int) -> str:
    """The page of ``partner``'s alerts, for windows of ``max_scores`` and ``max_alerts``."""
    return _PAGE.format(
        partner=html.escape(partner),
        style=_STYLE,
        script=_SCRIPT,
        scores=max_scores,
        alerts=max_alerts,
    )
