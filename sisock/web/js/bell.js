// The bell in the header ("Alerts" and a count): how many alerts fire unacknowledged and not
// silenced, on every page, live from the alert feed (alerts.js); a click
// opens or closes the alert panel.

import { unhandled } from "./alerts.js";
import { el } from "./format.js";

export class AlertBell {
  /**
   * @param {AlertFeed} feed  the alerts
   * @param {function(): void} onClick  open or close the alert panel
   */
  constructor(feed, onClick) {
    this.count = el("span", { class: "bell-count", "data-testid": "alert-count", text: "0" });
    this.element = el("button", { type: "button", class: "bell", "data-testid": "alert-bell", "aria-pressed": "false",
      "aria-label": "alerts" }, "Alerts", this.count);
    this.element.addEventListener("click", onClick);
    feed.onChange((f) => this._show(f));
  }

  /** Show whether the panel is open. */
  pressed(on) {
    this.element.setAttribute("aria-pressed", String(on));
  }

  _show(feed) {
    const n = feed.count;
    const alerts = feed.list();
    const firing = alerts.filter((a) => a.state === "firing").length;
    const pending = alerts.filter((a) => a.state === "pending").length;
    this.count.textContent = String(n);
    this.element.dataset.count = String(n);
    this.element.dataset.severity = worst(alerts);
    this.element.title = feed.problem
      ? `alerts unknown: ${feed.problem}`
      : `${n} firing unacknowledged; ${firing} firing, ${pending} pending in all`;
    this.element.classList.toggle("unknown", !!feed.problem);
  }
}

const RANK = { info: 1, warning: 2, critical: 3 };

/** The highest severity among the alerts that ask for attention, or "none". */
function worst(alerts) {
  let top = "none";
  for (const a of alerts) {
    if (unhandled(a) && (RANK[a.severity] || 0) > (RANK[top] || 0)) top = a.severity;
  }
  return top;
}
