// The chamber chart of the brewing panel: beer, fridge, room, beer setpoint
// and the profile's temperature of one chamber on one uPlot, history then
// live blocks (the chamber's timeline, fields "<chamber>.beer", ...).

/* global uPlot */

import { AXIS, timeTicks, utcDate, yAxisSize } from "./chart.js";
import { el, tick, utc, value as formatValue } from "./format.js";

const HEIGHT = 260;
/** [field suffix, colour, dashed]: what the chart draws. */
export const SERIES = [
  ["beer", "#ffb74d", false], ["fridge", "#4fc3f7", false], ["room", "#81c784", false],
  ["beerSet", "#f06292", true], ["profile", "#ba68c8", true]];

/** Numbers as charted: anything else as a gap. */
const numeric = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

export class ChamberChart {
  constructor() {
    this.chamber = null;
    this.window = null; // {start, end, live, seconds}
    this.data = [[], ...SERIES.map(() => [])];
    this.element = el("section", { class: "chart brew-chart", "data-testid": "brew-chart", "data-points": "0" });
    this.plotBox = el("div", { class: "plot" });
    this.element.append(this.plotBox);
    this.plot = new uPlot({
      width: 600,
      height: HEIGHT,
      tzDate: utcDate,
      padding: [10, 20, 0, 0],
      scales: { x: { time: true, range: () => this._xRange() } },
      cursor: { drag: { x: false, y: false } },
      series: [
        { label: "UTC", value: (u, v) => (v === null ? "—" : utc(v)) },
        ...SERIES.map(([name, stroke, dashed]) => ({
          label: name, stroke, width: 1.5, dash: dashed ? [6, 4] : undefined,
          value: (u, v) => formatValue(v, "C", "number"),
        })),
      ],
      axes: [
        { ...AXIS, values: timeTicks },
        { ...AXIS, size: yAxisSize, values: (u, splits) => splits.map((v) => tick(v)) },
      ],
    }, this.data, this.plotBox);
    this.resizer = new ResizeObserver(() => this.fit());
    this.resizer.observe(this.plotBox);
  }

  /** The ``<chamber>.<suffix>`` field names drawn, in series order. */
  fields(chamber = this.chamber) {
    return SERIES.map(([name]) => `${chamber}.${name}`);
  }

  /** Width of the plotting area in CSS pixels (what the history's min_stride comes from). */
  get plotWidth() {
    return Math.max(50, Math.round(this.plot.bbox.width / uPlot.pxRatio));
  }

  fit() {
    const width = Math.floor(this.plotBox.clientWidth);
    if (width > 0 && Math.abs(width - this.plot.width) > 1) this.plot.setSize({ width, height: HEIGHT });
  }

  /** History of ``chamber`` over ``window``: ``t`` (UNIX s) and ``data`` {field: [v, ...]}. */
  setHistory(chamber, window, t, data) {
    this.chamber = chamber;
    this.window = window;
    this.data = [Array.from(t), ...this.fields().map((f) => Array.from(data[f] || [], numeric))];
    this._draw();
  }

  /** A live block {timeline, t, data} of the node: appended if it is this chamber's and the window is live. */
  append({ timeline, t, data }) {
    if (timeline !== this.chamber || !this.window || !this.window.live) return;
    const xs = this.data[0];
    t.forEach((x, i) => {
      if (xs.length && x <= xs[xs.length - 1]) return;
      xs.push(x);
      this.fields().forEach((f, k) => this.data[k + 1].push(numeric((data[f] || [])[i])));
    });
    this.window.end = Math.max(Date.now() / 1000, xs[xs.length - 1] || 0);
    this.window.start = this.window.end - this.window.seconds;
    let drop = 0;
    while (drop < xs.length && xs[drop] < this.window.start) drop++;
    if (drop) this.data.forEach((column) => column.splice(0, drop));
    this._draw();
  }

  _xRange() {
    if (this.window) return [this.window.start, this.window.end];
    const now = Date.now() / 1000;
    return [now - 900, now];
  }

  _draw() {
    this.plot.setData(this.data);
    this.element.dataset.points = String(this.data[0].length);
    this.element.dataset.chamber = this.chamber || "";
  }

  destroy() {
    this.resizer.disconnect();
    this.plot.destroy();
    this.element.remove();
  }
}
