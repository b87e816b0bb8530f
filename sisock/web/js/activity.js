// The activity log beside the node list: recent happenings (connection,
// nodes joining and leaving), newest first.

import { utc } from "./format.js";

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
