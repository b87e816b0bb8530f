// Time ranges of the charts and the picker that chooses one.
//
// A range is one of
//   {kind: "relative", seconds}     the last `seconds` up to now, follows live data
//   {kind: "day", day: "YYYY-MM-DD"} one UTC day (archive browsing)
//   {kind: "custom", start, end}    fixed UNIX seconds, [start, end)

import { duration, el, parseDay, parseUtc, toUtcInput, utc, utcDay } from "./format.js";

export const PRESETS = [
  ["15m", 900, "15 min"],
  ["1h", 3600, "1 h"],
  ["24h", 86400, "24 h"],
  ["7d", 7 * 86400, "7 d"],
];

export const relative = (seconds) => ({ kind: "relative", seconds });
export const day = (text) => ({ kind: "day", day: text });
export const custom = (start, end) => ({ kind: "custom", start, end });

/**
 * Where a range is now.
 *
 * Returns {start, end} in UNIX seconds for the chart's axis, {from, to} as
 * sent to a node (relative ranges go as sisock relative times, so the node's
 * clock decides "now"), and whether live events extend it.
 */
export function bounds(range, now = Date.now() / 1000) {
  if (range.kind === "relative") {
    return { start: now - range.seconds, end: now, from: -range.seconds, to: 0, live: true };
  }
  if (range.kind === "day") {
    const start = parseDay(range.day);
    return { start, end: start + 86400, from: start, to: start + 86400, live: false };
  }
  return { start: range.start, end: range.end, from: range.start, to: range.end, live: false };
}

/** Text for the URL: "15m", "day:2017-07-15", "1500076800-1500080400". */
export function encode(range) {
  if (range.kind === "relative") {
    const preset = PRESETS.find(([, s]) => s === range.seconds);
    return preset ? preset[0] : `${range.seconds}s`;
  }
  if (range.kind === "day") return `day:${range.day}`;
  return `${range.start}-${range.end}`;
}

/** Inverse of `encode`; null for anything it does not understand. */
export function decode(text) {
  if (!text) return null;
  const preset = PRESETS.find(([key]) => key === text);
  if (preset) return relative(preset[1]);
  let m = /^(\d+)s$/.exec(text);
  if (m && +m[1] > 0) return relative(+m[1]);
  m = /^day:(\d{4}-\d{2}-\d{2})$/.exec(text);
  if (m && Number.isFinite(parseDay(m[1]))) return day(m[1]);
  m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(text);
  if (m && +m[1] < +m[2]) return custom(+m[1], +m[2]);
  return null;
}

/** Human label: "last 15 min", "2017-07-15 (UTC day)", "from ... to ... UTC". */
export function label(range) {
  if (range.kind === "relative") {
    const preset = PRESETS.find(([, s]) => s === range.seconds);
    return `last ${preset ? preset[2] : duration(range.seconds)}`;
  }
  if (range.kind === "day") return `${range.day} (UTC day)`;
  return `${utc(range.start)} to ${utc(range.end)} UTC`;
}

/** The range picker: preset buttons, a UTC day with previous/next, a custom from/to in UTC. */
export class RangePicker {
  constructor(onChange) {
    this.onChange = onChange;
    this.range = relative(900);
    this.buttons = new Map();
    const seg = el("div", { class: "segmented", role: "group", "aria-label": "time range" });
    for (const [key, seconds, text] of PRESETS) {
      const b = el("button", { type: "button", "data-testid": `range-${key}`, text });
      b.addEventListener("click", () => this._choose(relative(seconds)));
      seg.append(b);
      this.buttons.set(key, b);
    }
    const dayButton = el("button", { type: "button", "data-testid": "range-day", text: "Day" });
    dayButton.addEventListener("click", () => this._choose(day(this.dayInput.value || utcDay(Date.now() / 1000))));
    const customButton = el("button", { type: "button", "data-testid": "range-custom", text: "Custom" });
    customButton.addEventListener("click", () => this._showCustom());
    seg.append(dayButton, customButton);
    this.buttons.set("day", dayButton);
    this.buttons.set("custom", customButton);

    this.dayInput = el("input", { type: "date", "data-testid": "day-input", "aria-label": "UTC day" });
    this.dayInput.addEventListener("change", () => {
      if (Number.isFinite(parseDay(this.dayInput.value))) this._choose(day(this.dayInput.value));
    });
    const prev = el("button", { type: "button", class: "icon", "data-testid": "day-prev", title: "previous day", text: "◀" });
    const next = el("button", { type: "button", class: "icon", "data-testid": "day-next", title: "next day", text: "▶" });
    prev.addEventListener("click", () => this._shiftDay(-1));
    next.addEventListener("click", () => this._shiftDay(+1));
    this.dayControls = el("span", { class: "day-controls" }, prev, this.dayInput, next);

    this.fromInput = el("input", { type: "datetime-local", step: "1", "data-testid": "from-input", "aria-label": "from (UTC)" });
    this.toInput = el("input", { type: "datetime-local", step: "1", "data-testid": "to-input", "aria-label": "to (UTC)" });
    this.customError = el("span", { class: "error", "data-testid": "custom-error" });
    const apply = el("button", { type: "submit", "data-testid": "apply-custom", text: "Apply" });
    this.customControls = el("form", { class: "custom-controls" },
      el("label", {}, "from ", this.fromInput), el("label", {}, " to ", this.toInput), " ", apply, this.customError);
    this.customControls.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._applyCustom();
    });

    this.element = el("div", { class: "range-picker", "data-testid": "range-picker" },
      seg, this.dayControls, this.customControls, el("span", { class: "note", text: "times in UTC" }));
    this.set(this.range);
  }

  /** Show ``range`` as the current one (does not call onChange). */
  set(range) {
    this.range = range;
    const key = range.kind === "relative" ? encode(range) : range.kind;
    for (const [k, b] of this.buttons) b.classList.toggle("active", k === key);
    this.dayControls.hidden = range.kind !== "day";
    this.customControls.hidden = range.kind !== "custom";
    if (range.kind === "day") this.dayInput.value = range.day;
    if (range.kind === "custom") {
      this.fromInput.value = toUtcInput(range.start);
      this.toInput.value = toUtcInput(range.end);
    }
    this.customError.textContent = "";
  }

  _choose(range) {
    this.set(range);
    this.onChange(range);
  }

  _shiftDay(days) {
    const start = parseDay(this.dayInput.value);
    if (Number.isFinite(start)) this._choose(day(utcDay(start + days * 86400)));
  }

  _showCustom() {
    // Start from what is shown now, so "Custom" then "Apply" freezes the view.
    const b = bounds(this.range);
    this.set(custom(Math.floor(b.start), Math.ceil(b.end)));
    this.buttons.get("custom").classList.add("active");
  }

  _applyCustom() {
    const start = parseUtc(this.fromInput.value);
    const end = parseUtc(this.toInput.value);
    if (!Number.isFinite(start) || !Number.isFinite(end)) {
      this.customError.textContent = "enter both times (UTC)";
    } else if (!(start < end)) {
      this.customError.textContent = "“from” must be before “to”";
    } else {
      this._choose(custom(start, end));
    }
  }
}
