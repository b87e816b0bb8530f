// One time-series chart (uPlot) of one field: history, then live samples.
//
// History comes downsampled by the node to `stride` seconds (bucket means
// reported at the bucket start, `min_stride` of get_data); live samples are
// averaged into buckets of the same stride, so the chart keeps about one
// point per pixel however long it stays open.

/* global uPlot */

import { tick, utc, value as formatValue } from "./format.js";

const HEIGHT = 220;
const COLORS = ["#4fc3f7", "#ffb74d", "#81c784", "#f06292", "#ba68c8", "#fff176", "#4db6ac", "#e57373"];
export const AXIS = { stroke: "#9aa7b4", grid: { stroke: "#263241", width: 1 }, ticks: { stroke: "#263241", width: 1 } };

export const utcDate = (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

/**
 * Time axis labels in UTC, 24 h: "13:00", with the date under each midnight
 * tick but the last (it would be cut at the edge), or under the first tick
 * when there is no other.
 */
export function timeTicks(u, splits, axisIdx, space, incr) {
  const last = splits.length - 1;
  const midnight = (t, i = 0) => i < last && utc(t).slice(11) === "00:00:00";
  const anyMidnight = splits.some(midnight);
  return splits.map((t, i) => {
    const text = utc(t);
    const date = text.slice(0, 10);
    if (incr >= 86400) return date;
    const time = text.slice(11, incr < 60 ? 19 : 16);
    return midnight(t, i) || (i === 0 && !anyMidnight) ? `${time}\n${date}` : time;
  });
}

/** Width of the y axis: enough for its longest label. */
export function yAxisSize(u, values) {
  const longest = values ? Math.max(0, ...values.map((v) => String(v).length)) : 4;
  return Math.ceil(longest * 7.5) + 22;
}

/** Numbers as charted: bools as 0/1, anything else not a finite number as a gap. */
function numeric(v) {
  if (typeof v === "boolean") return v ? 1 : 0;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export class Chart {
  /**
   * @param {object} info  {node, field, units, description, type, timeline, index}
   * @param {function} onClose  called with the field when the chart's close button is pressed
   * @param {function} onWidth  called with the chart when its width changed so much
   *   that its history should be fetched again at another stride
   */
  constructor(info, onClose, onWidth = () => {}) {
    this.info = info;
    this.onWidth = onWidth;
    this.loadedWidth = null;
    this.widthTimer = null;
    this.xs = [];
    this.ys = [];
    this.stride = 0;
    this.window = null; // {start, end, live, seconds}
    this.loading = false;
    this.pending = []; // live samples that arrived while history was loading
    this.bucket = { sum: 0, n: 0 };
    this.dirty = false;

    const color = COLORS[info.index % COLORS.length];
    this.element = document.createElement("section");
    this.element.className = "chart";
    this.element.dataset.testid = `chart-${info.field}`;
    this.element.dataset.field = info.field;
    this.element.dataset.points = "0";
    this.element.dataset.state = "empty";
    const head = document.createElement("header");
    const title = document.createElement("h3");
    title.textContent = info.field;
    title.title = info.description || "";
    const units = document.createElement("span");
    units.className = "units";
    units.textContent = info.units ? `[${info.units}]` : "";
    this.status = document.createElement("span");
    this.status.className = "chart-status";
    this.status.dataset.testid = `chart-status-${info.field}`;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "icon";
    close.title = "remove chart";
    close.textContent = "✕";
    close.addEventListener("click", () => onClose(info.field));
    head.append(title, units, this.status, close);
    this.plotBox = document.createElement("div");
    this.plotBox.className = "plot";
    this.element.append(head, this.plotBox);

    this.plot = new uPlot(
      {
        width: 400,
        height: HEIGHT,
        tzDate: utcDate,
        padding: [10, 20, 0, 0], // room for the last time label
        scales: { x: { time: true, range: () => this._xRange() } },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        series: [
          { label: "UTC", value: (u, v) => (v === null ? "—" : utc(v)) },
          {
            label: info.field,
            stroke: color,
            fill: `${color}22`,
            width: 1.5,
            spanGaps: false,
            gaps: (u, sidx, idx0, idx1, nullGaps) => this._gaps(u, idx0, idx1, nullGaps),
            value: (u, v) => formatValue(v, info.units, "number"),
            points: { size: 5, fill: color },
          },
        ],
        axes: [
          { ...AXIS, values: timeTicks },
          { ...AXIS, size: yAxisSize, values: (u, splits) => splits.map((v) => tick(v, info.units)) },
        ],
      },
      [[], []],
      this.plotBox,
    );
    this.resizer = new ResizeObserver(() => this.fit());
    this.resizer.observe(this.plotBox);
  }

  /** Width of the plotting area in CSS pixels (what min_stride is computed from). */
  get plotWidth() {
    return Math.max(50, Math.round(this.plot.bbox.width / uPlot.pxRatio));
  }

  get points() {
    return this.ys.reduce((n, v) => n + (v === null ? 0 : 1), 0);
  }

  fit() {
    const width = Math.floor(this.plotBox.clientWidth);
    if (width > 0 && Math.abs(width - this.plot.width) > 1) {
      this.plot.setSize({ width, height: HEIGHT });
      this._draw();
      const loaded = this.loadedWidth;
      if (loaded && !this.loading && Math.abs(this.plotWidth - loaded) > 0.25 * loaded) {
        clearTimeout(this.widthTimer);
        this.widthTimer = setTimeout(() => this.onWidth(this), 300);
      }
    }
  }

  /** History is being fetched for `window` at `stride`; live samples are kept until it arrives. */
  beginLoad(window, stride) {
    this.loadToken = (this.loadToken || 0) + 1;
    this.window = window;
    this.stride = stride;
    this.loading = true;
    this.pending = [];
    this.element.dataset.stride = String(stride);
    this.loadedWidth = this.plotWidth;
    this.element.dataset.plotWidth = String(this.loadedWidth);
    this._setState("loading", "loading…");
    return this.loadToken;
  }

  /**
   * History arrived: ``t`` (UNIX seconds, increasing) and ``v`` (values, null
   * for gaps), for the load that `beginLoad` returned ``token`` for (older
   * loads are ignored).
   */
  setHistory(t, v, token = this.loadToken) {
    if (token !== this.loadToken) return;
    this.xs = Array.from(t);
    this.ys = Array.from(v, numeric);
    const last = this.ys.length ? this.ys[this.ys.length - 1] : null;
    this.bucket = last === null ? { sum: 0, n: 0 } : { sum: last, n: 1 };
    this.loading = false;
    this.appended = 0; // points added by live samples since this history
    this.dropped = 0; // points that slid out of a live window since
    const pending = this.pending;
    this.pending = [];
    for (const [pt, pv] of pending) this.append(pt, pv);
    this._setState(this.xs.length ? "ready" : "empty", this.xs.length ? "" : "no data in this range");
    this._draw();
  }

  loadFailed(message, token = this.loadToken) {
    if (token !== this.loadToken) return;
    this.loading = false;
    this._setState("error", message);
  }

  /** Live samples ``t`` / ``v`` (arrays) of this field. */
  append(t, v) {
    if (this.loading) {
      this.pending.push([t, v]);
      return;
    }
    if (!this.window || !this.window.live) return;
    const stride = this.stride;
    for (let i = 0; i < t.length; i++) {
      const x = t[i];
      const y = numeric(v[i]);
      const n = this.xs.length;
      const lastX = n ? this.xs[n - 1] : -Infinity;
      if (x < lastX) continue; // already in the history
      if (n && (x === lastX || (stride > 0 && x < lastX + stride))) {
        if (y !== null) {
          if (this.ys[n - 1] === null) this.appended += 1; // a gap became a point
          this.bucket.sum += y;
          this.bucket.n += 1;
          this.ys[n - 1] = this.bucket.sum / this.bucket.n;
        }
        continue;
      }
      const start = n && stride > 0 ? lastX + Math.floor((x - lastX) / stride) * stride : x;
      this.xs.push(start);
      this.ys.push(y);
      if (y !== null) this.appended += 1;
      this.bucket = y === null ? { sum: 0, n: 0 } : { sum: y, n: 1 };
    }
    // a failed history stays reported; live points are drawn all the same
    if (this.xs.length && this.element.dataset.state !== "error") this._setState("ready", "");
    this._schedule();
  }

  /** Slide a live window to now (and drop what fell out of it). */
  tick(now = Date.now() / 1000) {
    if (!this.window || !this.window.live) return;
    const lastX = this.xs.length ? this.xs[this.xs.length - 1] : now;
    this.window.end = Math.max(now, lastX);
    this.window.start = this.window.end - this.window.seconds;
    let drop = 0;
    while (drop < this.xs.length && this.xs[drop] < this.window.start - this.stride) drop++;
    if (drop) {
      this.xs.splice(0, drop);
      this.dropped += this.ys.splice(0, drop).filter((y) => y !== null).length;
    }
    this._schedule();
  }

  /**
   * Break the line where samples are missing: consecutive points further
   * apart than 3 sampling intervals (or 3 strides, downsampled). Needs the
   * timeline's interval (``info.interval``); irregular timelines are drawn
   * joined.
   */
  _gaps(u, idx0, idx1, nullGaps) {
    const interval = this.info.interval;
    if (!(interval > 0)) return nullGaps;
    const limit = 3 * Math.max(interval, this.stride);
    const xs = u.data[0];
    const gaps = nullGaps.slice();
    for (let i = idx0 + 1; i <= idx1; i++) {
      if (xs[i] - xs[i - 1] > limit) {
        uPlot.addGap(gaps, Math.round(u.valToPos(xs[i - 1], "x", true)), Math.round(u.valToPos(xs[i], "x", true)));
      }
    }
    return gaps.sort((a, b) => a[0] - b[0]);
  }

  _xRange() {
    if (this.window) return [this.window.start, this.window.end];
    const now = Date.now() / 1000;
    return [now - 900, now];
  }

  _setState(state, text) {
    this.element.dataset.state = state;
    this.status.textContent = text;
  }

  _schedule() {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => this._draw());
  }

  _draw() {
    this.dirty = false;
    this.plot.setData([this.xs, this.ys]); // x from _xRange, y auto
    const data = this.element.dataset;
    data.points = String(this.points);
    data.appended = String(this.appended || 0);
    data.dropped = String(this.dropped || 0);
    data.last = this.xs.length ? String(this.xs[this.xs.length - 1]) : "";
  }

  destroy() {
    clearTimeout(this.widthTimer);
    this.resizer.disconnect();
    this.plot.destroy();
    this.element.remove();
  }
}
