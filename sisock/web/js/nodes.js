// The list of live data nodes (from the hub) in the sidebar, kept equal to
// the hub's. Nodes named with a dot are grouped by what comes before it
// (fleet.lamp0001 ... in "fleet", with a count), collapsed until opened, and
// an open group draws at most SHOWN of its nodes: ten thousand nodes make a
// few dozen elements. The search box keeps the nodes whose name has the
// text typed (any case), groups open.

import { el, perFrame } from "./format.js";

/** Most nodes drawn in one group (the search narrows it down). */
export const SHOWN = 100;
const collator = new Intl.Collator("en", { numeric: false });

/** The group of a node name: what comes before its first dot, or null. */
export function groupOf(name) {
  const dot = name.indexOf(".");
  return dot > 0 ? name.slice(0, dot) : null;
}

export class NodeList {
  /**
   * @param {HTMLElement} listElement  the <ul> to draw in
   * @param {HTMLElement} countElement  shows how many nodes there are
   * @param {HTMLElement} messageElement  a problem to show instead of the list
   * @param {function} onSelect  called with a node's name when it is clicked
   * @param {HTMLInputElement} searchElement  the search box (optional)
   */
  constructor(listElement, countElement, messageElement, onSelect, searchElement = null) {
    this.list = listElement;
    this.count = countElement;
    this.message = messageElement;
    this.onSelect = onSelect;
    this.search = searchElement;
    this.nodes = new Map(); // name -> description
    this.items = new Map(); // name -> <li>, made when first drawn
    this.open = new Set(); // groups opened by a click
    this.sorted = null; // names in order, until the next add or remove
    this.selected = null;
    this._queue = perFrame(() => this._render()); // many changes in a row draw once
    if (this.search) this.search.addEventListener("input", () => this._queue());
    this._render();
  }

  has(name) {
    return this.nodes.has(name);
  }

  /** Make the list exactly ``nodes`` ([{name, description}]); returns [added, removed] names. */
  setAll(nodes) {
    const names = new Set(nodes.map((n) => n.name));
    const removed = [...this.nodes.keys()].filter((name) => !names.has(name));
    removed.forEach((name) => this.remove(name));
    const added = nodes.filter((n) => !this.nodes.has(n.name)).map((n) => n.name);
    nodes.forEach((n) => this.add(n));
    return [added, removed];
  }

  /** Add a node or update its description; returns whether it is new. */
  add({ name, description }) {
    const known = this.nodes.has(name);
    this.nodes.set(name, description || "");
    const item = this.items.get(name);
    if (item) item.querySelector(".desc").textContent = description || "";
    if (!known) {
      this.sorted = null;
      this._queue();
    }
    return !known;
  }

  /** Remove a node; returns whether it was listed. */
  remove(name) {
    if (!this.nodes.delete(name)) return false;
    this.items.delete(name);
    this.sorted = null;
    this._queue();
    return true;
  }

  /** Mark ``name`` as the node shown, opening its group. */
  select(name) {
    this.selected = name;
    const group = name && groupOf(name);
    if (group) this.open.add(group);
    this._queue();
  }

  description(name) {
    return this.nodes.get(name) || "";
  }

  /** A problem to show instead of the list (e.g. the hub does not answer); null clears it. */
  problem(text) {
    this.message.textContent = text || "";
    this.message.hidden = !text;
  }


  _render() {
    if (!this.sorted) this.sorted = [...this.nodes.keys()].sort(collator.compare);
    const term = this.search ? this.search.value.trim().toLowerCase() : "";
    const rows = [];
    const groups = new Map(); // group -> {names: [...], total}
    for (const name of this.sorted) {
      const group = groupOf(name);
      const hit = !term || name.toLowerCase().includes(term);
      if (group === null) {
        if (hit) rows.push({ key: name, name });
        continue;
      }
      let g = groups.get(group);
      if (!g) {
        g = { key: group, group, names: [], total: 0 };
        groups.set(group, g);
        rows.push(g);
      }
      g.total += 1;
      if (hit) g.names.push(name);
    }
    const shown = rows.filter((r) => !r.group || r.names.length).sort((a, b) => collator.compare(a.key, b.key));
    const drawn = new Map(); // the items of this draw: the others are let go
    this.list.replaceChildren(...shown.map((r) => (r.group ? this._group(r, term, drawn) : this._item(r.name, drawn))));
    if (term && !shown.length) {
      this.list.append(el("li", { class: "more muted", "data-testid": "node-search-none", text: `no node name has "${term}"` }));
    }
    this.items = drawn;
    this.count.textContent = String(this.nodes.size);
    Object.assign(this.list.dataset, { count: String(this.nodes.size), drawn: String(drawn.size) });
  }

  /** The <li> of node ``name``, kept in ``drawn`` (the one of the last draw again, so its listener stays). */
  _item(name, drawn) {
    let item = this.items.get(name);
    drawn.set(name, item);
    if (!item) {
      const description = this.nodes.get(name);
      const button = el("button", { type: "button", title: description || name },
        el("span", { class: "dot" }), el("span", { class: "name", text: name }),
        el("span", { class: "desc", text: description }));
      button.addEventListener("click", () => this.onSelect(name));
      item = el("li", { class: "node", "data-testid": "node-item", "data-node": name }, button);
      drawn.set(name, item);
    }
    const on = name === this.selected;
    item.classList.toggle("selected", on);
    item.firstChild.setAttribute("aria-pressed", String(on));
    return item;
  }

  /** A group's <li>: its name and count, and, open, up to `SHOWN` of the nodes that match the search. */
  _group({ group, names, total }, term, drawn) {
    const open = !!term || this.open.has(group);
    const count = term ? `${names.length} of ${total}` : String(total);
    const head = el("button", { type: "button", class: "group-head", "aria-expanded": String(open),
      "data-testid": "node-group-toggle", title: open ? `hide the ${total} nodes of ${group}` : `show ${group}.*` },
    el("span", { class: "caret", text: open ? "▾" : "▸" }), el("span", { class: "name", text: group }),
    el("span", { class: "count", text: count }));
    head.addEventListener("click", () => {
      if (this.open.has(group)) this.open.delete(group);
      else this.open.add(group);
      this._render();
    });
    const box = el("li", { class: "node-group", "data-testid": "node-group", "data-group": group,
      "data-count": String(total), "data-matches": String(names.length), "data-open": String(open) }, head);
    if (open) {
      const members = el("ul", { class: "node-list" }, ...names.slice(0, SHOWN).map((n) => this._item(n, drawn)));
      if (names.length > SHOWN) {
        members.append(el("li", { class: "more muted", "data-testid": "node-group-more",
          text: `${names.length - SHOWN} more: type in the search box to find one` }));
      }
      box.append(members);
    }
    return box;
  }
}
