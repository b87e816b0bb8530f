// Scenario of the registry panel, run by scenario.mjs
// (node tests/browser/scenario.mjs registry URL --secret S --node fleet.lamp0020 --group 'fleet.lamp001*').
//
// registry: as a consumer the panel lists the live nodes read-only (enable,
// disable and command buttons disabled, nothing sent). Logged in as admin
// it pages through the whole registry, filters GROUP, disables it after a
// confirmation that names the count, and sees those rows disabled; then it
// opens NODE, switches it on and dims it with the forms built from its
// get_api, and sees its power drop in the live values; the audit trail
// below the registry shows the disable and the dim as they happen. It prints
// {"step": "dimmed"} and waits for a line on stdin while the test reads the
// lamp's state.

const PANEL = '[data-testid="registry-panel"]';
/** Procedures that change something: enable/disable in the hub, a node's commands. */
const CHANGES = /\.(hub\.nodes\.(enable|disable|tag|untag|locate|forget)|consumer\.[^.]+(\.[^.]+)*\.command)$/;

/** Wait until the panel has read what it shows, with ``rows`` rows if given; the count's text. */
function loaded(c, rows = null) {
  return c.until(`the registry loaded${rows === null ? "" : ` with ${rows} rows`}`, (n) => {
    const panel = document.querySelector('[data-testid="registry-panel"]');
    const shown = document.querySelectorAll('[data-testid="registry-row"]').length;
    return panel.dataset.loading === "false" && (n === null ? shown > 0 : shown === n)
      ? document.querySelector('[data-testid="registry-count"]').textContent : null;
  }, rows);
}

async function filter(c, text, rows = null) {
  await c.page.fill('[data-testid="registry-filter"]', text);
  await c.page.click('[data-testid="registry-apply"]');
  return loaded(c, rows);
}

function disabled(c, ...testids) {
  return c.page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id,
    document.querySelector(`[data-testid="${id}"]`).disabled])), testids);
}

/** The lamp's live power, once it is above ``above`` or below ``below`` watts. */
function power(c, what, { above = -Infinity, below = Infinity }) {
  return c.until(what, ([a, b]) => {
    const dd = document.querySelector('[data-testid="detail-value-power_w"]');
    const v = dd ? Number(dd.dataset.value) : NaN;
    return Number.isFinite(v) && v > a && v < b ? v : null;
  }, [above, below]);
}

/** The newest row of the audit trail (shown below the registry) of ``action``, once it is there. */
function audited(c, action) {
  return c.until(`the audit trail showing ${action}`, (a) => {
    const row = document.querySelector(`[data-testid="audit-row"][data-action="${a}"]`);
    return row && { ...row.dataset, text: row.textContent };
  }, action);
}

export const scenarios = {
  async registry(c, out, opts) {
    await c.connected();
    await c.page.click('[data-testid="open-registry"]');
    out.hash = await c.until("the #registry address", () => window.location.hash || null);

    // a consumer: the live nodes, read-only
    out.consumerCount = await loaded(c);
    out.consumerStatus = await c.page.getAttribute('[data-testid="registry-row"]', "data-status");
    await filter(c, opts.node, 1);
    await c.page.click(`[data-testid="registry-row"][data-node="${opts.node}"]`);
    await c.until("the node's command forms", () => document.querySelector('[data-testid="command-send-dim"]'));
    out.consumerButtons = await disabled(c, "registry-enable", "registry-disable", "command-send-dim");
    await c.page.$$eval(`${PANEL} [data-admin]`, (buttons) => buttons.forEach((b) => b.click()));
    out.consumerChanges = c.calls.map((x) => x.procedure).filter((p) => CHANGES.test(p));
    out.consumerAudit = await c.page.$eval('[data-testid="audit-panel"]', (p) => (p.hidden ? "hidden" : "shown"));

    // logged in: the registry, a page at a time
    await c.page.fill('[data-testid="admin-secret"]', opts.secret);
    await c.page.click('[data-testid="admin-login"]');
    await c.until("logged in", () => document.querySelector('[data-testid="registry-panel"]').dataset.admin === "true");
    out.adminCount = await filter(c, "", 50);
    out.markers = await c.until("every located node on the map",
      () => +document.querySelector('[data-testid="node-map"]').dataset.markers > 1 &&
        +document.querySelector('[data-testid="node-map"]').dataset.markers);
    out.mapBase = await c.until("the map's base layer (the countries, shipped with the page)", () => {
      const map = document.querySelector('[data-testid="node-map"]');
      return map.dataset.base === "ready" ? { features: +map.dataset.baseFeatures,
        canvases: map.querySelectorAll(".leaflet-base-pane canvas").length } : null;
    });
    out.rowsShown = [];
    out.pageMs = [];
    for (let page = 0; page < 40; page++) {
      out.rowsShown.push(await c.page.$$eval('[data-testid="registry-row"]', (rows) => rows.length));
      if (await c.page.isDisabled('[data-testid="registry-next"]')) break;
      const before = await c.text("registry-count");
      const t0 = Date.now();
      await c.page.click('[data-testid="registry-next"]');
      await c.until("the next page", (b) => {
        const panel = document.querySelector('[data-testid="registry-panel"]');
        return panel.dataset.loading === "false" && document.querySelector('[data-testid="registry-count"]').textContent !== b;
      }, before);
      out.pageMs.push(Date.now() - t0);
    }
    out.lastCount = await c.text("registry-count");
    out.lastNames = await c.page.$$eval('[data-testid="registry-row"]', (rows) => rows.map((r) => r.dataset.node));

    // disable a group after a confirmation that says how many
    out.groupCount = await filter(c, opts.group);
    await c.page.click('[data-testid="registry-disable"]');
    out.confirm = await c.until("the confirmation", () => {
      const box = document.querySelector('[data-testid="registry-confirm"]');
      return box.hidden ? null : document.querySelector('[data-testid="registry-confirm-text"]').textContent;
    });
    await c.page.click('[data-testid="registry-confirm-yes"]');
    out.disabledRows = await c.until("every row of the group disabled", () => {
      const rows = [...document.querySelectorAll('[data-testid="registry-row"]')];
      return rows.length && rows.every((r) => r.dataset.enabled === "false") ? rows.map((r) => r.dataset.node) : null;
    });
    out.disabledStatus = await c.page.$$eval('[data-testid="registry-row"] .status', (cells) => cells.map((x) => x.textContent));
    out.message = await c.text("registry-message");
    out.mapDisabled = await c.until("the disabled nodes on the map",
      () => +document.querySelector('[data-testid="node-map"]').dataset.disabled || null);
    out.auditDisable = await audited(c, "nodes.disable");

    // one lamp: switch it on, then dim it, with the forms from its get_api
    await filter(c, opts.node, 1);
    out.messageAfterFilter = await c.text("registry-message"); // the message was about the group
    await c.page.click(`[data-testid="registry-row"][data-node="${opts.node}"]`);
    await c.until("the send button enabled", () => {
      const send = document.querySelector('[data-testid="command-send-dim"]');
      return send && !send.disabled;
    });
    await c.page.selectOption('[data-testid="command-switch-on"]', "true");
    await c.page.click('[data-testid="command-send-switch"]');
    out.switched = await c.until("the switch answered", () => {
      const text = document.querySelector('[data-testid="command-result-switch"]').textContent;
      return text.includes("manual") ? text : null;
    });
    out.resultBox = await c.page.evaluate(() => { // the answer stays within the panel
      const result = document.querySelector('[data-testid="command-result-switch"]');
      const box = result.getBoundingClientRect();
      return { right: box.right, panelRight: document.querySelector('[data-testid="registry-panel"]').getBoundingClientRect().right,
        scrollWidth: result.scrollWidth, clientWidth: result.clientWidth, page: document.documentElement.scrollWidth,
        window: window.innerWidth };
    });
    out.powerOn = await power(c, "the lamp lit (power above 20 W)", { above: 20 });
    await c.page.fill('[data-testid="command-dim-level"]', "10");
    await c.page.click('[data-testid="command-send-dim"]');
    out.powerDimmed = await power(c, "the lamp's power dropping below half", { below: out.powerOn / 2 });
    out.auditDim = await audited(c, "command.dim");
    out.auditActions = await c.page.$$eval('[data-testid="audit-row"]', (rows) => rows.map((r) => r.dataset.action));
    out.shot = await c.shot("web-registry-admin");
    opts.say({ step: "dimmed" });
    await opts.next();
    out.changes = c.calls.map((x) => ({ procedure: x.procedure, args: x.args })).filter((x) => CHANGES.test(x.procedure));
  },
};
