// Rendering helpers: a keyed table that updates rows in place, number formats, the
// hand-drawn chart of one opportunity's net bps and the heatmap colours.

/** A table body whose rows are kept by key: cells are written only when their text
 * changes, rows are moved only when out of order, never rebuilt. */
export class KeyedTable {
  /** columns: [{text: (item) => string, cls?: (item) => string}]; attrs: (item) => {...} */
  constructor(tbody, columns, attrs = () => ({})) {
    this.tbody = tbody;
    this.columns = columns;
    this.attrs = attrs;
    this.rows = new Map(); // key -> {tr, tds, texts, classes, attrs}
  }

  update(entries) {
    // entries: [[key, item], ...] in display order
    const wanted = new Set();
    const ordered = [];
    for (const [key, item] of entries) {
      wanted.add(key);
      let row = this.rows.get(key);
      if (row === undefined) {
        row = this.create(key);
        this.rows.set(key, row);
      }
      this.fill(row, item);
      ordered.push(row);
    }
    for (const [key, row] of this.rows) {
      if (!wanted.has(key)) {
        row.tr.remove();
        this.rows.delete(key);
      }
    }
    let ref = this.tbody.firstChild;
    for (const row of ordered) {
      if (row.tr === ref) ref = ref.nextSibling;
      else this.tbody.insertBefore(row.tr, ref);
    }
  }

  create(key) {
    const tr = document.createElement("tr");
    tr.dataset.key = key;
    const tds = this.columns.map(() => tr.appendChild(document.createElement("td")));
    return { tr, tds, texts: [], classes: [], attrs: {} };
  }

  fill(row, item) {
    this.columns.forEach((col, i) => {
      const text = col.text(item);
      if (row.texts[i] !== text) {
        row.tds[i].textContent = text;
        row.texts[i] = text;
      }
      const cls = col.cls ? col.cls(item) : "";
      if (row.classes[i] !== cls) {
        row.tds[i].className = cls;
        row.classes[i] = cls;
      }
    });
    for (const [name, value] of Object.entries(this.attrs(item))) {
      if (row.attrs[name] !== value) {
        row.tr.setAttribute(name, value);
        row.attrs[name] = value;
      }
    }
  }
}

export function num(x, digits = 2) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  return x.toFixed(digits);
}

/** Money and sizes: grouped thousands, significant digits for the small ones. */
export function amount(x) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  const a = Math.abs(x);
  if (a >= 1000) return x.toLocaleString("en-US", { maximumFractionDigits: 0 });
  if (a >= 1) return x.toFixed(2);
  return x === 0 ? "0" : x.toPrecision(3);
}

export function millis(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} m ${Math.floor((ms % 60_000) / 1000)} s`;
}

export function clock(ns) {
  if (typeof ns !== "number") return "—";
  return new Date(ns / 1e6).toISOString().slice(11, 19);
}

/** Background for a net bps value: transparent at 0, full green at `full` bps and more. */
export function heat(bps, full = 50) {
  if (typeof bps !== "number") return "";
  const a = Math.min(1, Math.max(0.12, bps / full));
  return `rgba(34, 160, 90, ${a.toFixed(2)})`;
}

/** Draw `points` ([[ts_ns, bps], ...]) on `canvas`: axes in seconds since the first point
 * and bps, a grid line per y tick, the line, its last point. Empty: a hint. */
export function drawChart(canvas, points, hint) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#8a93a0";
  if (points.length === 0) {
    g.fillText(hint, 12, height / 2);
    return;
  }
  const left = 44, right = 10, top = 10, bottom = 22;
  const t0 = points[0][0];
  const t1 = Math.max(points[points.length - 1][0], t0 + 1e9);
  let lo = Math.min(...points.map((p) => p[1]));
  let hi = Math.max(...points.map((p) => p[1]));
  const pad = Math.max(1, (hi - lo) * 0.15);
  lo = Math.max(0, lo - pad);
  hi += pad;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  g.strokeStyle = "#2a313b";
  g.lineWidth = 1;
  g.textAlign = "right";
  for (let i = 0; i <= 3; i++) {
    const v = lo + ((hi - lo) * i) / 3;
    g.beginPath();
    g.moveTo(left, y(v));
    g.lineTo(width - right, y(v));
    g.stroke();
    g.fillText(v.toFixed(1), left - 6, y(v) + 4);
  }
  g.textAlign = "center";
  g.fillText("0 s", left, height - 6);
  g.fillText(`${((t1 - t0) / 1e9).toFixed(1)} s`, width - right - 14, height - 6);
  g.strokeStyle = "#3fbf7f";
  g.lineWidth = 2;
  g.beginPath();
  points.forEach(([t, v], i) => (i === 0 ? g.moveTo(x(t), y(v)) : g.lineTo(x(t), y(v))));
  g.stroke();
  const [tl, vl] = points[points.length - 1];
  g.fillStyle = "#3fbf7f";
  g.beginPath();
  g.arc(x(tl), y(vl), 3, 0, 2 * Math.PI);
  g.fill();
}
