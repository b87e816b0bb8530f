// The alert panel (the bell in the header opens it): every alert of the
// alert feed (alerts.js) with its state, severity, node, summary, since
// when and who acknowledged it. Signed in as an operator or an admin
// (admin.js), each alert has "ack" and "silence" buttons:
//   BASE.hub.alerts.ack(alert_id)
//   BASE.hub.alerts.silence(matcher, until, comment)   matcher: the alert's rule id (every alert of the rule)
// Anonymous viewers see no buttons; a refused action is said in the panel.

import { PanelLogin } from "./admin.js";
import { duration, el, perFrame, utc } from "./format.js";
import { errorText } from "./wamp.js";

/** Roles that may acknowledge and silence alerts. */
const CHANGERS = ["admin", "operator"];
/** Silence lengths offered, seconds. */
const SILENCES = [3600, 4 * 3600, 86400];

export class AlertPanel {
  /**
   * @param {Sisock} sisock  the consumer connection
   * @param {AdminLogin} admin  the login whose role may change alerts
   * @param {AlertFeed} feed  the alerts
   */
  constructor(sisock, admin, feed) {
    this.sisock = sisock;
    this.admin = admin;
    this.feed = feed;
    this.silenceFor = el("select", { "data-testid": "alert-silence-for", "aria-label": "silence for" },
      ...SILENCES.map((s) => el("option", { value: String(s), text: `silence ${duration(s)}` })));
    this.head = el("header", { class: "alerts-head" }, el("h2", { text: "Alerts" }), this.silenceFor);
    this.login = new PanelLogin(admin, this.head);
    this.message = el("p", { class: "alerts-message", "data-testid": "alerts-message", role: "status" });
    this.rows = el("tbody", { "data-testid": "alert-rows" });
    const head = el("tr", {}, ...["state", "severity", "node", "summary", "since (UTC)", "acked by", ""]
      .map((t) => el("th", { text: t })));
    this.empty = el("p", { class: "muted", "data-testid": "alerts-empty" });
    this.element = el("section", { class: "alerts", "data-testid": "alert-panel", hidden: "" }, this.head, this.message,
      el("table", { class: "alerts-table" }, el("thead", {}, head), this.rows), this.empty);
    const draw = perFrame(() => this._draw()); // once a frame however many events come
    admin.onChange(draw);
    feed.onChange(draw);
  }

  get shown() {
    return !this.element.hidden;
  }

  /** Whether the login may acknowledge and silence alerts. */
  get mayChange() {
    return this.admin.loggedIn && CHANGERS.includes(this.admin.role);
  }

  show() {
    this.element.hidden = false;
    this.login.attach();
  }

  hide() {
    this.element.hidden = true;
    this.login.detach();
  }

  _draw() {
    const alerts = this.feed.list();
    this.element.dataset.changer = String(this.mayChange);
    this.silenceFor.hidden = !this.mayChange;
    this.rows.replaceChildren(...alerts.map((a) => this._row(a)));
    this.empty.textContent = this.feed.problem ? `alerts unknown: ${this.feed.problem}` : "no alert";
    this.empty.hidden = alerts.length > 0 && !this.feed.problem;
  }

  _row(a) {
    const acked = a.acked_by ? `${a.acked_by}${a.acked_at ? ` at ${utc(a.acked_at, { date: false })}` : ""}` : "";
    const actions = el("td", { class: "actions" });
    if (this.mayChange && a.state !== "resolved") {
      if (!a.acked_by) actions.append(this._button("alert-ack", "ack", () => this.ack(a)));
      if (!a.silenced) actions.append(this._button("alert-silence", "silence", () => this.silence(a)));
    }
    return el("tr", { "data-testid": "alert-row", "data-alert": a.id, "data-rule": a.rule, "data-state": a.state,
      "data-severity": a.severity, "data-acked-by": a.acked_by || "", "data-silenced": String(!!a.silenced),
      title: a.expr || "" },
    el("td", { class: "state", text: a.silenced ? `${a.state} (silenced)` : a.state }),
    el("td", { class: "severity", text: a.severity }),
    el("td", { text: a.node || "—" }),
    el("td", { class: "summary", text: a.summary || a.name || a.rule }),
    el("td", { text: utc(a.since) }),
    el("td", { "data-testid": "alert-acked-by", text: acked ? `acked by ${acked}` : "" }),
    actions);
  }

  /** Acknowledge alert ``a`` as the signed-in user. */
  ack(a) {
    return this._change("ack", [a.id], `acknowledged ${a.summary || a.rule}`);
  }

  /** Silence alert ``a``'s rule (all its alerts) for the length chosen. */
  silence(a) {
    const seconds = Number(this.silenceFor.value);
    const until = Date.now() / 1000 + seconds;
    return this._change("silence", [a.rule, until, `from the web page, for ${duration(seconds)}`],
      `silenced rule ${a.rule} (${a.name || a.expr}) until ${utc(until)} UTC`);
  }

  async _change(verb, args, done) {
    try {
      await this.admin.call(this.sisock.uri(`hub.alerts.${verb}`), args);
      this._say(done);
    } catch (err) {
      this._say(`${verb} refused: ${errorText(err)}`, true);
    }
  }

  _say(text, bad = false) {
    this.message.textContent = text;
    this.message.classList.toggle("error", bad);
  }

  _button(testid, text, onClick) {
    const button = el("button", { type: "button", "data-testid": testid, text });
    button.addEventListener("click", onClick);
    return button;
  }
}
