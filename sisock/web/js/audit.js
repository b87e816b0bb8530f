// The audit trail in the registry panel, for a logged-in admin: the newest
// entries of hub.audit.list (who did what, when, to which node or user, and
// how it ended), and each new one at the top as hub.audit.recorded brings it.
// Hidden while logged out (consumers may not read the trail).
//
//   const audit = new AuditList(sisock, admin);
//   panel.append(audit.element);

import { el, utc } from "./format.js";
import { errorText } from "./wamp.js";

/** Entries shown, the newest. */
const SHOWN = 50;

export class AuditList {
  /**
   * @param {Sisock} sisock  the consumer connection (for URIs)
   * @param {AdminLogin} admin  the admin login, whose session reads and follows the trail
   */
  constructor(sisock, admin) {
    this.sisock = sisock;
    this.admin = admin;
    this.following = null; // the admin session subscribed to hub.audit.recorded
    this.rows = el("tbody", { "data-testid": "audit-rows" });
    this.message = el("p", { class: "registry-message", "data-testid": "audit-message", role: "status" });
    const head = el("tr", {}, ...["time (UTC)", "who", "action", "target", "outcome", "arguments"]
      .map((t) => el("th", { text: t })));
    this.element = el("section", { class: "audit", "data-testid": "audit-panel", hidden: "" },
      el("h3", { text: "Audit trail" }), this.message,
      el("table", { class: "registry-table audit-table", "data-testid": "audit-table" }, el("thead", {}, head),
        this.rows));
    admin.onChange(({ state }) => {
      this.element.hidden = state !== "in";
      if (state === "in") this._follow();
    });
  }

  /** Read the newest entries again. */
  async refresh() {
    if (!this.admin.loggedIn) return;
    this.element.dataset.loading = "true";
    try {
      const entries = await this.admin.call(this.sisock.uri("hub.audit.list"), [], { limit: SHOWN });
      this.rows.replaceChildren(...entries.map((e) => this._row(e)));
      this.message.textContent = entries.length ? "" : "nothing recorded yet";
    } catch (err) {
      this.message.textContent = `could not read the audit trail: ${errorText(err)}`;
    } finally {
      this.element.dataset.loading = "false";
    }
  }

  /** Subscribe the admin session (new after each login or reconnect) to new entries, then read the newest. */
  async _follow() {
    const session = this.admin.session;
    if (!session || this.following === session) return;
    this.following = session;
    try {
      await session.subscribe(this.sisock.uri("hub.audit.recorded"), ([entry]) => this._add(entry));
    } catch (err) {
      console.warn(`subscribe hub.audit.recorded: ${errorText(err)}`);
    }
    await this.refresh();
  }

  _add(entry) {
    if (this.rows.querySelector(`[data-id="${entry.id}"]`)) return; // read already
    this.rows.prepend(this._row(entry));
    while (this.rows.children.length > SHOWN) this.rows.lastChild.remove();
    this.message.textContent = "";
  }

  _row(e) {
    const outcome = e.outcome === "ok" ? "ok" : `${e.outcome.split(".").pop()}: ${e.message || ""}`;
    return el("tr", { "data-testid": "audit-row", "data-id": String(e.id), "data-who": e.who,
      "data-action": e.action, "data-target": e.target || "", "data-outcome": e.outcome, title: e.message || "" },
    el("td", { text: utc(e.t) }), el("td", { text: e.who }), el("td", { text: e.action }),
    el("td", { text: e.target || "—" }), el("td", { class: e.outcome === "ok" ? "" : "error", text: outcome }),
    el("td", { class: "tags", text: JSON.stringify(e.args) }));
  }
}
