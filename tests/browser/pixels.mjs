// Scenario of a described pixel display, run by scenario.mjs
// (node tests/browser/scenario.mjs pixels-legend URL --node NAME).
//
// pixels-legend: the display NAME, a strip a client described (describe:
// what it shows, what its colours mean), is drawn tall enough to read, with
// the client's text above it and a legend beside it; the node list gives
// the node's own description; in the registry panel its values read as
// in the fields table.

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
    // the same node in the registry panel: its values as in the fields table, a colour as #rrggbb, the frame cut
    await c.page.click('[data-testid="open-registry"]');
    await c.page.fill('[data-testid="registry-filter"]', out.node);
    await c.page.click('[data-testid="registry-apply"]');
    await c.page.click(`[data-testid="registry-row"][data-node="${out.node}"]`);
    out.registryValues = await c.until("the node's values in the registry panel", () => {
      const [pixel, frame] = ["p0003", "frame"].map((f) => document.querySelector(`[data-testid="detail-value-${f}"]`));
      return pixel && frame && pixel.textContent.startsWith("#") ? { p0003: pixel.textContent, frame: frame.textContent } : null;
    });
  },
};
