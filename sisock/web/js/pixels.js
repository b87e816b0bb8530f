// The display of a pixel node (nodes/pixels), drawn live on a canvas.
//
// Wire contract (the pixel node's docstring):
//   BASE.consumer.NAME.get_state() -> {width, height, brightness, frame: [row][column][r, g, b],
//                                      keys: {key: {index, x, y}}, seq, t, about, legend, ...}
//   BASE.consumer.NAME.frame  events {seq, t, width, height, brightness, rgb, pixels: [row][column][r, g, b],
//                                     about, legend}
// A node that does not answer get_state with a frame is not a display: nothing is shown.
// Colours are drawn as set (brightness is shown as a number, as in the node's PNG snapshots).
// ``about`` (what the display shows) and ``legend`` ({label: [r, g, b]}, what its colours mean) are
// what the client drawing on it said with ``describe``: shown above and beside the drawing.

import { el, utc } from "./format.js";
import { errorText, NO_SUCH_PROCEDURE } from "./wamp.js";

/** Largest drawing, in CSS pixels, and the cell sizes allowed. */
const MAX_WIDTH = 960;
const MAX_HEIGHT = 320;
const CELL = { min: 2, max: 48 };
/** Height of the cells of a strip (a display one row tall), in CSS pixels: readable across a room. */
const STRIP_HEIGHT = 40;

/** Whether ``s`` is a display's state or frame: a height x width grid of [r, g, b]. */
function isFrame(s) {
  return !!s && Number.isInteger(s.width) && Number.isInteger(s.height) && Array.isArray(s.frame || s.pixels)
    && (s.frame || s.pixels).length === s.height;
}

export class PixelDisplay {
  /**
   * @param {Sisock} sisock  the connection
   * @param {string} name  node name
   */
  constructor(sisock, name) {
    this.sisock = sisock;
    this.name = name;
    this.t = -Infinity; // when the frame drawn was shown (UNIX s): frames are ordered by it, a restarted node
    // may count seq from 0 again
    this.keys = {};
    this.gen = 0;
    this.canvas = el("canvas", { class: "pixel-canvas", "data-testid": "pixel-canvas" });
    this.caption = el("p", { class: "muted pixel-caption", "data-testid": "pixel-caption" });
    this.about = el("p", { class: "pixel-about", "data-testid": "pixel-about", hidden: "" });
    this.legend = el("ul", { class: "pixel-legend", "data-testid": "pixel-legend", "aria-label": "legend", hidden: "" });
    this.element = el("section", { class: "pixel-display", "data-testid": "pixel-display", "data-state": "none",
      hidden: "" }, el("h3", { text: "display" }), this.about,
    el("div", { class: "pixel-body" }, this.canvas, this.legend), this.caption);
    this.canvas.addEventListener("mousemove", (e) => this._hover(e));
    // Subscribed before the first get_state goes out, so no frame falls between the two.
    this.unsubscribe = sisock.subscribe(sisock.nodeUri(name, "frame"), (event) => this._onFrame(event));
  }

  close() {
    this.gen += 1;
    this.unsubscribe();
    this.element.remove();
  }

  /** Draw the frame shown now (get_state); frame events keep it current from then on (a panel of
   * `NodeView.attach`: the view's time range does not change what a display shows now). */
  async reload() {
    const gen = ++this.gen;
    try {
      const state = await this.sisock.call(this.sisock.nodeUri(this.name, "get_state"));
      if (gen !== this.gen || !isFrame(state)) return;
      this.keys = state.keys || {};
      if (state.t >= this.t) this._draw(state.frame, state);
    } catch (err) {
      if (gen !== this.gen || (err && err.error === NO_SUCH_PROCEDURE)) return; // not a display (or gone)
      this.caption.textContent = `could not read the display: ${errorText(err)}`;
    }
  }

  _onFrame(event) {
    if (isFrame(event) && event.t > this.t) this._draw(event.pixels, event);
  }

  /** Show what the display shows and what its colours mean (``describe``), when they changed. */
  _describe({ about = "", legend = {} }) {
    const key = JSON.stringify([about, legend]);
    if (key === this.described) return;
    this.described = key;
    this.about.textContent = about;
    this.about.hidden = !about;
    this.legend.replaceChildren(...Object.entries(legend || {}).map(([label, [r, g, b]]) =>
      el("li", { "data-testid": "pixel-legend-item", "data-color": `${r},${g},${b}` },
        el("span", { class: "swatch", style: `background: rgb(${r}, ${g}, ${b})` }), label)));
    this.legend.hidden = !this.legend.children.length;
  }

  /** Draw ``frame`` ([row][column][r, g, b]) shown at ``t`` as frame ``seq``. */
  _draw(frame, state) {
    const { width, height, seq, t, brightness } = state;
    this.t = t;
    this._describe(state);
    const cell = Math.max(CELL.min, Math.min(CELL.max, Math.floor(Math.min(MAX_WIDTH / width, MAX_HEIGHT / height))));
    const cellHeight = height === 1 ? Math.max(cell, STRIP_HEIGHT) : cell; // a strip is drawn tall enough to read
    const gap = cell >= 8 ? 1 : 0;
    if (this.canvas.width !== width * cell || this.canvas.height !== height * cellHeight) {
      this.canvas.width = width * cell;
      this.canvas.height = height * cellHeight;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const [r, g, b] = frame[y][x];
        ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
        ctx.fillRect(x * cell + gap, y * cellHeight + gap, cell - 2 * gap, cellHeight - 2 * gap);
      }
    }
    Object.assign(this.element.dataset, { state: "ready", seq: String(seq), width: String(width),
      height: String(height), cell: String(cell), cellHeight: String(cellHeight), gap: String(gap) });
    this.frame = frame;
    this.element.hidden = false;
    const shape = height === 1 ? `strip of ${width}` : `${width} x ${height}`;
    this.caption.textContent = `${shape}, frame ${seq} at ${utc(t)} UTC, brightness ${Math.round(brightness * 100)} %`;
  }

  /** Tooltip of the pixel under the mouse: position, key, colour. */
  _hover(e) {
    const { cell, cellHeight } = this.element.dataset;
    if (!+cell || !this.frame) return;
    const x = Math.floor(e.offsetX / +cell);
    const y = Math.floor(e.offsetY / +cellHeight);
    const width = +this.element.dataset.width;
    const row = this.frame[y];
    if (!row || !row[x]) return;
    const index = y * width + x;
    const key = Object.keys(this.keys).find((k) => this.keys[k].index === index);
    this.canvas.title = `index ${index} (x ${x}, y ${y})${key ? `, key ${key}` : ""}: [${row[x].join(", ")}]`;
  }
}
