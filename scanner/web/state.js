// The dashboard's state: plain maps fed by the event stream, no DOM. Every event marks the
// panels it changes as dirty; the page renders the dirty ones once per animation frame.

export const MAX_CLOSED = 50;
export const MAX_POINTS = 400;

const PANELS = ["conn", "venues", "open", "closed", "chart", "heat", "premium", "meta"];

export class Store {
  constructor() {
    this.venues = new Map(); // venue -> {state, reason, ts, frames, rate, resyncs, ...}
    this.open = new Map(); // id -> {ev, firstTs, points: [[ts_ns, net_bps], ...]}
    this.closed = []; // newest first: {key, ev, firstTs, points}
    this.closedSeq = 0; // keys of closed rows (ids restart with the server)
    this.premiums = new Map(); // base -> Map(venue -> premium event)
    this.symbols = new Set();
    this.stats = null;
    this.offsetNs = 0; // the stream's clock minus this machine's
    this.synced = false; // snapshot_end seen on this connection
    this.protocol = null;
    this.events = 0;
    this.malformed = 0;
    this.dirty = new Set(PANELS);
  }

  touch(...panels) {
    for (const p of panels) this.dirty.add(p);
  }

  /** A new connection: what the server will send again (its snapshot) is forgotten. */
  connected() {
    this.open.clear();
    this.synced = false;
    this.protocol = null;
    this.touch(...PANELS);
  }

  /** The connection is gone: nothing is known to be live any more. */
  disconnected() {
    for (const v of this.venues.values()) {
      v.state = "unknown";
      v.rate = null;
    }
    this.touch(...PANELS);
  }

  /** The stream's clock now, in ns: this machine's clock plus the offset the stream tells. */
  nowNs() {
    return Date.now() * 1e6 + this.offsetNs;
  }

  /** Follow the stream's clock: hello's server_time sets it; an event's ts moves it forward,
   * or anywhere when more than a minute off (a replay tells its capture's clock). */
  tick(ts, fromHello = false) {
    if (typeof ts !== "number") return;
    const off = ts - Date.now() * 1e6;
    if (fromHello || off > this.offsetNs || Math.abs(off - this.offsetNs) > 60e9) this.offsetNs = off;
  }

  apply(e) {
    if (e === null || typeof e !== "object" || typeof e.type !== "string") {
      this.malformed += 1;
      return;
    }
    this.events += 1;
    this.tick(e.ts);
    switch (e.type) {
      case "hello":
        return this.hello(e);
      case "snapshot_end":
        this.synced = true;
        return this.touch("conn");
      case "opened":
      case "updated":
        return this.opportunity(e);
      case "closed":
        return this.close(e);
      case "venue":
        return this.venue(e);
      case "stats":
        return this.statsEvent(e);
      case "premium":
        return this.premium(e);
      default:
        return; // book tape and anything newer: not shown
    }
  }

  hello(e) {
    this.protocol = e.protocol ?? null;
    this.tick(e.server_time, true);
    for (const v of e.venues ?? []) this.venueRow(v);
    for (const s of e.symbols ?? []) this.symbols.add(s);
    this.touch(...PANELS);
  }

  venueRow(name) {
    let row = this.venues.get(name);
    if (row === undefined) {
      row = { state: "unknown", reason: null, ts: 0, frames: null, uptime: null, rate: null,
              resyncs: null, reconnects: null, malformed: null, latency: null };
      this.venues.set(name, row);
      this.touch("heat", "meta");
    }
    return row;
  }

  addSymbol(symbol) {
    if (!this.symbols.has(symbol)) {
      this.symbols.add(symbol);
      this.touch("meta");
    }
  }

  opportunity(e) {
    this.addSymbol(e.symbol);
    this.venueRow(e.buy_venue);
    this.venueRow(e.sell_venue);
    let opp = this.open.get(e.id);
    if (opp === undefined) {
      opp = { ev: e, firstTs: e.opened_ts ?? e.ts, points: [] };
      this.open.set(e.id, opp);
    }
    opp.ev = e;
    addPoint(opp.points, e.ts, e.net_bps);
    this.touch("open", "heat", "chart");
  }

  close(e) {
    const opp = this.open.get(e.id);
    const firstTs = opp ? opp.firstTs : e.ts - (e.duration_ms ?? 0) * 1e6;
    const points = opp ? opp.points : [];
    addPoint(points, e.ts, e.net_bps);
    this.open.delete(e.id);
    this.closedSeq += 1;
    this.closed.unshift({ key: this.closedSeq, ev: e, firstTs, points });
    if (this.closed.length > MAX_CLOSED) this.closed.length = MAX_CLOSED;
    this.addSymbol(e.symbol);
    this.touch("open", "closed", "heat", "chart");
  }

  venue(e) {
    const row = this.venueRow(e.venue);
    row.state = e.state;
    row.reason = e.reason ?? null;
    row.ts = e.ts;
    if (typeof e.latency_ms === "number") row.latency = e.latency_ms;
    this.touch("venues");
  }

  statsEvent(e) {
    for (const [name, c] of Object.entries(e.venues ?? {})) {
      const row = this.venueRow(name);
      const dt = row.uptime === null ? 0 : e.uptime_s - row.uptime;
      // a rate needs two reports of the same run (a restarted server counts from zero)
      row.rate = dt > 0 && c.frames >= row.frames ? (c.frames - row.frames) / dt : null;
      row.frames = c.frames;
      row.uptime = e.uptime_s;
      row.resyncs = c.resyncs;
      row.reconnects = c.reconnects;
      row.malformed = c.malformed;
      if (typeof c.latency_ms === "number") row.latency = c.latency_ms;
    }
    this.stats = e;
    this.touch("venues", "meta");
  }

  premium(e) {
    const base = e.base ?? (typeof e.symbol === "string" ? e.symbol.split("/")[0] : null);
    if (base === null || typeof e.venue !== "string") return;
    let row = this.premiums.get(base);
    if (row === undefined) {
      row = new Map();
      this.premiums.set(base, row);
    }
    row.set(e.venue, e);
    this.touch("premium");
  }

  /** Find an opportunity, open or recently closed, by id. */
  find(id) {
    const opp = this.open.get(id);
    if (opp !== undefined) return { opp, closed: false };
    const gone = this.closed.find((c) => c.ev.id === id);
    return gone === undefined ? null : { opp: gone, closed: true };
  }
}

/** Append a point; past MAX_POINTS keep every other one (the whole life, coarser). */
function addPoint(points, ts, bps) {
  if (typeof ts !== "number" || typeof bps !== "number") return;
  points.push([ts, bps]);
  if (points.length > MAX_POINTS) {
    const last = points[points.length - 1];
    const kept = points.filter((_, i) => i % 2 === 0);
    if (kept[kept.length - 1] !== last) kept.push(last);
    points.splice(0, points.length, ...kept);
  }
}
