// The dashboard: one WebSocket to the event server (reconnecting with backoff), a Store of
// plain maps, and a render of the dirty panels at most once per animation frame.

import { Store } from "./state.js";
import { KeyedTable, amount, clock, drawChart, heat, millis, num } from "./view.js";

const $ = (id) => document.getElementById(id);
const store = new Store();
const filters = { symbol: "", venue: "", min: null };
const sort = { key: "net_bps", desc: true };
let selected = null; // the opportunity id the chart shows; null: the top open row
let shownOrder = []; // ids of the open table as shown
let heatChosen = false; // the heatmap's symbol was chosen (else it follows the top row)

// -- connection -----------------------------------------------------------------------------

const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 4000;
let attempt = 0;
let conn = { state: "connecting", detail: "" };

function socketUrl() {
  const page = new URLSearchParams(location.search);
  if (page.get("ws")) return page.get("ws");
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (page.get("token")) url.searchParams.set("token", page.get("token"));
  return url.href;
}

function setConn(state, detail = "") {
  conn = { state, detail };
  store.touch("conn");
  schedule();
}

function connect() {
  setConn(attempt === 0 ? "connecting" : "reconnecting", "connecting…");
  const ws = new WebSocket(socketUrl());
  ws.onopen = () => {
    attempt = 0;
    store.connected();
    setConn("live");
  };
  ws.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      store.malformed += 1;
      return;
    }
    store.apply(event);
    schedule();
  };
  ws.onclose = (closed) => {
    store.disconnected();
    const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt) * (0.8 + 0.4 * Math.random());
    attempt += 1;
    const why = closed.code === 1006 ? "no connection" : `closed ${closed.code} ${closed.reason}`.trim();
    setConn("reconnecting", `${why}; retry in ${(delay / 1000).toFixed(1)} s`);
    setTimeout(connect, delay);
  };
}

// -- rendering ------------------------------------------------------------------------------

let scheduled = false;
const perf = { frames: 0, lastRenderMs: 0, maxRenderMs: 0 };

function schedule() {
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(render);
  }
}

function render() {
  scheduled = false;
  const started = performance.now();
  const dirty = store.dirty;
  store.dirty = new Set();
  if (dirty.has("meta")) renderMeta();
  renderStatus();
  if (dirty.has("venues")) renderVenues();
  if (dirty.has("open")) renderOpen();
  if (dirty.has("closed")) renderClosed();
  if (dirty.has("heat")) renderHeat();
  if (dirty.has("chart") || dirty.has("open")) renderChart();
  if (dirty.has("premium")) renderPremium();
  perf.frames += 1;
  perf.lastRenderMs = performance.now() - started;
  perf.maxRenderMs = Math.max(perf.maxRenderMs, perf.lastRenderMs);
}

// a cross-quote opportunity names each leg's quote currency
const pair = (e) =>
  e.buy_quote && e.sell_quote && e.buy_quote !== e.sell_quote
    ? `${e.buy_venue} (${e.buy_quote}) → ${e.sell_venue} (${e.sell_quote})`
    : `${e.buy_venue} → ${e.sell_venue}`;

function passes(e, bps) {
  if (filters.symbol && e.symbol !== filters.symbol) return false;
  if (filters.venue && e.buy_venue !== filters.venue && e.sell_venue !== filters.venue) return false;
  return filters.min === null || bps >= filters.min;
}

function syncOptions(select, values, keepFirst) {
  const have = [...select.options].slice(keepFirst).map((o) => o.value);
  if (have.join("\n") === values.join("\n")) return;
  const current = select.value;
  while (select.options.length > keepFirst) select.remove(keepFirst);
  for (const v of values) select.add(new Option(v, v));
  select.value = values.includes(current) || (keepFirst && current === "") ? current : select.options[0]?.value ?? "";
}

function renderMeta() {
  const symbols = [...store.symbols].sort();
  syncOptions($("f-symbol"), symbols, 1);
  syncOptions($("f-venue"), [...store.venues.keys()].sort(), 1);
  syncOptions($("heat-symbol"), symbols, 0);
  store.touch("heat");
  schedule();
}

function renderStatus() {
  const el = $("conn");
  el.dataset.state = conn.state;
  el.textContent = conn.state === "live" ? (store.synced || store.protocol === null ? "live" : "syncing") : conn.state;
  el.title = conn.detail;
  const s = store.stats;
  const parts = [];
  if (conn.state !== "live" && conn.detail) parts.push(conn.detail);
  if (s) parts.push(`up ${millis(s.uptime_s * 1000)}`, `${s.clients} client${s.clients === 1 ? "" : "s"}`);
  parts.push(`${store.events} events`);
  const text = parts.join(" · ");
  if ($("status").textContent !== text) $("status").textContent = text;
}

const venueTable = new KeyedTable(
  $("venues").tBodies[0],
  [
    { text: (v) => v.name },
    { text: (v) => v.state, cls: (v) => `state state-${v.state}` },
    { text: (v) => (v.rate === null ? "—" : num(v.rate, 1)), cls: () => "n" },
    { text: (v) => millis(v.latency), cls: () => "n" },
    { text: (v) => String(v.resyncs ?? "—"), cls: () => "n" },
    { text: (v) => String(v.reconnects ?? "—"), cls: () => "n" },
    { text: (v) => String(v.malformed ?? "—"), cls: () => "n" },
    { text: (v) => (v.ts ? millis((store.nowNs() - v.ts) / 1e6) : "—"), cls: () => "n" },
  ],
  (v) => ({ "data-venue": v.name, "data-state": v.state, title: v.reason ?? "" }),
);

function renderVenues() {
  const names = [...store.venues.keys()].sort();
  venueTable.update(names.map((name) => [name, { name, ...store.venues.get(name) }]));
  // a server that reports no latency: no column of dashes
  const latency = names.some((name) => store.venues.get(name).latency !== null);
  $("venues").classList.toggle("no-latency", !latency);
}

const SORT_VALUE = {
  id: (o) => Number(o.ev.id) || o.ev.id,
  symbol: (o) => o.ev.symbol,
  pair: (o) => pair(o.ev),
  size: (o) => o.ev.size,
  net_bps: (o) => o.ev.net_bps,
  profit: (o) => o.ev.profit,
  age: (o) => Math.max(o.ev.buy_age_ms, o.ev.sell_age_ms),
  duration: (o) => -o.firstTs,
};

const openTable = new KeyedTable(
  $("open").tBodies[0],
  [
    { text: (o) => o.ev.id, cls: () => "id" },
    { text: (o) => o.ev.symbol },
    { text: (o) => pair(o.ev) },
    { text: (o) => amount(o.ev.size), cls: () => "n" },
    { text: (o) => num(o.ev.net_bps), cls: () => "n bps" },
    { text: (o) => amount(o.ev.profit), cls: () => "n" },
    { text: (o) => `${num(o.ev.buy_age_ms, 1)} / ${num(o.ev.sell_age_ms, 1)} ms`, cls: () => "n" },
    { text: (o) => millis((store.nowNs() - o.firstTs) / 1e6), cls: () => "n" },
  ],
  (o) => ({
    "data-id": o.ev.id,
    "data-symbol": o.ev.symbol,
    "data-buy": o.ev.buy_venue,
    "data-sell": o.ev.sell_venue,
    class: o.ev.id === selected ? "selected" : "",
  }),
);

function renderOpen() {
  const value = SORT_VALUE[sort.key];
  const rows = [...store.open.values()].filter((o) => passes(o.ev, o.ev.net_bps));
  rows.sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return sort.desc ? -c : c;
  });
  openTable.update(rows.map((o) => [o.ev.id, o]));
  shownOrder = rows.map((o) => o.ev.id);
  $("open-count").textContent = rows.length === store.open.size ? `${rows.length}` : `${rows.length} of ${store.open.size}`;
  $("open-empty").hidden = rows.length > 0;
  for (const th of $("open").tHead.rows[0].cells) {
    th.classList.toggle("sorted", th.dataset.sort === sort.key);
    th.classList.toggle("desc", th.dataset.sort === sort.key && sort.desc);
  }
}

const closedTable = new KeyedTable(
  $("closed").tBodies[0],
  [
    { text: (c) => c.ev.id, cls: () => "id" },
    { text: (c) => c.ev.symbol },
    { text: (c) => pair(c.ev) },
    { text: (c) => c.ev.reason, cls: (c) => `reason reason-${c.ev.reason}` },
    { text: (c) => millis(c.ev.duration_ms), cls: () => "n" },
    { text: (c) => num(c.ev.peak_net_bps), cls: () => "n bps" },
    { text: (c) => amount(c.ev.peak_profit), cls: () => "n" },
    { text: (c) => clock(c.ev.ts) },
  ],
  (c) => ({ "data-id": c.ev.id, "data-reason": c.ev.reason, "data-buy": c.ev.buy_venue,
            "data-sell": c.ev.sell_venue, class: c.ev.id === selected ? "selected" : "" }),
);

function renderClosed() {
  const rows = store.closed.filter((c) => passes(c.ev, c.ev.peak_net_bps));
  closedTable.update(rows.map((c) => [c.key, c]));
  $("closed-empty").hidden = rows.length > 0;
}

let heatCells = { key: "", cells: new Map() };

function renderHeat() {
  const select = $("heat-symbol");
  const top = store.open.get(shownOrder[0]);
  if (!heatChosen && top !== undefined && select.value !== top.ev.symbol) {
    select.value = top.ev.symbol; // until one is chosen: the symbol of the top row
  }
  const symbol = select.value;
  const venues = [...store.venues.keys()].sort();
  const table = $("heatmap");
  const key = venues.join(",");
  if (heatCells.key !== key) {
    // the venue set changed (rare): lay the grid out again
    heatCells = { key, cells: new Map() };
    const head = table.tHead;
    head.replaceChildren(document.createElement("tr"));
    head.rows[0].appendChild(document.createElement("th")).textContent = "buy ↓ sell →";
    for (const v of venues) head.rows[0].appendChild(document.createElement("th")).textContent = v;
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const buy of venues) {
      const tr = body.insertRow();
      tr.appendChild(document.createElement("th")).textContent = buy;
      for (const sell of venues) {
        const td = tr.insertCell();
        td.dataset.buy = buy;
        td.dataset.sell = sell;
        td.className = buy === sell ? "diag" : "cell";
        heatCells.cells.set(`${buy}\n${sell}`, { td, text: "" });
      }
    }
  }
  const best = new Map();
  for (const o of store.open.values()) {
    if (o.ev.symbol !== symbol) continue;
    const k = `${o.ev.buy_venue}\n${o.ev.sell_venue}`;
    if (!(best.get(k) >= o.ev.net_bps)) best.set(k, o.ev.net_bps);
  }
  for (const [k, cell] of heatCells.cells) {
    const text = best.has(k) ? num(best.get(k), 1) : "";
    if (cell.text !== text) {
      cell.td.textContent = text;
      cell.td.style.background = heat(best.get(k));
      cell.text = text;
    }
  }
}

function renderChart() {
  const id = selected ?? shownOrder[0] ?? null;
  const found = id === null ? null : store.find(id);
  const title = $("chart-title");
  if (found === null) {
    title.textContent = selected === null ? "click an opportunity" : `#${selected} is gone`;
    drawChart($("chart"), [], "no opportunity selected");
    return;
  }
  const e = found.opp.ev;
  const state = found.closed ? `closed: ${e.reason}` : `open, ${num(e.net_bps)} bps`;
  title.textContent = `#${e.id} ${e.symbol} ${pair(e)} (${state})${selected === null ? ", the top row" : ""}`;
  drawChart($("chart"), found.opp.points, "");
}

function renderPremium() {
  const panel = $("premium-panel");
  panel.hidden = store.premiums.size === 0;
  if (panel.hidden) return;
  const bases = [...store.premiums.keys()].sort();
  const venues = [...new Set(bases.flatMap((b) => [...store.premiums.get(b).keys()]))].sort();
  const table = $("premium");
  table.tHead.replaceChildren(document.createElement("tr"));
  table.tHead.rows[0].appendChild(document.createElement("th")).textContent = "base";
  for (const v of venues) table.tHead.rows[0].appendChild(document.createElement("th")).textContent = v;
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const base of bases) {
    const tr = body.insertRow();
    tr.appendChild(document.createElement("th")).textContent = base;
    for (const v of venues) {
      const td = tr.insertCell();
      const e = store.premiums.get(base).get(v);
      const bps = e?.premium_bps;
      td.textContent = typeof bps === "number" ? num(bps, 1) : "";
      td.className = typeof bps !== "number" ? "n" : bps >= 0 ? "n pos" : "n neg";
      if (e) td.title = [e.fx_source, e.fx_age_ms === undefined ? "" : `fx age ${millis(e.fx_age_ms)}`].filter(Boolean).join(", ");
    }
  }
}

// -- input ----------------------------------------------------------------------------------

$("f-symbol").addEventListener("change", (ev) => {
  filters.symbol = ev.target.value;
  if (filters.symbol) {
    $("heat-symbol").value = filters.symbol;
    heatChosen = true;
  }
  store.touch("open", "closed", "chart", "heat");
  schedule();
});
$("f-venue").addEventListener("change", (ev) => {
  filters.venue = ev.target.value;
  store.touch("open", "closed", "chart");
  schedule();
});
$("f-min").addEventListener("input", (ev) => {
  const v = Number.parseFloat(ev.target.value);
  filters.min = Number.isFinite(v) ? v : null;
  store.touch("open", "closed", "chart");
  schedule();
});
$("filters").addEventListener("submit", (ev) => ev.preventDefault());
$("heat-symbol").addEventListener("change", () => {
  heatChosen = true;
  store.touch("heat");
  schedule();
});
$("open").tHead.addEventListener("click", (ev) => {
  const key = ev.target.closest("th")?.dataset.sort;
  if (!key) return;
  sort.desc = sort.key === key ? !sort.desc : key !== "symbol" && key !== "pair" && key !== "id";
  sort.key = key;
  store.touch("open");
  schedule();
});
for (const id of ["open", "closed"]) {
  $(id).tBodies[0].addEventListener("click", (ev) => {
    const row = ev.target.closest("tr");
    if (!row) return;
    selected = row.dataset.id === selected ? null : row.dataset.id;
    store.touch("open", "closed", "chart");
    schedule();
  });
}
window.addEventListener("resize", () => {
  store.touch("chart");
  schedule();
});
// durations and "since" columns move with the clock: a few times a second is enough
setInterval(() => {
  store.touch("open", "venues");
  schedule();
}, 250);

window.arbscan = { store, perf, filters };
connect();
