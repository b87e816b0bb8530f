// The view of one data node: its fields with live values, and charts of
// the fields chosen, over the chosen time range.

import { showValue } from "./cells.js";
import { Chart } from "./chart.js";
import { el, perFrame, utc } from "./format.js";
import { errorText } from "./wamp.js";
import { bounds, label, RangePicker } from "./timerange.js";

/** Fields charted when a node is first opened: the interesting one if there is one, else the first number. */
const FAVOURITES = ["temperature", "cpu_percent"];

function defaultCharts(fields) {
  const names = Object.keys(fields);
  const favourite = FAVOURITES.find((f) => f in fields);
  if (favourite) return [favourite];
  const first = names.find((f) => fields[f].type !== "string");
  return first ? [first] : [];
}

export class NodeView {
  /**
   * @param {Sisock} sisock  the connection
   * @param {string} name  node name
   * @param {object} options  {description, range, charted: [field] or null, online, onChange(view)}
   */
  constructor(sisock, name, { description = "", range, charted = null, online = true, onChange = () => {} }) {
    this.sisock = sisock;
    this.name = name;
    this.range = range;
    this.charted = charted; // null until the fields are known: then the defaults
    this.onChange = onChange;
    this.fields = {}; // field -> {description, timeline, type, units}
    this.timelines = {};
    this.values = {}; // field -> {v, t}
    this.charts = new Map();
    this.panels = []; // node-specific panels (attach)
    this.gen = 0;
    this.closed = false;
    this._queueRender = perFrame(() => this._renderValues());

    this.title = el("h2", { "data-testid": "node-title", text: name });
    this.descriptionEl = el("p", { class: "node-desc", text: description });
    this.banner = el("p", { class: "banner", "data-testid": "node-banner", hidden: "" });
    this.picker = new RangePicker((r) => this.setRange(r));
    this.picker.set(range);
    this.rangeLabel = el("span", { class: "range-label", "data-testid": "range-label", text: label(range) });
    this.fieldsBody = el("tbody");
    this.valueHead = el("th", { class: "num", "data-testid": "values-heading", text: "latest value" });
    this.fieldsMessage = el("p", { class: "muted", "data-testid": "fields-message", text: "loading fields…" });
    const table = (this.table = el("table", { class: "fields", "data-testid": "fields-table", hidden: "" },
      el("thead", {}, el("tr", {},
        el("th", { text: "chart" }), el("th", { text: "field" }), this.valueHead,
        el("th", { text: "at (UTC)" }), el("th", { text: "units" }), el("th", { text: "type" }),
        el("th", { text: "timeline" }))),
      this.fieldsBody));
    this.chartsEl = el("div", { class: "charts", "data-testid": "charts" });
    this.element = el("article", { class: "node-view", "data-testid": "node-view", "data-node": name },
      el("header", { class: "node-head" }, el("div", {}, this.title, this.descriptionEl), this.banner),
      el("div", { class: "range-bar" }, this.picker.element, this.rangeLabel),
      el("div", { class: "panes" },
        this.chartsEl,
        el("section", { class: "fields-pane" }, table, this.fieldsMessage)));
    this.setOnline(online);

    this.unsubscribe = sisock.onLiveData(name, (event) => this._onLive(event));
    this.ticker = setInterval(() => this.charts.forEach((c) => c.tick()), 1000);
  }

  close() {
    this.closed = true;
    this.gen += 1;
    this.unsubscribe();
    clearInterval(this.ticker);
    this.panels.forEach((p) => p.close());
    this.charts.forEach((c) => c.destroy());
    this.charts.clear();
    this.element.remove();
  }

  setOnline(online, when = null) {
    this.online = online;
    this.element.dataset.online = String(online);
    if (online) {
      this.banner.hidden = true;
    } else {
      this.banner.hidden = false;
      this.banner.textContent = when
        ? `${this.name} left the hub at ${utc(when)} UTC; values are as last seen`
        : `${this.name} is not connected to the hub`;
    }
  }

  setRange(range) {
    this.range = range;
    this.values = {}; // what was shown belongs to the old range
    this.picker.set(range);
    this.rangeLabel.textContent = label(range);
    this.onChange(this);
    this.reload();
  }

  /** Show a node-specific ``panel`` ({element, reload(range), close()}) under the header, loaded with the view. */
  attach(panel) {
    this.panels.push(panel);
    this.element.querySelector(".node-head").after(panel.element);
  }

  /** (Re)load everything: fields for the range, history of every chart, latest values, panels. */
  async reload() {
    const gen = ++this.gen;
    this.panels.forEach((p) => p.reload(this.range));
    const b = bounds(this.range);
    this.valueHead.textContent = b.live ? "latest value" : "value at end of range";
    if (!b.live) this.values = {};
    try {
      const [fields, timelines] = await this.sisock.getFields(this.name, b.from, b.to);
      if (gen !== this.gen) return;
      Object.assign(this.fields, fields);
      Object.assign(this.timelines, timelines);
      this.fieldsMessage.textContent = Object.keys(fields).length ? "" : `no fields with data in ${label(this.range)}`;
    } catch (err) {
      if (gen !== this.gen) return;
      this.fieldsMessage.textContent = `could not read the fields: ${errorText(err)}`;
    }
    if (this.charted === null && Object.keys(this.fields).length) {
      this.charted = defaultCharts(this.fields);
      this.onChange(this);
    }
    this._renderFields();
    for (const field of this.charted || []) this._ensureChart(field);
    await Promise.all([this._loadHistory([...this.charts.values()], gen), this._loadLatest(gen)]);
  }

  toggleChart(field, on) {
    this.charted = (this.charted || []).filter((f) => f !== field);
    if (on) {
      this.charted.push(field);
      this._loadHistory([this._ensureChart(field)], this.gen);
    } else if (this.charts.has(field)) {
      this.charts.get(field).destroy();
      this.charts.delete(field);
    }
    const box = this.fieldsBody.querySelector(`input[data-field="${CSS.escape(field)}"]`);
    if (box) box.checked = on;
    this.onChange(this);
  }

  // -- charts ----------------------------------------------------------------
  _ensureChart(field) {
    let chart = this.charts.get(field);
    if (!chart) {
      const info = this.fields[field] || {};
      chart = new Chart({ node: this.name, field, index: this.charts.size, ...info },
        (f) => this.toggleChart(f, false),
        (c) => this._loadHistory([c], this.gen));
      this.chartsEl.append(chart.element);
      chart.fit();
      this.charts.set(field, chart);
    }
    return chart;
  }

  /** Fetch history for ``charts``: one get_data per distinct stride, downsampled to the plot width. */
  async _loadHistory(charts, gen) {
    const b = bounds(this.range);
    const span = b.end - b.start;
    const groups = new Map();
    for (const chart of charts) {
      const info = this.fields[chart.info.field] || {};
      chart.info.interval = (this.timelines[info.timeline] || {}).interval;
      chart.fit();
      const stride = +(span / chart.plotWidth).toPrecision(6);
      const token = chart.beginLoad({ start: b.start, end: b.end, live: b.live, seconds: span }, stride);
      if (!groups.has(stride)) groups.set(stride, []);
      groups.get(stride).push([chart, token]);
    }
    await Promise.all([...groups].map(async ([stride, group]) => {
      const names = group.map(([c]) => c.info.field);
      try {
        const result = await this.sisock.getData(this.name, names, b.from, b.to, stride);
        if (gen !== this.gen) return;
        for (const [chart, token] of group) {
          const f = chart.info.field;
          const t = this._timesOf(f, result);
          const v = result.data[f] || [];
          const ok = t.length === v.length;
          chart.setHistory(ok ? t : [], ok ? v : [], token);
        }
      } catch (err) {
        if (gen !== this.gen) return;
        group.forEach(([chart, token]) => chart.loadFailed(errorText(err), token));
      }
    }));
    this._queueRender();
  }

  /** The time axis of ``field`` in a get_data answer. */
  _timesOf(field, result) {
    const timelines = result.timeline || {};
    const tl = (this.fields[field] || {}).timeline;
    if (tl && timelines[tl]) return timelines[tl].t;
    const n = (result.data[field] || []).length;
    const match = Object.values(timelines).find((x) => x.t.length === n);
    return match ? match.t : [];
  }

  // -- values ----------------------------------------------------------------
  /**
   * Values of the table. For a live range the latest: get_latest where the
   * node has it, else the last sample in the range, then live events. For a
   * fixed range (a day, custom) the last sample in the range.
   */
  async _loadLatest(gen) {
    const b = bounds(this.range);
    if (b.live) await this._getLatest(gen);
    if (gen !== this.gen) return;
    // The last raw samples of a tail of the range ten sampling intervals
    // long (when the timelines say their interval); for what is still
    // missing, the last bucket of the whole range in 1000 buckets.
    const span = b.end - b.start;
    const missing = () => Object.keys(this.fields).filter((f) => !(f in this.values));
    const intervals = missing().map((f) => (this.timelines[this.fields[f].timeline] || {}).interval);
    if (intervals.length && intervals.every((i) => i > 0)) {
      const tail = Math.min(span, 10 * Math.max(...intervals));
      if (!(await this._valuesFrom(missing(), b.to - tail, b.to, null, gen))) return;
    }
    if (missing().length) await this._valuesFrom(missing(), b.from, b.to, span / 1000, gen);
    this._queueRender();
  }

  /** Offer the last samples of ``fields`` in a range as values; false if the view moved on. */
  async _valuesFrom(fields, from, to, stride, gen) {
    try {
      const result = await this.sisock.getData(this.name, fields, from, to, stride);
      if (gen !== this.gen) return false;
      for (const f of fields) this._offerValue(f, this._timesOf(f, result), result.data[f] || []);
    } catch (err) {
      console.warn(`values of ${this.name}: ${errorText(err)}`);
    }
    return gen === this.gen;
  }

  async _getLatest(gen) {
    try {
      const latest = await this.sisock.getLatest(this.name);
      if (gen !== this.gen) return;
      for (const block of Object.values(latest || {})) {
        for (const [f, v] of Object.entries(block.data || {})) this._offerValue(f, block.t, v);
      }
    } catch (err) {
      console.warn(`get_latest of ${this.name}: ${errorText(err)}`);
    }
  }

  /** Keep the last non-null sample of ``v`` as the field's value if it is newer than the one shown. */
  _offerValue(field, t, v) {
    for (let i = Math.min(t.length, v.length) - 1; i >= 0; i--) {
      if (v[i] === null || v[i] === undefined) continue;
      const known = this.values[field];
      if (!known || t[i] >= known.t) this.values[field] = { v: v[i], t: t[i] };
      return;
    }
  }

  _onLive({ timeline, t, data }) {
    if (this.closed || !t || !data) return;
    let fresh = false;
    for (const [f, v] of Object.entries(data)) {
      if (!(f in this.fields)) {
        this.fields[f] = { timeline, type: typeof v[0] === "string" ? "string" : "number", units: "", description: "" };
        fresh = true;
      }
      if (this.live) this._offerValue(f, t, v);
      const chart = this.charts.get(f);
      if (chart) chart.append(t, v);
    }
    if (fresh) this._renderFields();
    this._queueRender();
  }

  // -- the fields table -------------------------------------------------------
  _renderFields() {
    const rows = new Map([...this.fieldsBody.children].map((r) => [r.dataset.field, r]));
    const names = Object.keys(this.fields).sort();
    for (const f of names) {
      if (rows.has(f)) continue;
      const info = this.fields[f];
      const box = el("input", { type: "checkbox", "data-testid": `chart-toggle-${f}`, "data-field": f,
        "aria-label": `chart ${f}` });
      box.checked = (this.charted || []).includes(f);
      box.disabled = info.type === "string";
      box.addEventListener("change", () => this.toggleChart(f, box.checked));
      const row = el("tr", { "data-testid": "field-row", "data-field": f },
        el("td", {}, box),
        el("td", { class: "field", title: info.description || "" },
          el("span", { class: "fname", text: f }), el("span", { class: "fdesc", text: info.description || "" })),
        el("td", { class: "num value", "data-testid": `value-${f}`, text: "—" }),
        el("td", { class: "at", "data-testid": `at-${f}` }),
        el("td", { text: info.units || "" }),
        el("td", { text: info.type || "" }),
        el("td", { text: info.timeline || "" }));
      rows.set(f, row);
    }
    for (const f of names) this.fieldsBody.append(rows.get(f)); // sorted order
    this.table.hidden = names.length === 0;
    this._queueRender();
  }


  _renderValues() {
    for (const row of this.fieldsBody.children) {
      const f = row.dataset.field;
      const known = this.values[f];
      const info = this.fields[f] || {};
      const cell = row.querySelector(".value");
      showValue(cell, known ? known.v : null, info);
      cell.dataset.t = known ? String(known.t) : "";
      row.querySelector(".at").textContent = known ? utc(known.t) : "";
    }
  }

  /** Whether the range follows now (live events update the values and charts). */
  get live() {
    return bounds(this.range).live;
  }
}
