// Scenario of a described pixel display, run by scenario.mjs
// (node tests/browser/scenario.mjs pixels-legend URL --node NAME).
//
// pixels-legend: the display NAME, a strip a client described (describe:
// what it shows, what its colours mean), is drawn tall enough to read, with
// the client's text above it and a legend beside it; the node list gives
// the node's own description.

export const scenarios = {
  async "pixels-legend"(c, out) {
    await c.connected();
    await c.select(out.node);
    out.legend = await c.until("the display's legend", () => {
      const items = [...document.querySelectorAll('[data-testid="pixel-legend-item"]')];
      return items.length ? items.map((li) => [li.textContent, li.dataset.color]) : null;
    });
    out.about = await c.text("pixel-about");
    out.drawing = await c.page.evaluate(() => {
      const canvas = document.querySelector('[data-testid="pixel-canvas"]');
      const swatch = document.querySelector('[data-testid="pixel-legend-item"] .swatch');
      return { height: canvas.getBoundingClientRect().height, width: canvas.getBoundingClientRect().width,
        swatch: getComputedStyle(swatch).backgroundColor };
    });
    out.description = await c.page.textContent(`[data-testid="node-item"][data-node="${out.node}"] .desc`);
    out.screenshot = await c.shot("web-pixels-legend");
  },
};
