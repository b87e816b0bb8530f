// The registry panel ("Registry" in the header): the nodes as a table a page
// at a time, a filter, enable/disable by filter, a node's commands and a map.
//
// Logged in as admin (admin.js), it reads the hub's registry
// (hub.nodes.list: every node ever seen, with status, host, last seen and
// tags; the hub cuts the pages, so a thousand nodes never reach the page at
// once) and may enable or disable the nodes a filter selects, after a
// confirmation that says how many they are, and send commands. Without a
// login it shows what consumers may read (consumer.get_data_node with the
// filter: the live, enabled nodes, their tags and locations), read-only.
// consumer.node_changed events refresh the page shown. Below, for an admin,
// the audit trail (audit.js): who changed what, live.

import { loginBox } from "./admin.js";
import { AuditList } from "./audit.js";
import { NodeCommands } from "./commands.js";
import { el, utc } from "./format.js";
import { NodeMap } from "./nodemap.js";
import { errorText } from "./wamp.js";

/** Rows a page; most records drawn on the map. */
const PAGE = 50;
const MAP_LIMIT = 10000;
/** Milliseconds to gather node_changed events before one refresh. */
const SETTLE = 300;

const tagsText = (tags) => Object.entries(tags || {}).map(([k, v]) => `${k}=${v}`).join(" ");

export class RegistryPanel {
  /**
   * @param {Sisock} sisock  the consumer connection
   * @param {AdminLogin} admin  the admin login
   * @param {object} options  {onOpen(name)}: open a node's own view
   */
  constructor(sisock, admin, { onOpen }) {
    this.sisock = sisock;
    this.admin = admin;
    this.onOpen = onOpen;
    this.filter = "";
    this.offset = 0;
    this.total = 0;
    this.gen = 0;
    this.detail = null;
    this.timer = null;
    this.filterInput = el("input", { type: "search", "data-testid": "registry-filter", "aria-label": "filter",
      placeholder: "filter: fleet.lamp* zone=north kind=led" });
    const filterForm = el("form", { class: "registry-filter" }, this.filterInput,
      el("button", { type: "submit", "data-testid": "registry-apply", text: "filter" }));
    filterForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.apply(this.filterInput.value.trim());
    });
    this.count = el("span", { class: "registry-count", "data-testid": "registry-count" });
    this.prev = this._button("registry-prev", "‹ previous", () => this.goTo(this.offset - PAGE));
    this.next = this._button("registry-next", "next ›", () => this.goTo(this.offset + PAGE));
    this.enableButton = this._button("registry-enable", "enable…", () => this.ask(true), true);
    this.disableButton = this._button("registry-disable", "disable…", () => this.ask(false), true);
    this.confirmText = el("span", { "data-testid": "registry-confirm-text" });
    this.confirmYes = el("button", { type: "button", "data-testid": "registry-confirm-yes", text: "yes" });
    const no = this._button("registry-confirm-no", "cancel", () => (this.confirm.hidden = true));
    this.confirm = el("div", { class: "registry-confirm", "data-testid": "registry-confirm", role: "alertdialog",
      hidden: "" }, this.confirmText, this.confirmYes, no);
    this.message = el("p", { class: "registry-message", "data-testid": "registry-message", role: "status" });
    this.rows = el("tbody", { "data-testid": "registry-rows" });
    const head = el("tr", {}, ...["node", "status", "host", "last seen (UTC)", "tags", ""].map((t) => el("th", { text: t })));
    this.table = el("table", { class: "registry-table", "data-testid": "registry-table" }, el("thead", {}, head), this.rows);
    this.map = new NodeMap((name) => this.select(name));
    this.detailBox = el("div", { class: "registry-detail" });
    this.login = null; // the login form, there while the panel is shown (one form on the page at a time)
    this.audit = new AuditList(sisock, admin);
    this.head = el("header", { class: "registry-head" }, el("h2", { text: "Registry" }));
    this.element = el("section", { class: "registry", "data-testid": "registry-panel", hidden: "" }, this.head,
      el("div", { class: "registry-bar" }, filterForm, this.prev, this.count, this.next, this.enableButton,
        this.disableButton),
      this.confirm, this.message,
      el("div", { class: "registry-grid" }, this.table, el("div", {}, this.map.element, this.detailBox)),
      this.audit.element);
    sisock.subscribe(sisock.uri("consumer.node_changed"), () => this._soon());
    let state = null;
    admin.onChange((s) => {
      this.element.dataset.admin = String(s.state === "in");
      this.element.dataset.role = s.state === "in" ? admin.role : "";
      for (const b of this.element.querySelectorAll(".registry-bar [data-admin]")) { // enable, disable: admins only
        b.disabled = !admin.isAdmin;
        b.hidden = s.state === "in" && !admin.isAdmin; // an operator: not theirs to press
      }
      if ((s.state === "in") !== (state === "in") && !this.element.hidden) this.refresh(); // another source
      state = s.state;
    });
  }

  get shown() {
    return !this.element.hidden;
  }

  show() {
    this.element.hidden = false;
    if (!this.login) {
      this.login = loginBox(this.admin);
      this.head.append(this.login.element);
    }
    this.refresh();
  }

  hide() {
    this.element.hidden = true;
    if (this.login) {
      this.login.close();
      this.login.element.remove();
      this.login = null;
    }
  }

  /** Show the first page of the nodes ``filter`` selects, and all of them on the map. */
  apply(filter) {
    this.filter = filter;
    this.offset = 0;
    this.confirm.hidden = true;
    this._say(""); // what was said was about the nodes of the filter before
    return this.refresh();
  }

  goTo(offset) {
    this.offset = Math.max(0, Math.min(offset, Math.max(0, this.total - 1)));
    return this.refresh(false);
  }

  /** Read the page shown (and, with ``map``, every selected node for the map) again. */
  async refresh(map = true) {
    const gen = ++this.gen;
    this.element.dataset.loading = "true";
    try {
      const [page, all] = await Promise.all([this._read(this.offset, PAGE), map ? this._read(0, MAP_LIMIT) : null]);
      if (gen !== this.gen) return;
      this.total = page.total;
      this._render(page.nodes);
      if (all) this.map.show(all.nodes);
      if (this.message.classList.contains("error")) this._say("");
    } catch (err) {
      if (gen === this.gen) this._say(`could not read the registry: ${errorText(err)}`, true);
    } finally {
      if (gen === this.gen) this.element.dataset.loading = "false";
    }
  }

  /** {total, nodes} of the registry (admin) or of the live nodes (consumer), ``limit`` from ``offset``. */
  async _read(offset, limit) {
    if (this.admin.mayCommand) { // an admin or an operator may read the registry
      return this.admin.call(this.sisock.uri("hub.nodes.list"), [this.filter || null, limit, offset]);
    }
    const live = await this.sisock.call(this.sisock.uri("consumer.get_data_node"), [this.filter || "ALL"]);
    return { total: live.length, nodes: live.slice(offset, offset + limit) };
  }

  _render(records) {
    const last = Math.min(this.offset + records.length, this.total);
    this.count.textContent = this.total ? `${this.offset + 1}–${last} of ${this.total}` : "no node matches";
    this.prev.disabled = this.offset === 0;
    this.next.disabled = last >= this.total;
    this.rows.replaceChildren(...records.map((r) => this._row(r)));
  }

  _row(r) {
    const status = r.status || "live"; // "disabled" says it once, connected or not (the tooltip says which)
    const link = r.connected === undefined ? "" : r.connected ? "connected" : "not connected";
    const open = el("button", { type: "button", class: "link", "data-testid": "registry-open", text: "view" });
    open.addEventListener("click", (event) => {
      event.stopPropagation();
      this.onOpen(r.name);
    });
    const row = el("tr", { "data-testid": "registry-row", "data-node": r.name, "data-enabled": String(r.enabled !== false),
      "data-status": r.status || "live", title: r.description || "" },
    el("td", { class: "name", text: r.name }),
    el("td", { class: "status", text: status, title: link }),
    el("td", { text: r.host || "—" }), el("td", { text: r.last_seen ? utc(r.last_seen) : "—" }),
    el("td", { class: "tags", text: tagsText(r.tags) }), el("td", {}, open));
    row.addEventListener("click", () => this.select(r.name));
    if (this.detail && this.detail.name === r.name) row.classList.add("selected");
    return row;
  }

  /** Show node ``name``'s values and command forms beside the table. */
  select(name) {
    if (this.detail) this.detail.close();
    this.detail = new NodeCommands(this.sisock, this.admin, name);
    this.detailBox.replaceChildren(this.detail.element);
    for (const row of this.rows.children) row.classList.toggle("selected", row.dataset.node === name);
  }

  /** Ask to enable (``on``) or disable the nodes the filter selects, saying how many they are. */
  async ask(on) {
    if (!this.admin.isAdmin) return;
    const filter = this.filter || "ALL";
    try {
      const { total } = await this.admin.call(this.sisock.uri("hub.nodes.list"), [filter, 0, 0]);
      const what = on ? "Enable" : "Disable";
      this.confirmText.textContent = `${what} ${total} node${total === 1 ? "" : "s"} matching "${filter}"?`;
      this.confirm.dataset.count = String(total);
      this.confirmYes.onclick = () => this._switch(on, filter);
      this.confirm.hidden = false;
    } catch (err) {
      this._say(`could not count the nodes: ${errorText(err)}`, true);
    }
  }

  async _switch(on, filter) {
    this.confirm.hidden = true;
    try {
      const verb = on ? "enable" : "disable";
      const answer = await this.admin.call(this.sisock.uri(`hub.nodes.${verb}`), [filter]);
      this._say(`${verb}d ${answer.matched} node(s) matching "${filter}" (${answer.changed.length} changed)`);
      await this.refresh();
    } catch (err) {
      this._say(errorText(err), true);
    }
  }

  /** Show ``text`` under the bar (``error``: until the next successful read). */
  _say(text, error = false) {
    this.message.textContent = text;
    this.message.classList.toggle("error", error);
  }

  _soon() {
    if (!this.shown) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(false), SETTLE);
  }

  _button(testid, text, onClick, adminOnly = false) {
    const button = el("button", { type: "button", "data-testid": testid, text });
    if (adminOnly) button.dataset.admin = "";
    button.addEventListener("click", onClick);
    return button;
  }
}
