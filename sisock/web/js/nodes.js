// The list of live data nodes (from the hub) and the activity log beside it.

import { utc } from "./format.js";

/** The node list: kept equal to the hub's, one button per node, sorted by name. */
export class NodeList {
  constructor(listElement, countElement, messageElement, onSelect) {
    this.list = listElement;
    this.count = countElement;
    this.message = messageElement;
    this.onSelect = onSelect;
    this.nodes = new Map(); // name -> {name, description, item}
    this.selected = null;
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
    const known = this.nodes.get(name);
    if (known) {
      known.description = description;
      known.item.querySelector(".desc").textContent = description || "";
      return false;
    }
    const item = document.createElement("li");
    item.className = "node";
    item.dataset.testid = "node-item";
    item.dataset.node = name;
    const button = document.createElement("button");
    button.type = "button";
    button.title = description || name;
    const dot = document.createElement("span");
    dot.className = "dot";
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const desc = document.createElement("span");
    desc.className = "desc";
    desc.textContent = description || "";
    button.append(dot, label, desc);
    button.addEventListener("click", () => this.onSelect(name));
    item.append(button);
    this.nodes.set(name, { name, description, item });
    this._render();
    return true;
  }

  /** Remove a node; returns whether it was listed. */
  remove(name) {
    const known = this.nodes.get(name);
    if (!known) return false;
    known.item.remove();
    this.nodes.delete(name);
    this._render();
    return true;
  }

  select(name) {
    this.selected = name;
    for (const { name: n, item } of this.nodes.values()) {
      item.classList.toggle("selected", n === name);
      item.querySelector("button").setAttribute("aria-pressed", String(n === name));
    }
  }

  description(name) {
    const known = this.nodes.get(name);
    return known ? known.description : "";
  }

  /** A problem to show instead of the list (e.g. the hub does not answer); null clears it. */
  problem(text) {
    this.message.textContent = text || "";
    this.message.hidden = !text;
  }

  _render() {
    const sorted = [...this.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const { item } of sorted) this.list.append(item); // re-appending moves, keeps listeners
    this.count.textContent = String(this.nodes.size);
    this.list.dataset.count = String(this.nodes.size);
    this.select(this.selected);
  }
}

/** Recent happenings (connection, nodes joining and leaving), newest first. */
export class ActivityLog {
  constructor(listElement, limit = 40) {
    this.list = listElement;
    this.limit = limit;
  }

  add(text, kind = "info") {
    const item = document.createElement("li");
    item.className = kind;
    const time = document.createElement("time");
    time.textContent = utc(Date.now() / 1000, { date: false });
    item.append(time, ` ${text}`);
    this.list.prepend(item);
    while (this.list.children.length > this.limit) this.list.lastElementChild.remove();
  }
}
