// Scenario of the sidebar's node list, run by scenario.mjs
// (node tests/browser/scenario.mjs sidebar URL --node fleet.lamp0020 --group fleet --count 1000).
//
// sidebar: against a router with a fleet of lamps, the group GROUP is one
// collapsed line with its count (once it is COUNT); opened it draws a bounded number of its
// nodes; the search box keeps the names that have the text typed, and a
// click opens a node's view. Then, in the same page, the list module is
// given 10,000 synthetic nodes: the elements it makes stay few, collapsed,
// open and searched (with the milliseconds it took, for the record: the
// test asserts no time).

const GROUP = (g) => `[data-testid="node-group"][data-group="${g}"]`;

/** Elements in the sidebar's list (or in ``selector``), and node items among them. */
function size(c, selector = '[data-testid="node-list"]') {
  return c.page.$eval(selector, (list) => ({ elements: list.querySelectorAll("*").length,
    items: list.querySelectorAll('[data-testid="node-item"]').length }));
}

/** The list module of the page given ``count`` synthetic nodes in one group and 3 of their own. */
function synthetic(c, count) {
  return c.page.evaluate(async (n) => {
    const { NodeList, SHOWN } = await import("/js/nodes.js");
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const [list, counter, message] = ["ul", "span", "p"].map((tag) => document.createElement(tag));
    const search = Object.assign(document.createElement("input"), { type: "search" });
    const box = Object.assign(document.createElement("nav"), { className: "sidebar", id: "synthetic" });
    box.append(search, counter, message, list);
    document.body.append(box);
    const nodes = Array.from({ length: n }, (_, i) => ({ name: `site.lamp${String(i).padStart(5, "0")}`, description: "a lamp" }));
    nodes.push(...["alpha", "beta", "gamma"].map((name) => ({ name, description: "" })));
    const count = () => ({ elements: list.querySelectorAll("*").length, items: list.querySelectorAll('[data-testid="node-item"]').length });
    let t0 = performance.now();
    const nodeList = new NodeList(list, counter, message, () => {}, search);
    nodeList.setAll(nodes.slice().reverse());
    await frame();
    list.offsetHeight; // layout included
    const out = { shown: SHOWN, count: counter.textContent, collapsed: { ...count(), ms: performance.now() - t0 } };
    t0 = performance.now();
    list.querySelector('[data-testid="node-group-toggle"]').click();
    list.offsetHeight;
    out.open = { ...count(), ms: performance.now() - t0, more: list.querySelector('[data-testid="node-group-more"]').textContent };
    t0 = performance.now();
    search.value = "LAMP0999";
    search.dispatchEvent(new Event("input"));
    await frame();
    out.searched = { ...count(), ms: performance.now() - t0,
      names: [...list.querySelectorAll('[data-testid="node-item"]')].map((li) => li.dataset.node) };
    box.remove();
    return out;
  }, count);
}

export const scenarios = {
  async sidebar(c, out, opts) {
    await c.connected();
    out.group = await c.until(`the group ${opts.group} of ${opts.count} nodes`, ([g, n]) => {
      const group = document.querySelector(`[data-testid="node-group"][data-group="${g}"]`);
      return group && group.dataset.count === n ? { count: +group.dataset.count, open: group.dataset.open } : null;
    }, [opts.group, opts.count], 60000);
    out.collapsed = await size(c);
    out.nodeCount = await c.text("node-count");
    await c.page.click(`${GROUP(opts.group)} [data-testid="node-group-toggle"]`);
    out.opened = await size(c);
    out.more = await c.page.textContent(`${GROUP(opts.group)} [data-testid="node-group-more"]`).catch(() => null);
    await c.page.fill('[data-testid="node-search"]', "lamp002");
    out.searched = await c.until("the search's nodes", (g) => {
      const group = document.querySelector(`[data-testid="node-group"][data-group="${g}"]`);
      return group && group.dataset.matches === "10"
        ? [...document.querySelectorAll('[data-testid="node-item"]')].map((li) => li.dataset.node) : null;
    }, opts.group);
    await c.select(opts.node);
    out.title = await c.text("node-title");
    out.shot = await c.shot("web-sidebar");
    out.synthetic = await synthetic(c, 10000);
  },
};
