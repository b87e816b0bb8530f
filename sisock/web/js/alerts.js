// The alerts the alert service knows, kept current for the page: read once
// with consumer.alerts.list after every join, then changed one at a time
// by consumer.alerts.changed events (an alert dict on every change of
// state, acknowledgement or silence). The bell (bell.js) and the alert
// panel (alertpanel.js) draw from it.
//
// Wire contract (docs/alerts.md):
//   BASE.consumer.alerts.list(state=None) -> [alert, ...]  (pending, firing, recently resolved)
//   BASE.consumer.alerts.changed  events alert
//   alert = {id, rule, name, expr, node, field, group, state: "pending"|"firing"|"resolved",
//            severity: "info"|"warning"|"critical", since, fired_at, resolved_at, value,
//            summary, acked_by, acked_at, silenced, source}

import { errorText, NO_SUCH_PROCEDURE } from "./wamp.js";

/** Rank of each state in the list. */
const ORDER = { firing: 0, pending: 1, resolved: 2 };
/** Seconds between full re-reads of the list (resolved alerts leave it; events keep it current between). */
const RESYNC = 60;

/** Whether an alert asks for attention: firing, neither acknowledged nor silenced. */
export const unhandled = (a) => a.state === "firing" && !a.acked_by && !a.silenced;

export class AlertFeed {
  /** @param {Sisock} sisock  the consumer connection */
  constructor(sisock) {
    this.sisock = sisock;
    this.alerts = new Map(); // id -> alert
    this.problem = "not read yet"; // why the list is not known, or null once read
    this.listeners = [];
    this.reading = null; // events that came while the latest read of the list was on its way, else null
    this.timer = null;
    sisock.subscribe(sisock.uri("consumer.alerts.changed"), (alert) => this._changed(alert));
    sisock.onJoin(() => this.refresh());
  }

  /** Register ``fn(feed)``, called now and after every change; returns an unregister function. */
  onChange(fn) {
    this.listeners.push(fn);
    fn(this);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  /** The alerts: firing, then pending, then resolved; newest change first within each. */
  list() {
    return [...this.alerts.values()].sort((a, b) => (ORDER[a.state] - ORDER[b.state]) || (latest(b) - latest(a)));
  }

  /** How many alerts fire unacknowledged and not silenced (the bell's count). */
  get count() {
    let n = 0;
    for (const a of this.alerts.values()) if (unhandled(a)) n += 1;
    return n;
  }

  /** Read the whole list again; events that come meanwhile are applied on top of it. */
  async refresh() {
    clearTimeout(this.timer);
    const reading = (this.reading = []);
    try {
      const answer = await this.sisock.call(this.sisock.uri("consumer.alerts.list"));
      if (reading !== this.reading) return; // a later read is on its way
      this.alerts = new Map(answer.map((a) => [a.id, a]));
      for (const a of reading) this.alerts.set(a.id, a);
      this.problem = null;
    } catch (err) {
      if (reading !== this.reading) return;
      this.problem = err && err.error === NO_SUCH_PROCEDURE ? "the alert service is not running" : errorText(err);
    }
    this.reading = null;
    if (this.sisock.connected) this.timer = setTimeout(() => this.refresh(), RESYNC * 1000);
    this._notify();
  }

  _changed(alert) {
    if (this.reading) this.reading.push(alert);
    this.alerts.set(alert.id, alert);
    if (this.problem && !this.reading) this.refresh(); // the service (re)started: read all it knows
    else this._notify();
  }

  _notify() {
    for (const fn of this.listeners) fn(this);
  }
}

/** UNIX seconds of an alert's last change of state. */
function latest(a) {
  return Math.max(a.since || 0, a.fired_at || 0, a.resolved_at || 0, a.acked_at || 0);
}
