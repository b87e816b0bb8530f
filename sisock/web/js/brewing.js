// The brewing panel, shown in the view of the brewing node: a chamber's
// chart (beer, fridge, room, setpoint, profile) and state, mode and
// setpoint controls, the profile editor, active and recent alarms with
// acknowledge buttons, and the log.
//
// Everything is read on the consumer connection (consumer.brewing.io.*,
// control.status, profiles.list, alarms.active/history, logs.history and
// the node's topics). Changes are the node's procedures for admins and
// operators, called on the login's connection (admin.js): without such a
// login every change control is disabled, and the panel is read-only.

import { loginBox } from "./admin.js";
import { ChamberChart } from "./brewchart.js";
import { el, parseUtc, toUtcInput, utc, value as formatValue } from "./format.js";
import { bounds } from "./timerange.js";
import { errorText } from "./wamp.js";

/** The node the panel is for. */
export const BREWING_NODE = "brewing";
const MODES = ["off", "beer", "fridge", "profile"];
/** Decimals of the setpoint box (its step, 0.1 C): a setpoint is shown rounded to them. */
const SETPOINT_DECIMALS = 1;
/** Seconds of recent alarms and log lines shown; most log lines kept on screen. */
const RECENT = 86400;
const LOG_LINES = 200;
/** The state shown: [key of a live block's field suffix, label, units]. */
const STATE = [["mode", "mode", ""], ["beer", "beer", "C"], ["beerSet", "beer setpoint", "C"],
  ["fridge", "fridge", "C"], ["fridgeSet", "fridge setpoint", "C"], ["room", "room", "C"],
  ["heater", "heater", ""], ["cooler", "cooler", ""], ["profile", "profile now", "C"]];
/** control.status keys that differ from the recorded fields' suffixes. */
const STATUS_KEYS = { beerSet: "beer_set", fridgeSet: "fridge_set" };

const option = (value, text = value) => el("option", { value, text });

/** A profile's points as editable text: "days temperature" or "YYYY-MM-DDTHH:MM:SS temperature" (UTC) a line. */
export function pointsText(points) {
  return points.map((p) => `${p.time != null ? toUtcInput(p.time) : p.days} ${p.temperature}`).join("\n");
}

/** The inverse of `pointsText`; throws an Error naming the line it cannot read. */
export function parsePoints(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line, i) => {
    const [when, temperature, ...rest] = line.split(/\s+/);
    const t = Number(temperature);
    const at = parseUtc(when);
    const days = Number(when);
    if (rest.length || temperature === undefined || !Number.isFinite(t) || (Number.isNaN(at) && !Number.isFinite(days))) {
      throw new Error(`point ${i + 1} "${line}" is not "days temperature" or "YYYY-MM-DDTHH:MM:SS temperature"`);
    }
    return Number.isNaN(at) ? { days, temperature: t } : { time: at, temperature: t };
  });
}

export class BrewingPanel {
  /**
   * @param {Sisock} sisock  the consumer connection
   * @param {AdminLogin} admin  the admin login
   * @param {string} name  the node
   */
  constructor(sisock, admin, name = BREWING_NODE) {
    this.sisock = sisock;
    this.admin = admin;
    this.name = name;
    this.chamber = null;
    this.range = null;
    this.status = {}; // chamber -> {key: value}
    this.profiles = [];
    this.loads = {}; // what -> number of the latest load, so an older answer never overwrites a newer one
    this.logTimes = new Set();
    this.chart = new ChamberChart();
    this.chamberSelect = el("select", { "data-testid": "brew-chamber", "aria-label": "chamber" });
    this.chamberSelect.addEventListener("change", () => this._showChamber(this.chamberSelect.value));
    this.stateList = el("dl", { class: "brew-state", "data-testid": "brew-state" });
    this.message = el("p", { class: "brew-message", "data-testid": "brew-message", role: "status" });
    this.login = loginBox(admin);
    this.element = el("section", { class: "brewing", "data-testid": "brewing-panel" },
      el("header", { class: "brew-head" }, el("h3", { text: "Fermentation" }), this.chamberSelect, this.login.element),
      this.message,
      el("div", { class: "brew-grid" }, this.chart.element, this.stateList),
      this._controls(), this._profileEditor(), this._alarmsPane(), this._logPane());
    const topic = (channel) => sisock.nodeUri(name, channel);
    this.offs = [
      admin.onChange(() => this._adminChanged()),
      sisock.onLiveData(name, (block) => this._onLive(block)),
      sisock.subscribe(topic("alarms"), () => this._loadAlarms()),
      sisock.subscribe(topic("logs"), (line) => this._addLogs([line])),
      sisock.subscribe(topic("profiles"), () => this._loadProfiles()),
      sisock.subscribe(topic("io"), () => this._loadStatus(false)),
    ];
  }

  /** (Re)load everything for ``range`` (the node view's time range). */
  async reload(range) {
    this.range = range;
    await Promise.all([this._loadStatus(true), this._loadProfiles(), this._loadAlarms(), this._loadLogs()]);
    await this._loadHistory();
  }

  close() {
    this.offs.forEach((off) => off());
    this.login.close();
    this.chart.destroy();
    this.element.remove();
  }

  // -- calls -------------------------------------------------------------------
  /** Whether ``what`` may show its answer: no newer load of it began meanwhile. */
  _begin(what) {
    const n = (this.loads[what] || 0) + 1;
    this.loads[what] = n;
    return () => this.loads[what] === n;
  }

  async _read(procedure, args = []) {
    try {
      return await this.sisock.call(this.sisock.nodeUri(this.name, procedure), args);
    } catch (err) {
      this._say(`${procedure}: ${errorText(err)}`, true);
      return null;
    }
  }

  /** Call the admin procedure ``procedure``; its answer, or null (the refusal is shown). */
  async _change(procedure, args, kwargs = {}) {
    try {
      const answer = await this.admin.call(this.sisock.nodeUri(this.name, procedure), args, kwargs);
      this._say(`${procedure}: done`);
      return answer;
    } catch (err) {
      this._say(`${procedure}: ${errorText(err)}`, true);
      return null;
    }
  }

  _say(text, bad = false) {
    this.message.textContent = text;
    this.message.classList.toggle("error", bad);
  }

  /** A change control: disabled unless logged in as an admin or an operator. */
  _adminOnly(element) {
    element.dataset.admin = "";
    element.disabled = !this.admin.mayCommand;
    return element;
  }

  _button(text, testid, onClick) {
    const button = el("button", { type: "button", "data-testid": testid, text });
    button.addEventListener("click", onClick);
    return this._adminOnly(button);
  }

  _adminChanged() {
    this.element.dataset.admin = String(this.admin.loggedIn);
    for (const control of this.element.querySelectorAll("[data-admin]")) control.disabled = !this.admin.mayCommand;
  }

  // -- state, chart and controls -------------------------------------------------
  /** Read every chamber's state; ``controls``: set the mode and setpoint controls to it (an admin may be editing them). */
  async _loadStatus(controls) {
    const current = this._begin("status");
    const status = await this._read("control.status");
    if (!status || !current()) return;
    for (const [chamber, s] of Object.entries(status)) {
      this.status[chamber] = Object.fromEntries(STATE.map(([key]) => [key, s[STATUS_KEYS[key] || key]]));
    }
    const chambers = Object.keys(status).sort();
    this.chamberSelect.replaceChildren(...chambers.map((c) => option(c)));
    if (!chambers.includes(this.chamber)) this.chamber = chambers[0] || null;
    this.chamberSelect.value = this.chamber || "";
    this._renderState(controls || !this.admin.mayCommand); // a read-only page always shows the node's values
  }

  _showChamber(chamber) {
    this.chamber = chamber;
    this._renderState(true);
    this._loadHistory();
  }

  /** Show the chamber's state; ``controls`` also sets the mode and setpoint controls to it. */
  _renderState(controls = false) {
    const s = this.status[this.chamber] || {};
    this.stateList.replaceChildren(...STATE.flatMap(([key, label, units]) => [
      el("dt", { text: label }), el("dd", { "data-testid": `state-${key}`, text: formatValue(s[key], units) })]));
    if (controls) {
      this.mode.value = s.mode || "off";
      this.modeProfile.hidden = this.mode.value !== "profile";
      if (s.beerSet != null) this.setpoint.value = Number(s.beerSet).toFixed(SETPOINT_DECIMALS);
    }
  }

  async _loadHistory() {
    if (!this.chamber || !this.range) return;
    const current = this._begin("history");
    const b = bounds(this.range);
    const chamber = this.chamber;
    try {
      const result = await this.sisock.getData(this.name, this.chart.fields(chamber), b.from, b.to,
        (b.end - b.start) / this.chart.plotWidth);
      if (!current()) return;
      const t = ((result.timeline || {})[chamber] || { t: [] }).t;
      this.chart.setHistory(chamber, { start: b.start, end: b.end, live: b.live, seconds: b.end - b.start }, t,
        result.data);
    } catch (err) {
      this._say(`chart of ${chamber}: ${errorText(err)}`, true);
    }
  }

  _onLive(block) {
    this.chart.append(block);
    const { timeline, t, data } = block;
    if (!t || !t.length || !(timeline in this.status)) return;
    const s = this.status[timeline];
    for (const [key] of STATE) {
      const v = (data[`${timeline}.${key}`] || [])[t.length - 1];
      if (v !== undefined) s[key] = v;
    }
    if (timeline === this.chamber) this._renderState();
  }

  _controls() {
    this.mode = this._adminOnly(el("select", { "data-testid": "brew-mode", "aria-label": "mode" },
      ...MODES.map((m) => option(m))));
    this.modeProfile = this._adminOnly(el("select", { "data-testid": "brew-mode-profile", "aria-label": "profile" }));
    this.mode.addEventListener("change", () => (this.modeProfile.hidden = this.mode.value !== "profile"));
    this.setpoint = this._adminOnly(el("input", { type: "number", step: String(10 ** -SETPOINT_DECIMALS),
      "data-testid": "brew-setpoint", "aria-label": "setpoint in C" }));
    this.target = this._adminOnly(el("select", { "data-testid": "brew-target", "aria-label": "setpoint of" },
      option("beer"), option("fridge")));
    const setMode = () => this._change("control.mode", [this.chamber, this.mode.value],
      this.mode.value === "profile" ? { profile: this.modeProfile.value } : {});
    const setSetpoint = () => this._change("control.setpoint", [this.chamber, Number(this.setpoint.value)],
      { target: this.target.value });
    return el("div", { class: "brew-controls" },
      el("label", {}, "mode ", this.mode), this.modeProfile, this._button("set mode", "brew-set-mode", setMode),
      el("label", {}, "setpoint ", this.setpoint, " C of "), this.target,
      this._button("set", "brew-set-setpoint", setSetpoint));
  }

  // -- profiles --------------------------------------------------------------------
  _profileEditor() {
    this.profileSelect = el("select", { "data-testid": "profile-select", "aria-label": "profile to edit" });
    this.profileSelect.addEventListener("change", () => this._editProfile());
    this.profileName = this._adminOnly(el("input", { "data-testid": "profile-name", placeholder: "name",
      "aria-label": "profile name" }));
    this.profilePoints = this._adminOnly(el("textarea", { "data-testid": "profile-points", rows: "4",
      "aria-label": "profile points", placeholder: "one point a line: days temperature (0 18), or UTC time temperature" }));
    const save = async () => {
      let points;
      try {
        points = parsePoints(this.profilePoints.value);
      } catch (err) {
        this._say(err.message, true);
        return;
      }
      const record = { name: this.profileName.value, points };
      const id = Number(this.profileSelect.value);
      const saved = await (id ? this._change("profiles.update", [id, record]) : this._change("profiles.create", [record]));
      if (saved) this.profileSelect.value = String(saved.id);
    };
    const remove = () => this._change("profiles.delete", [Number(this.profileSelect.value)]);
    return el("div", { class: "brew-profiles" }, el("h4", { text: "Temperature profiles" }),
      el("div", { class: "row" }, this.profileSelect, this.profileName,
        this._button("save", "profile-save", save), this._button("delete", "profile-delete", remove)),
      this.profilePoints);
  }

  async _loadProfiles() {
    const current = this._begin("profiles");
    const profiles = await this._read("profiles.list");
    if (!profiles || !current()) return;
    this.profiles = profiles;
    const editing = this.profileSelect.value;
    const shown = this.modeProfile.value;
    this.profileSelect.replaceChildren(option("", "new profile…"), ...profiles.map((p) => option(String(p.id), p.name)));
    this.modeProfile.replaceChildren(...profiles.map((p) => option(p.name)));
    this.profileSelect.value = profiles.some((p) => String(p.id) === editing) ? editing : "";
    if (profiles.some((p) => p.name === shown)) this.modeProfile.value = shown;
    this._editProfile();
  }

  _editProfile() {
    const profile = this.profiles.find((p) => String(p.id) === this.profileSelect.value);
    this.profileName.value = profile ? profile.name : "";
    this.profilePoints.value = profile ? pointsText(profile.points) : "";
  }

  // -- alarms and logs -----------------------------------------------------------------
  _alarmsPane() {
    this.activeBody = el("tbody", { "data-testid": "alarms-active" });
    this.recentBody = el("tbody", { "data-testid": "alarms-recent" });
    const simulate = () => this._change("alarms.simulate", [this.chamber, "test", "minor", "test alarm from the browser"]);
    const head = (...names) => el("thead", {}, el("tr", {}, ...names.map((n) => el("th", { text: n }))));
    return el("div", { class: "brew-alarms" },
      el("h4", { text: "Active alarms" }),
      el("div", { class: "row" }, this._button("acknowledge all", "alarms-ack-all", () => this._change("alarms.ack_all", [])),
        this._button("raise a test alarm", "alarms-simulate", simulate)),
      el("table", { class: "fields" }, head("raised (UTC)", "chamber", "severity", "code", "message", "state", ""),
        this.activeBody),
      el("h4", { text: "Alarms of the last 24 h" }),
      el("table", { class: "fields" }, head("raised (UTC)", "chamber", "severity", "message", "cleared", "acknowledged"),
        this.recentBody));
  }

  async _loadAlarms() {
    const current = this._begin("alarms");
    const [active, recent] = await Promise.all([this._read("alarms.active"), this._read("alarms.history", [-RECENT, 0])]);
    if (!active || !recent || !current()) return;
    const cells = (a, ...texts) => el("tr", { "data-alarm": String(a.id), "data-acked-by": a.acked_by || "" },
      ...texts.map((text) => el("td", { text: text == null ? "" : String(text) })));
    this.activeBody.replaceChildren(...active.map((a) => {
      const row = cells(a, utc(a.raised), a.chamber, a.severity, a.code, a.message,
        a.acked ? `acknowledged by ${a.acked_by}` : a.cleared ? "cleared" : "open");
      const ack = this._button("acknowledge", "alarm-ack", () => this._change("alarms.ack", [a.id]));
      ack.hidden = !!a.acked;
      row.append(el("td", {}, ack));
      return row;
    }));
    this.recentBody.replaceChildren(...recent.slice().reverse().map((a) => cells(a, utc(a.raised), a.chamber,
      a.severity, a.message, utc(a.cleared), a.acked ? `${utc(a.acked)} by ${a.acked_by}` : "")));
  }

  _logPane() {
    this.logList = el("ul", { class: "brew-log", "data-testid": "brew-log" });
    return el("div", { class: "brew-logs" }, el("h4", { text: "Log" }), this.logList);
  }

  async _loadLogs() {
    const current = this._begin("logs");
    const lines = await this._read("logs.history", [-RECENT, 0]);
    if (!lines || !current()) return;
    this.logTimes.clear();
    this.logList.replaceChildren();
    this._addLogs(lines.slice(-LOG_LINES));
  }

  /** Show log lines {t, source, level, code, msg} (oldest first) above the older ones. */
  _addLogs(lines) {
    for (const line of lines) {
      if (!line || typeof line !== "object" || this.logTimes.has(line.t)) continue;
      if (line.t != null) this.logTimes.add(line.t); // a line published over HTTP has no time: now
      this.logList.prepend(el("li", { class: `level-${line.level}`, "data-level": String(line.level) },
        el("time", { text: utc(line.t ?? Date.now() / 1000) }), ` ${line.source} ${line.level} ${line.code}: ${line.msg}`));
    }
    while (this.logList.children.length > LOG_LINES) this.logList.lastChild.remove();
  }
}
