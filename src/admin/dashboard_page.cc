#include "admin/dashboard_page.h"

namespace ballast::admin {
namespace {

// The page, kept readable as HTML. It fetches nothing but the admin API (same origin), and the
// server's Content-Security-Policy (admin_server.cc) holds it to that. No absolute URL appears
// in it: canvases draw the charts, so not even the SVG namespace is needed.
constexpr std::string_view kPage = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ballast</title>
<link rel="icon" href="data:,">
<style>
  :root {
    --bg: #f6f7f9; --panel: #fff; --text: #1d2330; --muted: #6b7385; --line: #e3e6ec;
    --up: #1f9d55; --down: #d62d3a; --down-bg: #fde8ea; --disabled: #8a8f9c; --draining: #d98e04;
    --standby: #3a6fd8; --rate: #3a6fd8; --p50: #1f9d55; --p99: #d98e04; --active: #7c4dcc;
  }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
         background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; padding: 12px 20px;
           background: var(--panel); border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0 8px 0 0; }
  header .facts { color: var(--muted); display: flex; gap: 16px; flex-wrap: wrap; }
  header .spacer { flex: 1; }
  header input { font: inherit; padding: 3px 6px; width: 180px; }
  #banner { display: none; padding: 8px 20px; background: var(--down-bg); color: var(--down);
            font-weight: 600; }
  #banner.shown { display: block; }
  #message { color: var(--muted); min-height: 1.4em; }
  main { padding: 12px 20px 40px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
            margin-bottom: 16px; overflow-x: auto; }
  section h2 { font-size: 16px; margin: 0; padding: 10px 14px; border-bottom: 1px solid var(--line);
               display: flex; gap: 14px; align-items: baseline; flex-wrap: wrap; }
  section h2 .meta { font-size: 13px; font-weight: normal; color: var(--muted); }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
           font-weight: 600; color: #fff; background: var(--muted); white-space: nowrap; }
  .badge.up { background: var(--up); }
  .badge.down, .badge.panic, .badge.open { background: var(--down); }
  .badge.disabled, .badge.none { background: var(--disabled); }
  .badge.draining, .badge.half_open { background: var(--draining); }
  .badge.standby { background: var(--standby); }
  .badge.closed { background: var(--up); }
  table { border-collapse: collapse; width: 100%; }
  th, td { padding: 6px 10px; text-align: left; border-bottom: 1px solid var(--line);
           vertical-align: middle; white-space: nowrap; }
  th { font-size: 12px; color: var(--muted); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.server.down { background: var(--down-bg); }
  tr.server.down td:first-child { border-left: 4px solid var(--down); }
  tr.server.down .name { color: var(--down); font-weight: 600; }
  .reasons { display: block; font-size: 12px; color: var(--muted); }
  tr.server.down .reasons { color: var(--down); }
  .chart { display: flex; align-items: center; gap: 8px; }
  .chart .value { min-width: 64px; text-align: right; font-variant-numeric: tabular-nums; }
  canvas { display: block; background: #f0f2f5; border-radius: 2px; }
  button { font: inherit; font-size: 12px; padding: 2px 8px; cursor: pointer; }
  .legend { font-size: 12px; color: var(--muted); padding: 0 14px 10px; }
  .legend span { margin-right: 12px; }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
            margin-right: 4px; vertical-align: -1px; }
</style>
</head>
<body>
<header>
  <h1>ballast</h1>
  <div class="facts">
    <span>generation <b id="generation">-</b></span>
    <span>workers <b id="workers">-</b></span>
    <span>uptime <b id="uptime">-</b></span>
    <span>updated <b id="updated">-</b></span>
  </div>
  <div class="spacer"></div>
  <form id="token-form" autocomplete="off">
    <label>admin token <input id="token" type="password" autocomplete="off"
           placeholder="for drain / enable / disable"></label>
  </form>
</header>
<div id="banner">The admin API does not answer; showing the last state received.</div>
<main>
  <div id="message"></div>
  <div id="clusters"></div>
  <div class="legend">
    state over the last minutes:
    <span><i class="swatch" style="background: var(--up)"></i>up</span>
    <span><i class="swatch" style="background: var(--down)"></i>down</span>
    <span><i class="swatch" style="background: var(--draining)"></i>draining</span>
    <span><i class="swatch" style="background: var(--disabled)"></i>disabled</span>
    <span><i class="swatch" style="background: var(--standby)"></i>standby (region)</span>
    — request rate, <span style="color: var(--p50)">p50</span> and
    <span style="color: var(--p99)">p99</span> latency, active connections: 10-second windows,
    one point a second.
  </div>
</main>
<script>
'use strict';

const HISTORY_POINTS = 300;  // five minutes of one-second points, as the server keeps
const POLL_MS = 1000;
const STATE_COLOURS = { up: '--up', down: '--down', disabled: '--disabled',
                        draining: '--draining', standby: '--standby' };

const history = new Map();  // "cluster\nserver" -> { rate, p50, p99, active, state } arrays
let historyRound = 0;       // the newest history round merged
let stateNames = ['up', 'down', 'disabled', 'draining', 'standby'];
const sections = new Map();  // cluster name -> { section, heading, body, rows: Map }

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function keyOf(cluster, server) { return cluster + '\n' + server; }

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatDuration(seconds) {
  seconds = Math.floor(seconds);
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
  const m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
  if (d > 0) return d + 'd ' + h + 'h';
  if (h > 0) return h + 'h ' + m + 'm';
  if (m > 0) return m + 'm ' + s + 's';
  return s + 's';
}

function formatMs(ms) { return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2); }

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(path + ' answered ' + response.status);
  return response.json();
}

function append(list, values) {
  for (const value of values) list.push(value);
  if (list.length > HISTORY_POINTS) list.splice(0, list.length - HISTORY_POINTS);
}

function mergeHistory(doc) {
  if (Array.isArray(doc.state_names)) stateNames = doc.state_names;
  // A server restarted or a round skipped far back: the server sent all it keeps.
  const fresh = historyRound === 0 || doc.round < historyRound;
  for (const cluster of doc.clusters) {
    for (const server of cluster.servers) {
      const key = keyOf(cluster.name, server.name);
      let entry = history.get(key);
      if (!entry || fresh) {
        entry = { rate: [], p50: [], p99: [], active: [], state: [] };
        history.set(key, entry);
      }
      append(entry.rate, server.requests_per_second);
      append(entry.p50, server.p50_ms);
      append(entry.p99, server.p99_ms);
      append(entry.active, server.active);
      append(entry.state, server.state.map((code) => stateNames[code] || 'up'));
    }
  }
  historyRound = doc.round;
}

function setupCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 100, height = canvas.clientHeight || 28;
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  return { context, width, height };
}

// Lines over the last HISTORY_POINTS points, right-aligned, sharing one vertical scale.
function drawLines(canvas, lines) {
  const { context, width, height } = setupCanvas(canvas);
  let max = 0;
  for (const line of lines) for (const v of line.values) max = Math.max(max, v);
  if (max <= 0) max = 1;
  const step = width / (HISTORY_POINTS - 1);
  for (const line of lines) {
    const values = line.values;
    if (values.length === 0) continue;
    const x0 = width - (values.length - 1) * step;
    context.beginPath();
    values.forEach((v, i) => {
      const x = x0 + i * step, y = height - 2 - (v / max) * (height - 4);
      if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
    });
    context.strokeStyle = cssVar(line.colour);
    context.lineWidth = 1.5;
    context.stroke();
    if (line.fill) {
      context.lineTo(width, height);
      context.lineTo(x0, height);
      context.closePath();
      context.globalAlpha = 0.12;
      context.fillStyle = cssVar(line.colour);
      context.fill();
      context.globalAlpha = 1;
    }
  }
}

// One coloured bar per second: the server's state over the last minutes.
function drawStates(canvas, states) {
  const { context, width, height } = setupCanvas(canvas);
  const step = width / HISTORY_POINTS;
  const x0 = width - states.length * step;
  states.forEach((state, i) => {
    context.fillStyle = cssVar(STATE_COLOURS[state] || '--disabled');
    context.fillRect(x0 + i * step, 0, Math.max(step, 1), height);
  });
}

function chartCell(className) {
  const cell = el('td');
  const box = el('div', 'chart');
  const value = el('span', 'value');
  const canvas = el('canvas', className);
  canvas.style.width = '100px';
  canvas.style.height = '28px';
  box.append(value, canvas);
  cell.append(box);
  return { cell, value, canvas };
}

function makeRow(clusterName, serverName) {
  const row = el('tr', 'server');
  row.dataset.cluster = clusterName;
  row.dataset.server = serverName;
  const nameCell = el('td');
  const name = el('span', 'name', serverName);
  const reasons = el('span', 'reasons');
  nameCell.append(name, reasons);
  const stateCell = el('td');
  const badge = el('span', 'badge');
  const strip = el('canvas', 'states');
  strip.style.width = '100px';
  strip.style.height = '8px';
  strip.style.marginTop = '4px';
  stateCell.append(badge, strip);
  const weight = el('td', 'num');
  const rate = chartCell('rate');
  const latency = chartCell('latency');
  const active = chartCell('active');
  const health = el('td');
  const breakerCell = el('td');
  const breaker = el('span', 'badge');
  const breakerDetail = el('span', 'reasons');
  breakerCell.append(breaker, breakerDetail);
  const responses = el('td', 'num');
  const actions = el('td');
  for (const action of ['drain', 'disable', 'enable']) {
    const button = el('button', '', action);
    button.addEventListener('click', () => act(clusterName, serverName, action));
    actions.append(button, document.createTextNode(' '));
  }
  row.append(nameCell, stateCell, weight, rate.cell, latency.cell, active.cell, health,
             breakerCell, responses, actions);
  return { row, reasons, badge, strip, weight, rate, latency, active, health, breaker,
           breakerDetail, responses };
}

function makeSection(name) {
  const section = el('section');
  const heading = el('h2');
  const table = el('table');
  const head = el('thead');
  const headRow = el('tr');
  for (const title of ['server', 'state', 'weight', 'requests/s', 'p50 / p99 ms', 'active',
                       'health', 'breaker', '2xx / 4xx / 5xx', 'actions']) {
    headRow.append(el('th', '', title));
  }
  head.append(headRow);
  const body = el('tbody');
  table.append(head, body);
  section.append(heading, table);
  return { section, heading, body, rows: new Map() };
}

function renderCluster(cluster) {
  let view = sections.get(cluster.name);
  if (!view) {
    view = makeSection(cluster.name);
    sections.set(cluster.name, view);
  }
  view.heading.replaceChildren(el('span', '', cluster.name));
  const meta = el('span', 'meta', cluster.algorithm + ' · ' + cluster.eligible_servers + ' of ' +
                  cluster.servers.length + ' servers eligible' +
                  (cluster.active_region ? ' · active region ' + cluster.active_region : ''));
  view.heading.append(meta);
  if (cluster.panic) view.heading.append(el('span', 'badge panic', 'panic mode'));

  const seen = new Set();
  cluster.servers.forEach((server) => {
    seen.add(server.name);
    let row = view.rows.get(server.name);
    if (!row) {
      row = makeRow(cluster.name, server.name);
      view.rows.set(server.name, row);
    }
    view.body.append(row.row);  // keeps configuration order
    renderServer(cluster.name, server, row);
  });
  for (const [name, row] of view.rows) {
    if (!seen.has(name)) {
      row.row.remove();
      view.rows.delete(name);
    }
  }
  return view.section;
}

function renderServer(clusterName, server, row) {
  row.row.className = 'server ' + server.state;
  row.row.dataset.state = server.state;
  row.row.dataset.eligible = String(server.eligible);
  row.reasons.textContent = server.reasons.join(', ');
  row.badge.className = 'badge ' + server.state;
  row.badge.textContent = server.state;
  row.weight.textContent = server.weight + (server.backup ? ' (backup)' : '') +
                           (server.region ? ' · ' + server.region : '');
  row.rate.value.textContent = server.requests_per_second.toFixed(1);
  row.latency.value.textContent = formatMs(server.p50_ms) + ' / ' + formatMs(server.p99_ms);
  row.active.value.textContent = String(server.active_connections);
  row.health.textContent = server.health;
  const breaker = server.breaker;
  row.breaker.className = 'badge ' + (breaker ? breaker.state : 'none');
  row.breaker.textContent = breaker ? breaker.state.replace('_', '-') : 'none';
  row.breakerDetail.textContent = !breaker ? '' :
      breaker.state === 'open' ? 'probe in ' + (breaker.half_open_in_ms / 1000).toFixed(1) + ' s' :
      breaker.state === 'half_open' ? breaker.probe_successes + ' probes passed' :
      breaker.consecutive_failures + ' failures in a row';
  const r = server.responses;
  row.responses.textContent = r['2xx'] + ' / ' + r['4xx'] + ' / ' + r['5xx'];

  const past = history.get(keyOf(clusterName, server.name)) ||
               { rate: [], p50: [], p99: [], active: [], state: [] };
  drawStates(row.strip, past.state);
  drawLines(row.rate.canvas, [{ values: past.rate, colour: '--rate', fill: true }]);
  drawLines(row.latency.canvas, [{ values: past.p99, colour: '--p99' },
                                 { values: past.p50, colour: '--p50' }]);
  drawLines(row.active.canvas, [{ values: past.active, colour: '--active', fill: true }]);
}

function render(status) {
  document.getElementById('generation').textContent = String(status.process.generation);
  document.getElementById('workers').textContent = String(status.process.workers);
  document.getElementById('uptime').textContent = formatDuration(status.process.uptime_seconds);
  document.getElementById('updated').textContent = new Date().toLocaleTimeString();
  const container = document.getElementById('clusters');
  const wanted = status.clusters.map(renderCluster);
  const names = new Set(status.clusters.map((cluster) => cluster.name));
  for (const name of sections.keys()) {
    if (!names.has(name)) sections.delete(name);
  }
  container.replaceChildren(...wanted);
  for (const key of history.keys()) {
    const [cluster, server] = key.split('\n');
    const view = sections.get(cluster);
    if (!view || !view.rows.has(server)) history.delete(key);
  }
}

async function act(cluster, server, action) {
  const headers = {};
  const token = document.getElementById('token').value;
  if (token) headers.Authorization = 'Bearer ' + token;
  const path = '/servers/' + encodeURIComponent(cluster) + '/' + encodeURIComponent(server) +
               '/' + action;
  const message = document.getElementById('message');
  try {
    const response = await fetch(path, { method: 'POST', headers, cache: 'no-store' });
    message.textContent = response.ok ? action + ' ' + server + ': done'
                                      : action + ' ' + server + ': ' + response.status + ' ' +
                                        (await response.text()).trim();
  } catch (error) {
    message.textContent = action + ' ' + server + ': ' + error.message;
  }
  tick();
}

// The token field sits in a form (browsers want password fields in one); it is never sent.
document.getElementById('token-form').addEventListener('submit', (event) => event.preventDefault());

let timer = 0;
async function tick() {
  clearTimeout(timer);
  try {
    const since = historyRound > 0 ? '?since=' + historyRound : '';
    const [status, past] = await Promise.all([getJson('/status'),
                                              getJson('/status/history' + since)]);
    mergeHistory(past);
    render(status);
    document.getElementById('banner').classList.remove('shown');
  } catch (error) {
    document.getElementById('banner').classList.add('shown');
  }
  timer = setTimeout(tick, POLL_MS);
}

tick();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view dashboard_html() noexcept {
  return kPage;
}

}  // namespace ballast::admin
